// Lodestar beacon node and validator client.
import { consensusClient, validatorClient } from "./define.js";
import { DEFAULT_CHECKPOINT, addressOf, beaconUrl, builderUrl, engineUrl, jwtOf } from "./common.js";

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
      ...(c.metrics ? ["--metrics", "--metrics.address", a, "--metrics.port", String(c.ports.metrics)] : []),
    ];
  },
});

export const validator = validatorClient({
  id: "lodestar",
  packageAttr: "lodestar",
  binary: "lodestar",
  defaults: { dataDir: "/var/lib/lodestar-validator", metrics: 5064 },
  args: (c, ctx, net) => [
    "validator", "--network", net, "--dataDir", c.dataDir,
    "--beaconNodes", (c.beaconNodes ?? [beaconUrl(ctx)]).join(","),
    "--suggestedFeeRecipient", c.feeRecipient,
    ...(ctx.host.services.mevBoost ? ["--builder"] : []),
    ...(c.graffiti ? ["--graffiti", c.graffiti] : []),
    "--metrics", "--metrics.port", String(c.ports.metrics),
  ],
});
