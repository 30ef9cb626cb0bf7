// Graphs and alert channels: fleet.yaml `monitoring:`/`alerts:` findings, and the scrape config
// hearth generates scraped for real: Debian's Prometheus and node_exporter as plain processes on
// 127.0.0.1, Prometheus configured from the generated NixOS value (evaluated with real Nix), and
// src/node/monitor/prometheus.ts reading the result back per fleet host.
import { composeServer } from "../src/server/serve.js";
import type { MonitorOverview } from "../src/server/wire.js";
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:net";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { z } from "zod";
import { REPO_ROOT, validateFleetDir } from "../src/node/fleet-dir.js";
import { fleetSchema } from "../src/core/schema/fleet.js";
import { planSecrets } from "../src/core/secrets/plan.js";
import { hostSecretNeeds } from "../src/core/plan/host.js";
import { SMTP_PASSWORD_SECRET } from "../src/core/schema/monitoring.js";
import { hostSummaries, query, readPrometheus, targetHealth, type HostSummary } from "../src/node/monitor/prometheus.js";
import { FLEET_YAML, hearth, readyExample, tempDir, writeFleet } from "./support/fleet.js";
import { evalValue } from "./support/nixos-eval.js";

// A RAM-only host with a place for its SSH host key (it decrypts its mesh key with it).
const HOST = (extra = "") => `ephemeral: true
${extra}storage:
  volumes:
    data:
      type: btrfs
      format: false
      devices: [/dev/disk/by-id/nvme-a]
      subvolumes:
        secrets: { mountpoint: /var/mnt/secrets }
`;
const errors = (v: { issues: { severity: string; message: string }[] }) => v.issues.filter((i) => i.severity === "error").map((i) => i.message);
const MESH = "mesh:\n  type: wireguard\n";

function findings(fleetExtra: string, hosts: Record<string, string> = { alpha: HOST(), beta: HOST() }) {
  const files: Record<string, string> = { "fleet.yaml": FLEET_YAML + fleetExtra };
  for (const [n, t] of Object.entries(hosts)) files[`hosts/${n}.yaml`] = t;
  return validateFleetDir(writeFleet(files));
}

const one = (issues: { message: string }[], re: RegExp) => {
  const hit = issues.find((i) => re.test(i.message));
  assert.ok(hit, `no finding matching ${re}: ${JSON.stringify(issues.map((i) => i.message))}`);
  return hit as ReturnType<typeof findings>["issues"][number];
};

// ---- schema and validation -------------------------------------------------------------------

test("monitoring: defaults (retention 15d, port 9090, Grafana on the Prometheus host, node_exporter on) and no findings", () => {
  const v = findings(`${MESH}monitoring:\n  prometheus: { host: alpha }\n  grafana: {}\n`);
  assert.deepEqual(errors(v), []);
  // RAM-only alpha keeps neither on a volume: said, as a warning.
  assert.deepEqual(v.issues.filter((i) => i.path[0] === "monitoring").map((i) => `${i.severity} ${i.path.join(".")}`), ["warning monitoring.prometheus.host", "warning monitoring.grafana"]);
  const m = v.fleet!.monitoring!;
  assert.deepEqual(m.prometheus, { host: "alpha", retention: "15d", port: 9090 });
  assert.deepEqual(m.grafana, { port: 3000 });
  assert.equal(m.nodeExporter, true);
});

test("monitoring: a host that is not in the fleet, at its line, with did-you-mean", () => {
  const v = findings(`${MESH}monitoring:\n  prometheus:\n    host: alpah\n  grafana:\n    host: gamma\n`);
  const p = one(v.issues, /no host 'alpah' in the fleet/);
  assert.equal(p.file, "fleet.yaml");
  assert.deepEqual(p.path, ["monitoring", "prometheus", "host"]);
  assert.equal(p.line, 10);
  assert.equal(p.hint, "did you mean 'alpha'?");
  const g = one(v.issues, /no host 'gamma' in the fleet/);
  assert.deepEqual(g.path, ["monitoring", "grafana", "host"]);
});

