// Nimbus beacon node and validator client. Values are attached (`--x=v`): confutils reads no
// other form. Flags: data/client-flags/nimbus.json.
import { consensusClient, perKeyDirs, validatorClient } from "./define.js";
import { DEFAULT_CHECKPOINT, addressOf, beaconUrls, builderUrl, engineUrl, jwtOf, metricsAddressOf } from "./common.js";

export const beacon = consensusClient({
  id: "nimbus",
  packageAttr: "nimbus",
  binary: "nimbus_beacon_node",
  defaults: { dataDir: "/var/lib/nimbus", p2p: 9000, http: 5052, metrics: 8008 },
  // `--external-beacon-api-url` alone is ignored on networks whose genesis predates Altair
  // (mainnet, sepolia: nimbus_beacon_node.nim); trustedNodeSync into the empty database is the
  // documented way, once. Its database is <data-dir>/db.
  preStart: (c, _ctx, net) => [
    {
      args: ["trustedNodeSync", `--network=${net}`, `--data-dir=${c.dataDir}`, `--trusted-node-url=${c.checkpointSyncUrl ?? DEFAULT_CHECKPOINT[net]}`, "--backfill=false"],
      unless: `${c.dataDir}/db`,
    },
  ],
  args: (c, ctx, net) => {
    const a = addressOf(c, ctx);
    const builder = builderUrl(ctx);
    return [
      `--network=${net}`, `--data-dir=${c.dataDir}`, `--tcp-port=${c.ports.p2p}`, `--udp-port=${c.ports.p2p}`,
      `--el=${engineUrl(c, ctx)}`, `--jwt-secret=${jwtOf(c)}`,
      "--rest", `--rest-address=${a}`, `--rest-port=${c.ports.http}`,
      ...(builder ? ["--payload-builder=true", `--payload-builder-url=${builder}`] : []),
      ...(c.feeRecipient ? [`--suggested-fee-recipient=${c.feeRecipient}`] : []),
      // --history defaults to prune (conf.nim).
      ...(c.keepPayloads ? ["--history=archive"] : []),
      ...(c.metrics ? ["--metrics", `--metrics-address=${metricsAddressOf(c, ctx)}`, `--metrics-port=${c.ports.metrics}`] : []),
    ];
  },
});

export const validator = validatorClient({
  id: "nimbus",
  packageAttr: "nimbus",
  binary: "nimbus_validator_client",
  defaults: { dataDir: "/var/lib/nimbus-validator", metrics: 8009 },
  // <validators-dir>/0x…/keystore.json with the password in <secrets-dir>/0x…, by default under
  // the data dir (validators/keystore_management.nim, conf.nim).
  keys: {
    keystore: (d, pk) => `${d}/validators/${pk}/keystore.json`,
    password: (d, pk) => `${d}/secrets/${pk}`,
    dirs: (d, pks) => perKeyDirs(`${d}/validators`, `${d}/secrets`, pks),
  },
  args: (c, ctx) => [
    `--data-dir=${c.dataDir}`, "--non-interactive",
    ...beaconUrls(c, ctx).map((u) => `--beacon-node=${u}`),
    `--suggested-fee-recipient=${c.feeRecipient}`,
    ...(ctx.host.services.mevBoost ? ["--payload-builder=true"] : []),
    ...(c.graffiti ? [`--graffiti=${c.graffiti}`] : []),
    `--doppelganger-detection=${c.doppelganger}`,
    ...(c.metrics ? ["--metrics", `--metrics-address=${metricsAddressOf(c, ctx)}`, `--metrics-port=${c.ports.metrics}`] : []),
  ],
});
