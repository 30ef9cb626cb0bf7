// Lodestar beacon node and validator client.
// Flags: data/client-flags/lodestar.json (1.40.0) and lodestar-1.5.1.json (the test kit).
import { consensusClient, perKeyDirs, validatorClient } from "./define.js";
import { DEFAULT_CHECKPOINT, addressOf, beaconUrls, builderUrl, engineUrl, jwtOf, metricsAddressOf } from "./common.js";

export const beacon = consensusClient({
  id: "lodestar",
  packageAttr: "lodestar",
  binary: "lodestar",
  defaults: { dataDir: "/var/lib/lodestar", p2p: 9000, http: 9596, metrics: 8008 },
  args: (c, ctx, net) => {
    const a = addressOf(c, ctx);
    const builder = builderUrl(ctx);
    return [
      "beacon", "--network", net, "--dataDir", c.dataDir, "--port", String(c.ports.p2p),
      "--execution.urls", engineUrl(c, ctx), "--jwt-secret", jwtOf(c),
      "--checkpointSyncUrl", c.checkpointSyncUrl ?? DEFAULT_CHECKPOINT[net],
      "--rest", "--rest.address", a, "--rest.port", String(c.ports.http),
      ...(builder ? ["--builder", "--builder.urls", builder] : []),
      ...(c.feeRecipient ? ["--suggestedFeeRecipient", c.feeRecipient] : []),
      ...(c.metrics ? ["--metrics", "--metrics.address", metricsAddressOf(c, ctx), "--metrics.port", String(c.ports.metrics)] : []),
    ];
  },
});

export const validator = validatorClient({
  id: "lodestar",
  packageAttr: "lodestar",
  binary: "lodestar",
  defaults: { dataDir: "/var/lib/lodestar-validator", metrics: 5064 },
  // What `lodestar validator import` writes and `lodestar validator` reads at every start:
  // <dataDir>/keystores/0x…/voting-keystore.json and <dataDir>/secrets/0x…
  // (cmds/validator/paths.js, keymanager/persistedKeys.js).
  keys: {
    keystore: (d, pk) => `${d}/keystores/${pk}/voting-keystore.json`,
    password: (d, pk) => `${d}/secrets/${pk}`,
    dirs: (d, pks) => perKeyDirs(`${d}/keystores`, `${d}/secrets`, pks),
  },
  // Lodestar locks each keystore (<keystore>.lock) and refuses to start while a lock exists; a
  // power cut leaves them behind (measured with 1.5.1, test/support/lodestar-kit.ts). Only this
  // unit uses these keystores and systemd runs it once, so a lock at its start is stale.
  preStart: (c) => (c.keys.length ? [{ args: [], removeStale: { dir: `${c.dataDir}/keystores`, name: "voting-keystore.json.lock" } }] : []),
  args: (c, ctx, net) => [
    "validator", "--network", net, "--dataDir", c.dataDir,
    "--beaconNodes", beaconUrls(c, ctx).join(","),
    "--suggestedFeeRecipient", c.feeRecipient,
    ...(ctx.host.services.mevBoost ? ["--builder"] : []),
    ...(c.graffiti ? ["--graffiti", c.graffiti] : []),
    // The 1.5.1 name, an alias of --doppelgangerProtection in 1.40 (options.js).
    ...(c.doppelganger ? ["--doppelgangerProtectionEnabled"] : []),
    ...(c.metrics ? ["--metrics", "--metrics.address", metricsAddressOf(c, ctx), "--metrics.port", String(c.ports.metrics)] : []),
  ],
});
