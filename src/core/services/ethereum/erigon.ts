// Erigon execution client (seed 000's choice), with an external consensus client.
import { executionClient } from "./define.js";
import { addressOf, jwtOf, metricsAddressOf } from "./common.js";

export default executionClient({
  id: "erigon",
  packageAttr: "erigon",
  binary: "erigon",
  // Erigon kept geth's metrics server: Prometheus text at /debug/metrics/prometheus.
  metricsPath: "/debug/metrics/prometheus",
  defaults: { dataDir: "/var/lib/erigon", p2p: 30303, authrpc: 8551, http: 8545, metrics: 6061 },
  args: (c, ctx, net) => {
    const a = addressOf(c, ctx);
    return [
      "--chain", net, "--datadir", c.dataDir, "--port", String(c.ports.p2p), "--externalcl",
      "--authrpc.addr", a, "--authrpc.port", String(c.ports.authrpc), "--authrpc.vhosts", "*", "--authrpc.jwtsecret", jwtOf(c),
      ...(c.http ? ["--http", "--http.addr", a, "--http.port", String(c.ports.http)] : ["--http=false"]),
      // Erigon's embedded rpcdaemon serves WebSocket with its HTTP server, on --http.addr: it has
      // no --ws.addr (node/cli/flags.go setEmbeddedRpcDaemon: WebsocketEnabled, WebsocketPort).
      ...(c.ws ? ["--ws", "--ws.port", String(c.ports.ws)] : []),
      ...(c.metrics ? ["--metrics", "--metrics.addr", metricsAddressOf(c, ctx), "--metrics.port", String(c.ports.metrics)] : []),
    ];
  },
});
