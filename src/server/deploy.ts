// Push deploys started from the browser: plan (generate the flake, gather facts over SSH, build,
// diff the configuration and the closure), confirm, then the same executor as `hearth deploy`
// in canary-first batches, every event stored and every host's live line kept; roll back an
// updated host afterwards. State lives in SQLite, so a restarted server shows what happened
// (a deploy cut off by the restart is marked interrupted: its hosts' watchdogs roll back).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Db } from "./db.js";
import { ApiFailure, notFound } from "./errors.js";
import type { DeployHostPlan, DeployLine, DeployPolicy, DeployRequest, DeployStatus, DeployWire } from "./wire.js";
import { planFleetDir, PlanRefused, writeFlake } from "../node/fleet-plan.js";
import type { LoadedIdentity } from "../node/secrets/age.js";
import { hostJobs, deployPlanText } from "../node/deploy/jobs.js";
import { deployInBatches, type DeployEvent, type HostJob, type HostResult } from "../node/deploy/deploy.js";
import { gatherFacts, hostTarget, initrdTarget, type TargetOptions } from "../node/deploy/target.js";
import { planPrepareOver, preparePlanText, runPrepare } from "../node/deploy/prepare.js";
import { PREPARE_PHASES } from "../core/deploy/prepare.js";
import { explainSsh, SshSession } from "../node/deploy/ssh.js";
import { unlockOverInitrd } from "../node/deploy/unlock.js";
import { show } from "../node/secrets/store.js";
import { buildArgv, planDeployBatches, rollbackScript, SYSTEM_PROFILE, BOOTED_SYSTEM, type DeployOptions } from "../core/deploy/deploy.js";
import { checkFacts as factsProblems } from "../core/deploy/facts.js";
import { unifiedDiff, type FileChange } from "../node/apply-files.js";
import { UserError } from "../node/errors.js";

export interface DeployServiceOptions {
  fleetDir: string;
  db: Db;
  /** The admin identities that decrypt install keys and LUKS passphrases (never sent anywhere). */
  identities: () => Promise<LoadedIdentity[]>;
  /** How to reach hosts (serve's --ssh-key etc.). */
  target?: TargetOptions;
  /** Timeouts and layout on the target; defaults as `hearth deploy`'s. */
  run?: Partial<{ profile: string; bootedSystem: string; confirmTimeout: number; healthTimeout: number; waitTimeout: number; concurrency: number }>;
  /**
   * Tests only (NixOS cannot be built without nixpkgs): the already-built system for a host,
   * instead of `nix build` of its toplevel. Everything after the build is the real executor.
   */
  systemStandIn?: (host: string) => string | undefined;
}

const DEFAULT_POLICY: DeployPolicy = { canary: 0, batchSize: 1_000_000, pauseAtFailures: 1 };
/** Plans gather facts from this many hosts at once. */
const PLAN_CONCURRENCY = 4;

interface Live {
  lines: Map<string, DeployLine>;
  seq: number;
  gate?: (answer: "resume" | "abort") => void;
  lastProgressWrite: Map<string, number>;
}

interface Row {
  id: number;
  created_at: string;
  updated_at: string;
  user: string;
  hosts: string;
  options: string;
  fleet_commit: string | null;
  fleet_dirty: number;
  status: DeployStatus;
  plan: string | null;
  results: string | null;
  paused: string | null;
}

interface Stored {
  install: boolean;
  confirmExisting?: string[];
  policy: DeployPolicy;
  batches: string[][];
  error?: string;
}

const now = () => new Date().toISOString();

export class DeployService {
  private readonly live = new Map<number, Live>();
  /** Each planned deploy's host configurations as planned: what a deployed host is recorded as having got. */
  private readonly plannedFiles = new Map<number, Map<string, Record<string, string>>>();
  /** Set when the server stops: background plans and deploys write nothing more. */
  private closed = false;
  private readonly dir: string;
  private readonly db: Db;

  constructor(private readonly o: DeployServiceOptions) {
    this.dir = resolve(o.fleetDir);
    this.db = o.db;
    // Deploys cut off by a restart: their hosts' watchdogs roll back unconfirmed activations.
    this.db.sql.prepare(`UPDATE deploys SET status = 'interrupted', paused = NULL, updated_at = ? WHERE status IN ('planning', 'running', 'paused')`).run(now());
  }

