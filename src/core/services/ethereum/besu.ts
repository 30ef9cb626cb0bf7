// Hyperledger Besu execution client (homestaking-infra's choice).
import { executionClient } from "./define.js";
import { addressOf, jwtOf } from "./common.js";

export default executionClient({
  id: "besu",
  packageAttr: "besu",
  binary: "besu",
  defaults: { dataDir: "/var/lib/besu", p2p: 30303, authrpc: 8551, http: 8545, metrics: 9545 },
  args: (c, ctx, net) => {
    const a = addressOf(c, ctx);
    return [
      `--network=${net}`, `--data-path=${c.dataDir}`, `--p2p-port=${c.ports.p2p}`,
      "--sync-mode=SNAP", "--data-storage-format=BONSAI",
      "--engine-rpc-enabled", `--engine-rpc-port=${c.ports.authrpc}`, "--engine-host-allowlist=*", `--engine-jwt-secret=${jwtOf(c)}`,
      ...(c.http ? ["--rpc-http-enabled", `--rpc-http-host=${a}`, `--rpc-http-port=${c.ports.http}`] : []),
      ...(c.metrics ? ["--metrics-enabled", `--metrics-host=${a}`, `--metrics-port=${c.ports.metrics}`] : []),
    ];
  },
});
