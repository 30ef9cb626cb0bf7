// Teku beacon node and validator client.
// Flags: data/client-flags/teku.json (Consensys/teku 26.8.0).
import { consensusClient, validatorClient } from "./define.js";
import { DEFAULT_CHECKPOINT, addressOf, beaconUrls, builderUrl, engineUrl, jwtOf, metricsAddressOf } from "./common.js";

export const beacon = consensusClient({
  id: "teku",
  packageAttr: "teku",
  binary: "teku",
  defaults: { dataDir: "/var/lib/teku", p2p: 9000, http: 5051, metrics: 8008 },
  // QUIC on UDP, on a port of its own (default 9001, not following --p2p-port: NetworkConfig.java).
  extraPorts: (c) => [{ name: "quic", port: c.ports.p2p + 1, protocol: "udp", expose: "public", field: ["ports", "p2p"] }],
  args: (c, ctx, net) => {
    const a = addressOf(c, ctx);
    const builder = builderUrl(ctx);
    return [
      `--network=${net}`, `--data-path=${c.dataDir}`, `--p2p-port=${c.ports.p2p}`, `--p2p-quic-port=${c.ports.p2p + 1}`,
      `--ee-endpoint=${engineUrl(c, ctx)}`, `--ee-jwt-secret-file=${jwtOf(c)}`,
      // The base URL: Teku appends /eth/v2/debug/beacon/states/finalized itself (Eth2NetworkConfiguration.java).
      `--checkpoint-sync-url=${c.checkpointSyncUrl ?? DEFAULT_CHECKPOINT[net]}`,
      "--rest-api-enabled=true", `--rest-api-interface=${a}`, `--rest-api-port=${c.ports.http}`, "--rest-api-host-allowlist=*",
      ...(builder ? [`--builder-endpoint=${builder}`] : []),
      ...(c.feeRecipient ? [`--validators-proposer-default-fee-recipient=${c.feeRecipient}`] : []),
      // A new database prunes by default (MINIMAL/PRUNE: BeaconNodeDataOptions.java); archive keeps everything.
      ...(c.keepPayloads ? ["--data-storage-mode=archive"] : []),
      // Its metrics answer only the Host names allowed (default localhost): the port is opened on loopback or the mesh only.
      ...(c.metrics ? ["--metrics-enabled=true", `--metrics-interface=${metricsAddressOf(c, ctx)}`, `--metrics-port=${c.ports.metrics}`, "--metrics-host-allowlist=*"] : []),
    ];
  },
});

export const validator = validatorClient({
  id: "teku",
  packageAttr: "teku",
  binary: "teku",
  defaults: { dataDir: "/var/lib/teku-validator", metrics: 8009 },
  // --validator-keys=<KEY_DIR>:<PASS_DIR>: KEY_DIR/<name>.json with PASS_DIR/<name>.txt (ValidatorKeysOptions.java).
  keys: {
    keystore: (d, pk) => `${d}/keys/${pk}.json`,
    password: (d, pk) => `${d}/passwords/${pk}.txt`,
    dirs: (d) => [`${d}/keys`, `${d}/passwords`],
  },
  args: (c, ctx, net) => [
    "validator-client", `--network=${net}`, `--data-path=${c.dataDir}`,
    `--beacon-node-api-endpoints=${beaconUrls(c, ctx).join(",")}`,
    ...(c.keys.length ? [`--validator-keys=${c.dataDir}/keys:${c.dataDir}/passwords`] : []),
    `--validators-proposer-default-fee-recipient=${c.feeRecipient}`,
    ...(ctx.host.services.mevBoost ? ["--validators-builder-registration-default-enabled=true"] : []),
    ...(c.graffiti ? [`--validators-graffiti=${c.graffiti}`] : []),
    `--doppelganger-detection-enabled=${c.doppelganger}`,
    ...(c.metrics ? ["--metrics-enabled=true", `--metrics-interface=${metricsAddressOf(c, ctx)}`, `--metrics-port=${c.ports.metrics}`, "--metrics-host-allowlist=*"] : []),
  ],
});
