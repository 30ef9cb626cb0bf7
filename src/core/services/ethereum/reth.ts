// Reth execution client.
import { executionClient } from "./define.js";
import { addressOf, jwtOf } from "./common.js";

export default executionClient({
  id: "reth",
  packageAttr: "reth",
  binary: "reth",
  defaults: { dataDir: "/var/lib/reth", p2p: 30303, authrpc: 8551, http: 8545, metrics: 9001 },
  args: (c, ctx, net) => {
    const a = addressOf(c, ctx);
    return [
      "node", "--chain", net, "--datadir", c.dataDir, "--port", String(c.ports.p2p),
      "--authrpc.addr", a, "--authrpc.port", String(c.ports.authrpc), "--authrpc.jwtsecret", jwtOf(c),
      ...(c.http ? ["--http", "--http.addr", a, "--http.port", String(c.ports.http)] : []),
      ...(c.metrics ? ["--metrics", `${a}:${c.ports.metrics}`] : []),
    ];
  },
});
