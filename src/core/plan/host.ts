// Plans one host: runs every applicable feature and service kind and collects their
// NixOS fragments, ports, data directories, secrets and deploy dependencies. Pure.
import type { Fleet, Host } from "../schema/fleet.js";
import type { DataDir, HealthCheck, PortSpec, ProcessSpec, Role, SecretNeed, ServiceContext, ServiceKind } from "../services/types.js";
import { ROLES, kindFor } from "../services/registry.js";
import type { Feature, HostModules } from "../features/types.js";
import { base } from "../features/base.js";
import { network } from "../features/network.js";
import { staticIPv4 } from "../schema/network.js";
import { hardware } from "../features/hardware.js";
import { storageLayout } from "../features/storage/layout.js";
import { credstore, remoteUnlock, secureBoot } from "../features/unlock.js";
import { mergeNix } from "../nix/merge.js";
import { mesh } from "../features/mesh.js";
import { agent } from "../features/agent.js";
import { monitoring } from "../features/monitoring.js";
import { scrapedOverMesh } from "../schema/monitoring.js";
import { headscaleServer, type MeshPlan } from "../mesh/plan.js";
import type { NixValue } from "../nix/ast.js";

export const FEATURES: Feature[] = [base, network, hardware, storageLayout, credstore, secureBoot, remoteUnlock, mesh, agent, monitoring];

export interface PlannedService {
  role: Role;
  kind: ServiceKind;
  cfg: Record<string, unknown>;
  ports: PortSpec[];
  dataDirs: DataDir[];
  processes: ProcessSpec[];
}

export interface HostPlan {
  name: string;
  host: Host;
  services: PlannedService[];
  secrets: SecretNeed[];
  dependsOn: string[];
  /** Merged option trees of hosts/<name>/{default,hardware,disko}.nix */
  config: NixValue;
  hardware: NixValue;
  disko: NixValue | undefined;
  imports: NixValue[];
  firewall: { tcp: number[]; udp: number[] };
  /** Ports opened on the mesh interface only. */
  meshFirewall: { tcp: number[]; udp: number[] };
  /** What `hearth deploy` checks after an update before confirming it. */
  health: HealthCheck[];
}

export function localAddress(host: Host): string {
  // The first static IPv4 address: services bind to one address, and an IPv6-only host keeps
  // them on loopback as a DHCP host does (binding a global IPv6 address is a choice: address:).
  return staticIPv4(host.network) ?? "127.0.0.1";
}

export function serviceContext(fleet: Fleet, name: string, host: Host, mesh?: MeshPlan): ServiceContext {
  // Headscale assigns tailnet addresses itself: bind to all addresses unless the address is
  // pinned; the firewall opens mesh-bound ports on the tailnet interface only either way.
  const member = mesh?.byName.get(name);
  const meshAddress = member ? (mesh!.type === "wireguard" || member.pinned ? member.ipv4 : "0.0.0.0") : undefined;
  return { fleet, host, hostName: name, hosts: fleet.hosts, localAddress: localAddress(host), ...(meshAddress ? { meshAddress } : {}) };
}

/** The services of a host with their ports and data directories, without building NixOS config. */
export function hostServices(fleet: Fleet, name: string, host: Host, mesh?: MeshPlan): PlannedService[] {
  const ctx = serviceContext(fleet, name, host, mesh);
  // Prometheus scrapes this host over the mesh: its clients' metrics listen there (metricsAddressOf).
  const scraped = scrapedOverMesh(fleet, host);
  const out: PlannedService[] = [];
  for (const role of ROLES) {
    const cfg = host.services[role as keyof Host["services"]] as Record<string, unknown> | undefined;
    if (!cfg) continue;
    const kind = kindFor(role, cfg);
    out.push({
      role,
      kind,
      cfg,
      // A service bound to the mesh address is reachable over the mesh only.
      ports: kind.ports(cfg, ctx).map((p) => (p.expose === "local" && (cfg.address === "mesh" || (scraped && p.name === "metrics")) ? { ...p, expose: "mesh" as const } : p)),
      dataDirs: kind.dataDirs(cfg, ctx),
      processes: kind.processes?.(cfg, ctx) ?? [],
    });
  }
  return out;
}

