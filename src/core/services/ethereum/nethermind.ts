// Nethermind execution client.
import { executionClient } from "./define.js";
import { addressOf, jwtOf, metricsAddressOf } from "./common.js";

export default executionClient({
  id: "nethermind",
  packageAttr: "nethermind",
  binary: "nethermind",
  defaults: { dataDir: "/var/lib/nethermind", p2p: 30303, authrpc: 8551, http: 8545, metrics: 6062 },
  args: (c, ctx, net) => {
    const a = addressOf(c, ctx);
    return [
      // --datadir is a deprecated alias of --data-dir in 1.39 (nethermind.json).
      "--config", net, "--data-dir", c.dataDir,
      "--Network.P2PPort", String(c.ports.p2p), "--Network.DiscoveryPort", String(c.ports.p2p),
      "--JsonRpc.Enabled", String(c.http), "--JsonRpc.Host", a, "--JsonRpc.Port", String(c.ports.http),
      // WebSockets are served by the JSON-RPC module on JsonRpc.Host (so they need JsonRpc.Enabled:
      // a rule says so) at JsonRpc.WebSocketsPort.
      ...(c.ws ? ["--Init.WebSocketsEnabled", "true", "--JsonRpc.WebSocketsPort", String(c.ports.ws)] : []),
      "--JsonRpc.EngineHost", a, "--JsonRpc.EnginePort", String(c.ports.authrpc), "--JsonRpc.JwtSecretFile", jwtOf(c),
      // ExposeHost defaults to every interface (`+`): bound like every other client's metrics.
      ...(c.metrics ? ["--Metrics.Enabled", "true", "--Metrics.ExposeHost", metricsAddressOf(c, ctx), "--Metrics.ExposePort", String(c.ports.metrics)] : []),
    ];
  },
});
