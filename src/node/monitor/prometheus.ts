// Reads the fleet's Prometheus over its HTTP API: a per-host summary of node_exporter's numbers
// and the health of every scrape target, mapped to fleet hosts by the `host` label hearth's scrape
// config puts on each target (src/core/features/monitoring.ts). Failures are values, never throws.
//
// Response shapes (Prometheus docs, "HTTP API": https://prometheus.io/docs/prometheus/latest/querying/api/;
// source: web/api/v1/api.go, `response`, `QueryData`, `TargetDiscovery`/`Target`):
//   envelope  { status: "success" | "error", data, errorType?, error?, warnings?: string[] }
//   /api/v1/query  data = { resultType: "vector", result: [{ metric: {label: value}, value: [unixSeconds, "decimal string"] }] }
//   /api/v1/targets  data = { activeTargets: [{ labels, scrapePool, scrapeUrl, lastError, lastScrape (RFC 3339),
//                              lastScrapeDuration (seconds), health: "up" | "down" | "unknown", ... }], droppedTargets }
// 4xx/5xx answers from the API carry the same envelope with status "error".
import { HOST_LABEL, NODE_JOB } from "../../core/features/monitoring.js";

export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

export interface PrometheusOptions {
  /** Base URL of Prometheus, e.g. http://10.100.0.1:9090 (the Prometheus host's mesh address). */
  url: string;
  /** Per request (default 5000 ms); also passed to Prometheus as the query timeout. */
  timeoutMs?: number;
  /** Window of rate() for the CPU figure (default 1m: four samples at hearth's 15s interval). */
  rateWindow?: string;
  fetch?: typeof fetch;
}

/** One host as node_exporter shows it. Numbers are absent when the host's exporter was not scraped. */
export interface HostSummary {
  /** Fleet host name (the target's `host` label; its instance when the label is missing). */
  host: string;
  /** host:port Prometheus scrapes. */
  instance: string;
  /** Prometheus' `up` of the last scrape: 1 answered, 0 did not. */
  up: 0 | 1;
  cpuBusyPercent?: number;
  memoryUsedPercent?: number;
  rootDiskUsedPercent?: number;
  load1?: number;
  /** When Prometheus last scraped it (ISO 8601). */
  scrapedAt?: string;
}

/** One scrape target (node_exporter, a client's metrics) and how its last scrape went. */
export interface TargetHealth {
  job: string;
  host?: string;
  /** Ethereum clients: execution, consensus, validator; and which client. */
  role?: string;
  client?: string;
  instance: string;
  scrapeUrl: string;
  health: "up" | "down" | "unknown";
  lastError: string;
  /** ISO 8601; absent before the first scrape. */
  lastScrape?: string;
  lastScrapeDurationSeconds: number;
}

export interface Sample {
  labels: Record<string, string>;
  value: number;
  /** Unix seconds of the evaluation. */
  at: number;
}

interface Envelope {
  status?: string;
  data?: unknown;
  errorType?: string;
  error?: string;
}

async function get(opts: PrometheusOptions, path: string, params: Record<string, string> = {}): Promise<Result<unknown>> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  let url: URL;
  try {
    url = new URL(path, opts.url.endsWith("/") ? opts.url : `${opts.url}/`);
  } catch {
    return { ok: false, error: `Prometheus' address ${opts.url} is not a URL (an IPv6 address goes in brackets: http://[2001:db8::1]:9090)` };
  }
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  let res: Response;
  try {
    res = await (opts.fetch ?? fetch)(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: "application/json" } });
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    if (err.name === "TimeoutError" || err.name === "AbortError") return { ok: false, error: `Prometheus at ${opts.url} did not answer within ${timeoutMs} ms` };
    return { ok: false, error: `Prometheus at ${opts.url} is unreachable: ${err.cause?.code ?? err.cause?.message ?? err.message}` };
  }
  let body: Envelope;
  try {
    body = (await res.json()) as Envelope;
  } catch {
    return { ok: false, error: `Prometheus at ${opts.url} answered ${path} with HTTP ${res.status} and no JSON (is it Prometheus?)` };
  }
  if (body.status !== "success") return { ok: false, error: `Prometheus: ${body.errorType ?? `HTTP ${res.status}`}: ${body.error ?? "no error message"}` };
  return { ok: true, value: body.data };
}

/**
 * An instant query (`GET /api/v1/query`) whose result is a vector.
 * Example: `await query(opts, 'up{job="node"}')` → `[{ labels: { host: "alpha", ... }, value: 1, at: 1733000000.1 }]`
 */
export async function query(opts: PrometheusOptions, promql: string): Promise<Result<Sample[]>> {
  const r = await get(opts, "api/v1/query", { query: promql, timeout: `${Math.max(1, Math.floor((opts.timeoutMs ?? 5000) / 1000))}s` });
  if (!r.ok) return r;
  const data = r.value as { resultType?: string; result?: { metric?: Record<string, string>; value?: [number, string] }[] };
  if (data?.resultType !== "vector" || !Array.isArray(data.result)) return { ok: false, error: `Prometheus: expected a vector for ${promql}, got ${data?.resultType ?? "nothing"}` };
  return {
    ok: true,
    // Values are decimal strings, "NaN" and "+Inf" included (Go's strconv.FormatFloat).
    value: data.result.map((s) => ({ labels: s.metric ?? {}, value: Number(s.value?.[1]), at: Number(s.value?.[0]) })),
  };
}

