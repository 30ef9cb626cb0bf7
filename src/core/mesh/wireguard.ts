// Renders a member's side of the WireGuard mesh: the NixOS module fragment (keys from agenix,
// never inline) and, for machines without NixOS, a wg-quick .conf (seed 000's wg0.conf).
import type { NixValue } from "../nix/ast.js";
import { cidrOf, peersOf, WG_KEY_PATH, type MeshPlan } from "./plan.js";

export function wireguardNixos(plan: MeshPlan, name: string): NixValue {
  const me = plan.byName.get(name)!;
  const peers = peersOf(plan, name).map((p) => ({
    name: p.name,
    publicKey: p.publicKey,
    allowedIPs: p.allowedIPs,
    ...(p.endpoint ? { endpoint: p.endpoint } : {}),
    ...(p.persistentKeepalive ? { persistentKeepalive: p.persistentKeepalive } : {}),
  }));
  return {
    networking: {
      wireguard: {
        interfaces: {
          [plan.interface]: { ips: cidrOf(plan, me), listenPort: me.listenPort, privateKeyFile: WG_KEY_PATH, peers },
        },
      },
    },
    // Hubs forward between spokes.
    ...(me.hub ? { boot: { kernel: { sysctl: { "net.ipv4.ip_forward": 1, ...(plan.ipv6 ? { "net.ipv6.conf.all.forwarding": 1 } : {}) } } } } : {}),
  };
}

/** wg-quick(8) configuration of a member; `privateKey` is the decrypted key (write it 0600). */
export function wgQuickConf(plan: MeshPlan, name: string, privateKey: string): string {
  const me = plan.byName.get(name)!;
  const lines = [
    `# ${name} in the ${plan.interface} mesh, written by hearth; keep it private (mode 0600).`,
    "[Interface]",
    `Address = ${cidrOf(plan, me).join(", ")}`,
    `ListenPort = ${me.listenPort}`,
    `PrivateKey = ${privateKey.trim()}`,
  ];
  for (const p of peersOf(plan, name)) {
    lines.push("", `# ${p.name}`, "[Peer]", `PublicKey = ${p.publicKey}`, `AllowedIPs = ${p.allowedIPs.join(", ")}`);
    if (p.endpoint) lines.push(`Endpoint = ${p.endpoint}`);
    if (p.persistentKeepalive) lines.push(`PersistentKeepalive = ${p.persistentKeepalive}`);
  }
  return lines.join("\n") + "\n";
}
