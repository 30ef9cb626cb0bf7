// The mesh planner: members, their addresses (stable: pins, then mesh/addresses.json, then the
// lowest free address), endpoints, and who peers with whom under the chosen topology. Pure; the
// WireGuard and Headscale renderers and `hearth mesh show` all read this one plan.
import type { Fleet, Host } from "../schema/fleet.js";
import type { FleetMesh } from "../schema/mesh.js";
import type { YamlPath } from "../validate/issues.js";
import { ip6At, isUsableOffset, numToIp4, offsetIn, parsePrefix4, prefixLen } from "./ip.js";
import { staticIPv4 } from "../schema/network.js";

export const ADDRESSES_FILE = "mesh/addresses.json";
export const WG_KEY_PATH = "/run/agenix/wireguard-key";
const DEFAULT_V4 = { wireguard: "10.100.0.0/24", headscale: "100.64.0.0/10" };

export interface MeshMember {
  name: string;
  /** Not managed by NixOS: gets a wg-quick .conf instead of a host module. */
  external: boolean;
  ipv4: string;
  ipv6?: string;
  /** host:port the others dial; absent for members behind NAT. */
  endpoint?: string;
  listenPort: number;
  tags: string[];
  hub: boolean;
  /** The address was pinned by hand (in Headscale mode, only pinned addresses are certain). */
  pinned: boolean;
  publicKey?: string;
}

export interface MeshPeer {
  name: string;
  publicKey: string;
  allowedIPs: string[];
  endpoint?: string;
  persistentKeepalive?: number;
}

export interface MeshFinding {
  /** Host the finding is about (its file), or undefined for fleet.yaml. */
  host?: string;
  path: YamlPath;
  severity: "error" | "warning";
  message: string;
  hint?: string;
}

export interface MeshPlan {
  type: FleetMesh["type"];
  interface: string;
  ipv4: string;
  ipv6?: string;
  members: MeshMember[];
  byName: Map<string, MeshMember>;
  /** The address file after this plan: every member's IPv4 address. */
  addresses: Record<string, string>;
  /** Members whose address is new in this plan. */
  allocated: string[];
  findings: MeshFinding[];
  settings: FleetMesh;
}

export interface MeshState {
  /** mesh/addresses.json as last written. */
  addresses: Record<string, string>;
  /** WireGuard public key of a member (from the secrets manifest). */
  publicKey(name: string, external: boolean): string | undefined;
}

const splitEndpoint = (e: string): [string, number | undefined] => {
  const m = /^(.*?)(?::(\d+))?$/.exec(e)!;
  return [m[1]!, m[2] ? Number(m[2]) : undefined];
};

/** The host running Headscale (the tailnet's server), if any. */
export const headscaleServer = (fleet: Fleet): [string, Host] | undefined => [...fleet.hosts].find(([, h]) => h.services.headscale);

export const isMember = (fleet: Fleet, host: Host) => fleet.mesh !== undefined && host.mesh.enable;

