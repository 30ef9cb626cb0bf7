// Pull nodes on the server side: what agents fetch and report, and the rollouts that decide who
// may fetch a new release when. The server holds no signing key: releases and keyrings are files
// the admin's CLI signed into the fleet directory (releases/), read here as they are. Agents are
// known by their SSH host keys (secrets/manifest.json); pending nodes by a key of their own.
// A server whose state and files an attacker replaced can withhold releases, never forge one:
// the nodes check every signature against the keys in their image.
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { Readable } from "node:stream";
import { join } from "node:path";
import { Hono, type Context } from "hono";
import { verifyRequest, keyFingerprint, type AgentAuthFailure, type Ed25519 } from "../core/pull/agent-auth.js";
import { createPublicKey, verify as cryptoVerify, type KeyObject } from "node:crypto";
import { DEFAULT_POLICY, offered, report, resume, abort, startRollout, step, summary, type RolloutPolicy, type RolloutState } from "../core/pull/rollout.js";
import { keyHash, RELEASES_DIR, type Signed } from "../core/pull/release.js";
import { ApiFailure } from "./errors.js";
import type { PullNode as WirePullNode, PullPhase } from "./wire.js";
import type { Db } from "./db.js";
import type { Statement } from "better-sqlite3";

export type NodePhase = PullPhase;
export type PullNode = WirePullNode;

export interface RolloutView extends RolloutState {
  policy: RolloutPolicy;
  counts: ReturnType<typeof summary>;
}

/** The signed files on disk, re-read only when their folder changes. */
class ReleaseFiles {
  private cache = new Map<string, { mtimeMs: number; versions: number[] }>();
  private bodies = new Map<string, { mtimeMs: number; signed: Signed }>();
  constructor(private readonly dir: string) {}

  /** Versions published for a host, ascending. */
  versions(host: string): number[] {
    const d = join(this.dir, RELEASES_DIR, host);
    let st;
    try {
      st = statSync(d);
    } catch {
      return [];
    }
    const c = this.cache.get(host);
    if (c && c.mtimeMs === st.mtimeMs) return c.versions;
    const versions = readdirSync(d)
      .map((f) => /^(\d{1,15})\.json$/.exec(f)?.[1])
      .filter((v): v is string => v !== undefined && existsSync(join(d, `${v}.json.minisig`)))
      .map(Number)
      .sort((a, b) => a - b);
    this.cache.set(host, { mtimeMs: st.mtimeMs, versions });
    return versions;
  }

  /** Sub-folders of releases/<under> that are names. */
  dirs(under: string): string[] {
    const d = join(this.dir, RELEASES_DIR, under);
    if (!existsSync(d)) return [];
    return readdirSync(d, { withFileTypes: true })
      .filter((e) => e.isDirectory() && /^[a-z0-9][a-z0-9-]{0,62}$/.test(e.name))
      .map((e) => e.name)
      .sort();
  }

  hosts(): string[] {
    const d = join(this.dir, RELEASES_DIR);
    if (!existsSync(d)) return [];
    return readdirSync(d, { withFileTypes: true })
      .filter((e) => e.isDirectory() && /^[a-z0-9][a-z0-9-]{0,62}$/.test(e.name) && e.name !== IMAGES_DIR && e.name !== "adoptions")
      .map((e) => e.name)
      .sort();
  }

  read(rel: string): Signed | undefined {
    const file = join(this.dir, RELEASES_DIR, rel);
    let st;
    try {
      st = statSync(file);
    } catch {
      return undefined;
    }
    const c = this.bodies.get(rel);
    if (c && c.mtimeMs === st.mtimeMs) return c.signed;
    try {
      const signed = { body: readFileSync(file, "utf8"), signature: readFileSync(`${file}.minisig`, "utf8") };
      if (this.bodies.size > 5000) this.bodies.clear();
      this.bodies.set(rel, { mtimeMs: st.mtimeMs, signed });
      return signed;
    } catch {
      return undefined;
    }
  }
}

