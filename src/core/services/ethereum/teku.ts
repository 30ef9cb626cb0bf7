// Teku beacon node and validator client.
import { consensusClient, validatorClient } from "./define.js";
import { DEFAULT_CHECKPOINT, addressOf, beaconUrl, builderUrl, engineUrl, jwtOf } from "./common.js";

export const beacon = consensusClient({
  id: "teku",
  packageAttr: "teku",
  binary: "teku",
  defaults: { dataDir: "/var/lib/teku", p2p: 9000, http: 5051, metrics: 8008 },
  args: (c, ctx, net) => {
    const a = addressOf(c, ctx);
    const builder = builderUrl(ctx);
    return [
      `--network=${net}`, `--data-path=${c.dataDir}`, `--p2p-port=${c.ports.p2p}`,
      `--ee-endpoint=${engineUrl(c, ctx)}`, `--ee-jwt-secret-file=${jwtOf(c)}`,
      `--checkpoint-sync-url=${c.checkpointSyncUrl ?? DEFAULT_CHECKPOINT[net]}/eth/v2/debug/beacon/states/finalized`,
      "--rest-api-enabled=true", `--rest-api-interface=${a}`, `--rest-api-port=${c.ports.http}`, "--rest-api-host-allowlist=*",
      ...(builder ? [`--builder-endpoint=${builder}`] : []),
      ...(c.feeRecipient ? [`--validators-proposer-default-fee-recipient=${c.feeRecipient}`] : []),
      ...(c.metrics ? ["--metrics-enabled=true", `--metrics-interface=${a}`, `--metrics-port=${c.ports.metrics}`] : []),
    ];
  },
});

export const validator = validatorClient({
  id: "teku",
  packageAttr: "teku",
  binary: "teku",
  defaults: { dataDir: "/var/lib/teku-validator", metrics: 8009 },
  args: (c, ctx, net) => [
    "validator-client", `--network=${net}`, `--data-path=${c.dataDir}`,
    `--beacon-node-api-endpoints=${(c.beaconNodes ?? [beaconUrl(ctx)]).join(",")}`,
    `--validators-proposer-default-fee-recipient=${c.feeRecipient}`,
    ...(ctx.host.services.mevBoost ? ["--validators-builder-registration-default-enabled=true"] : []),
    ...(c.graffiti ? [`--validators-graffiti=${c.graffiti}`] : []),
    "--metrics-enabled=true", `--metrics-port=${c.ports.metrics}`,
  ],
});