export function planHost(fleet: Fleet, name: string, meshPlan?: MeshPlan): HostPlan {
  const host = fleet.hosts.get(name)!;
  const fctx = { fleet, host, hostName: name, ...(meshPlan ? { mesh: meshPlan } : {}) };
  const sctx = serviceContext(fleet, name, host, meshPlan);
  const mods: HostModules = { config: [], imports: [], disko: [], hardware: [] };
  const secrets: SecretNeed[] = [];
  const featurePorts: PortSpec[] = [];
  const health: HealthCheck[] = [];
  for (const f of FEATURES) {
    if (!f.applies(fctx)) continue;
    f.contribute(fctx, mods);
    secrets.push(...(f.secrets?.(fctx) ?? []));
    featurePorts.push(...(f.ports?.(fctx) ?? []));
    health.push(...(f.health?.(fctx) ?? []));
  }
  const services = hostServices(fleet, name, host, meshPlan);
  const dependsOn = new Set<string>();
  for (const s of services) {
    mods.config.push(s.kind.nixos(s.cfg, sctx));
    secrets.push(...s.kind.secrets(s.cfg, sctx));
    for (const d of s.kind.dependsOn?.(s.cfg, sctx) ?? []) dependsOn.add(d);
    for (const p of s.processes) health.push({ name: `${p.unit} unit`, kind: "unit", unit: `${p.unit}.service` });
    health.push(...(s.kind.health?.(s.cfg, sctx) ?? []));
  }
  // Tailnet members join the Headscale server, so they are deployed after it (seed 003's order).
  const server = meshPlan?.type === "headscale" && meshPlan.byName.has(name) ? headscaleServer(fleet) : undefined;
  if (server && server[0] !== name) dependsOn.add(server[0]);
  const firewall = firewallOf([...featurePorts, ...services.flatMap((s) => s.ports)]);
  mods.config.push({ networking: { firewall: { enable: true, allowedTCPPorts: firewall.tcp, allowedUDPPorts: firewall.udp } } });
  const meshFirewall = firewallOf([...featurePorts, ...services.flatMap((s) => s.ports)], "mesh");
  if (meshPlan && (meshFirewall.tcp.length || meshFirewall.udp.length))
    mods.config.push({ networking: { firewall: { interfaces: { [meshPlan.interface]: { allowedTCPPorts: meshFirewall.tcp, allowedUDPPorts: meshFirewall.udp } } } } });
  const lanFirewall = firewallOf(services.flatMap((s) => s.ports), "lan");
  if (lanFirewall.tcp.length || lanFirewall.udp.length)
    mods.config.push({ networking: { firewall: { interfaces: { [host.network.interface]: { allowedTCPPorts: lanFirewall.tcp, allowedUDPPorts: lanFirewall.udp } } } } });
  // Secrets shared by several services (the JWT) are needed once.
  const uniqueSecrets = [...new Map(secrets.map((s) => [s.id, s])).values()];
  return {
    name,
    host,
    services,
    secrets: uniqueSecrets,
    dependsOn: [...dependsOn].sort(),
    config: mergeNix(mods.config),
    hardware: mergeNix(mods.hardware),
    disko: mods.disko.length ? mergeNix(mods.disko) : undefined,
    imports: mods.imports,
    firewall,
    meshFirewall,
    // One check per name: the mesh feature and a declared tailscale service both say "tailnet login".
    health: [...new Map(health.map((h) => [h.name, h])).values()],
  };
}

/** Only the secrets a host needs, without building its NixOS configuration (validation, status). */
export function hostSecretNeeds(fleet: Fleet, name: string): { name: string; secrets: SecretNeed[] } {
  const host = fleet.hosts.get(name)!;
  const fctx = { fleet, host, hostName: name };
  const sctx = serviceContext(fleet, name, host);
  const secrets: SecretNeed[] = [];
  for (const f of FEATURES) if (f.applies(fctx)) secrets.push(...(f.secrets?.(fctx) ?? []));
  for (const role of ROLES) {
    const cfg = host.services[role as keyof Host["services"]] as Record<string, unknown> | undefined;
    if (cfg) secrets.push(...kindFor(role, cfg).secrets(cfg, sctx));
  }
  return { name, secrets: [...new Map(secrets.map((s) => [s.id, s])).values()] };
}

/** Firewall openings derived from the services' public ports, never typed by hand. */
export function firewallOf(ports: PortSpec[], expose: PortSpec["expose"] = "public"): { tcp: number[]; udp: number[] } {
  const pick = (proto: "tcp" | "udp") =>
    [...new Set(ports.filter((p) => p.expose === expose && p.protocol === proto).map((p) => p.port))].sort((a, b) => a - b);
  return { tcp: pick("tcp"), udp: pick("udp") };
}
