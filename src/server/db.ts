// hearth serve's embedded store (SQLite through better-sqlite3): build jobs with their logs and
// artifacts, the audit log, login sessions and server settings. Synchronous on purpose: every
// statement is a few microseconds and keeps the job state machine free of interleavings.
import Database from "better-sqlite3";
import type { Artifact, JobProgress, JobState, JobSummary } from "./wire.js";
import { failureSummary } from "./jobs/nix-log.js";

export interface NewBuildJob {
  kind: "build";
  host: string;
  format: string;
  /** The flake directory `nix build` runs on, and the attribute it builds there. */
  flakeDir: string;
  attr: string;
}

/** A stored job: the wire summary's fields (less artifacts, kept apart) plus what runs it. */
export interface JobRow extends NewBuildJob, Omit<JobSummary, "kind" | "host" | "format" | "artifacts"> {
  /** The `nix build` process and its process group while it runs. */
  pid?: number;
  pgid?: number;
}

/** Fields `updateJob` may change; `null` clears an optional one. */
export interface JobPatch {
  state?: JobState;
  startedAt?: string | null;
  finishedAt?: string | null;
  progress?: JobProgress;
  reason?: string | null;
  pid?: number | null;
  pgid?: number | null;
}

export interface LogLine {
  seq: number;
  line: string;
}

export interface ArtifactRow {
  jobId: number;
  name: string;
  /** Where the copy lives on the server's disk. */
  path: string;
  size: number;
  sha256: string;
}

export interface AuditEntry {
  id: number;
  at: string;
  user: string;
  action: string;
  target: string;
  detail?: string;
}

/**
 * A login session. The server stores digests only (auth.ts passes SHA-256 of the cookie's token
 * as `id` and of the CSRF token as `csrf`), so the table opens nothing by itself.
 */
