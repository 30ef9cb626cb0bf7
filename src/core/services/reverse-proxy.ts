// Caddy or nginx in front of local services, with ACME certificates.
import { z } from "zod";
import type { ServiceKind } from "./types.js";

const site = z.strictObject({
  upstream: z.string().url().describe("Where requests go, e.g. http://127.0.0.1:8080"),
  websockets: z.boolean().default(true).describe("Pass WebSocket upgrades through"),
});

const fields = {
  acmeEmail: z.string().email().describe("Contact e-mail for the ACME (Let's Encrypt) account"),
  sites: z.record(z.string().regex(/^[a-z0-9.-]+$/, "must be a domain name"), site).describe("Virtual hosts by domain name"),
};
const caddySchema = z.strictObject({ kind: z.literal("caddy"), ...fields });
const nginxSchema = z.strictObject({ kind: z.literal("nginx"), ...fields });
type Cfg = z.infer<typeof caddySchema> | z.infer<typeof nginxSchema>;

const health = (unit: string): ServiceKind<Cfg>["health"] => () => [
  { name: `${unit} unit`, kind: "unit", unit: `${unit}.service` },
  { name: `${unit} listening`, kind: "tcp", host: "127.0.0.1", port: 80 },
];

const ports: ServiceKind<Cfg>["ports"] = () => [
  { name: "http", port: 80, protocol: "tcp", expose: "public", field: ["kind"] },
  { name: "https", port: 443, protocol: "tcp", expose: "public", field: ["kind"] },
];

export const caddy: ServiceKind<Cfg> = {
  id: "caddy",
  role: "reverseProxy",
  schema: caddySchema,
  ports,
  dataDirs: () => [],
  secrets: () => [],
  health: health("caddy"),
  nixos: (c) => ({
    services: {
      caddy: {
        enable: true,
        email: c.acmeEmail,
        virtualHosts: Object.fromEntries(
          Object.entries(c.sites).map(([domain, s]) => [domain, { extraConfig: `reverse_proxy ${s.upstream.replace(/^[a-z]+:\/\//, "").replace(/\/.*$/, "")}` }]),
        ),
      },
    },
  }),
};

export const nginx: ServiceKind<Cfg> = {
  id: "nginx",
  role: "reverseProxy",
  schema: nginxSchema,
  ports,
  dataDirs: () => [],
  secrets: () => [],
  health: health("nginx"),
  nixos: (c) => ({
    services: {
      nginx: {
        enable: true,
        recommendedProxySettings: true,
        recommendedTlsSettings: true,
        virtualHosts: Object.fromEntries(
          Object.entries(c.sites).map(([domain, s]) => [
            domain,
            { forceSSL: true, enableACME: true, locations: { "/": { proxyPass: s.upstream, proxyWebsockets: s.websockets } } },
          ]),
        ),
      },
    },
    security: { acme: { acceptTerms: true, defaults: { email: c.acmeEmail } } },
  }),
};