export function planMesh(fleet: Fleet, state: MeshState = { addresses: {}, publicKey: () => undefined }): MeshPlan | undefined {
  const m = fleet.mesh;
  if (!m) return undefined;
  const findings: MeshFinding[] = [];
  const server = headscaleServer(fleet);
  const ipv4 = m.ipv4 ?? (m.type === "headscale" && server ? server[1].services.headscale!.prefixes.v4 : DEFAULT_V4[m.type]);
  const ipv6 = m.ipv6;
  const iface = m.interface ?? (m.type === "headscale" ? "tailscale0" : "wg0");
  const prefix = parsePrefix4(ipv4);

  interface Draft extends Omit<MeshMember, "ipv4" | "ipv6" | "pinned"> {
    pin?: string;
    pinPath: YamlPath;
  }
  const drafts: Draft[] = [];
  for (const [name, h] of [...fleet.hosts].sort(([a], [b]) => a.localeCompare(b))) {
    if (!h.mesh.enable) continue;
    const listenPort = h.mesh.port ?? m.port;
    const staticAddr = staticIPv4(h.network);
    let endpoint = h.mesh.nat ? undefined : (h.mesh.endpoint ?? staticAddr);
    if (endpoint && splitEndpoint(endpoint)[1] === undefined) endpoint = `${endpoint}:${listenPort}`;
    drafts.push({ name, external: false, endpoint, listenPort, tags: h.tags, hub: m.hubs.includes(name), pin: h.mesh.address, pinPath: ["mesh", "address"], publicKey: state.publicKey(name, false) });
  }
  for (const [name, e] of Object.entries(m.external).sort(([a], [b]) => a.localeCompare(b))) {
    if (fleet.hosts.has(name)) {
      findings.push({ path: ["mesh", "external", name], severity: "error", message: `'${name}' is already a host of the fleet`, hint: "give the external peer another name" });
      continue;
    }
    let endpoint = e.endpoint;
    if (endpoint && splitEndpoint(endpoint)[1] === undefined) endpoint = `${endpoint}:${m.port}`;
    drafts.push({ name, external: true, endpoint, listenPort: m.port, tags: e.tags, hub: false, pin: e.address, pinPath: ["mesh", "external", name, "address"], publicKey: state.publicKey(name, true) });
  }

  // Addresses: pins first, then what the address file remembers, then the lowest free ones.
  const taken = new Map<number, string>();
  const offsets = new Map<string, number>();
  for (const d of drafts) {
    if (!d.pin) continue;
    const off = offsetIn(prefix, d.pin);
    const where = { host: d.external ? undefined : d.name, path: d.pinPath };
    if (off === undefined || !isUsableOffset(prefix, off)) {
      findings.push({ ...where, severity: "error", message: `${d.pin} is not a usable address of the mesh prefix ${ipv4}`, hint: `pick a host address inside ${ipv4} (not its first or last)` });
      continue;
    }
    const other = taken.get(off);
    if (other) {
      findings.push({ ...where, severity: "error", message: `${d.pin} is already pinned by '${other}'`, hint: "give each host its own mesh address" });
      continue;
    }
    taken.set(off, d.name);
    offsets.set(d.name, off);
  }
  for (const d of drafts) {
    if (offsets.has(d.name) || d.pin) continue;
    const remembered = state.addresses[d.name];
    const off = remembered ? offsetIn(prefix, remembered) : undefined;
    if (off !== undefined && isUsableOffset(prefix, off) && !taken.has(off)) {
      taken.set(off, d.name);
      offsets.set(d.name, off);
    }
  }
  const allocated: string[] = [];
  let next = prefix.size <= 2 ? 0 : 1;
  for (const d of drafts) {
    if (offsets.has(d.name) || d.pin) continue;
    while (next < prefix.size && (taken.has(next) || !isUsableOffset(prefix, next))) next++;
    if (next >= prefix.size) {
      findings.push({ path: ["mesh", "ipv4"], severity: "error", message: `the mesh prefix ${ipv4} has no free address left for '${d.name}'`, hint: "use a larger prefix, e.g. /16" });
      break;
    }
    taken.set(next, d.name);
    offsets.set(d.name, next);
    allocated.push(d.name);
  }

  const members: MeshMember[] = drafts
    .filter((d) => offsets.has(d.name))
    .map(({ pin, pinPath: _pp, ...d }) => {
      const off = offsets.get(d.name)!;
      return { ...d, pinned: pin !== undefined, ipv4: numToIp4(prefix.base + off), ...(ipv6 ? { ipv6: ip6At(ipv6, off) } : {}) };
    });
  const byName = new Map(members.map((x) => [x.name, x]));
  const addresses: Record<string, string> = {};
  for (const x of members) addresses[x.name] = x.ipv4;

  if (m.type === "wireguard") topologyFindings(m, byName, findings);
  if (m.type === "headscale" && !server)
    findings.push({ path: ["mesh", "type"], severity: "error", message: "mesh type headscale needs a host running services.headscale", hint: "add services.headscale to one host, or use type: wireguard" });
  return { type: m.type, interface: iface, ipv4, ipv6, members, byName, addresses, allocated, findings, settings: m };
}

