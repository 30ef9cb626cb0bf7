// Headscale coordination server (seed 003's pi-alpha), via NixOS's own services.headscale.
import { z } from "zod";
import { port } from "../schema/common.js";
import { probeUrlHost, type ServiceKind } from "./types.js";
import { PREAUTH_KEY_PATH } from "./tailscale.js";

const schema = z.strictObject({
  serverUrl: z.string().url().describe("Public URL clients use to reach the server, e.g. https://headscale.example.org"),
  address: z.string().default("0.0.0.0").describe("Listen address (default 0.0.0.0)"),
  port: port(8080, "Listen port"),
  baseDomain: z.string().default("mesh").describe("MagicDNS base domain (default 'mesh')"),
  nameservers: z.array(z.string()).default(["1.1.1.1", "9.9.9.9"]).describe("Global DNS servers pushed to clients"),
  prefixes: z
    .strictObject({
      v4: z.string().default("100.64.0.0/10").describe("IPv4 prefix addresses are allocated from"),
      v6: z.string().default("fd7a:115c:a1e0::/48").describe("IPv6 prefix addresses are allocated from"),
    })
    .prefault({})
    .describe("Address prefixes of the tailnet"),
  derp: z
    .strictObject({
      enable: z.boolean().default(true).describe("Run the embedded DERP relay"),
      stunPort: port(3478, "STUN port of the embedded DERP relay (UDP)"),
      regionId: z.number().int().default(900).describe("DERP region id"),
    })
    .prefault({})
    .describe("Embedded DERP relay"),
});
export type HeadscaleCfg = z.infer<typeof schema>;

const headscale: ServiceKind<HeadscaleCfg> = {
  id: "headscale",
  role: "headscale",
  schema,
  ports: (c, ctx) => [
    // Behind a reverse proxy on the same host the raw port stays closed.
    { name: "http", port: c.port, protocol: "tcp", expose: ctx.host.services.reverseProxy ? "local" : "public", field: ["port"] },
    ...(c.derp.enable ? [{ name: "stun", port: c.derp.stunPort, protocol: "udp" as const, expose: "public" as const, field: ["derp", "stunPort"] }] : []),
  ],
  dataDirs: () => [],
  // The server holds the same preauth key its clients join with (registered by the mesh setup).
  secrets: () => [{ id: "headscale-preauth", kind: "headscale-preauth", path: PREAUTH_KEY_PATH, owner: "headscale", shared: true }],
  health: (c) => [
    { name: "headscale unit", kind: "unit", unit: "headscale.service" },
    { name: "headscale API", kind: "http", url: `http://${probeUrlHost(c.address)}:${c.port}/health`, okStatus: [200] },
  ],
  nixos: (c) => ({
    services: {
      headscale: {
        enable: true,
        address: c.address,
        port: c.port,
        settings: {
          server_url: c.serverUrl,
          dns: { magic_dns: true, base_domain: c.baseDomain, nameservers: { global: c.nameservers } },
          prefixes: { v4: c.prefixes.v4, v6: c.prefixes.v6 },
          derp: {
            server: {
              enabled: c.derp.enable,
              region_id: c.derp.regionId,
              region_code: "hearth",
              stun_listen_addr: `0.0.0.0:${c.derp.stunPort}`,
            },
          },
        },
      },
    },
  }),
};
export default headscale;
