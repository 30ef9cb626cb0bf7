// Nimbus beacon node and validator client.
import { consensusClient, validatorClient } from "./define.js";
import { DEFAULT_CHECKPOINT, addressOf, beaconUrl, builderUrl, engineUrl, jwtOf } from "./common.js";

export const beacon = consensusClient({
  id: "nimbus",
  packageAttr: "nimbus",
  binary: "nimbus_beacon_node",
  defaults: { dataDir: "/var/lib/nimbus", p2p: 9000, http: 5052, metrics: 8008 },
  args: (c, ctx, net) => {
    const a = addressOf(c, ctx);
    const builder = builderUrl(ctx);
    return [
      `--network=${net}`, `--data-dir=${c.dataDir}`, `--tcp-port=${c.ports.p2p}`, `--udp-port=${c.ports.p2p}`,
      `--el=${engineUrl(c, ctx)}`, `--jwt-secret=${jwtOf(c)}`,
      `--external-beacon-api-url=${c.checkpointSyncUrl ?? DEFAULT_CHECKPOINT[net]}`,
      "--rest", `--rest-address=${a}`, `--rest-port=${c.ports.http}`,
      ...(builder ? ["--payload-builder=true", `--payload-builder-url=${builder}`] : []),
      ...(c.feeRecipient ? [`--suggested-fee-recipient=${c.feeRecipient}`] : []),
      ...(c.metrics ? ["--metrics", `--metrics-address=${a}`, `--metrics-port=${c.ports.metrics}`] : []),
    ];
  },
});

export const validator = validatorClient({
  id: "nimbus",
  packageAttr: "nimbus",
  binary: "nimbus_validator_client",
  defaults: { dataDir: "/var/lib/nimbus-validator", metrics: 8009 },
  args: (c, ctx) => [
    `--data-dir=${c.dataDir}`,
    ...(c.beaconNodes ?? [beaconUrl(ctx)]).map((u) => `--beacon-node=${u}`),
    `--suggested-fee-recipient=${c.feeRecipient}`,
    ...(ctx.host.services.mevBoost ? ["--payload-builder=true"] : []),
    ...(c.graffiti ? [`--graffiti=${c.graffiti}`] : []),
    "--metrics", `--metrics-port=${c.ports.metrics}`,
  ],
});