  private deployOptions(): DeployOptions & { waitTimeout: number; healthTimeout: number; concurrency: number } {
    const r = this.o.run ?? {};
    const healthTimeout = r.healthTimeout ?? 60;
    return {
      flakeDir: join(this.dir, "flake"),
      profile: r.profile ?? SYSTEM_PROFILE,
      bootedSystem: r.bootedSystem ?? BOOTED_SYSTEM,
      confirmTimeout: r.confirmTimeout ?? healthTimeout + 30,
      healthTimeout,
      waitTimeout: r.waitTimeout ?? 120,
      concurrency: r.concurrency ?? 4,
    };
  }

  // ---- reading ---------------------------------------------------------------------------------

  list(limit = 50): DeployWire[] {
    const rows = this.db.sql.prepare(`SELECT * FROM deploys ORDER BY id DESC LIMIT ?`).all(limit) as Row[];
    return rows.map((r) => this.wire(r));
  }

  get(id: number): DeployWire {
    const r = this.db.sql.prepare(`SELECT * FROM deploys WHERE id = ?`).get(id) as Row | undefined;
    if (!r) throw notFound(`deploy ${id}`);
    return this.wire(r);
  }

  /** The deploy's events after `after` (its log), oldest first. */
  events(id: number, after = 0): { seq: number; event: DeployEvent }[] {
    this.get(id);
    return (this.db.sql.prepare(`SELECT seq, event FROM deploy_events WHERE deploy_id = ? AND seq > ? ORDER BY seq LIMIT 5000`).all(id, after) as { seq: number; event: string }[]).map((e) => ({
      seq: e.seq,
      event: JSON.parse(e.event) as DeployEvent,
    }));
  }

  private wire(r: Row): DeployWire {
    const opts = JSON.parse(r.options) as Stored;
    const hosts = JSON.parse(r.hosts) as string[];
    const stored = r.results ? (JSON.parse(r.results) as DeployLine[]) : [];
    const live = this.live.get(r.id);
    const lines = hosts.map((h) => live?.lines.get(h) ?? stored.find((l) => l.host === h) ?? { host: h, phase: "", status: "waiting" as const, message: "" });
    return {
      id: r.id,
      status: r.status,
      user: r.user,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      hosts,
      install: opts.install,
      ...(opts.confirmExisting ? { confirmExisting: opts.confirmExisting } : {}),
      policy: opts.policy,
      ...(r.fleet_commit ? { commit: r.fleet_commit } : {}),
      dirty: r.fleet_dirty === 1,
      batches: opts.batches,
      plans: r.plan ? (JSON.parse(r.plan) as DeployHostPlan[]) : [],
      lines,
      ...(r.paused ? { paused: r.paused } : {}),
      ...(opts.error ? { error: opts.error } : {}),
    };
  }

  private setStatus(id: number, status: DeployStatus, patch: { paused?: string | null; error?: string } = {}): void {
    if (this.closed) return;
    if (patch.error !== undefined) {
      const r = this.db.sql.prepare(`SELECT options FROM deploys WHERE id = ?`).get(id) as { options: string };
      this.db.sql.prepare(`UPDATE deploys SET options = ? WHERE id = ?`).run(JSON.stringify({ ...JSON.parse(r.options), error: patch.error }), id);
    }
    this.db.sql.prepare(`UPDATE deploys SET status = ?, paused = ?, updated_at = ? WHERE id = ?`).run(status, patch.paused ?? null, now(), id);
  }

  // ---- plan ----------------------------------------------------------------------------------

