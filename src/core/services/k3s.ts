// k3s Kubernetes server or agent (seed 004's RAM-booted cluster), via NixOS's services.k3s.
import { z } from "zod";
import type { ServiceContext, ServiceKind } from "./types.js";
import { staticIPv4 } from "../schema/network.js";

const schema = z.strictObject({
  role: z.enum(["server", "agent"]).default("agent").describe("server runs the control plane; agent only runs workloads"),
  clusterInit: z.boolean().default(false).describe("Initialise a new embedded-etcd cluster (exactly one server)"),
  serverAddr: z
    .string()
    .url()
    .optional()
    .describe("URL of a server to join, e.g. https://10.0.0.1:6443; defaults to the fleet's clusterInit server"),
  extraFlags: z.array(z.string()).default([]).describe("Extra k3s flags"),
});
export type K3sCfg = z.infer<typeof schema>;

export const K3S_TOKEN_PATH = "/run/agenix/k3s-token";

function initServer(ctx: ServiceContext): [string, string | undefined] | undefined {
  for (const [name, h] of ctx.hosts) {
    const k = h.services.k3s;
    if (k?.role === "server" && k.clusterInit) return [name, staticIPv4(h.network)];
  }
  return undefined;
}

const serverUrl = (c: K3sCfg, ctx: ServiceContext): string | undefined => {
  if (c.serverAddr) return c.serverAddr;
  const init = initServer(ctx);
  if (!init || init[0] === ctx.hostName) return undefined;
  return `https://${init[1] ?? init[0]}:6443`;
};

const k3s: ServiceKind<K3sCfg> = {
  id: "k3s",
  role: "k3s",
  schema,
  // Cluster traffic (API, etcd, kubelet, flannel's VXLAN) only on the interface the peers use:
  // the mesh when the host is in one, else the host's own network interface; never every
  // interface (a public one included), as k3s' own docs warn for 8472 and 10250.
  ports: (c, ctx) => {
    const expose = ctx.meshAddress ? ("mesh" as const) : ("lan" as const);
    return [
      ...(c.role === "server"
        ? [
            { name: "api", port: 6443, protocol: "tcp" as const, expose, field: ["role"] },
            { name: "etcd", port: 2379, protocol: "tcp" as const, expose, field: ["role"] },
            { name: "etcd-peer", port: 2380, protocol: "tcp" as const, expose, field: ["role"] },
          ]
        : []),
      { name: "kubelet", port: 10250, protocol: "tcp" as const, expose, field: ["role"] },
      { name: "flannel", port: 8472, protocol: "udp" as const, expose, field: ["role"] },
    ];
  },
  dataDirs: () => [],
  secrets: () => [{ id: "k3s-token", kind: "k3s-token", path: K3S_TOKEN_PATH, shared: true }],
  dependsOn: (c, ctx) => {
    const init = initServer(ctx);
    return !c.serverAddr && init && init[0] !== ctx.hostName ? [init[0]] : [];
  },
  health: (c) => [
    { name: "k3s unit", kind: "unit", unit: "k3s.service" },
    ...(c.role === "server" ? [{ name: "k3s API server", kind: "tcp" as const, host: "127.0.0.1", port: 6443 }] : []),
  ],
  nixos: (c, ctx) => {
    const url = serverUrl(c, ctx);
    return {
      services: {
        k3s: {
          enable: true,
          role: c.role,
          ...(c.clusterInit ? { clusterInit: true } : {}),
          ...(url ? { serverAddr: url } : {}),
          tokenFile: K3S_TOKEN_PATH,
          extraFlags: c.extraFlags,
        },
      },
    };
  },
};
export default k3s;