export interface SessionRow {
  id: string;
  user: string;
  csrf: string;
  /** How it was made: "password" (a login) or "local" (loopback, no login). */
  mode: "local" | "password";
  createdAt: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

export const INTERRUPTED_REASON = "the server stopped while the job was running";
export const INTERRUPTED_QUEUED_REASON = "the server stopped before the job started; start the build again";

// Append-only: a database at version n runs migrations n+1.. in order, each in one transaction,
// and records the new version in `PRAGMA user_version` (SQLite's own schema-version slot).
const MIGRATIONS: string[] = [
  `CREATE TABLE jobs (
     id          INTEGER PRIMARY KEY AUTOINCREMENT,
     kind        TEXT NOT NULL CHECK (kind IN ('build')),
     host        TEXT NOT NULL,
     format      TEXT NOT NULL,
     flake_dir   TEXT NOT NULL,
     attr        TEXT NOT NULL,
     state       TEXT NOT NULL CHECK (state IN ('queued','running','succeeded','failed','cancelled','interrupted')),
     created_at  TEXT NOT NULL,
     started_at  TEXT,
     finished_at TEXT,
     progress    TEXT NOT NULL,
     reason      TEXT,
     pid         INTEGER,
     pgid        INTEGER
   );
   CREATE INDEX jobs_host ON jobs (host, id);
   CREATE INDEX jobs_state ON jobs (state);
   CREATE TABLE job_logs (
     job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
     seq    INTEGER NOT NULL,
     line   TEXT NOT NULL,
     PRIMARY KEY (job_id, seq)
   ) WITHOUT ROWID;
   CREATE TABLE artifacts (
     job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
     name   TEXT NOT NULL,
     path   TEXT NOT NULL,
     size   INTEGER NOT NULL,
     sha256 TEXT NOT NULL,
     PRIMARY KEY (job_id, name)
   );
   CREATE TABLE audit_log (
     id     INTEGER PRIMARY KEY AUTOINCREMENT,
     at     TEXT NOT NULL,
     user   TEXT NOT NULL,
     action TEXT NOT NULL,
     target TEXT NOT NULL,
     detail TEXT
   );
   CREATE TABLE sessions (
     id         TEXT PRIMARY KEY,
     user       TEXT NOT NULL,
     csrf       TEXT NOT NULL,
     created_at TEXT NOT NULL,
     expires_at INTEGER NOT NULL
   );
   CREATE INDEX sessions_expiry ON sessions (expires_at);
   CREATE TABLE settings (
     key   TEXT PRIMARY KEY,
     value TEXT NOT NULL
   );`,
  // Sessions keep only digests of their tokens and the auth mode they were made under. Rows of
  // version 1 hold tokens in clear and no mode: they are dropped (everyone logs in again).
  `DROP TABLE sessions;
   CREATE TABLE sessions (
     id_hash    TEXT PRIMARY KEY,
     user       TEXT NOT NULL,
     csrf_hash  TEXT NOT NULL,
     auth_mode  TEXT NOT NULL CHECK (auth_mode IN ('local','password')),
     created_at TEXT NOT NULL,
     expires_at INTEGER NOT NULL
   );
   CREATE INDEX sessions_expiry ON sessions (expires_at);`,
  // Pull nodes (issue 14): each node's last check-in, the release version each host may fetch,
  // and rollouts with their state (src/core/pull/rollout.ts) as JSON.
  `CREATE TABLE pull_nodes (
     id        TEXT PRIMARY KEY,
     host      TEXT,
     key       TEXT NOT NULL,
     phase     TEXT NOT NULL,
     version   INTEGER NOT NULL,
     last_seen INTEGER NOT NULL,
     detail    TEXT,
     booted    TEXT,
     inventory TEXT,
     log       TEXT,
     image     TEXT
   );
   CREATE TABLE pull_targets (
     host    TEXT PRIMARY KEY,
     version INTEGER NOT NULL
   );
   CREATE TABLE rollouts (
     id         TEXT PRIMARY KEY,
     state      TEXT NOT NULL,
     policy     TEXT NOT NULL,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL
   );`,
  // Running the fleet from the browser (issue 15): push deploys with their events, the
  // configuration each host got last (for the next diff), read-only and admin users, machine and
  // Ethereum state with a short history, and the alert engine's state.
  `CREATE TABLE deploys (
     id           INTEGER PRIMARY KEY AUTOINCREMENT,
     created_at   TEXT NOT NULL,
     user         TEXT NOT NULL,
     hosts        TEXT NOT NULL,
     options      TEXT NOT NULL,
     fleet_commit TEXT,
     fleet_dirty  INTEGER NOT NULL DEFAULT 0,
     status       TEXT NOT NULL,
     plan         TEXT,
     results      TEXT,
     paused       TEXT,
     updated_at   TEXT NOT NULL
   );
   CREATE TABLE deploy_events (
     deploy_id INTEGER NOT NULL REFERENCES deploys (id) ON DELETE CASCADE,
     seq       INTEGER NOT NULL,
     event     TEXT NOT NULL,
     PRIMARY KEY (deploy_id, seq)
   ) WITHOUT ROWID;
   CREATE TABLE deployed_configs (
     host      TEXT PRIMARY KEY,
     deploy_id INTEGER NOT NULL,
     files     TEXT NOT NULL,
     system    TEXT
   );
   CREATE TABLE users (
     name       TEXT PRIMARY KEY,
     hash       TEXT NOT NULL,
     role       TEXT NOT NULL,
     created_at TEXT NOT NULL
   );
   CREATE TABLE machine_states (
     host  TEXT NOT NULL,
     at    INTEGER NOT NULL,
     state TEXT NOT NULL,
     PRIMARY KEY (host, at)
   ) WITHOUT ROWID;
   CREATE TABLE eth_health (
     host   TEXT NOT NULL,
     at     INTEGER NOT NULL,
     health TEXT NOT NULL,
     PRIMARY KEY (host, at)
   ) WITHOUT ROWID;
   CREATE TABLE alerts (
     id    INTEGER PRIMARY KEY CHECK (id = 1),
     state TEXT NOT NULL
   );
   CREATE TABLE alert_log (
     id      INTEGER PRIMARY KEY AUTOINCREMENT,
     at      TEXT NOT NULL,
     host    TEXT NOT NULL,
     key     TEXT NOT NULL,
     kind    TEXT NOT NULL,
     summary TEXT NOT NULL,
     sent    TEXT
   );`,
];

/** The schema version this code writes; a newer database is refused rather than damaged. */
export const SCHEMA_VERSION = MIGRATIONS.length;

export class DbError extends Error {
  override name = "DbError";
}

interface JobRecord {
  id: number;
  kind: "build";
  host: string;
  format: string;
  flake_dir: string;
  attr: string;
  state: JobState;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  progress: string;
  reason: string | null;
  pid: number | null;
  pgid: number | null;
}

const PATCH_COLUMNS: Record<keyof JobPatch, string> = {
  state: "state",
  startedAt: "started_at",
  finishedAt: "finished_at",
  progress: "progress",
  reason: "reason",
  pid: "pid",
  pgid: "pgid",
};

const EMPTY_PROGRESS: JobProgress = { done: 0, expected: 0, running: 0, downloadsDone: 0, downloadsExpected: 0 };

/**
 * Open (creating if needed) hearth's database and bring its schema up to date.
 *
 *     const db = openDb(join(stateDir, "hearth.db"));   // or openDb(":memory:") in tests
 */
export function openDb(path: string): Db {
  return new Db(path);
}

export class Db {
  readonly sql: Database.Database;