  /** Start planning a deploy; the plan fills in as facts arrive (poll `get`). */
  async create(user: string, req: DeployRequest): Promise<DeployWire> {
    const hosts = [...new Set((req.hosts ?? []).map(String))];
    if (hosts.length === 0) throw new ApiFailure(422, "invalid", "choose at least one host to deploy");
    const policy = checkPolicy({ ...DEFAULT_POLICY, ...(req.policy ?? {}) });
    const busy = this.db.sql.prepare(`SELECT id, hosts FROM deploys WHERE status IN ('planning', 'running', 'paused')`).all() as { id: number; hosts: string }[];
    for (const b of busy) {
      const overlap = (JSON.parse(b.hosts) as string[]).filter((h) => hosts.includes(h));
      if (overlap.length) throw new ApiFailure(409, "busy", `${overlap.join(", ")} ${overlap.length > 1 ? "are" : "is"} already being deployed (deploy ${b.id}); wait for it or abort it`);
    }
    // Validate and write the flake first, so what is planned is what the fleet says now.
    let planned;
    try {
      planned = planFleetDir(this.dir, { requireSecrets: true });
    } catch (e) {
      if (e instanceof PlanRefused) throw new ApiFailure(422, "invalid", `${e.message}${e.issues.length ? `: ${e.issues.slice(0, 3).map((i) => `${i.file}: ${i.message}`).join("; ")}` : ""}`);
      throw e;
    }
    const unknown = hosts.filter((h) => !planned.validated.fleet.hosts.has(h));
    if (unknown.length) throw new ApiFailure(404, "not_found", `no host ${unknown.map((h) => `'${h}'`).join(", ")} in the fleet`);
    const git = await gitState(this.dir);
    const confirmExisting = (req.confirmExisting ?? []).map(String).filter((h) => hosts.includes(h));
    const { jobs } = this.jobs(planned.store, hosts, !!req.install, confirmExisting);
    const byName = new Map(jobs.map((j) => [j.name, j]));
    const batches = planDeployBatches(hosts, (n) => byName.get(n)!.dependsOn.filter((d) => byName.has(d)), policy);
    const stored: Stored = { install: !!req.install, policy, batches, ...(confirmExisting.length ? { confirmExisting } : {}) };
    const info = this.db.sql
      .prepare(`INSERT INTO deploys (created_at, updated_at, user, hosts, options, fleet_commit, fleet_dirty, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'planning')`)
      .run(now(), now(), user, JSON.stringify(batches.flat()), JSON.stringify(stored), git.commit ?? null, git.dirty ? 1 : 0);
    const id = Number(info.lastInsertRowid);
    writeFlake(this.dir, join(this.dir, "flake"), planned.plan);
    const files = hostFiles(planned.plan.files);
    this.plannedFiles.set(id, files);
    void this.plan(id, jobs, planned.store, files).catch((e) => this.setStatus(id, "failed", { error: `planning failed: ${(e as Error).message}` }));
    return this.get(id);
  }

  private jobs(store: Parameters<typeof hostJobs>[0], hosts: string[], install: boolean, confirmExisting: string[] = []) {
    try {
      return hostJobs(store, this.dir, hosts, {
        install,
        confirmExisting: new Set(confirmExisting),
        ...(this.o.target ? { target: this.o.target } : {}),
        ...(this.o.systemStandIn ? { systemFor: this.o.systemStandIn } : {}),
        identities: this.o.identities,
      });
    } catch (e) {
      if (e instanceof UserError) throw new ApiFailure(422, "invalid", e.message);
      throw e;
    }
  }

  private async plan(id: number, jobs: HostJob[], store: Parameters<typeof deployPlanText>[2], files: Map<string, Record<string, string>>): Promise<void> {
    const o = this.deployOptions();
    const plans = new Map<string, DeployHostPlan>();
    const save = () => !this.closed && this.db.sql.prepare(`UPDATE deploys SET plan = ?, updated_at = ? WHERE id = ?`).run(JSON.stringify(jobs.map((j) => plans.get(j.name)).filter(Boolean)), now(), id);
    const queue = [...jobs];
    const worker = async () => {
      for (let job = queue.shift(); job; job = queue.shift()) {
        plans.set(job.name, await this.planHost(job, o, store, files.get(job.name) ?? {}));
        save();
      }
    };
    await Promise.all(Array.from({ length: Math.min(PLAN_CONCURRENCY, jobs.length) }, worker));
    if (this.closed) return;
    const status = (this.db.sql.prepare(`SELECT status FROM deploys WHERE id = ?`).get(id) as { status: DeployStatus }).status;
    if (status === "planning") this.setStatus(id, "ready");
  }