/** Host SSH public keys from secrets/manifest.json, re-read when the file changes. */
class HostKeys {
  private memo?: { mtimeMs: number; keys: Map<string, string> };
  constructor(private readonly dir: string) {}
  get(host: string): string | undefined {
    const f = join(this.dir, "secrets", "manifest.json");
    let st;
    try {
      st = statSync(f);
    } catch {
      return undefined;
    }
    if (!this.memo || this.memo.mtimeMs !== st.mtimeMs) {
      const keys = new Map<string, string>();
      try {
        const m = JSON.parse(readFileSync(f, "utf8")) as { secrets: Record<string, { kind: string; public?: string }> };
        for (const [k, e] of Object.entries(m.secrets ?? {})) {
          const h = /^hosts\/([^/]+)\/ssh-host-key$/.exec(k)?.[1];
          if (h && e.kind === "ssh-host-key" && e.public) keys.set(h, e.public);
        }
      } catch {
        // A broken manifest knows no hosts: agents are refused until it is fixed.
      }
      this.memo = { mtimeMs: st.mtimeMs, keys };
    }
    return this.memo.keys.get(host);
  }
}

/** Nonces seen within the time window (the agent signature's replay guard). */
class Nonces {
  private seen = new Map<string, number>();
  constructor(private readonly windowMs: number) {}
  add(nonce: string, now: number): boolean {
    if (this.seen.has(nonce)) return true;
    this.seen.set(nonce, now);
    if (this.seen.size > 200_000) for (const [n, t] of this.seen) if (now - t > this.windowMs * 2) this.seen.delete(n);
    return false;
  }
}

export interface PullOptions {
  fleetDir: string;
  db: Db;
  now?: () => number;
  policy?: RolloutPolicy;
  /** Start a rollout by itself when new signed releases appear (default true). */
  autoRollout?: boolean;
}

export class PullService {
  private readonly files: ReleaseFiles;
  private readonly keys: HostKeys;
  private readonly nonces = new Nonces(10 * 60_000);
  private readonly now: () => number;
  readonly policy: RolloutPolicy;
  private timer?: NodeJS.Timeout;
  /** Prepared once: compiling a statement costs more than running it, on every check-in. */
  private readonly statements = new Map<string, Statement<unknown[]>>();

  constructor(private readonly o: PullOptions) {
    this.files = new ReleaseFiles(o.fleetDir);
    this.keys = new HostKeys(o.fleetDir);
    this.now = o.now ?? Date.now;
    this.policy = o.policy ?? DEFAULT_POLICY;
  }