  constructor(path: string) {
    try {
      this.sql = new Database(path);
    } catch (e) {
      throw new DbError(`cannot open the database ${path}: ${(e as Error).message}; check that its directory exists and is writable`);
    }
    // WAL: readers (the HTTP API) never wait for the runner's writes. NORMAL sync is safe with
    // WAL (a power cut loses at most the last commits, never consistency) and keeps log appends cheap.
    this.sql.pragma("journal_mode = WAL");
    this.sql.pragma("synchronous = NORMAL");
    this.sql.pragma("foreign_keys = ON");
    this.sql.pragma("busy_timeout = 5000");
    this.migrate(path);
  }

  private migrate(path: string): void {
    const current = this.sql.pragma("user_version", { simple: true }) as number;
    if (current > SCHEMA_VERSION) {
      throw new DbError(
        `the database ${path} has schema version ${current}, newer than this hearth understands (${SCHEMA_VERSION}); upgrade hearth or use another state directory`,
      );
    }
    for (let v = current; v < SCHEMA_VERSION; v++) {
      this.sql.transaction(() => {
        this.sql.exec(MIGRATIONS[v]!);
        this.sql.pragma(`user_version = ${v + 1}`);
      }).immediate();
    }
  }

  close(): void {
    this.sql.close();
  }

  // ---- jobs -------------------------------------------------------------------------------

  /** A new job in state `queued`; returns its id. */
  createJob(job: NewBuildJob): number {
    const r = this.sql
      .prepare(
        `INSERT INTO jobs (kind, host, format, flake_dir, attr, state, created_at, progress)
         VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)`,
      )
      .run(job.kind, job.host, job.format, job.flakeDir, job.attr, now(), JSON.stringify(EMPTY_PROGRESS));
    return Number(r.lastInsertRowid);
  }

  getJob(id: number): JobRow | undefined {
    const r = this.sql.prepare(`SELECT * FROM jobs WHERE id = ?`).get(id) as JobRecord | undefined;
    return r && toJobRow(r);
  }

  /** Newest first. */
  listJobs(opts: { host?: string; limit?: number } = {}): JobRow[] {
    const limit = opts.limit ?? 100;
    const rows = (
      opts.host === undefined
        ? this.sql.prepare(`SELECT * FROM jobs ORDER BY id DESC LIMIT ?`).all(limit)
        : this.sql.prepare(`SELECT * FROM jobs WHERE host = ? ORDER BY id DESC LIMIT ?`).all(opts.host, limit)
    ) as JobRecord[];
    return rows.map(toJobRow);
  }

  updateJob(id: number, patch: JobPatch): void {
    const sets: string[] = [];
    const values: unknown[] = [];
    for (const [key, value] of Object.entries(patch) as [keyof JobPatch, unknown][]) {
      if (value === undefined) continue;
      const column = PATCH_COLUMNS[key];
      if (column === undefined) throw new DbError(`updateJob: ${key} is not a job field that can change`);
      sets.push(`${column} = ?`);
      values.push(key === "progress" ? JSON.stringify(value) : value);
    }
    if (sets.length === 0) return;
    const r = this.sql.prepare(`UPDATE jobs SET ${sets.join(", ")} WHERE id = ?`).run(...values, id);
    if (r.changes === 0) throw new DbError(`there is no job ${id}`);
  }

  /** Append one line to a job's log; returns its sequence number (1, 2, ...). */
  appendLog(id: number, line: string): number {
    return this.appendLogs(id, [line]);
  }