  private async planHost(job: HostJob, o: DeployOptions, store: Parameters<typeof deployPlanText>[2], files: Record<string, string>): Promise<DeployHostPlan> {
    const p: DeployHostPlan = { host: job.name, kind: job.kind, address: `${job.target.user}@${job.target.address}:${job.target.port}`, problems: [], planText: deployPlanText(job, o, store), configDiff: "", configFilesChanged: 0 };
    const last = this.db.sql.prepare(`SELECT files FROM deployed_configs WHERE host = ?`).get(job.name) as { files: string } | undefined;
    const before = last ? (JSON.parse(last.files) as Record<string, string>) : {};
    const changes: FileChange[] = [...new Set([...Object.keys(before), ...Object.keys(files)])].sort().map((path) => ({
      path,
      action: before[path] === undefined ? "create" : files[path] === undefined ? "delete" : before[path] === files[path] ? "unchanged" : "update",
      ...(before[path] !== undefined ? { before: before[path] } : {}),
      ...(files[path] !== undefined ? { after: files[path] } : {}),
    }));
    p.configFilesChanged = changes.filter((c) => c.action !== "unchanged").length;
    p.configDiff = unifiedDiff(changes);
    if (!last) p.problems.push("first deploy from this server: the whole configuration is shown as new");
    // Facts, read-only; an install target still runs a rescue system with its own key.
    const ssh = new SshSession(job.kind === "install" ? { ...job.target, acceptFirstKey: true } : job.target, false);
    try {
      const facts = await gatherFacts(ssh);
      p.facts = `${facts.arch}, ${Math.floor(facts.memKiB / 1024)} MiB RAM, ${facts.nixos ? "NixOS" : "not NixOS"}${facts.uid === 0 ? "" : facts.sudo ? ", sudo" : ", no sudo"}${facts.kexec ? ", kexec" : ""}`;
      p.problems.push(...factsProblems(job.name, job.host, job.kind, facts, { user: job.target.user, builtFromFleet: !job.systemPath, ...(job.confirmExisting ? { confirmExisting: job.confirmExisting } : {}) }));
      if (job.kind === "update") {
        const r = await ssh.run(`readlink -f '${o.profile}'`, { timeoutMs: 15_000 });
        if (r.code === 0 && r.stdout.trim().startsWith("/nix/store/")) p.currentSystem = r.stdout.trim();
      }
    } catch (e) {
      p.problems.push((e as Error).message);
    } finally {
      ssh.close();
    }
    try {
      p.system = job.systemPath ?? (await buildSystem(job, o));
      job.systemPath = p.system;
    } catch (e) {
      p.problems.push(`build: ${(e as Error).message}`);
    }
    if (p.system && p.currentSystem) {
      if (p.system === p.currentSystem) p.closureDiff = "";
      else if (await inLocalStore(p.currentSystem)) {
        const d = await run(["nix", "store", "diff-closures", "--extra-experimental-features", "nix-command", p.currentSystem, p.system]);
        if (d.code === 0) p.closureDiff = stripAnsi(d.stdout).trim();
        else p.closureNote = `nix store diff-closures failed: ${d.stderr.trim().split("\n").at(-1)}`;
      } else p.closureNote = `the running system ${p.currentSystem} is not in this machine's Nix store (it was not deployed from here), so its package versions cannot be compared`;
    }
    return p;
  }

  // ---- run ------------------------------------------------------------------------------------

  /** Confirm a planned deploy: it runs now, in its batches. */
  confirm(id: number, user: string): DeployWire {
    const d = this.get(id);
    if (d.status !== "ready") throw new ApiFailure(409, "conflict", d.status === "planning" ? "the plan is not complete yet" : `deploy ${id} is ${d.status}, not waiting for confirmation`);
    const blocked = d.plans.filter((p) => p.problems.some((x) => !/^first deploy/.test(x)) || !p.system);
    if (blocked.length) throw new ApiFailure(409, "conflict", `cannot deploy: ${blocked.map((p) => `${p.host}: ${p.problems.filter((x) => !/^first deploy/.test(x))[0] ?? "nothing was built"}`).join("; ")}`);
    this.setStatus(id, "running");
    this.db.sql.prepare(`UPDATE deploys SET user = ? WHERE id = ?`).run(user, id);
    const live: Live = { lines: new Map(d.hosts.map((h) => [h, { host: h, phase: "", status: "waiting", message: "waiting for its batch" }])), seq: 0, lastProgressWrite: new Map() };
    this.live.set(id, live);
    void this.execute(id, d, live).catch((e) => {
      this.setStatus(id, "failed", { error: (e as Error).message });
      this.finish(id, live);
    });
    return this.get(id);
  }

