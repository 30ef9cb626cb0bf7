// What the machines are doing, polled: each host's state over SSH with its pinned key (or from
// its node agent's check-ins), its Ethereum clients' APIs, drift against what hearth deployed,
// and the alert engine on top, notifying the fleet's webhook / e-mail without storms. Readings
// are kept in SQLite with a day of history; the page reads the latest from memory.
import { reachableAddress } from "../core/schema/network.js";
import { resolve } from "node:path";
import type { Db } from "./db.js";
import { notFound } from "./errors.js";
import type { PullService } from "./pull.js";
import type { AlertLogWire, AlertWire, Drift, MonitorHostDetail, MonitorHostRow, MonitorOverview, PrometheusWire } from "./wire.js";
import { planFleetDir } from "../node/fleet-plan.js";
import { readMeshAddresses } from "../node/fleet-plan.js";
import type { LoadedIdentity } from "../node/secrets/age.js";
import { show } from "../node/secrets/store.js";
import type { TargetOptions } from "../node/deploy/target.js";
import { collectMachineStates, machineTargets } from "../node/monitor/machine.js";
import { readEthHealth } from "../node/monitor/ethereum.js";
import { deliver, type ChannelConfig } from "../node/monitor/notify.js";
import { alertsFromMachine, type MachineState } from "../core/monitor/machine.js";
import { alertsFromEthHealth, ETH_ALERT_RULES, type EthEndpoints, type EthHealth } from "../core/monitor/ethereum.js";
import { evaluateAlerts, HOST_DOWN_KEY, type AlertPolicy, type AlertState, type Notification } from "../core/monitor/alerts.js";
import type { AlertInput } from "../core/monitor/types.js";
import type { Fleet, Host } from "../core/schema/fleet.js";
import { SMTP_PASSWORD_SECRET, type Alerts } from "../core/schema/monitoring.js";
import { hostFiles } from "./deploy.js";
import { readPrometheus } from "./prometheus-summary.js";

export interface MonitorOptions {
  /** Seconds between polls (default 60). */
  intervalSeconds?: number;
  /** Hosts asked at once (default 4). */
  concurrency?: number;
  /** Per host, per poll (default 15 s). */
  timeoutMs?: number;
  /** Where a host's Ethereum clients answer, when not where its configuration says (a tunnel, a test chain). */
  ethEndpoints?: Record<string, EthEndpoints>;
  /** Prometheus' URL, when not the monitoring host's configured address. */
  prometheusUrl?: string;
  /** Tests: no timer; polls run only when asked. */
  manual?: boolean;
}

interface Deps extends MonitorOptions {
  fleetDir: string;
  db: Db;
  pull?: PullService;
  identities: () => Promise<LoadedIdentity[]>;
  target?: TargetOptions;
}

interface Latest {
  row: MonitorHostRow;
}

const DAY = 24 * 3600 * 1000;

export class MonitorService {
  private readonly dir: string;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private readonly latest = new Map<string, Latest>();
  private lastPoll?: string;
  private lastError?: string;
  private channels: string[] = [];
  private prometheus?: PrometheusWire;
  private stopped = false;
  /** Seconds per epoch of the chain the clients follow (mainnet 384), from their last reading. */
  private epochSeconds = 384;
  private readonly abort = new AbortController();
  private readonly db: Db;

  constructor(private readonly o: Deps) {
    this.dir = resolve(o.fleetDir);
    this.db = o.db;
  }

  get intervalSeconds(): number {
    return this.o.intervalSeconds ?? 60;
  }