  /** Append lines in one transaction; returns the last sequence number. */
  appendLogs(id: number, lines: string[]): number {
    const next = this.sql.prepare(`SELECT COALESCE(MAX(seq), 0) AS seq FROM job_logs WHERE job_id = ?`);
    const insert = this.sql.prepare(`INSERT INTO job_logs (job_id, seq, line) VALUES (?, ?, ?)`);
    return this.sql.transaction(() => {
      let seq = (next.get(id) as { seq: number }).seq;
      for (const line of lines) insert.run(id, ++seq, line);
      return seq;
    })();
  }

  /** Log lines after `afterSeq` (0: from the start), oldest first. */
  logs(id: number, afterSeq = 0, limit = 100_000): LogLine[] {
    return this.sql
      .prepare(`SELECT seq, line FROM job_logs WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?`)
      .all(id, afterSeq, limit) as LogLine[];
  }

  addArtifact(jobId: number, a: Omit<ArtifactRow, "jobId">): void {
    this.sql
      .prepare(`INSERT INTO artifacts (job_id, name, path, size, sha256) VALUES (?, ?, ?, ?, ?)`)
      .run(jobId, a.name, a.path, a.size, a.sha256);
  }

  artifacts(jobId: number): ArtifactRow[] {
    return this.sql
      .prepare(`SELECT job_id AS jobId, name, path, size, sha256 FROM artifacts WHERE job_id = ? ORDER BY name`)
      .all(jobId) as ArtifactRow[];
  }

  /** A job in wire form, artifacts included. */
  summary(id: number): JobSummary | undefined {
    const job = this.getJob(id);
    return job && toSummary(job, this.artifacts(id));
  }

  /** Each host's most recent build job (for the hosts table's "last build" column). */
  lastBuildPerHost(): Map<string, JobSummary> {
    const rows = this.sql
      .prepare(`SELECT * FROM jobs WHERE id IN (SELECT MAX(id) FROM jobs WHERE kind = 'build' GROUP BY host)`)
      .all() as JobRecord[];
    return new Map(rows.map((r) => [r.host, toSummary(toJobRow(r), this.artifacts(r.id))]));
  }

  /**
   * At server start: jobs a previous server left running or queued cannot continue (their
   * `nix build` and the in-memory queue died with it), so they become `interrupted`. Queued
   * ones are not silently restarted: a build nobody is watching any more should not start by
   * itself after a restart. Returns the jobs it changed (with their old pid/pgid).
   */
  markInterrupted(): JobRow[] {
    return this.sql.transaction(() => {
      const rows = (this.sql.prepare(`SELECT * FROM jobs WHERE state IN ('running','queued') ORDER BY id`).all() as JobRecord[]).map(toJobRow);
      const update = this.sql.prepare(`UPDATE jobs SET state = 'interrupted', reason = ?, finished_at = ?, pid = NULL, pgid = NULL WHERE id = ?`);
      const at = now();
      for (const r of rows) update.run(r.state === "running" ? INTERRUPTED_REASON : INTERRUPTED_QUEUED_REASON, at, r.id);
      return rows;
    }).immediate();
  }

  // ---- users (besides the first admin, who is in the settings) ---------------------------------

  getUser(name: string): { hash: string; role: "admin" | "viewer" } | undefined {
    return this.sql.prepare(`SELECT hash, role FROM users WHERE name = ?`).get(name) as { hash: string; role: "admin" | "viewer" } | undefined;
  }

  putUser(name: string, hash: string, role: "admin" | "viewer"): void {
    this.sql
      .prepare(`INSERT INTO users (name, hash, role, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET hash = excluded.hash, role = excluded.role`)
      .run(name, hash, role, new Date().toISOString());
  }

  deleteUser(name: string): boolean {
    return this.sql.prepare(`DELETE FROM users WHERE name = ?`).run(name).changes > 0;
  }

  invalidateUserSessions(name: string): void {
    this.sql.prepare(`DELETE FROM sessions WHERE user = ?`).run(name);
  }

  listUsers(): { name: string; role: "admin" | "viewer"; createdAt: string }[] {
    return this.sql.prepare(`SELECT name, role, created_at AS createdAt FROM users ORDER BY name`).all() as { name: string; role: "admin" | "viewer"; createdAt: string }[];
  }

  // ---- audit ------------------------------------------------------------------------------

  audit(e: { user: string; action: string; target: string; detail?: string }): void {
    this.sql
      .prepare(`INSERT INTO audit_log (at, user, action, target, detail) VALUES (?, ?, ?, ?, ?)`)
      .run(now(), e.user, e.action, e.target, e.detail ?? null);
  }

