// Nethermind execution client.
import { executionClient } from "./define.js";
import { addressOf, jwtOf } from "./common.js";

export default executionClient({
  id: "nethermind",
  packageAttr: "nethermind",
  binary: "nethermind",
  defaults: { dataDir: "/var/lib/nethermind", p2p: 30303, authrpc: 8551, http: 8545, metrics: 6062 },
  args: (c, ctx, net) => {
    const a = addressOf(c, ctx);
    return [
      "--config", net, "--datadir", c.dataDir,
      "--Network.P2PPort", String(c.ports.p2p), "--Network.DiscoveryPort", String(c.ports.p2p),
      "--JsonRpc.Enabled", String(c.http), "--JsonRpc.Host", a, "--JsonRpc.Port", String(c.ports.http),
      "--JsonRpc.EngineHost", a, "--JsonRpc.EnginePort", String(c.ports.authrpc), "--JsonRpc.JwtSecretFile", jwtOf(c),
      ...(c.metrics ? ["--Metrics.Enabled", "true", "--Metrics.ExposePort", String(c.ports.metrics)] : []),
    ];
  },
});