  /** Timeouts and new releases are noticed without a check-in too. */
  start(intervalMs = 5000): void {
    this.timer = setInterval(() => this.tick(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.flush();
  }

  tick(): void {
    if (this.o.autoRollout !== false) this.startForNewReleases();
    for (const r of [...this.active().values()]) if (r.status === "running") this.save(r.id, step(r, r.policy, this.now()), r.policy);
  }

  private sql(text: string): Statement<unknown[]> {
    let st = this.statements.get(text);
    if (!st) this.statements.set(text, (st = this.o.db.sql.prepare(text)));
    return st;
  }

  // ---- rollouts ---------------------------------------------------------------------------

  /** Running and paused rollouts, kept in memory: every report consults them. */
  private activeMemo?: Map<string, RolloutView>;

  rollouts(limit = 50): RolloutView[] {
    const rows = this.sql(`SELECT state, policy FROM rollouts ORDER BY created_at DESC, id DESC LIMIT ?`).all(limit) as { state: string; policy: string }[];
    // Active ones from memory: their newest phases may not be written yet.
    return rows.map((r) => {
      const s = JSON.parse(r.state) as RolloutState;
      return this.active().get(s.id) ?? view(s, JSON.parse(r.policy) as RolloutPolicy);
    });
  }

  private active(): Map<string, RolloutView> {
    if (!this.activeMemo) {
      const rows = this.sql(`SELECT state, policy FROM rollouts WHERE json_extract(state, '$.status') IN ('running', 'paused')`).all() as { state: string; policy: string }[];
      this.activeMemo = new Map(rows.map((r) => [(JSON.parse(r.state) as RolloutState).id, view(JSON.parse(r.state) as RolloutState, JSON.parse(r.policy) as RolloutPolicy)]));
    }
    return this.activeMemo;
  }

  private rollout(id: string): RolloutView | undefined {
    const live = this.active().get(id);
    if (live) return live;
    const row = this.sql(`SELECT state, policy FROM rollouts WHERE id = ?`).get(id) as { state: string; policy: string } | undefined;
    return row ? view(JSON.parse(row.state) as RolloutState, JSON.parse(row.policy) as RolloutPolicy) : undefined;
  }

  /** Rollouts changed only by host reports, written together at most every second (flush()). */
  private readonly unsaved = new Set<string>();
  private flushTimer?: NodeJS.Timeout;

  /**
   * A rollout's new state. Offers (a new wave) and status changes are written at once, with the
   * targets they raise; a report that only moves one host's phase is kept in memory and written
   * within a second (writing the whole state for each of 1,000 reports took a core). A crash
   * loses at most that second of phases, which the nodes' next check-ins report again.
   */
  private save(id: string, s: RolloutState, policy: RolloutPolicy): void {
    const { counts: _c, policy: _p, ...state } = s as RolloutView;
    // Hosts this state offers that the last saved one did not: a node's report changes no offer,
    // so it writes no targets (writing all of them made every report O(hosts)).
    const before = this.active().get(id);
    const was = new Set(before ? offered(before) : []);
    const newOffers = offered(state).filter((h) => !was.has(h));
    if (before && before.status === state.status && newOffers.length === 0) {
      this.active().set(id, view(state, policy));
      this.unsaved.add(id);
      this.flushTimer ??= setTimeout(() => this.flush(), 1000);
      this.flushTimer.unref?.();
      return;
    }
    this.unsaved.delete(id);
    this.write(id, state, policy, newOffers);
  }

  /** Writes the rollouts kept in memory since their last write. */
  flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    for (const id of [...this.unsaved]) {
      const r = this.active().get(id);
      this.unsaved.delete(id);
      if (r) {
        const { counts: _c, policy, ...state } = r;
        this.write(id, state, policy, []);
      }
    }
  }

  private write(id: string, state: RolloutState, policy: RolloutPolicy, newOffers: string[]): void {
    const at = new Date(this.now()).toISOString();
    this.o.db.sql.transaction(() => {
      this.sql(`INSERT INTO rollouts (id, state, policy, created_at, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`).run(id, JSON.stringify(state), JSON.stringify(policy), at, at);
      // Offering a host raises what it may fetch; nothing ever lowers it.
      const raise = this.sql(`INSERT INTO pull_targets (host, version) VALUES (?, ?) ON CONFLICT (host) DO UPDATE SET version = max(version, excluded.version)`);
      for (const h of newOffers) raise.run(targetKey(h, state.kind), state.versions[h]);
    })();
    const active = this.active();
    if (state.status === "running" || state.status === "paused") active.set(id, view(state, policy));
    else active.delete(id);
  }

  /** Hosts with a signed version newer than they may fetch and in no active rollout. */
  unreleased(): Record<string, number> {
    const active = new Set([...this.active().values()].filter((r) => r.kind !== "image").flatMap((r) => Object.keys(r.hosts)));
    const out: Record<string, number> = {};
    for (const h of this.files.hosts()) {
      const latest = this.files.versions(h).at(-1);
      if (latest !== undefined && latest > this.target(h) && !active.has(h) && this.keys.get(h)) out[h] = latest;
    }
    return out;
  }

  /** A rollout of the newest releases of `hosts` (default: all unreleased), canary first. */
  startRollout(hosts?: string[], policy: RolloutPolicy = this.policy): RolloutView {
    const pending = this.unreleased();
    const chosen = (hosts ?? Object.keys(pending)).filter((h) => h in pending).sort();
    if (!chosen.length) throw new ApiFailure(409, "nothing_to_roll_out", "no signed release newer than what the hosts may fetch; publish one with `hearth publish`");
    const id = `r${this.now().toString(36)}-${chosen.length}`;
    const s = step(startRollout(id, Object.fromEntries(chosen.map((h) => [h, pending[h]!])), chosen, policy), policy, this.now());
    this.save(id, s, policy);
    return this.rollout(id)!;
  }

  private startForNewReleases(): void {
    if (Object.keys(this.unreleased()).length) this.startRollout();
    for (const image of Object.keys(this.unreleasedImages())) this.startImageRollout(image);
  }

  /** Node classes with a signed image newer than some of their hosts may fetch, outside an active rollout. */
  unreleasedImages(): Record<string, { version: number; hosts: string[] }> {
    const out: Record<string, { version: number; hosts: string[] }> = {};
    const active = new Set([...this.active().values()].filter((r) => r.kind === "image").map((r) => r.image));
    for (const image of this.files.dirs(`${IMAGES_DIR}`)) {
      if (active.has(image)) continue;
      const version = this.files.versions(`${IMAGES_DIR}/${image}`).at(-1);
      if (version === undefined) continue;
      const signed = this.files.read(`${IMAGES_DIR}/${image}/${version}.json`);
      let hosts: string[] = [];
      try {
        hosts = (JSON.parse(signed?.body ?? "{}") as { hosts?: string[] }).hosts ?? [];
      } catch {
        continue;
      }
      const behind = hosts.filter((h) => typeof h === "string" && this.keys.get(h) && this.target(targetKey(h, "image")) < version).sort();
      if (behind.length) out[image] = { version, hosts: behind };
    }
    return out;
  }

  /** A rollout of a class's newest image over its hosts, canary first, with the same policy as configurations. */
  startImageRollout(image: string, policy: RolloutPolicy = this.policy): RolloutView {
    const u = this.unreleasedImages()[image];
    if (!u) throw new ApiFailure(409, "nothing_to_roll_out", `no signed image of ${image} newer than what its hosts may fetch; sign one with \`hearth publish-image\``);
    const id = `i${this.now().toString(36)}-${image}`;
    const s = step(startRollout(id, Object.fromEntries(u.hosts.map((h) => [h, u.version])), u.hosts, policy, image), policy, this.now());
    this.save(id, s, policy);
    return this.rollout(id)!;
  }

  control(id: string, action: "resume" | "abort"): RolloutView {
    const r = this.rollout(id);
    if (!r) throw new ApiFailure(404, "not_found", `no rollout ${id}`);
    const next = action === "resume" ? step(resume(r), r.policy, this.now()) : abort(r);
    this.save(id, next, r.policy);
    return this.rollout(id)!;
  }

  private target(host: string): number {
    return (this.sql(`SELECT version FROM pull_targets WHERE host = ?`).get(host) as { version: number } | undefined)?.version ?? 0;
  }

  // ---- nodes ------------------------------------------------------------------------------

  nodes(): PullNode[] {
    const rows = this.sql(`SELECT * FROM pull_nodes ORDER BY host IS NULL, host, id`).all() as Record<string, unknown>[];
    return rows.map((r) => ({
      id: r.id as string,
      ...(r.host ? { host: r.host as string } : {}),
      key: r.key as string,
      phase: r.phase as NodePhase,
      version: r.version as number,
      lastSeen: r.last_seen as number,
      ...(r.detail ? { detail: r.detail as string } : {}),
      ...(r.booted ? { booted: JSON.parse(r.booted as string) } : {}),
      ...(r.inventory ? { inventory: JSON.parse(r.inventory as string) } : {}),
      ...(r.log ? { log: JSON.parse(r.log as string) as string[] } : {}),
      ...(r.image ? { image: JSON.parse(r.image as string) as PullNode["image"] } : {}),
    }));
  }

  private record(id: string, host: string | undefined, key: string, phase: NodePhase, version: number, extra: { detail?: string; booted?: unknown; inventory?: unknown; log?: unknown }): void {
    const j = (v: unknown) => (v === undefined ? null : JSON.stringify(v).slice(0, 64 * 1024));
    this.sql(
      `INSERT INTO pull_nodes (id, host, key, phase, version, last_seen, detail, booted, inventory, log) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET key = excluded.key, phase = excluded.phase, version = excluded.version, last_seen = excluded.last_seen,
         detail = excluded.detail, booted = coalesce(excluded.booted, booted), inventory = coalesce(excluded.inventory, inventory), log = coalesce(excluded.log, log)`,
    ).run(id, host ?? null, key, phase, version, this.now(), extra.detail?.slice(0, 2000) ?? null, j(extra.booted), j(extra.inventory), j(extra.log));
  }

  // ---- the agents' API --------------------------------------------------------------------

  private authenticate(c: Context, body: Uint8Array, allowPending: boolean): { host: string; key: string } {
    const r = verifyRequest(
      // The path as sent, query included (the agent signs what it requests).
      { method: c.req.method, path: ((u) => u.pathname + u.search)(new URL(c.req.url)), headers: (n) => c.req.header(n), body, now: this.now() },
      (h) => this.keys.get(h),
      (n) => this.nonces.add(n, this.now()),
      nodeEd25519,
    );
    if (!r.ok) throw new ApiFailure(401, "agent_auth", AUTH_MESSAGES[r.why]);
    if (!r.host && !allowPending) throw new ApiFailure(403, "pending", "this node has no identity yet; an admin adopts it first");
    return r;
  }

  routes(): Hono {
    const app = new Hono();
    const raw = async (c: Context) => new Uint8Array(await c.req.arrayBuffer());
    app.get("/keyring", async (c) => {
      this.authenticate(c, await raw(c), false);
      const k = this.files.read("keyring.json");
      return k ? c.json(k) : c.body(null, 204);
    });
    app.get("/release", async (c) => {
      const { host } = this.authenticate(c, await raw(c), false);
      const v = this.target(host);
      const signed = v ? this.files.read(`${host}/${v}.json`) : undefined;
      return signed ? c.json(signed) : c.body(null, 204);
    });
    app.post("/report", async (c) => {
      const bytes = await raw(c);
      const { host, key } = this.authenticate(c, bytes, false);
      let r: { phase?: string; version?: number; detail?: string; booted?: unknown; inventory?: unknown; log?: unknown };
      try {
        r = JSON.parse(new TextDecoder().decode(bytes));
      } catch {
        throw new ApiFailure(400, "bad_json", "the report must be JSON");
      }
      const phase = PHASES.has(r.phase as NodePhase) ? (r.phase as NodePhase) : "unreachable";
      const version = Number.isSafeInteger(r.version) ? r.version! : 0;
      // A node adopted from pending says so once: its pending entry is done.
      if (typeof (r as { adoptedFrom?: unknown }).adoptedFrom === "string") this.sql(`DELETE FROM pull_nodes WHERE id = ? AND host IS NULL`).run(`pending:${keyFingerprint((r as { adoptedFrom: string }).adoptedFrom)}`);
      const kind = (r as { kind?: string }).kind === "image" ? "image" : undefined;
      if (kind) {
        // An image report is kept beside the configuration's phase, not over it.
        const detail = `image version ${version}: ${phase}${r.detail ? ` (${String(r.detail).slice(0, 500)})` : ""}`;
        this.sql(`UPDATE pull_nodes SET image = ?, last_seen = ? WHERE id = ?`).run(JSON.stringify({ version, phase, detail }), this.now(), host);
        if (!this.sql(`SELECT 1 FROM pull_nodes WHERE id = ?`).get(host)) this.record(host, host, key, phase, 0, { detail, booted: r.booted, inventory: r.inventory, log: r.log });
      } else this.record(host, host, key, phase, version, { ...(r.detail ? { detail: String(r.detail) } : {}), booted: r.booted, inventory: r.inventory, log: r.log });
      // The rollout hears about this host's result for its version.
      for (const ro of [...this.active().values()])
        if (ro.kind === kind && ro.versions[host] === version) {
          // "Up to date" at the rollout's version: the healthy report was lost, the node runs it.
          const p = phase === "up-to-date" && ro.hosts[host]?.phase !== "healthy" ? "healthy" : phase;
          if (ro.hosts[host]?.phase === p || (p !== "applying" && p !== "healthy" && p !== "failed" && p !== "rolled-back")) continue; // nothing new: a node reports every check-in
          const next = report(ro, host, p, r.detail ? String(r.detail) : undefined);
          // Only a finished host can finish a wave; "applying" moves no wave.
          this.save(ro.id, p === "applying" ? next : step(next, ro.policy, this.now()), ro.policy);
        }
      return c.json({ ok: true });
    });
    // The image a class's node may fetch now, and its files (content-addressed, beside the release).
    app.get("/image", async (c) => {
      const { host } = this.authenticate(c, await raw(c), false);
      const image = c.req.query("class") ?? "";
      if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(image)) throw new ApiFailure(400, "bad_class", "?class= names the node class the agent boots");
      const v = this.target(targetKey(host, "image"));
      const signed = v ? this.files.read(`${IMAGES_DIR}/${image}/${v}.json`) : undefined;
      return signed ? c.json(signed) : c.body(null, 204);
    });
    app.get("/image-file/:class/:sha256", async (c) => {
      this.authenticate(c, await raw(c), false);
      const image = c.req.param("class");
      const sha = c.req.param("sha256");
      if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(image) || !/^[0-9a-f]{64}$/.test(sha)) throw new ApiFailure(404, "not_found", "no such image file");
      const file = join(this.o.fleetDir, RELEASES_DIR, IMAGES_DIR, image, "files", sha);
      let size: number;
      try {
        size = statSync(file).size;
      } catch {
        throw new ApiFailure(404, "not_found", "no such image file");
      }
      return c.body(Readable.toWeb(createReadStream(file)) as ReadableStream, 200, { "content-type": "application/octet-stream", "content-length": String(size) });
    });
    app.post("/enroll", async (c) => {
      const bytes = await raw(c);
      const { key } = this.authenticate(c, bytes, true);
      let r: { inventory?: unknown };
      try {
        r = JSON.parse(new TextDecoder().decode(bytes));
      } catch {
        throw new ApiFailure(400, "bad_json", "the enrolment must be JSON");
      }
      this.record(`pending:${keyFingerprint(key)}`, undefined, key, "pending", 0, { inventory: r.inventory });
      // An admin's signed answer ("you are HOST"), if there is one for this key.
      const adoption = this.files.read(`adoptions/${keyHash(key)}.json`);
      return c.json({ ok: true, fingerprint: keyFingerprint(key), ...(adoption ? { adoption } : {}) });
    });
    return app;
  }
}

