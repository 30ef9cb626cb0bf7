// A host's side of the fleet mesh: the WireGuard interface with its peers, or the Tailscale
// client of the fleet's Headscale tailnet (and, on the server, the tailnet's DNS and ACL).
import type { Feature } from "./types.js";
import { isMember, neighbours, WG_KEY_PATH } from "../mesh/plan.js";
import { wireguardNixos } from "../mesh/wireguard.js";
import { headscaleServerNixos, tailscaleClientNixos } from "../mesh/headscale.js";
import { PREAUTH_KEY_PATH } from "../services/tailscale.js";

export const mesh: Feature = {
  id: "mesh",
  applies: ({ fleet, host }) => isMember(fleet, host),
  contribute: (ctx, out) => {
    const plan = ctx.mesh;
    if (!plan?.byName.has(ctx.hostName)) return;
    if (plan.type === "wireguard") out.config.push(wireguardNixos(plan, ctx.hostName));
    else {
      // A host that declares services.tailscale itself keeps its own client settings.
      if (!ctx.host.services.tailscale) out.config.push(tailscaleClientNixos(plan, ctx.fleet, ctx.hostName));
      if (ctx.host.services.headscale) out.config.push(headscaleServerNixos(plan, ctx.fleet, ctx.hostName));
    }
  },
  // The WireGuard listen port is open to everyone: the handshake itself authenticates peers.
  ports: ({ fleet, host }) =>
    fleet.mesh?.type === "wireguard" ? [{ name: "wireguard", port: host.mesh.port ?? fleet.mesh.port, protocol: "udp", expose: "public", field: ["mesh", "port"] }] : [],
  // Tailnet members are checked by their tailscale service (declared or added by this feature).
  health: (ctx) => {
    const plan = ctx.mesh;
    const me = plan?.byName.get(ctx.hostName);
    if (!plan || !me) return [];
    if (plan.type === "wireguard")
      return [{ name: `mesh handshake on ${plan.interface}`, kind: "wireguard", interface: plan.interface, peers: neighbours(plan.settings, plan.byName, me).map((p) => p.ipv4) }];
    return ctx.host.services.tailscale
      ? []
      : [
          { name: "tailscaled unit", kind: "unit", unit: "tailscaled.service" },
          { name: "tailnet login", kind: "tailscale" },
        ];
  },
  secrets: ({ fleet }) =>
    fleet.mesh?.type === "wireguard"
      ? [{ id: "wireguard-key", kind: "wireguard-key", path: WG_KEY_PATH, mode: "0400" }]
      : [{ id: "headscale-preauth", kind: "headscale-preauth", path: PREAUTH_KEY_PATH, shared: true }],
};
