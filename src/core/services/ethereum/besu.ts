// Hyperledger Besu execution client (homestaking-infra's choice).
import { executionClient } from "./define.js";
import { addressOf, jwtOf, metricsAddressOf } from "./common.js";

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
      // The Engine API listens on --rpc-http-host (there is no engine host flag), with HTTP on or off.
      `--rpc-http-host=${a}`,
      // Requests are refused unless their Host is allowed (default localhost,127.0.0.1: BesuCommand.java);
      // the firewall opens the port on loopback or the mesh only.
      ...(c.http ? ["--rpc-http-enabled", `--rpc-http-port=${c.ports.http}`, "--host-allowlist=*"] : []),
      // The WebSocket service has its own host and port and checks the same Host allowlist
      // (RpcWebsocketOptions.java @26.8.0); its default API set is ETH,NET,WEB3.
      ...(c.ws ? ["--rpc-ws-enabled", `--rpc-ws-host=${a}`, `--rpc-ws-port=${c.ports.ws}`, ...(c.http ? [] : ["--host-allowlist=*"])] : []),
      ...(c.metrics ? ["--metrics-enabled", `--metrics-host=${metricsAddressOf(c, ctx)}`, `--metrics-port=${c.ports.metrics}`] : []),
    ];
  },
});