/** Every active scrape target (`GET /api/v1/targets?state=active`), with its fleet host. */
export async function targetHealth(opts: PrometheusOptions): Promise<Result<TargetHealth[]>> {
  const r = await get(opts, "api/v1/targets", { state: "active" });
  if (!r.ok) return r;
  const active = (r.value as { activeTargets?: unknown[] })?.activeTargets;
  if (!Array.isArray(active)) return { ok: false, error: "Prometheus: /api/v1/targets has no activeTargets" };
  return {
    ok: true,
    value: active.map((t) => {
      const x = t as { labels?: Record<string, string>; scrapePool?: string; scrapeUrl?: string; health?: string; lastError?: string; lastScrape?: string; lastScrapeDuration?: number };
      const labels = x.labels ?? {};
      // Before the first scrape lastScrape is Go's zero time, 0001-01-01T00:00:00Z.
      const scraped = x.lastScrape && !x.lastScrape.startsWith("0001-") ? new Date(x.lastScrape).toISOString() : undefined;
      return {
        job: labels["job"] ?? x.scrapePool ?? "",
        ...(labels[HOST_LABEL] ? { host: labels[HOST_LABEL] } : {}),
        ...(labels["role"] ? { role: labels["role"] } : {}),
        ...(labels["client"] ? { client: labels["client"] } : {}),
        instance: labels["instance"] ?? "",
        scrapeUrl: x.scrapeUrl ?? "",
        health: x.health === "up" || x.health === "down" ? x.health : "unknown",
        lastError: x.lastError ?? "",
        ...(scraped ? { lastScrape: scraped } : {}),
        lastScrapeDurationSeconds: x.lastScrapeDuration ?? 0,
      };
    }),
  };
}

const keyOf = (labels: Record<string, string>) => labels[HOST_LABEL] ?? labels["instance"] ?? "";
const finite = (n: number | undefined) => (n !== undefined && Number.isFinite(n) ? Math.round(n * 100) / 100 : undefined);

/**
 * The node_exporter figures of every host Prometheus scrapes in the `node` job, by fleet host
 * (sorted). A host whose exporter does not answer has up 0 and no numbers.
 */
export async function hostSummaries(opts: PrometheusOptions): Promise<Result<HostSummary[]>> {
  const sel = `job="${NODE_JOB}"`;
  const by = `by (${HOST_LABEL}, instance)`;
  const w = opts.rateWindow ?? "1m";
  const queries = {
    up: `up{${sel}}`,
    scraped: `timestamp(up{${sel}})`,
    cpu: `100 * (1 - avg ${by} (rate(node_cpu_seconds_total{${sel},mode="idle"}[${w}])))`,
    memory: `100 * (1 - max ${by} (node_memory_MemAvailable_bytes{${sel}}) / max ${by} (node_memory_MemTotal_bytes{${sel}}))`,
    // max: a root file system can appear twice (rootfs and the real one) on some systems.
    disk: `100 * (1 - max ${by} (node_filesystem_avail_bytes{${sel},mountpoint="/"}) / max ${by} (node_filesystem_size_bytes{${sel},mountpoint="/"}))`,
    load1: `max ${by} (node_load1{${sel}})`,
  } as const;
  const names = Object.keys(queries) as (keyof typeof queries)[];
  const results = await Promise.all(names.map((n) => query(opts, queries[n])));
  const failed = results.find((r) => !r.ok);
  if (failed && !failed.ok) return failed;
  const got = Object.fromEntries(names.map((n, i) => [n, new Map((results[i] as { ok: true; value: Sample[] }).value.map((s) => [keyOf(s.labels), s]))])) as Record<keyof typeof queries, Map<string, Sample>>;
  const out: HostSummary[] = [];
  for (const [host, up] of got.up) {
    const scraped = got.scraped.get(host)?.value;
    const isUp = up.value === 1;
    // A failed scrape makes the gauges stale at once, but rate() still spans the samples before it:
    // figures of a host that is down would describe the past.
    const fig = (m: Map<string, Sample>) => (isUp ? finite(m.get(host)?.value) : undefined);
    out.push({
      host,
      instance: up.labels["instance"] ?? "",
      up: isUp ? 1 : 0,
      ...opt("cpuBusyPercent", fig(got.cpu)),
      ...opt("memoryUsedPercent", fig(got.memory)),
      ...opt("rootDiskUsedPercent", fig(got.disk)),
      ...opt("load1", fig(got.load1)),
      ...(scraped !== undefined && Number.isFinite(scraped) ? { scrapedAt: new Date(scraped * 1000).toISOString() } : {}),
    });
  }
  return { ok: true, value: out.sort((a, b) => a.host.localeCompare(b.host)) };
}

const opt = <K extends string>(k: K, v: number | undefined) => (v === undefined ? {} : ({ [k]: v } as Record<K, number>));

/** Both at once: the hosts' summaries and every target's health; each may fail on its own. */
export async function readPrometheus(opts: PrometheusOptions): Promise<{ hosts: Result<HostSummary[]>; targets: Result<TargetHealth[]> }> {
  const [hosts, targets] = await Promise.all([hostSummaries(opts), targetHealth(opts)]);
  return { hosts, targets };
}
