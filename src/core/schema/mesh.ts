// The mesh between hosts: declared once in fleet.yaml (kind, prefix, topology) and per host
// (pinned address, endpoint, NAT). The mesh planner (src/core/mesh) turns it into every side.
import { z } from "zod";
import { hostName, port } from "./common.js";

const cidr4 = z
  .string()
  .regex(/^(\d{1,3})(\.\d{1,3}){3}\/(\d|[12]\d|3[0-2])$/, "must be an IPv4 prefix such as 10.100.0.0/24")
  .refine((s) => s.split("/")[0]!.split(".").every((o) => Number(o) <= 255), "octets must be 0-255");
const cidr6 = z
  .string()
  .regex(/^[0-9a-fA-F:]+::?\/(4[89]|[5-9]\d|1[01]\d|12[0-4])$/, "must be an IPv6 prefix ending in :: with length 48-124, such as fd42:4e41:7232::/64");
export const meshIpv4 = z
  .string()
  .regex(/^(\d{1,3})(\.\d{1,3}){3}$/, "must be an IPv4 address such as 10.100.0.7")
  .refine((s) => s.split(".").every((o) => Number(o) <= 255), "octets must be 0-255");
const endpoint = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/, "must be HOST or HOST:PORT (an address or DNS name the other hosts can reach)");

export const fleetMesh = z
  .strictObject({
    type: z.enum(["wireguard", "headscale"]).describe("wireguard: hearth's own WireGuard mesh; headscale: a tailnet on the host running services.headscale"),
    interface: z.string().regex(/^[a-z][a-z0-9-]{0,14}$/, "an interface name of at most 15 characters").optional().describe("Mesh interface (default wg0; tailscale0 for headscale)"),
    ipv4: cidr4.optional().describe("Address prefix of the mesh (default 10.100.0.0/24 for wireguard; the Headscale server's v4 prefix for headscale)"),
    ipv6: cidr6.optional().describe("IPv6 prefix; each host gets the same host part as its IPv4 address"),
    port: port(51820, "WireGuard listen port (hosts may override)"),
    topology: z.enum(["full", "hub-and-spoke", "tags"]).default("full").describe("full: every host peers with every other; hub-and-spoke: spokes peer with the hubs, which route between them; tags: hosts peer when they share one of `tags`"),
    hubs: z.array(hostName).default([]).describe("Hub hosts (hub-and-spoke): they need an endpoint and forward traffic between spokes"),
    tags: z.array(z.string()).default([]).describe("Tags whose hosts form full meshes (topology: tags)"),
    keepalive: z.number().int().min(1).max(3600).default(25).describe("PersistentKeepalive (seconds) that hosts behind NAT send"),
    external: z
      .record(
        hostName,
        z.strictObject({
          address: meshIpv4.optional().describe("Pinned mesh address"),
          endpoint: endpoint.optional().describe("Where the others reach it (omit when it is behind NAT)"),
          tags: z.array(z.string()).default([]).describe("Tags, for topology: tags"),
        }),
      )
      .default({})
      .describe("Machines not managed by NixOS (laptops, seed 000's non-NixOS boxes): hearth makes their keys and writes a wg-quick .conf on request (`hearth mesh wg-quick NAME`)"),
  })
  .describe("A WireGuard mesh or a Headscale tailnet between the fleet's hosts");

export const hostMesh = z
  .strictObject({
    enable: z.boolean().default(true).describe("Member of the fleet's mesh"),
    address: meshIpv4.optional().describe("Pin this host's mesh address (otherwise hearth allocates one and keeps it in mesh/addresses.json)"),
    endpoint: endpoint.optional().describe("Where the other hosts reach this one (default: its first static address); omit for hosts behind NAT"),
    port: z.number().int().min(1).max(65535).optional().describe("WireGuard listen port of this host (default mesh.port)"),
    nat: z
      .boolean()
      .optional()
      .describe("Behind NAT: advertise no endpoint and keep the tunnel open with keepalives (default: true unless the host has mesh.endpoint or a static address)"),
  })
  .prefault({})
  .describe("This host in the fleet's mesh");

export type FleetMesh = z.infer<typeof fleetMesh>;
export type HostMesh = z.infer<typeof hostMesh>;
