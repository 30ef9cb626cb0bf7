// The page's metrics summary from the fleet's own Prometheus (fleet.yaml monitoring:), when it has one.
import { reachableAddress } from "../core/schema/network.js";
import type { Fleet } from "../core/schema/fleet.js";
import { grafanaHost } from "../core/schema/monitoring.js";
import type { PrometheusWire } from "./wire.js";
import { hostSummaries } from "../node/monitor/prometheus.js";

/** Where Prometheus answers: the given URL, or its host's mesh (else static) address and port. */
export function prometheusUrl(fleet: Fleet, mesh: Record<string, string>, override?: string): { url?: string; grafanaUrl?: string } {
  const m = fleet.monitoring;
  if (!m?.prometheus) return override ? { url: override } : {};
  const addr = (h: string) => mesh[h]?.split("/")[0] ?? (fleet.hosts.get(h) ? reachableAddress(fleet.hosts.get(h)!.network) : undefined);
  // An IPv6 address goes in brackets in a URL.
  const at = (h: string | undefined, port: number) => {
    const a = h ? addr(h) : undefined;
    return a ? `http://${a.includes(":") ? `[${a}]` : a}:${port}` : undefined;
  };
  const url = override ?? at(m.prometheus.host, m.prometheus.port);
  const g = m.grafana ? at(grafanaHost(m), m.grafana.port) : undefined;
  return { ...(url ? { url } : {}), ...(g ? { grafanaUrl: g } : {}) };
}

export async function readPrometheus(fleet: Fleet, mesh: Record<string, string>, override?: string): Promise<PrometheusWire | undefined> {
  const { url, grafanaUrl } = prometheusUrl(fleet, mesh, override);
  if (!url) return undefined;
  const r = await hostSummaries({ url });
  const base = { url, ...(grafanaUrl ? { grafanaUrl } : {}) };
  if (!r.ok) return { ...base, hosts: [], error: r.error };
  return {
    ...base,
    hosts: r.value.map((h) => ({
      host: h.host,
      up: h.up === 1,
      ...(h.cpuBusyPercent !== undefined ? { cpuBusyPercent: h.cpuBusyPercent } : {}),
      ...(h.memoryUsedPercent !== undefined ? { memoryUsedPercent: h.memoryUsedPercent } : {}),
      ...(h.rootDiskUsedPercent !== undefined ? { rootDiskUsedPercent: h.rootDiskUsedPercent } : {}),
      ...(h.load1 !== undefined ? { load1: h.load1 } : {}),
    })),
  };
}