  private async execute(id: number, d: DeployWire, live: Live): Promise<void> {
    const planned = planFleetDir(this.dir, { requireSecrets: true });
    const systems = new Map(d.plans.map((p) => [p.host, p.system!]));
    const { jobs } = hostJobs(planned.store, this.dir, d.hosts, {
      install: d.install,
      confirmExisting: new Set(d.confirmExisting ?? []),
      ...(this.o.target ? { target: this.o.target } : {}),
      systemFor: (h) => systems.get(h),
      identities: this.o.identities,
    });
    const o = this.deployOptions();
    const append = this.db.sql.prepare(`INSERT INTO deploy_events (deploy_id, seq, event) VALUES (?, ?, ?)`);
    const emit = (e: DeployEvent) => {
      const line = live.lines.get(e.host);
      if (line) {
        if (line.phase !== e.phase || line.status === "waiting") line.startedAt = e.at;
        Object.assign(line, { phase: e.phase, status: e.status, message: e.message, updatedAt: e.at });
        if (e.progress) line.bytes = e.progress;
        else delete line.bytes;
      }
      // Transfer progress comes many times a second: stored at most once a second per host.
      if (e.progress) {
        const last = live.lastProgressWrite.get(e.host) ?? 0;
        if (Date.now() - last < 1000) return;
        live.lastProgressWrite.set(e.host, Date.now());
      }
      if (!this.closed) append.run(id, ++live.seq, JSON.stringify(e));
    };
    const results = await deployInBatches(jobs, { ...o, emit }, {
      policy: d.policy,
      onBatch: (_i, hosts) => {
        for (const h of hosts) Object.assign(live.lines.get(h)!, { status: "start", phase: "queued", message: "starting" });
      },
      gate: ({ reason }) =>
        new Promise((answer) => {
          live.gate = answer;
          this.setStatus(id, "paused", { paused: reason });
        }),
    });
    for (const r of results) this.applyResult(live, r);
    if (this.closed) return;
    // What each deployed host got (as planned, even if the files changed since) is the base of its next diff.
    const files = this.plannedFiles.get(id) ?? hostFiles(planned.plan.files);
    this.plannedFiles.delete(id);
    const keep = this.db.sql.prepare(`INSERT INTO deployed_configs (host, deploy_id, files, system) VALUES (?, ?, ?, ?) ON CONFLICT (host) DO UPDATE SET deploy_id = excluded.deploy_id, files = excluded.files, system = excluded.system`);
    for (const r of results) if (r.outcome === "deployed") keep.run(r.host, id, JSON.stringify(files.get(r.host) ?? {}), r.system ?? systems.get(r.host) ?? null);
    this.setStatus(id, results.every((r) => r.outcome === "deployed") ? "done" : "failed");
    this.finish(id, live);
  }

  private applyResult(live: Live, r: HostResult): void {
    const line = live.lines.get(r.host)!;
    Object.assign(line, { outcome: r.outcome, detail: r.detail, seconds: r.seconds, updatedAt: now() });
    if (r.outcome === "deployed" && r.kind === "update" && r.previousGeneration !== undefined) line.previousGeneration = r.previousGeneration;
    if (r.outcome === "skipped") Object.assign(line, { status: "info", message: r.detail });
    delete line.bytes;
  }

  private finish(id: number, live: Live): void {
    if (this.closed) return;
    this.db.sql.prepare(`UPDATE deploys SET results = ?, updated_at = ? WHERE id = ?`).run(JSON.stringify([...live.lines.values()]), now(), id);
    this.live.delete(id);
  }

  /** Answer a paused rollout. */
  answer(id: number, answer: "resume" | "abort"): DeployWire {
    const d = this.get(id);
    const live = this.live.get(id);
    if (answer === "abort" && (d.status === "ready" || d.status === "planning")) {
      this.plannedFiles.delete(id);
      this.setStatus(id, "cancelled");
      return this.get(id);
    }
    if (d.status !== "paused" || !live?.gate) throw new ApiFailure(409, "conflict", `deploy ${id} is ${d.status}, not paused`);
    const gate = live.gate;
    delete live.gate;
    this.setStatus(id, "running");
    gate(answer);
    return this.get(id);
  }

