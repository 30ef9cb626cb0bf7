// Lighthouse beacon node and validator client; the beacon's command line follows seed 001.
// Flags: data/client-flags/lighthouse.json (sigp/lighthouse, see its source entry).
import { consensusClient, perKeyDirs, validatorClient } from "./define.js";
import { DEFAULT_CHECKPOINT, addressOf, beaconUrls, builderUrl, engineUrl, jwtOf, metricsAddressOf } from "./common.js";

export const beacon = consensusClient({
  id: "lighthouse",
  packageAttr: "lighthouse",
  binary: "lighthouse",
  defaults: { dataDir: "/var/lib/lighthouse", p2p: 9000, http: 5052, metrics: 5054 },
  // Lighthouse listens for QUIC on the p2p port + 1.
  extraPorts: (c) => [{ name: "quic", port: c.ports.p2p + 1, protocol: "udp", expose: "public", field: ["ports", "p2p"] }],
  args: (c, ctx, net) => {
    const a = addressOf(c, ctx);
    const builder = builderUrl(ctx);
    return [
      "bn", "--datadir", c.dataDir, "--network", net,
      "--port", String(c.ports.p2p), "--quic-port", String(c.ports.p2p + 1),
      "--http", "--http-address", a, "--http-port", String(c.ports.http), "--http-allow-origin", "*",
      "--execution-endpoint", engineUrl(c, ctx),
      ...(builder ? ["--builder", builder] : []),
      "--execution-jwt", jwtOf(c),
      "--checkpoint-sync-url", c.checkpointSyncUrl ?? DEFAULT_CHECKPOINT[net],
      ...(c.feeRecipient ? ["--suggested-fee-recipient", c.feeRecipient] : []),
      // --prune-payloads defaults to true (beacon_node/src/cli.rs); keepPayloads turns it off.
      ...(c.keepPayloads ? ["--prune-payloads", "false"] : []),
      ...(c.metrics ? ["--metrics", "--metrics-address", metricsAddressOf(c, ctx), "--metrics-port", String(c.ports.metrics)] : []),
    ];
  },
});

export const validator = validatorClient({
  id: "lighthouse",
  packageAttr: "lighthouse",
  binary: "lighthouse",
  defaults: { dataDir: "/var/lib/lighthouse-validator", metrics: 5064 },
  // The VC discovers keystores in <datadir>/validators/0x…/ and reads each password from
  // <datadir>/secrets/0x… (validator_client/src/config.rs, common/directory/src/lib.rs).
  keys: {
    keystore: (d, pk) => `${d}/validators/${pk}/voting-keystore.json`,
    password: (d, pk) => `${d}/secrets/${pk}`,
    dirs: (d, pks) => perKeyDirs(`${d}/validators`, `${d}/secrets`, pks),
  },
  args: (c, ctx, net) => [
    "vc", "--datadir", c.dataDir, "--network", net,
    "--beacon-nodes", beaconUrls(c, ctx).join(","),
    "--suggested-fee-recipient", c.feeRecipient,
    ...(ctx.host.services.mevBoost ? ["--builder-proposals"] : []),
    ...(c.graffiti ? ["--graffiti", c.graffiti] : []),
    // Keys hearth imports are new to this client: its slashing database starts empty (a move
    // imports the old client's history first). Without the flag the VC refuses to start.
    ...(c.keys.length ? ["--init-slashing-protection"] : []),
    ...(c.doppelganger ? ["--enable-doppelganger-protection"] : []),
    ...(c.metrics ? ["--metrics", "--metrics-address", metricsAddressOf(c, ctx), "--metrics-port", String(c.ports.metrics)] : []),
  ],
});