test("monitoring: Grafana without Prometheus; Prometheus without a mesh to scrape over; a host left out of the mesh", () => {
  const g = one(findings(`${MESH}monitoring:\n  grafana: {}\n`).issues, /Grafana needs Prometheus/);
  assert.deepEqual(g.path, ["monitoring", "grafana"]);
  const m = one(findings(`monitoring:\n  prometheus: { host: alpha }\n`).issues, /scrapes the other hosts over the mesh, but the fleet has no mesh/);
  assert.match(m.hint!, /mesh: \{ type: wireguard \}/);
  // One host alone needs no mesh: Prometheus watches itself on loopback.
  assert.deepEqual(errors(findings(`monitoring:\n  prometheus: { host: alpha }\n`, { alpha: HOST() })), []);
  const w = one(findings(`${MESH}monitoring:\n  prometheus: { host: alpha }\n`, { alpha: HOST(), beta: HOST("mesh: { enable: false }\n") }).issues, /cannot scrape this host/);
  assert.equal(w.severity, "warning");
  assert.equal(w.file, "hosts/beta.yaml");
});

test("monitoring: a port hearth opens for it that a service already uses; history on a RAM-only host's volume", () => {
  const host = `${HOST()}        geth: { mountpoint: /var/mnt/geth }
        lighthouse: { mountpoint: /var/mnt/lighthouse }
services:
  execution: { client: geth, dataDir: /var/mnt/geth, ports: { metrics: 9100 } }
  consensus: { client: lighthouse, dataDir: /var/mnt/lighthouse }
`;
  const v = findings(`${MESH}monitoring:\n  prometheus: { host: alpha, port: 8545 }\n`, { alpha: host });
  const n = one(v.issues, /port 9100\/tcp is node_exporter's/);
  assert.deepEqual(n.path, ["services", "execution", "ports", "metrics"]);
  const p = one(v.issues, /Prometheus port 8545\/tcp on 'alpha' is already used by geth/);
  assert.deepEqual(p.path, ["monitoring", "prometheus", "port"]);
  const h = one(v.issues, /RAM-only and \/var\/lib\/prometheus2 is on none of its volumes/);
  assert.equal(h.severity, "warning");
});

test("alerts: URLs and addresses are checked; a plaintext password is refused with the secret to use", () => {
  const bad = findings(`alerts:
  webhook: ftp://example.org/hook
  email:
    to: [ops@example, "Ops <ops@example.org>"]
    from: hearth@example.org
    smtp:
      host: smtp.example.org
      user: hearth
      password: hunter2
`).issues;
  assert.deepEqual(one(bad, /http:\/\/ or https:\/\/ URL/).path, ["alerts", "webhook"]);
  assert.deepEqual(one(bad.filter((i) => i.path.join(".") === "alerts.email.to.0"), /e-mail address/).path, ["alerts", "email", "to", 0]);
  assert.ok(bad.some((i) => i.path.join(".") === "alerts.email.to.1"), "a display name is not an address");
  const pw = one(bad, /unknown key 'password'/);
  assert.deepEqual(pw.path, ["alerts", "email", "smtp", "password"]);
  assert.match(pw.hint!, new RegExp(`passwordSecret: true .*hearth secrets set ${SMTP_PASSWORD_SECRET}`));
  const noUser = one(findings(`alerts:\n  email:\n    to: [ops@example.org]\n    from: hearth@example.org\n    smtp: { host: smtp.example.org, passwordSecret: true }\n`).issues, /a password without a user/);
  assert.deepEqual(noUser.path, ["alerts", "email", "smtp", "passwordSecret"]);
});

test("alerts: defaults, and the SMTP password is an admin-entered secret that no host reads", () => {
  const v = findings(`alerts:
  webhook: https://ntfy.sh/hearth
  email:
    to: [ops@example.org]
    from: hearth@example.org
    smtp: { host: smtp.example.org, user: hearth@example.org, passwordSecret: true }
`);
  assert.deepEqual(errors(v), []);
  const a = v.fleet!.alerts!;
  assert.deepEqual(a.thresholds, { diskPercent: 90, peersMin: 3, behindSlots: 8, missedAttestations: 2 });
  assert.equal(a.repeatHours, 4);
  assert.equal(a.email!.smtp.port, 587);
  const planned = planSecrets(v.fleet!, [...v.fleet!.hosts.keys()].map((h) => hostSecretNeeds(v.fleet!, h)));
  const smtp = planned.find((s) => s.key === `custom/${SMTP_PASSWORD_SECRET}`);
  assert.ok(smtp, JSON.stringify(planned.map((s) => s.key)));
  assert.equal(smtp.userProvided, true);
  assert.deepEqual(smtp.readers, [], "decrypted by admins (hearth's alert sender) only, never by a host");
  assert.deepEqual(smtp.uses.map((u) => u.delivery), ["admin"]);
});

test("hearth schema fleet: monitoring and alerts, with descriptions the UI labels its fields from", () => {
  const r = hearth(["schema", "fleet"]);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  const props = s.properties;
  const mon = props.monitoring;
  assert.match(mon.description, /Prometheus, Grafana and node_exporter/);
  assert.match(mon.properties.prometheus.properties.host.description, /runs Prometheus/);
  assert.equal(mon.properties.prometheus.properties.retention.default, "15d");
  assert.equal(mon.properties.prometheus.properties.port.default, 9090);
  assert.equal(mon.properties.grafana.properties.port.default, 3000);
  assert.equal(mon.properties.nodeExporter.default, true);
  const al = props.alerts;
  assert.match(al.properties.webhook.description, /HTTP POST/);
  const smtp = al.properties.email.properties.smtp.properties;
  assert.equal(smtp.port.default, 587);
  assert.match(smtp.passwordSecret.description, /hearth secrets set alerts-smtp-password/);
  assert.equal(smtp.password, undefined, "no field for a plaintext password");
  for (const k of ["diskPercent", "peersMin", "behindSlots", "missedAttestations"]) assert.ok(al.properties.thresholds.properties[k].description, k);
  // The same JSON Schema the CLI prints comes from the one zod schema.
  assert.deepEqual(Object.keys(z.toJSONSchema(fleetSchema, { io: "input", unrepresentable: "any" }).properties as object).includes("monitoring"), true);
});

// ---- the generated scrape config, scraped for real ---------------------------------------------

const procs: ChildProcess[] = [];
const dirs: string[] = [];
after(() => {
  for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function start(cmd: string, args: string[]): ChildProcess {
  const p = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  p.stderr!.on("data", (d) => (err = (err + d).slice(-4000)));
  p.on("exit", (code) => { if (code) console.error(`${cmd} exited ${code}: ${err}`); });
  procs.push(p);
  return p;
}

async function until<T>(what: string, seconds: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + seconds * 1000;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out after ${seconds}s waiting for ${what}${last ? `: ${last}` : ""}`);
}

/** What nixpkgs' prometheus module writes to prometheus.yml: the option value without its nulls (filterValidPrometheus). */
const dropNulls = (v: unknown): unknown =>
  Array.isArray(v) ? v.map(dropNulls) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, dropNulls(x)])) : v;

test("Prometheus scrapes what hearth generates: up, CPU, memory, disk and load per fleet host; a stopped exporter is down", { timeout: 180_000 }, async () => {
  for (const bin of ["prometheus", "prometheus-node-exporter"])
    assert.equal(spawnSync("sh", ["-c", `command -v ${bin}`]).status, 0, `${bin} is missing: run scripts/ensure-test-deps.sh (Debian packages prometheus, prometheus-node-exporter)`);

  // The homestaking example runs Prometheus on its hub; its scrape config as the real Nix evaluates it.
  const { dir } = await readyExample("homestaking");
  const flake = join(tempDir(), "flake");
  const g = hearth(["generate", dir, "-o", flake]);
  assert.equal(g.code, 0, g.stderr);
  const prom = "hetzner-ephemeral-alpha";
  const scrape = dropNulls(evalValue(flake, prom, "config.services.prometheus.scrapeConfigs")) as { job_name: string; metrics_path: string; static_configs: { targets: string[]; labels: Record<string, string> }[] }[];
  const node = scrape.find((j) => j.job_name === "node")!;
  assert.deepEqual(node.static_configs.map((c) => c.labels["host"]), ["hetzner-ephemeral-alpha", "kaakkuri-ephemeral-alpha", "ponkila-ephemeral-beta", "ponkila-ephemeral-sigma"]);
  assert.ok(node.static_configs.every((c) => /^10\.100\.0\.\d+:9100$/.test(c.targets[0]!)), "node_exporter is scraped on mesh addresses");
  const besu = scrape.find((j) => j.job_name === "besu")!;
  assert.deepEqual(besu.static_configs[0]!.labels, { host: "kaakkuri-ephemeral-alpha", role: "execution", client: "besu" });
  assert.ok(scrape.some((j) => j.job_name === "lighthouse" && j.metrics_path === "/metrics"));

  // Two hosts get a live node_exporter; every other target (the other hosts, the clients) points
  // at a port nobody listens on. Only the addresses change: jobs, labels and paths are hearth's.
  const [exA, exB, closed, promPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const live: Record<string, number> = { "hetzner-ephemeral-alpha": exA, "kaakkuri-ephemeral-alpha": exB };
  const rendered = scrape.map((j) => ({
    ...j,
    static_configs: j.static_configs.map((c) => ({ ...c, targets: [`127.0.0.1:${j.job_name === "node" ? (live[c.labels["host"]!] ?? closed) : closed}`] })),
  }));
  const work = mkdtempSync(join(tmpdir(), "hearth-prom-"));
  dirs.push(work);
  const cfgFile = join(work, "prometheus.yml");
  // hearth sets 15s; a test scrapes every second so rate() has samples within seconds.
  writeFileSync(cfgFile, stringify({ global: { scrape_interval: "1s", scrape_timeout: "1s" }, scrape_configs: rendered }));
  assert.equal(spawnSync("promtool", ["check", "config", cfgFile], { encoding: "utf8" }).status ?? 0, 0, "promtool accepts the config");

  start("prometheus-node-exporter", [`--web.listen-address=127.0.0.1:${exA}`]);
  const b = start("prometheus-node-exporter", [`--web.listen-address=127.0.0.1:${exB}`]);
  start("prometheus", [`--config.file=${cfgFile}`, `--storage.tsdb.path=${join(work, "data")}`, `--web.listen-address=127.0.0.1:${promPort}`, "--storage.tsdb.retention.time=1h"]);
  const opts = { url: `http://127.0.0.1:${promPort}`, timeoutMs: 3000, rateWindow: "15s" };

  // Every metric name of hearth's node dashboard is one node_exporter really serves.
  const served = await until("node_exporter's /metrics", 20, async () => {
    const r = await fetch(`http://127.0.0.1:${exA}/metrics`).catch(() => undefined);
    return r?.ok ? await r.text() : undefined;
  });
  const dashboard = JSON.parse(readFileSync(join(REPO_ROOT, "nix/dashboards/node.json"), "utf8")) as { panels: { targets: { expr: string }[] }[] };
  const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)).join("\n");
  const names = [...new Set([...exprs.matchAll(/\b(node_[a-zA-Z0-9_]+)\b/g)].map((m) => m[1]!))];
  assert.ok(names.length >= 6, names.join(", "));
  for (const n of names) assert.match(served, new RegExp(`^${n}[{ ]`, "m"), `node_exporter serves no ${n}`);

  const full = (s: HostSummary | undefined) => s && s.up === 1 && s.cpuBusyPercent !== undefined && s.memoryUsedPercent !== undefined && s.rootDiskUsedPercent !== undefined && s.load1 !== undefined;
  const hosts = await until("both exporters scraped with every figure", 60, async () => {
    const r = await hostSummaries(opts);
    if (!r.ok) return undefined;
    return r.value.filter((s) => live[s.host]).every(full) && r.value.filter((s) => live[s.host]).length === 2 ? r.value : undefined;
  });
  const a = hosts.find((s) => s.host === "hetzner-ephemeral-alpha")!;
  assert.equal(a.instance, `127.0.0.1:${exA}`);
  assert.ok(a.cpuBusyPercent! >= 0 && a.cpuBusyPercent! <= 100, `cpu ${a.cpuBusyPercent}`);
  assert.ok(a.memoryUsedPercent! > 0 && a.memoryUsedPercent! < 100, `memory ${a.memoryUsedPercent}`);
  assert.ok(a.rootDiskUsedPercent! >= 0 && a.rootDiskUsedPercent! <= 100, `disk ${a.rootDiskUsedPercent}`);
  assert.ok(a.load1! >= 0, `load ${a.load1}`);
  assert.ok(Math.abs(Date.parse(a.scrapedAt!) - Date.now()) < 30_000, `scrapedAt ${a.scrapedAt}`);
  // The hosts without an exporter are listed, down, with no numbers.
  const sigma = hosts.find((s) => s.host === "ponkila-ephemeral-sigma")!;
  assert.equal(sigma.up, 0);
  assert.equal(sigma.cpuBusyPercent, undefined);

  // The page's summary (GET /api/monitor, what the fleet overview draws) reads the same Prometheus.
  const server = composeServer({ fleetDir: dir, bind: "127.0.0.1", stateDir: mkdtempSync(join(tmpdir(), "hearth-prom-state-")), monitor: { manual: true, prometheusUrl: opts.url, timeoutMs: 2000 } });
  try {
    await server.monitor.pollNow();
    const res = await server.app.request("http://localhost/api/monitor");
    const overview = (await res.json()) as MonitorOverview;
    assert.equal(overview.prometheus?.url, opts.url);
    assert.equal(overview.prometheus?.error, undefined);
    const row = overview.prometheus!.hosts.find((x) => x.host === "hetzner-ephemeral-alpha")!;
    assert.equal(row.up, true);
    assert.ok(typeof row.cpuBusyPercent === "number" && typeof row.memoryUsedPercent === "number" && typeof row.rootDiskUsedPercent === "number", JSON.stringify(row));
    assert.equal(overview.prometheus!.hosts.find((x) => x.host === "ponkila-ephemeral-sigma")!.up, false);
  } finally {
    await server.close();
  }

  // Per-target health: the node job by host, and a client's target with its host, role and client.
  const t = await targetHealth(opts);
  assert.ok(t.ok, !t.ok ? t.error : "");
  const alphaNode = t.value.find((x) => x.job === "node" && x.host === "hetzner-ephemeral-alpha")!;
  assert.equal(alphaNode.health, "up");
  assert.equal(alphaNode.scrapeUrl, `http://127.0.0.1:${exA}/metrics`);
  const lh = t.value.find((x) => x.job === "lighthouse" && x.host === "ponkila-ephemeral-beta")!;
  assert.deepEqual([lh.role, lh.client, lh.health], ["consensus", "lighthouse", "down"]);
  assert.match(lh.lastError, /connection refused/i);

  // Stop one exporter: its host turns down, in the summary and in the targets.
  b.kill("SIGTERM");
  const down = await until("the stopped exporter reported down", 30, async () => {
    const r = await readPrometheus(opts);
    const k = r.hosts.ok ? r.hosts.value.find((s) => s.host === "kaakkuri-ephemeral-alpha") : undefined;
    const kt = r.targets.ok ? r.targets.value.find((x) => x.job === "node" && x.host === "kaakkuri-ephemeral-alpha") : undefined;
    return k?.up === 0 && kt?.health === "down" ? { k, kt } : undefined;
  });
  assert.equal(down.k.cpuBusyPercent, undefined, "a host that is down has no figures");
  assert.ok(down.kt.lastError.length > 0);
  const still = await hostSummaries(opts);
  assert.ok(still.ok && still.value.find((s) => s.host === "hetzner-ephemeral-alpha")!.up === 1);

  // A query Prometheus refuses comes back as an error value with Prometheus' own words.
  const bad = await query(opts, "rate(up[");
  assert.ok(!bad.ok && /bad_data/.test(bad.error), JSON.stringify(bad));
});

test("the Prometheus reader returns errors as values: nothing listening, no answer in time, not Prometheus", async () => {
  const closed = await freePort();
  const r = await hostSummaries({ url: `http://127.0.0.1:${closed}` });
  assert.ok(!r.ok && /unreachable: ECONNREFUSED/.test(r.error), JSON.stringify(r));
  // A server that accepts and never answers.
  const silent: Server = createServer(() => {});
  await new Promise<void>((res) => silent.listen(0, "127.0.0.1", res));
  try {
    const port = (silent.address() as { port: number }).port;
    const t0 = Date.now();
    const s = await targetHealth({ url: `http://127.0.0.1:${port}`, timeoutMs: 300 });
    assert.ok(!s.ok && /did not answer within 300 ms/.test(s.error), JSON.stringify(s));
    assert.ok(Date.now() - t0 < 5000);
  } finally {
    silent.close();
  }
  const html = await query({ url: "http://127.0.0.1:1", fetch: async () => new Response("<html>", { status: 200 }) }, "up");
  assert.ok(!html.ok && /no JSON/.test(html.error), JSON.stringify(html));
});
