// go-ethereum execution client.
import { executionClient } from "./define.js";
import { addressOf, jwtOf, metricsAddressOf, WS_API } from "./common.js";

export default executionClient({
  id: "geth",
  packageAttr: "geth",
  binary: "geth",
  // geth's metrics server serves Prometheus text at /debug/metrics/prometheus (metrics/exp/exp.go;
  // ethpandaops' ethereum-package scrapes geth there too), /metrics is not served.
  metricsPath: "/debug/metrics/prometheus",
  defaults: { dataDir: "/var/lib/geth", p2p: 30303, authrpc: 8551, http: 8545, metrics: 6060 },
  args: (c, ctx, net) => {
    const a = addressOf(c, ctx);
    return [
      `--${net}`, "--datadir", c.dataDir, "--port", String(c.ports.p2p),
      "--authrpc.addr", a, "--authrpc.port", String(c.ports.authrpc), "--authrpc.vhosts", "*", "--authrpc.jwtsecret", jwtOf(c),
      ...(c.http ? ["--http", "--http.addr", a, "--http.port", String(c.ports.http)] : []),
      // geth's default --ws.api is net,web3 only (node/defaults.go WSModules); subscribers need eth.
      ...(c.ws ? ["--ws", "--ws.addr", a, "--ws.port", String(c.ports.ws), "--ws.api", WS_API] : []),
      ...(c.metrics ? ["--metrics", "--metrics.addr", metricsAddressOf(c, ctx), "--metrics.port", String(c.ports.metrics)] : []),
    ];
  },
});