function topologyFindings(m: FleetMesh, byName: Map<string, MeshMember>, findings: MeshFinding[]) {
  if (m.topology === "hub-and-spoke" && m.hubs.length === 0)
    findings.push({ path: ["mesh", "hubs"], severity: "error", message: "hub-and-spoke needs at least one hub", hint: "list the hub hosts under mesh.hubs" });
  m.hubs.forEach((h, i) => {
    const hub = byName.get(h);
    if (!hub) findings.push({ path: ["mesh", "hubs", i], severity: "error", message: `hub '${h}' is not a member of the mesh`, hint: "name a host of this fleet with mesh enabled" });
    else if (!hub.endpoint)
      findings.push({ host: hub.external ? undefined : h, path: ["mesh", "endpoint"], severity: "error", message: `hub '${h}' has no endpoint, so spokes cannot reach it`, hint: "give it a static address or set mesh.endpoint" });
  });
  if (m.topology === "tags" && m.tags.length === 0)
    findings.push({ path: ["mesh", "tags"], severity: "error", message: "topology tags needs the tags whose hosts peer", hint: "list them under mesh.tags" });
  // Two members behind NAT never meet directly: say so once per member.
  for (const x of byName.values()) {
    if (x.endpoint) continue;
    const unreachable = neighbours(m, byName, x).filter((y) => !y.endpoint).map((y) => y.name);
    if (unreachable.length)
      findings.push({
        host: x.external ? undefined : x.name,
        path: x.external ? ["mesh", "external", x.name] : ["mesh", "endpoint"],
        severity: "warning",
        message: `neither this member nor ${unreachable.length} of its peers (${unreachable.slice(0, 3).join(", ")}${unreachable.length > 3 ? ", …" : ""}) has an endpoint, so they cannot connect`,
        hint: "set mesh.endpoint where one side is reachable, or use topology hub-and-spoke",
      });
  }
}

/** Who `x` peers with under the topology. */
export function neighbours(m: FleetMesh, byName: Map<string, MeshMember>, x: MeshMember): MeshMember[] {
  const all = [...byName.values()].filter((y) => y.name !== x.name);
  if (m.topology === "full") return all;
  if (m.topology === "hub-and-spoke") return x.hub ? all : all.filter((y) => y.hub);
  const mine = new Set(x.tags.filter((t) => m.tags.includes(t)));
  return all.filter((y) => y.tags.some((t) => mine.has(t)));
}

/** The WireGuard peers of member `name`: keys, routes, endpoints and keepalives. */
export function peersOf(plan: MeshPlan, name: string): MeshPeer[] {
  const x = plan.byName.get(name)!;
  const m = plan.settings;
  const firstHub = m.topology === "hub-and-spoke" ? m.hubs.find((h) => plan.byName.has(h)) : undefined;
  const out: MeshPeer[] = [];
  for (const y of neighbours(m, plan.byName, x)) {
    if (!y.publicKey) continue;
    // A spoke reaches every other spoke through its hub: the hub's peer entry carries the prefix.
    const viaHub = !x.hub && y.name === firstHub;
    const allowedIPs = viaHub
      ? [plan.ipv4, ...(plan.ipv6 ? [plan.ipv6] : [])]
      : [`${y.ipv4}/32`, ...(y.ipv6 ? [`${y.ipv6}/128`] : [])];
    out.push({
      name: y.name,
      publicKey: y.publicKey,
      allowedIPs,
      ...(y.endpoint ? { endpoint: y.endpoint } : {}),
      ...(!x.endpoint ? { persistentKeepalive: m.keepalive } : {}),
    });
  }
  return out;
}

export const cidrOf = (plan: MeshPlan, m: MeshMember) => [`${m.ipv4}/${prefixLen(plan.ipv4)}`, ...(m.ipv6 && plan.ipv6 ? [`${m.ipv6}/${prefixLen(plan.ipv6)}`] : [])];
