// Graphs where people want them (fleet.yaml `monitoring:`): node_exporter on every host, one
// Prometheus that scrapes it and every Ethereum client's metrics over the mesh, and Grafana with
// that Prometheus as its data source and hearth's dashboards (nix/dashboards, copied to the flake).
import type { Feature, HostContext } from "./types.js";
import type { Fleet, Host } from "../schema/fleet.js";
import type { MeshPlan } from "../mesh/plan.js";
import type { PortSpec, SecretNeed, ServiceContext } from "../services/types.js";
import { ROLES, kindFor } from "../services/registry.js";
import { grafanaHost, scrapedOverMesh } from "../schema/monitoring.js";
import { AGENIX_DIR } from "../secrets/kinds.js";
import { nix, type NixValue } from "../nix/ast.js";

export const NODE_EXPORTER_PORT = 9100;
/** The label every scrape target carries: the fleet host it runs on (the summary reader maps by it). */
export const HOST_LABEL = "host";
export const NODE_JOB = "node";
/** Where the flake carries the dashboards (from hearth's nix/dashboards); hosts/<name>/ is two levels down. */
export const DASHBOARDS_DIR = "dashboards";
/** The provisioned data source's uid, which the dashboards' panels name. */
export const DATASOURCE_UID = "hearth-prometheus";
// NixOS' prometheus module keeps its data in /var/lib/${stateDir}, stateDir defaulting to prometheus2.
export const PROMETHEUS_DATA_DIR = "/var/lib/prometheus2";
export const GRAFANA_DATA_DIR = "/var/lib/grafana";
export const GRAFANA_SECRET_KEY = "grafana-secret-key";
export const GRAFANA_ADMIN_PASSWORD = "grafana-admin-password";

/** Hosts whose node_exporter and clients Prometheus scrapes: mesh members, and the Prometheus host itself. */
export function monitoredHosts(fleet: Fleet): string[] {
  const prom = fleet.monitoring?.prometheus?.host;
  if (!prom || !fleet.hosts.has(prom)) return [];
  return [...fleet.hosts].filter(([name, h]) => name === prom || scrapedOverMesh(fleet, h)).map(([name]) => name).sort();
}

/**
 * The address a host's monitoring sockets bind to: its mesh address (0.0.0.0 for a tailnet member
 * whose address Headscale assigns; the firewall opens the port on the mesh interface only), or
 * loopback for a Prometheus host outside the mesh, which then watches only itself.
 */
function bindOf(mesh: MeshPlan | undefined, name: string): string {
  const m = mesh?.byName.get(name);
  if (!m) return "127.0.0.1";
  return mesh!.type === "wireguard" || m.pinned ? m.ipv4 : "0.0.0.0";
}

/** How `from` reaches a socket of `to` bound by bindOf: over the mesh, or on loopback for itself. */
function reach(fleet: Fleet, mesh: MeshPlan | undefined, from: string, to: string): string {
  const bind = bindOf(mesh, to);
  if (from === to) return bind === "0.0.0.0" ? "127.0.0.1" : bind;
  if (bind !== "0.0.0.0") return bind;
  // Unpinned tailnet members are found by their MagicDNS name.
  const base = [...fleet.hosts.values()].find((h) => h.services.headscale)?.services.headscale?.baseDomain ?? "mesh";
  return `${to}.${base}`;
}

const hostPort = (addr: string, port: number) => `${addr.includes(":") ? `[${addr}]` : addr}:${port}`;

export interface ScrapeJob {
  job_name: string;
  metrics_path: string;
  static_configs: { targets: string[]; labels: Record<string, string> }[];
}

/**
 * Prometheus' scrape jobs for the fleet: `node` (each host's node_exporter) and one job per client
 * unit (`lighthouse`, `besu`, `lighthouse-validator`, ...), every target labelled with its host.
 * The targets are what the Prometheus host dials: mesh addresses.
 */
export function scrapeConfigs(fleet: Fleet, mesh: MeshPlan | undefined): ScrapeJob[] {
  const prom = fleet.monitoring?.prometheus?.host;
  if (!prom) return [];
  const jobs = new Map<string, ScrapeJob>();
  const add = (job: string, path: string, target: string, labels: Record<string, string>) => {
    const j = jobs.get(job) ?? { job_name: job, metrics_path: path, static_configs: [] };
    j.static_configs.push({ targets: [target], labels });
    jobs.set(job, j);
  };
  for (const name of monitoredHosts(fleet)) {
    const host = fleet.hosts.get(name)!;
    const addr = reach(fleet, mesh, prom, name);
    if (fleet.monitoring!.nodeExporter) add(NODE_JOB, "/metrics", hostPort(addr, NODE_EXPORTER_PORT), { [HOST_LABEL]: name });
    const ctx = metricsContext(fleet, name, host, mesh);
    for (const role of ROLES) {
      const cfg = host.services[role as keyof Host["services"]] as Record<string, unknown> | undefined;
      if (!cfg) continue;
      const kind = kindFor(role, cfg);
      const ep = kind.metrics?.(cfg, ctx);
      if (!ep) continue;
      // One job per unit, as the units are named: a host's beacon node and validator of one client are two.
      const job = role === "validator" ? `${kind.id}-validator` : kind.id;
      add(job, ep.path, hostPort(addr, ep.port), { [HOST_LABEL]: name, role, client: kind.id });
    }
  }
  return [...jobs.values()].sort((a, b) => (a.job_name === NODE_JOB ? -1 : b.job_name === NODE_JOB ? 1 : a.job_name.localeCompare(b.job_name)));
}

