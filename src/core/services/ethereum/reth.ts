// Reth execution client.
import { executionClient } from "./define.js";
import { addressOf, jwtOf, metricsAddressOf } from "./common.js";

const hostPort = (a: string) => (a.includes(":") ? `[${a}]` : a);

export default executionClient({
  id: "reth",
  packageAttr: "reth",
  binary: "reth",
  // reth answers metrics on any path; its own etc/prometheus/prometheus.yml scrapes "/".
  metricsPath: "/",
  defaults: { dataDir: "/var/lib/reth", p2p: 30303, authrpc: 8551, http: 8545, metrics: 9001 },
  args: (c, ctx, net) => {
    const a = addressOf(c, ctx);
    return [
      "node", "--chain", net, "--datadir", c.dataDir, "--port", String(c.ports.p2p),
      "--authrpc.addr", a, "--authrpc.port", String(c.ports.authrpc), "--authrpc.jwtsecret", jwtOf(c),
      ...(c.http ? ["--http", "--http.addr", a, "--http.port", String(c.ports.http)] : []),
      // --ws.api is left to reth's default module selection (eth, net, web3).
      ...(c.ws ? ["--ws", "--ws.addr", a, "--ws.port", String(c.ports.ws)] : []),
      // host:port, an IPv6 host in brackets (a SocketAddr).
      ...(c.metrics ? ["--metrics", `${hostPort(metricsAddressOf(c, ctx))}:${c.ports.metrics}`] : []),
    ];
  },
});