  /** Roll an updated host back to the generation it ran before this deploy. */
  async rollback(id: number, host: string, user: string): Promise<DeployWire> {
    const d = this.get(id);
    if (d.status === "running" || d.status === "paused") throw new ApiFailure(409, "conflict", "wait for the deploy to finish before rolling a host back");
    const line = d.lines.find((l) => l.host === host);
    if (!line) throw notFound(`host '${host}' in deploy ${id}`);
    if (line.outcome !== "deployed" || line.previousGeneration === undefined || line.rolledBackBy) throw new ApiFailure(409, "conflict", `${host} has nothing to roll back in deploy ${id}${line.rolledBackBy ? ` (rolled back by ${line.rolledBackBy})` : ""}`);
    const planned = planFleetDir(this.dir, { requireSecrets: false });
    const { jobs } = this.jobs(planned.store, [host], false);
    const o = this.deployOptions();
    const ssh = new SshSession(jobs[0]!.target, false);
    const seq = (this.db.sql.prepare(`SELECT COALESCE(MAX(seq), 0) AS s FROM deploy_events WHERE deploy_id = ?`).get(id) as { s: number }).s;
    const event = (status: DeployEvent["status"], message: string) =>
      this.db.sql.prepare(`INSERT INTO deploy_events (deploy_id, seq, event) VALUES (?, ?, ?)`).run(id, seq + (status === "start" ? 1 : 2), JSON.stringify({ host, phase: "rollback", status, message, at: now() } satisfies DeployEvent));
    try {
      event("start", `${user}: back to generation ${line.previousGeneration}`);
      const r = await ssh.run(rollbackScript(o, line.previousGeneration), { timeoutMs: o.confirmTimeout * 1000 });
      if (r.code !== 0) {
        event("fail", explainSsh(r, jobs[0]!.target));
        throw new ApiFailure(502, "rollback_failed", `rolling ${host} back failed: ${explainSsh(r, jobs[0]!.target)}`);
      }
      event("ok", `back on generation ${line.previousGeneration}`);
    } finally {
      ssh.close();
    }
    const lines = d.lines.map((l) => (l.host === host ? { ...l, outcome: "rolled back" as const, rolledBackBy: user, phase: "rollback", status: "ok" as const, message: `rolled back to generation ${line.previousGeneration} by ${user}`, detail: `rolled back to generation ${line.previousGeneration} by ${user} (it had got ${line.detail ?? "the new system"})`, updatedAt: now() } : l));
    this.db.sql.prepare(`UPDATE deploys SET results = ?, updated_at = ? WHERE id = ?`).run(JSON.stringify(lines), now(), id);
    this.db.sql.prepare(`DELETE FROM deployed_configs WHERE host = ? AND deploy_id = ?`).run(host, id);
    return this.get(id);
  }

  // ---- unlock ---------------------------------------------------------------------------------

  /**
   * Unlock a host waiting in its initrd: with the passphrase typed on the page (used once, then
   * zeroed; never stored, logged or put in argv) or hearth's own `luks-passphrase` secret.
   */
  async unlock(host: string, typed?: Buffer): Promise<{ ok: true; detail: string }> {
    const planned = planFleetDir(this.dir, { requireSecrets: false });
    let target;
    try {
      const { port: _p, ...conn } = this.o.target ?? {};
      target = initrdTarget(planned.store.fleet, planned.store.manifest, host, conn);
    } catch (e) {
      typed?.fill(0);
      if (e instanceof UserError) throw new ApiFailure(422, "invalid", e.message);
      throw e;
    }
    const key = `hosts/${host}/luks-passphrase`;
    let pass = typed;
    if (!pass) {
      if (!planned.store.manifest.secrets[key]) throw new ApiFailure(422, "invalid", `${host} has no luks-passphrase secret in hearth: type the passphrase`);
      pass = await show(planned.store, key, await this.o.identities());
    }
    try {
      const r = await unlockOverInitrd(target, pass);
      if (!r.ok) throw new ApiFailure(r.unreachable ? 504 : 502, "unlock_failed", `unlock of ${host} failed: ${r.detail}`);
      return { ok: true, detail: `${host} unlocked; it continues booting` };
    } finally {
      pass.fill(0);
    }
  }

  // ---- prepare (RAM-booted hosts' disks) --------------------------------------------------------

  /** What `prepare` would run on the host now, facts gathered over SSH (read-only). */
  async preparePlan(host: string): Promise<{ host: string; facts?: string; planText: string[]; destructive: boolean }> {
    const { store, target } = this.prepareTarget(host);
    const ssh = new SshSession(target);
    try {
      const { facts, chosen } = await planPrepareOver(ssh, store, host, new Set(PREPARE_PHASES));
      return {
        host,
        ...(facts ? { facts: `${facts.arch}, ${Math.round(facts.memKiB / 1024)} MiB RAM, ${facts.devices.size} disk name(s) by id` } : {}),
        planText: preparePlanText(chosen, ssh),
        destructive: chosen.some((p) => p.destructive),
      };
    } catch (e) {
      if (e instanceof UserError) throw new ApiFailure(422, "invalid", e.message);
      throw e;
    } finally {
      ssh.close();
    }
  }