  /** Newest first. */
  auditLog(limit = 100): AuditEntry[] {
    const rows = this.sql.prepare(`SELECT * FROM audit_log ORDER BY id DESC LIMIT ?`).all(limit) as (Omit<AuditEntry, "detail"> & {
      detail: string | null;
    })[];
    return rows.map(({ detail, ...r }) => (detail === null ? r : { ...r, detail }));
  }

  // ---- sessions ---------------------------------------------------------------------------

  /** `id` and `csrf` are stored as given: callers pass digests, never the tokens. Mode defaults to "local". */
  createSession(s: { id: string; user: string; csrf: string; expiresAt: number; mode?: "local" | "password" }): void {
    this.sql
      .prepare(`INSERT INTO sessions (id_hash, user, csrf_hash, auth_mode, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`)
      .run(s.id, s.user, s.csrf, s.mode ?? "local", now(), s.expiresAt);
  }

  /** The session, unless it does not exist or expired by `nowMs`. */
  getSession(id: string, nowMs = Date.now()): SessionRow | undefined {
    const r = this.sql
      .prepare(
        `SELECT id_hash AS id, user, csrf_hash AS csrf, auth_mode AS mode, created_at AS createdAt, expires_at AS expiresAt FROM sessions WHERE id_hash = ?`,
      )
      .get(id) as SessionRow | undefined;
    return r && r.expiresAt > nowMs ? r : undefined;
  }

  deleteSession(id: string): void {
    this.sql.prepare(`DELETE FROM sessions WHERE id_hash = ?`).run(id);
  }

  /** Delete every session not made under `keep` (at the start of a login-required server); returns how many. */
  invalidateSessions(keep: "local" | "password"): number {
    return this.sql.prepare(`DELETE FROM sessions WHERE auth_mode <> ?`).run(keep).changes;
  }

  /** Delete sessions expired by `nowMs`; returns how many. */
  purgeExpired(nowMs = Date.now()): number {
    return this.sql.prepare(`DELETE FROM sessions WHERE expires_at <= ?`).run(nowMs).changes;
  }

  // ---- settings ---------------------------------------------------------------------------

  getSetting(key: string): string | undefined {
    const r = this.sql.prepare(`SELECT value FROM settings WHERE key = ?`).get(key) as { value: string } | undefined;
    return r?.value;
  }

  setSetting(key: string, value: string): void {
    this.sql.prepare(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`).run(key, value);
  }
}

/** A job row in wire form; artifacts are served at `/api/jobs/<id>/artifacts/<name>`. */
export function toSummary(job: JobRow, artifacts: ArtifactRow[]): JobSummary {
  const s: JobSummary = {
    id: job.id,
    kind: job.kind,
    host: job.host,
    format: job.format,
    state: job.state,
    createdAt: job.createdAt,
    progress: job.progress,
    artifacts: artifacts.map(
      (a): Artifact => ({ name: a.name, size: a.size, sha256: a.sha256, url: `/api/jobs/${job.id}/artifacts/${encodeURIComponent(a.name)}` }),
    ),
  };
  if (job.startedAt !== undefined) s.startedAt = job.startedAt;
  if (job.finishedAt !== undefined) s.finishedAt = job.finishedAt;
  if (job.reason !== undefined) s.reason = job.reason;
  const summary = failureSummary(job);
  if (summary !== undefined) s.failureSummary = summary;
  return s;
}

function toJobRow(r: JobRecord): JobRow {
  const row: JobRow = {
    id: r.id,
    kind: r.kind,
    host: r.host,
    format: r.format,
    flakeDir: r.flake_dir,
    attr: r.attr,
    state: r.state,
    createdAt: r.created_at,
    progress: parseProgress(r.progress),
  };
  if (r.started_at !== null) row.startedAt = r.started_at;
  if (r.finished_at !== null) row.finishedAt = r.finished_at;
  if (r.reason !== null) row.reason = r.reason;
  if (r.pid !== null) row.pid = r.pid;
  if (r.pgid !== null) row.pgid = r.pgid;
  return row;
}

function parseProgress(text: string): JobProgress {
  try {
    return { ...EMPTY_PROGRESS, ...(JSON.parse(text) as Partial<JobProgress>) };
  } catch {
    return { ...EMPTY_PROGRESS };
  }
}

function now(): string {
  return new Date().toISOString();
}
