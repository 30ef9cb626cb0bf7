// Tailscale client joining the fleet's Headscale server (or any login server).
import { z } from "zod";
import { port } from "../schema/common.js";
import type { ServiceContext, ServiceKind } from "./types.js";

const schema = z.strictObject({
  loginServer: z
    .string()
    .url()
    .optional()
    .describe("Coordination server URL; defaults to the fleet's Headscale server"),
  port: port(41641, "WireGuard UDP port of tailscaled"),
  routing: z.enum(["none", "client", "server", "both"]).default("client").describe("Routing features (exit nodes, subnet routes)"),
  extraUpFlags: z.array(z.string()).default([]).describe("Extra flags for `tailscale up`"),
});
export type TailscaleCfg = z.infer<typeof schema>;

/** The host running the fleet's Headscale server, if any. */
export function headscaleHost(ctx: ServiceContext): [string, string] | undefined {
  for (const [name, h] of ctx.hosts) if (h.services.headscale) return [name, h.services.headscale.serverUrl];
  return undefined;
}

export const PREAUTH_KEY_PATH = "/run/agenix/headscale-preauth";

const tailscale: ServiceKind<TailscaleCfg> = {
  id: "tailscale",
  role: "tailscale",
  schema,
  ports: (c) => [{ name: "wireguard", port: c.port, protocol: "udp", expose: "public", field: ["port"] }],
  dataDirs: () => [],
  secrets: () => [{ id: "headscale-preauth", kind: "headscale-preauth", path: PREAUTH_KEY_PATH, shared: true }],
  dependsOn: (c, ctx) => {
    const hs = headscaleHost(ctx);
    return !c.loginServer && hs && hs[0] !== ctx.hostName ? [hs[0]] : [];
  },
  health: () => [
    { name: "tailscaled unit", kind: "unit", unit: "tailscaled.service" },
    { name: "tailnet login", kind: "tailscale" },
  ],
  nixos: (c, ctx) => {
    const server = c.loginServer ?? headscaleHost(ctx)?.[1];
    return {
      services: {
        tailscale: {
          enable: true,
          port: c.port,
          useRoutingFeatures: c.routing,
          authKeyFile: PREAUTH_KEY_PATH,
          extraUpFlags: [...(server ? ["--login-server", server] : []), ...c.extraUpFlags],
        },
      },
    };
  },
};
export default tailscale;