  start(): void {
    if (this.o.manual) return;
    const tick = () => {
      if (this.stopped) return;
      void this.pollNow().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.intervalSeconds * 1000);
        this.timer?.unref();
      });
    };
    // The first poll a moment after start, so the server answers at once.
    this.timer = setTimeout(tick, 1000);
    this.timer.unref();
  }

  /** Stops polling; a poll under way is cut short (its SSH sessions killed) and writes nothing. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort();
    await this.running?.catch(() => {});
  }

  /** One poll (a poll already running is joined, not doubled). */
  pollNow(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    // A poll never takes the server down: a bug in one is reported on the page and in the log.
    this.running ??= this.poll()
      .then(() => (this.lastError = undefined))
      .catch((e: unknown) => {
        this.lastError = `the last check failed: ${(e as Error)?.message ?? e}`;
        console.error(`hearth serve: monitoring: ${(e as Error)?.stack ?? e}`);
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async poll(): Promise<void> {
    const startedAt = Date.now();
    let planned;
    try {
      planned = planFleetDir(this.dir, { requireSecrets: false });
    } catch {
      // An invalid fleet: the overview says so; keep the last readings.
      return;
    }
    const fleet = planned.validated.fleet;
    const { targets, skipped } = machineTargets(fleet, planned.store.manifest, this.o.target ?? {});
    const [states, eth] = await Promise.all([
      collectMachineStates(targets, { concurrency: this.o.concurrency ?? 4, timeoutMs: this.o.timeoutMs ?? 15_000, signal: this.abort.signal }),
      this.readEthereum(fleet),
    ]);
    if (this.stopped) return;
    const files = hostFiles(planned.plan.files);
    const deployed = new Map(
      (this.db.sql.prepare(`SELECT host, files, system FROM deployed_configs`).all() as { host: string; files: string; system: string | null }[]).map((r) => [r.host, r]),
    );
    const agents = new Map((this.o.pull?.nodes() ?? []).filter((n) => n.host).map((n) => [n.host!, n]));
    const thresholds = fleet.alerts?.thresholds;
    const inputs: AlertInput[] = [];
    const at = new Date(startedAt).toISOString();
    const insertState = this.db.sql.prepare(`INSERT OR REPLACE INTO machine_states (host, at, state) VALUES (?, ?, ?)`);
    const insertEth = this.db.sql.prepare(`INSERT OR REPLACE INTO eth_health (host, at, health) VALUES (?, ?, ?)`);
    for (const name of fleet.hosts.keys()) {
      const prev = this.latest.get(name)?.row;
      let machine: MachineState | undefined = states.get(name);
      let source: MonitorHostRow["source"] = machine ? "ssh" : "none";
      let reason = skipped.find((s) => s.host === name)?.reason;
      const agent = agents.get(name);
      if (!machine && agent) {
        // A pull node: its check-ins say it is alive (stale after 3 missed 5-minute intervals).
        source = "agent";
        const fresh = Date.now() - agent.lastSeen < 15 * 60_000;
        machine = fresh ? { reachable: true, nixos: true, system: { ...(agent.booted?.system ? { current: agent.booted.system } : {}) }, failedUnits: [], volumes: [], complete: false } : { reachable: false, reason: `its agent last checked in ${Math.round((Date.now() - agent.lastSeen) / 60_000)} min ago` };
        reason = undefined;
      }
      const reachable = machine ? machine.reachable : null;
      const drift = driftOf(machine, deployed.get(name), files.get(name));
      const row: MonitorHostRow = {
        host: name,
        reachable,
        ...(machine && !machine.reachable ? { reason: machine.reason } : reason ? { reason } : {}),
        source,
        checkedAt: at,
        ...(reachable !== null ? { since: prev && prev.reachable === reachable && prev.since ? prev.since : at } : {}),
        drift: drift.drift,
        ...(drift.detail ? { driftDetail: drift.detail } : {}),
        ...(machine ? { machine } : {}),
        ...(eth.has(name) ? { eth: eth.get(name)! } : {}),
        alerts: [],
      };
      this.latest.set(name, { row });
      if (machine) {
        inputs.push(...alertsFromMachine(name, machine, thresholds ? { volumeWarningPercent: thresholds.diskPercent } : {}));
        insertState.run(name, startedAt, JSON.stringify(machine));
      }
      const e = eth.get(name);
      if (e) {
        // Each reading judges one ended epoch; "N missed in a row" is the alert holding for N-1 more epochs (rule below).
        inputs.push(
          ...alertsFromEthHealth(name, e, thresholds ? { minConsensusPeers: thresholds.peersMin, minExecutionPeers: thresholds.peersMin, maxSlotsBehind: thresholds.behindSlots, missedAttestations: 1 } : {}),
        );
        if (e.consensus?.secondsPerSlot && e.consensus.slotsPerEpoch) this.epochSeconds = e.consensus.secondsPerSlot * e.consensus.slotsPerEpoch;
        insertEth.run(name, startedAt, JSON.stringify(e));
      }
    }
    for (const name of [...this.latest.keys()]) if (!fleet.hosts.has(name)) this.latest.delete(name);
    this.db.sql.prepare(`DELETE FROM machine_states WHERE at < ?`).run(startedAt - DAY);
    this.db.sql.prepare(`DELETE FROM eth_health WHERE at < ?`).run(startedAt - DAY);
    await this.alert(inputs, fleet.alerts, planned.store, startedAt);
    if (this.stopped) return;
    this.prometheus = await readPrometheus(fleet, readMeshAddresses(this.dir), this.o.prometheusUrl);
    this.lastPoll = at;
  }

  /** Each host's Ethereum clients, read where its configuration says they answer. */
  private async readEthereum(fleet: Fleet): Promise<Map<string, EthHealth>> {
    const out = new Map<string, EthHealth>();
    const mesh = readMeshAddresses(this.dir);
    const jobs: [string, EthEndpoints][] = [];
    for (const [name, host] of fleet.hosts) {
      const ep = this.o.ethEndpoints?.[name] ?? ethEndpointsOf(host, mesh[name]);
      if (ep && (ep.beacon || ep.execution || ep.mevBoost)) jobs.push([name, ep]);
    }
    await Promise.all(jobs.map(async ([name, ep]) => out.set(name, await readEthHealth(ep, { timeoutMs: Math.min(this.o.timeoutMs ?? 15_000, 10_000) }))));
    return out;
  }

  private async alert(inputs: AlertInput[], cfg: Alerts | undefined, store: Parameters<typeof show>[0], at: number): Promise<void> {
    const row = this.db.sql.prepare(`SELECT state FROM alerts WHERE id = 1`).get() as { state: string } | undefined;
    const previous = row ? (JSON.parse(row.state) as AlertState[]) : [];
    const channels = await this.channelConfigs(cfg, store);
    this.channels = channels.map(describeChannel);
    const policy: AlertPolicy = {
      repeatSeconds: (cfg?.repeatHours ?? 4) * 3600,
      channels: channels.length ? channels.map((c) => ({ name: c.name })) : [{ name: "page" }],
      hostDownKey: HOST_DOWN_KEY,
      // A missed proposal is an event, not a condition: told once, never "resolved".
      rules: [...ETH_ALERT_RULES, { key: "validator.*.missed", forSeconds: Math.max(0, ((cfg?.thresholds.missedAttestations ?? 1) - 1) * this.epochSeconds) }],
    };
    const r = evaluateAlerts(previous, inputs, at / 1000, policy);
    if (this.stopped) return;
    this.db.sql.prepare(`INSERT INTO alerts (id, state) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state`).run(JSON.stringify(r.states));
    const deliveries = channels.length ? await deliver(r.notifications, channels) : [];
    if (this.stopped) return;
    const log = this.db.sql.prepare(`INSERT INTO alert_log (at, host, key, kind, summary, sent) VALUES (?, ?, ?, ?, ?, ?)`);
    for (const n of r.notifications) {
      const d = deliveries.filter((x) => x.notification === n.id);
      const sent = d.length ? d.map((x) => (x.ok ? `${x.channel}: delivered` : `${x.channel}: ${x.error}`)).join("; ") : "shown on the page";
      log.run(new Date(n.at * 1000).toISOString(), n.host ?? "*", n.key ?? "*", n.kind, n.summary ?? n.text, sent);
    }
    this.db.sql.prepare(`DELETE FROM alert_log WHERE id <= (SELECT MAX(id) FROM alert_log) - 1000`).run();
    const firing = r.states.filter((s) => s.status !== "resolved");
    for (const l of this.latest.values()) l.row.alerts = firing.filter((s) => s.host === l.row.host).map(alertWire);
  }

  /** The channels fleet.yaml names; the SMTP password decrypted from hearth's secrets when it has one. */
  private async channelConfigs(cfg: Alerts | undefined, store: Parameters<typeof show>[0]): Promise<ChannelConfig[]> {
    const out: ChannelConfig[] = [];
    if (cfg?.webhook) out.push({ type: "webhook", name: "webhook", url: cfg.webhook });
    if (cfg?.email) {
      let password: Buffer | undefined;
      if (cfg.email.smtp.passwordSecret) {
        try {
          password = await show(store, SMTP_PASSWORD_SECRET, await this.o.identities());
        } catch {
          password = undefined;
        }
      }
      out.push({ type: "email", name: "e-mail", host: cfg.email.smtp.host, port: cfg.email.smtp.port, from: cfg.email.from, to: cfg.email.to, ...(cfg.email.smtp.user ? { user: cfg.email.smtp.user } : {}), ...(password ? { password } : {}) });
    }
    return out;
  }

  async testAlert(user: string): Promise<{ channels: string[]; results: string[] }> {
    const planned = planFleetDir(this.dir, { requireSecrets: false });
    const channels = await this.channelConfigs(planned.validated.fleet.alerts, planned.store);
    const at = Date.now() / 1000;
    const n: Notification = { id: `${at}:test`, channel: "*", kind: "raised", at, severity: "warning", text: `hearth: a test alert sent by ${user} from the settings page`, summary: `test alert from ${user}` };
    const results = await deliver(
      channels.map((c) => ({ ...n, channel: c.name, id: `${n.id}:${c.name}` })),
      channels,
    );
    return { channels: channels.map(describeChannel), results: results.map((r) => (r.ok ? `${r.channel}: delivered` : `${r.channel}: ${r.error}`)) };
  }

  overview(): MonitorOverview {
    const alerts = [...this.latest.values()].flatMap((l) => l.row.alerts).sort((a, b) => (a.severity === b.severity ? a.since.localeCompare(b.since) : a.severity === "critical" ? -1 : 1));
    const notifications = (this.db.sql.prepare(`SELECT at, host, key, kind, summary, sent FROM alert_log ORDER BY id DESC LIMIT 30`).all() as (AlertLogWire & { sent: string | null })[]).map(
      ({ sent, ...r }) => ({ ...r, ...(sent ? { sent } : {}) }),
    );
    return {
      intervalSeconds: this.intervalSeconds,
      ...(this.lastPoll ? { lastPoll: this.lastPoll } : {}),
      ...(this.lastError ? { error: this.lastError } : {}),
      hosts: [...this.latest.values()].map((l) => l.row).sort((a, b) => a.host.localeCompare(b.host)),
      alerts,
      notifications,
      channels: this.channels,
      ...(this.prometheus ? { prometheus: this.prometheus } : {}),
    };
  }

  host(name: string): MonitorHostDetail {
    const l = this.latest.get(name);
    if (!l) throw notFound(`monitoring of host '${name}' (not polled yet, or not in the fleet)`);
    const since = Date.now() - DAY;
    const states = this.db.sql.prepare(`SELECT at, state FROM machine_states WHERE host = ? AND at >= ? ORDER BY at`).all(name, since) as { at: number; state: string }[];
    const eth = new Map((this.db.sql.prepare(`SELECT at, health FROM eth_health WHERE host = ? AND at >= ?`).all(name, since) as { at: number; health: string }[]).map((r) => [r.at, JSON.parse(r.health) as EthHealth]));
    const history = states.map((r) => {
      const s = JSON.parse(r.state) as MachineState;
      const e = eth.get(r.at);
      return {
        at: new Date(r.at).toISOString(),
        reachable: s.reachable,
        ...(s.reachable && s.memory?.availableBytes !== undefined ? { memoryUsedPercent: Math.round((1 - s.memory.availableBytes / s.memory.totalBytes) * 1000) / 10 } : {}),
        ...(s.reachable && s.volumes.length ? { fullestVolumePercent: Math.max(...s.volumes.map((v) => v.usedPercent)) } : {}),
        ...(e?.consensus ? { headSlot: e.consensus.headSlot, peers: e.consensus.peers } : {}),
      };
    });
    return { ...l.row, history };
  }
}

const alertWire = (s: AlertState): AlertWire => ({ host: s.host, key: s.key, severity: s.severity, summary: s.summary, ...(s.hint ? { hint: s.hint } : {}), since: new Date(s.since * 1000).toISOString(), status: s.status });

function describeChannel(c: ChannelConfig): string {
  if (c.type === "webhook") {
    // The URL may carry a token in its path: only its origin is shown.
    try {
      return `webhook ${new URL(c.url).origin}/…`;
    } catch {
      return "webhook";
    }
  }
  return `e-mail to ${c.to.join(", ")}`;
}

/** Drift: what the host runs against what hearth last deployed to it and what it would deploy now. */
function driftOf(m: MachineState | undefined, deployed: { files: string; system: string | null } | undefined, files: Record<string, string> | undefined): { drift: Drift; detail?: string } {
  if (!m || !m.reachable) return { drift: "unknown" };
  const current = m.system.current;
  if (!deployed) return { drift: "never deployed", detail: "not deployed from this server yet" };
  if (!current) return { drift: "unknown", detail: "the host does not say which system it runs" };
  if (deployed.system && current !== deployed.system) return { drift: "running something else", detail: `runs ${current}, hearth deployed ${deployed.system}` };
  if (files && JSON.stringify(sortKeys(JSON.parse(deployed.files) as Record<string, string>)) !== JSON.stringify(sortKeys(files)))
    return { drift: "config changed", detail: "its configuration changed since the last deploy: deploy to apply it" };
  if (m.system.booted && m.system.booted !== current) return { drift: "reboot pending", detail: `booted ${m.system.booted}; a reboot starts the new kernel` };
  return { drift: "in sync" };
}

const sortKeys = (r: Record<string, string>) => Object.fromEntries(Object.entries(r).sort(([a], [b]) => a.localeCompare(b)));

/** Where a host's clients answer, as its configuration binds them (`mesh`: its mesh address). */
export function ethEndpointsOf(host: Host, meshAddress?: string): EthEndpoints | undefined {
  const s = host.services as Record<string, { address?: string; ports?: { http?: number }; port?: number; keys?: string[]; http?: boolean } | undefined>;
  const own = reachableAddress(host.network);
  const addr = (a?: string) => (a === "mesh" ? meshAddress : a) ?? own;
  // A client bound to the host's loopback cannot be read from here (and 127.0.0.1 would be this server's own).
  const loopback = (a: string) => a === "localhost" || a.startsWith("127.") || a === "::1";
  const url = (a: string | undefined, port: number | undefined) => (a && port && !loopback(a) ? `http://${a.includes(":") ? `[${a}]` : a}:${port}` : undefined);
  const c = s.consensus;
  const e = s.execution;
  const m = s.mevBoost;
  const v = s.validator;
  const beacon = c ? url(addr(c.address), c.ports?.http) : undefined;
  const execution = e && e.http !== false ? url(addr(e.address), e.ports?.http) : undefined;
  const mevBoost = m ? url(m.address, m.port) : undefined;
  if (!beacon && !execution && !mevBoost) return undefined;
  return { ...(beacon ? { beacon } : {}), ...(execution ? { execution } : {}), ...(mevBoost ? { mevBoost } : {}), ...(v?.keys?.length ? { validators: v.keys } : {}) };
}
