// Lighthouse beacon node and validator client; the beacon's command line follows seed 001.
import { consensusClient, validatorClient } from "./define.js";
import { DEFAULT_CHECKPOINT, addressOf, beaconUrl, builderUrl, engineUrl, jwtOf } from "./common.js";

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
      "--prune-payloads", "false",
      ...(c.metrics ? ["--metrics", "--metrics-address", a, "--metrics-port", String(c.ports.metrics)] : []),
    ];
  },
});

export const validator = validatorClient({
  id: "lighthouse",
  packageAttr: "lighthouse",
  binary: "lighthouse",
  defaults: { dataDir: "/var/lib/lighthouse-validator", metrics: 5064 },
  args: (c, ctx, net) => [
    "vc", "--datadir", c.dataDir, "--network", net,
    "--beacon-nodes", (c.beaconNodes ?? [beaconUrl(ctx)]).join(","),
    "--suggested-fee-recipient", c.feeRecipient,
    ...(ctx.host.services.mevBoost ? ["--builder-proposals"] : []),
    ...(c.graffiti ? ["--graffiti", c.graffiti] : []),
    "--metrics", "--metrics-port", String(c.ports.metrics),
  ],
});
