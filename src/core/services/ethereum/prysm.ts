// Prysm beacon chain and validator.
import { consensusClient, validatorClient } from "./define.js";
import { DEFAULT_CHECKPOINT, addressOf, beaconUrl, builderUrl, engineUrl, jwtOf } from "./common.js";

export const beacon = consensusClient({
  id: "prysm",
  packageAttr: "prysm",
  binary: "beacon-chain",
  defaults: { dataDir: "/var/lib/prysm", p2p: 13000, http: 3500, metrics: 8080 },
  // Prysm discovers peers over UDP on its own port.
  extraPorts: () => [{ name: "discovery", port: 12000, protocol: "udp", expose: "public", field: ["ports", "p2p"] }],
  args: (c, ctx, net) => {
    const a = addressOf(c, ctx);
    const builder = builderUrl(ctx);
    const checkpoint = c.checkpointSyncUrl ?? DEFAULT_CHECKPOINT[net];
    return [
      "--accept-terms-of-use", `--${net}`, "--datadir", c.dataDir,
      "--p2p-tcp-port", String(c.ports.p2p), "--p2p-udp-port", "12000",
      "--execution-endpoint", engineUrl(c, ctx), "--jwt-secret", jwtOf(c),
      "--checkpoint-sync-url", checkpoint, "--genesis-beacon-api-url", checkpoint,
      "--http-host", a, "--http-port", String(c.ports.http),
      ...(builder ? ["--http-mev-relay", builder] : []),
      ...(c.feeRecipient ? ["--suggested-fee-recipient", c.feeRecipient] : []),
      ...(c.metrics ? ["--monitoring-host", a, "--monitoring-port", String(c.ports.metrics)] : ["--disable-monitoring"]),
    ];
  },
});

export const validator = validatorClient({
  id: "prysm",
  packageAttr: "prysm",
  binary: "validator",
  defaults: { dataDir: "/var/lib/prysm-validator", metrics: 8081 },
  args: (c, ctx, net) => [
    "--accept-terms-of-use", `--${net}`, "--datadir", c.dataDir,
    "--beacon-rest-api-provider", (c.beaconNodes ?? [beaconUrl(ctx)])[0]!,
    "--suggested-fee-recipient", c.feeRecipient,
    ...(ctx.host.services.mevBoost ? ["--enable-builder"] : []),
    ...(c.graffiti ? ["--graffiti", c.graffiti] : []),
    "--monitoring-port", String(c.ports.metrics),
  ],
});