/** Node's OpenSSL Ed25519 (20x the speed of JavaScript), public keys cached as key objects. */
const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");
const keyObjects = new Map<string, KeyObject>();
export const nodeEd25519: Ed25519 = {
  sign: () => {
    throw new Error("the server signs nothing");
  },
  verify: (sig, msg, pub) => {
    const id = Buffer.from(pub).toString("base64");
    let k = keyObjects.get(id);
    if (!k) {
      if (keyObjects.size > 100_000) keyObjects.clear();
      k = createPublicKey({ key: Buffer.concat([SPKI_ED25519, pub]), format: "der", type: "spki" });
      keyObjects.set(id, k);
    }
    return cryptoVerify(null, msg, k, sig);
  },
};

/** Where an image rollout's offers are kept apart from the host's configuration offers. */
const targetKey = (host: string, kind?: string) => (kind === "image" ? `${host}#image` : host);
export const IMAGES_DIR = "images";

const view = (s: RolloutState, policy: RolloutPolicy): RolloutView => ({ ...s, policy, counts: summary(s) });

const PHASES = new Set<NodePhase>(["pending", "up-to-date", "applying", "healthy", "failed", "rolled-back", "refused", "unreachable"]);

const AUTH_MESSAGES: Record<AgentAuthFailure, string> = {
  missing: "sign the request with the host key (X-Hearth-* headers and Authorization: HearthAgent)",
  malformed: "the agent signature headers are malformed",
  stale: "the request's time is more than 5 minutes off; check the node's clock",
  replayed: "this request was seen before",
  "unknown-host": "no such host in this fleet (or its SSH host key is not generated yet)",
  "wrong-key": "the key does not match the host's SSH host key in secrets/manifest.json",
  "bad-signature": "the request's signature does not verify",
};