  /** Format and place keys; a destructive phase runs only with the host's name typed back. */
  async prepare(host: string, confirm: string | undefined, confirmExisting?: string): Promise<{ log: string[] }> {
    const { store, target } = this.prepareTarget(host);
    const log: string[] = [];
    try {
      await runPrepare(store, host, target, { phases: new Set(PREPARE_PHASES), ...(confirm !== undefined ? { confirm } : {}), ...(confirmExisting ? { confirmExisting } : {}), identities: this.o.identities, log: (l) => log.push(l) });
    } catch (e) {
      if (e instanceof UserError) throw new ApiFailure(422, "invalid", e.message);
      throw e;
    }
    return { log };
  }

  private prepareTarget(host: string) {
    const planned = planFleetDir(this.dir, { requireSecrets: false });
    try {
      return { store: planned.store, target: hostTarget(planned.store.fleet, planned.store.manifest, host, this.o.target ?? {}) };
    } catch (e) {
      if (e instanceof UserError) throw new ApiFailure(422, "invalid", e.message);
      throw e;
    }
  }

  /** Rollouts waiting on a gate end when the server stops (their hosts keep what they have). */
  close(): void {
    this.closed = true;
    for (const l of this.live.values()) l.gate?.("abort");
  }
}

function checkPolicy(p: DeployPolicy): DeployPolicy {
  for (const [k, min] of [["canary", 0], ["batchSize", 1], ["pauseAtFailures", 1]] as const)
    if (!Number.isInteger(p[k]) || p[k] < min) throw new ApiFailure(422, "invalid", `policy.${k} must be a whole number ≥ ${min}`);
  return p;
}

/** Each host's generated configuration: its own files plus the shared modules (not the encrypted secrets). */
export function hostFiles(files: Map<string, string> | Record<string, string>): Map<string, Record<string, string>> {
  const entries = files instanceof Map ? [...files.entries()] : Object.entries(files);
  const shared = entries.filter(([p]) => !p.startsWith("hosts/") && !p.startsWith("secrets/") && !p.endsWith(".age"));
  const by = new Map<string, Record<string, string>>();
  for (const [p, text] of entries) {
    const m = /^hosts\/([^/]+)\//.exec(p);
    if (!m || p.endsWith(".age")) continue;
    const rec = by.get(m[1]!) ?? Object.fromEntries(shared);
    rec[p] = text;
    by.set(m[1]!, rec);
  }
  return by;
}

function run(argv: string[], cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    const c = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], ...(cwd ? { cwd } : {}) });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    c.stdout.on("data", (d: Buffer) => out.push(d));
    c.stderr.on("data", (d: Buffer) => err.push(d));
    c.on("error", (e) => ok({ code: 127, stdout: "", stderr: String(e) }));
    c.on("close", (code) => ok({ code: code ?? 1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
}

const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

async function inLocalStore(path: string): Promise<boolean> {
  return existsSync(path) && (await run(["nix-store", "--check-validity", path])).code === 0;
}

async function buildSystem(job: HostJob, o: DeployOptions): Promise<string> {
  const r = await run(buildArgv(job.name, job.kind, o));
  if (r.code !== 0) throw new Error(r.stderr.trim().split("\n").filter(Boolean).slice(-2).join(" / ") || `nix build exited ${r.code}`);
  const path = (JSON.parse(r.stdout) as { outputs: { out: string } }[])[0]?.outputs.out;
  if (!path) throw new Error("nix build named no output");
  return path;
}

/** The fleet's git commit and whether its tree has uncommitted changes (not a repository: none). */
async function gitState(dir: string): Promise<{ commit?: string; dirty: boolean }> {
  const head = await run(["git", "-C", dir, "rev-parse", "HEAD"]);
  if (head.code !== 0) return { dirty: false };
  const st = await run(["git", "-C", dir, "status", "--porcelain", "--untracked-files=normal", "--", ".", ":(exclude)flake", ":(exclude)mesh"]);
  return { commit: head.stdout.trim(), dirty: st.stdout.trim() !== "" };
}

