// Headscale mode: every member runs the Tailscale client against the fleet's Headscale server,
// joins with hearth's preauth key on first boot, and advertises tags; the server gets DNS
// records for pinned addresses and an ACL policy generated from tags and mesh-bound ports.
import type { Fleet } from "../schema/fleet.js";
import { nix, type NixValue } from "../nix/ast.js";
import { PREAUTH_KEY_PATH } from "../services/tailscale.js";
import type { MeshPlan } from "./plan.js";

export const ACL_FILE = "headscale-acl.json";
/** The Headscale user the fleet's machines belong to. */
export const HEADSCALE_USER = "hearth";

export const hostTag = (name: string) => `tag:host-${name}`;
export const tagsOf = (fleet: Fleet, name: string) => ["tag:hearth", hostTag(name), ...(fleet.hosts.get(name)?.tags ?? []).map((t) => `tag:${t}`)];

function serverUrl(fleet: Fleet): string | undefined {
  for (const h of fleet.hosts.values()) if (h.services.headscale) return h.services.headscale.serverUrl;
  return undefined;
}

export function tailscaleClientNixos(plan: MeshPlan, fleet: Fleet, name: string): NixValue {
  const url = serverUrl(fleet);
  return {
    services: {
      tailscale: {
        enable: true,
        openFirewall: true,
        authKeyFile: PREAUTH_KEY_PATH,
        extraUpFlags: [...(url ? ["--login-server", url] : []), `--advertise-tags=${tagsOf(fleet, name).join(",")}`, `--hostname=${name}`],
      },
    },
  };
}

/** Hosts whose tailnet address is pinned get a DNS record (seed 003's extra_records). */
export function extraRecords(plan: MeshPlan, fleet: Fleet): { name: string; type: string; value: string }[] {
  const base = [...fleet.hosts.values()].find((h) => h.services.headscale)?.services.headscale?.baseDomain ?? "mesh";
  return plan.members
    .filter((m) => !m.external && m.pinned)
    .map((m) => ({ name: `${m.name}.${base}`, type: "A", value: m.ipv4 }));
}

export function headscaleServerNixos(plan: MeshPlan, fleet: Fleet, _name: string): NixValue {
  return {
    services: {
      headscale: {
        settings: {
          dns: { extra_records: extraRecords(plan, fleet) },
          policy: { mode: "file", path: nix.path(`./${ACL_FILE}`) },
        },
      },
    },
    // Registers hearth's preauth key (an agenix secret) so members join unattended.
    hearth: { headscalePreauth: { enable: true, user: HEADSCALE_USER, keyFile: PREAUTH_KEY_PATH } },
  };
}

/**
 * The tailnet policy: tag owners for every tag in use, SSH between fleet hosts (deploys), and
 * for each host the ports its services bind to the mesh, open to the fleet's hosts.
 */
export function headscaleAcl(plan: MeshPlan, fleet: Fleet, meshPorts: Map<string, { tcp: number[]; udp: number[] }>): string {
  const tags = new Set<string>();
  for (const m of plan.members) if (!m.external) for (const t of tagsOf(fleet, m.name)) tags.add(t);
  const tagOwners: Record<string, string[]> = {};
  for (const t of [...tags].sort()) tagOwners[t] = [HEADSCALE_USER];
  const acls: Record<string, unknown>[] = [{ action: "accept", src: ["tag:hearth"], dst: ["tag:hearth:22"] }];
  for (const [host, ports] of [...meshPorts].sort(([a], [b]) => a.localeCompare(b))) {
    const tcp = [...new Set(ports.tcp)].sort((a, b) => a - b);
    const udp = [...new Set(ports.udp)].sort((a, b) => a - b);
    if (tcp.length) acls.push({ action: "accept", src: ["tag:hearth"], proto: "tcp", dst: [`${hostTag(host)}:${tcp.join(",")}`] });
    if (udp.length) acls.push({ action: "accept", src: ["tag:hearth"], proto: "udp", dst: [`${hostTag(host)}:${udp.join(",")}`] });
  }
  return JSON.stringify({ tagOwners, acls }, null, 2) + "\n";
}