// Only cfg matters to a service's metrics endpoint; the rest is the context the kinds expect.
const metricsContext = (fleet: Fleet, name: string, host: Host, mesh: MeshPlan | undefined): ServiceContext => ({
  fleet,
  host,
  hostName: name,
  hosts: fleet.hosts,
  localAddress: "127.0.0.1",
  ...(mesh?.byName.has(name) ? { meshAddress: bindOf(mesh, name) } : {}),
});

const isMonitored = (ctx: HostContext) => monitoredHosts(ctx.fleet).includes(ctx.hostName);
const isPrometheus = (ctx: HostContext) => ctx.fleet.monitoring?.prometheus?.host === ctx.hostName;
const isGrafana = (ctx: HostContext) => grafanaHost(ctx.fleet.monitoring) === ctx.hostName && ctx.fleet.monitoring?.prometheus !== undefined;
const exposure = (ctx: HostContext): PortSpec["expose"] => (ctx.mesh?.byName.has(ctx.hostName) || scrapedOverMesh(ctx.fleet, ctx.host) ? "mesh" : "local");

/** `$__file{...}`: Grafana reads the value from the file at start, so no secret is in the Nix store. */
const grafanaFile = (id: string) => `$__file{${AGENIX_DIR}/${id}}`;

export const monitoring: Feature = {
  id: "monitoring",
  applies: (ctx) => isMonitored(ctx) || isGrafana(ctx),
  contribute: (ctx, out) => {
    const { fleet, hostName, mesh } = ctx;
    const m = fleet.monitoring!;
    const bind = bindOf(mesh, hostName);
    if (isMonitored(ctx) && m.nodeExporter)
      out.config.push({ services: { prometheus: { exporters: { node: { enable: true, listenAddress: bind, port: NODE_EXPORTER_PORT } } } } });
    if (isPrometheus(ctx)) {
      const p = m.prometheus!;
      out.config.push({
        services: {
          prometheus: {
            enable: true,
            listenAddress: bind,
            port: p.port,
            retentionTime: p.retention,
            globalConfig: { scrape_interval: "15s" },
            scrapeConfigs: scrapeConfigs(fleet, mesh) as unknown as NixValue,
          },
        },
      });
    }
    if (isGrafana(ctx)) {
      const g = m.grafana!;
      const prom = m.prometheus!;
      out.config.push({
        services: {
          grafana: {
            enable: true,
            settings: {
              server: { http_addr: bind, http_port: g.port },
              security: { secret_key: grafanaFile(GRAFANA_SECRET_KEY), admin_password: grafanaFile(GRAFANA_ADMIN_PASSWORD) },
              analytics: { reporting_enabled: false, check_for_updates: false },
            },
            provision: {
              enable: true,
              datasources: {
                settings: {
                  datasources: [
                    { name: "Prometheus", type: "prometheus", uid: DATASOURCE_UID, access: "proxy", url: `http://${hostPort(reach(fleet, mesh, hostName, prom.host), prom.port)}` },
                  ],
                },
              },
              dashboards: {
                settings: { providers: [{ name: "hearth", type: "file", options: { path: nix.path(`../../${DASHBOARDS_DIR}`) } }] },
              },
            },
          },
        },
      });
    }
  },
  ports: (ctx) => {
    const m = ctx.fleet.monitoring!;
    const expose = exposure(ctx);
    return [
      ...(isMonitored(ctx) && m.nodeExporter ? [{ name: "node-exporter", port: NODE_EXPORTER_PORT, protocol: "tcp" as const, expose, field: ["monitoring", "nodeExporter"] }] : []),
      ...(isPrometheus(ctx) ? [{ name: "prometheus", port: m.prometheus!.port, protocol: "tcp" as const, expose, field: ["monitoring", "prometheus", "port"] }] : []),
      ...(isGrafana(ctx) ? [{ name: "grafana", port: m.grafana!.port, protocol: "tcp" as const, expose, field: ["monitoring", "grafana", "port"] }] : []),
    ];
  },
  // Grafana's key for what it stores encrypted (26.05 gives it no default) and its first admin password.
  secrets: (ctx): SecretNeed[] =>
    isGrafana(ctx)
      ? [GRAFANA_SECRET_KEY, GRAFANA_ADMIN_PASSWORD].map((id) => ({
          id,
          kind: id === GRAFANA_SECRET_KEY ? ("grafana-secret-key" as const) : ("grafana-admin-password" as const),
          path: `${AGENIX_DIR}/${id}`,
          owner: "grafana",
          group: "grafana",
          mode: "0400",
        }))
      : [],
  // Units only: Grafana's first start migrates its database for a while before it listens.
  health: (ctx) => [
    ...(isMonitored(ctx) && ctx.fleet.monitoring!.nodeExporter ? [{ name: "node_exporter unit", kind: "unit" as const, unit: "prometheus-node-exporter.service" }] : []),
    ...(isPrometheus(ctx) ? [{ name: "prometheus unit", kind: "unit" as const, unit: "prometheus.service" }] : []),
    ...(isGrafana(ctx) ? [{ name: "grafana unit", kind: "unit" as const, unit: "grafana.service" }] : []),
  ],
};
