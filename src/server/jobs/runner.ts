// Runs `hearth serve`'s build jobs: a FIFO queue with a concurrency limit, one `nix build` per
// job in its own process group, its progress and log parsed and stored as it happens, and the
// built files copied out of the Nix store as the job's artifacts.
import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, readdir, rm, stat } from "node:fs/promises";
import { basename, isAbsolute, join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import type { ArtifactRow, Db } from "../db.js";
import type { JobEvent, JobProgress, JobSummary } from "../wire.js";
import { NixProgress } from "./nix-log.js";

export const INSTALL_HINT = "apt-get install nix-bin (Debian) or see https://nixos.org/download";

/** How long `nix build` gets after SIGTERM to stop its builders before the group gets SIGKILL. */
export const CANCEL_GRACE_MS = 5000;

/** At most this often a running job's progress is written and sent (4 per second). */
const PROGRESS_INTERVAL_MS = 250;

/** Flakes with `nix build` and `--json` arrived in Nix 2.4. */
const MIN_NIX: [number, number] = [2, 4];

/** How long after nix exits its pipes may stay open before hearth stops reading them. */
const DRAIN_MS = 2000;

// A longer stderr line (a huge evaluation trace) is cut; it is only ever shown, not parsed for progress.
const MAX_LINE = 1 << 20;

export interface JobRunnerOptions {
  db: Db;
  /** How many builds run at once; the rest wait in order. */
  concurrency: number;
  /** The `nix` executable; default `nix` from PATH. */
  nixBin?: string;
  /** Passed as `--builders` (remote builders, e.g. "ssh://builder x86_64-linux"). */
  builders?: string;
  /** Artifacts are copied to `<artifactsDir>/<jobId>/`. */
  artifactsDir: string;
  onEvent?: (jobId: number, event: JobEvent) => void;
  /** SIGTERM → SIGKILL delay on cancel; default CANCEL_GRACE_MS (tests shorten it). */
  cancelGraceMs?: number;
}

export interface BuildRequest {
  host: string;
  format: string;
  /** The generated flake's directory. */
  flakeDir: string;
  /** The flake output attribute to build, e.g. `ponkila-ephemeral-beta-kexec`. */
  attr: string;
}

export interface NixStatus {
  available: boolean;
  version?: string;
  /** What to do when Nix is missing. */
  installHint: string;
  /** Why Nix is not usable, when it is not. */
  problem?: string;
}

/** Nix is missing or too old: the job was not created. */
export class NixUnavailableError extends Error {
  override name = "NixUnavailableError";
  readonly code = "nix-unavailable";
  constructor(
    message: string,
    readonly status: NixStatus,
  ) {
    super(message);
  }
}

/** The request itself is wrong (no flake there, odd attribute name, runner closed). */
export class JobRequestError extends Error {
  override name = "JobRequestError";
  readonly code = "bad-job-request";
}

interface RunningJob {
  id: number;
  child: ChildProcess;
  pgid?: number;
  nix: NixProgress;
  exited: boolean;
  cancelReason?: string;
  killTimer?: NodeJS.Timeout;
  progressTimer?: NodeJS.Timeout;
  drainTimer?: NodeJS.Timeout;
  pendingProgress?: JobProgress;
  lastProgressWrite: number;
}

const FINAL_STATES = new Set(["succeeded", "failed", "cancelled", "interrupted"]);

export class JobRunner {
  private readonly db: Db;
  private readonly concurrency: number;
  private readonly nixBin: string;
  private readonly builders?: string;
  private readonly artifactsDir: string;
  private readonly onEvent?: (jobId: number, event: JobEvent) => void;
  private readonly cancelGraceMs: number;
  private readonly queue: number[] = [];
  private readonly running = new Map<number, RunningJob>();
  private readonly waiters = new Map<number, ((job: JobSummary) => void)[]>();
  private nixStatus?: NixStatus;
  private closed = false;

  constructor(opts: JobRunnerOptions) {
    if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) {
      throw new JobRequestError(`concurrency must be a whole number ≥ 1, got ${opts.concurrency}`);
    }
    this.db = opts.db;
    this.concurrency = opts.concurrency;
    this.nixBin = opts.nixBin ?? "nix";
    if (opts.builders !== undefined && opts.builders !== "") this.builders = opts.builders;
    this.artifactsDir = resolve(opts.artifactsDir);
    this.onEvent = opts.onEvent;
    this.cancelGraceMs = opts.cancelGraceMs ?? CANCEL_GRACE_MS;
  }

  /**
   * Whether `nix` runs here, and its version. Synchronous (one `nix --version`, a few ms) so
   * callers can answer at once; a working Nix is remembered, a missing one is asked again next
   * time, so installing Nix needs no server restart.
   */
  detectNix(): NixStatus {
    if (this.nixStatus) return this.nixStatus;
    const r = spawnSync(this.nixBin, ["--version"], { encoding: "utf8", timeout: 10_000, stdio: ["ignore", "pipe", "pipe"] });
    return this.noteNix(nixStatusOf(this.nixBin, r.error, r.status ?? r.signal, r.stdout, r.stderr));
  }

  /** detectNix without holding the event loop while `nix --version` runs (the server's way). */
  detectNixAsync(): Promise<NixStatus> {
    if (this.nixStatus) return Promise.resolve(this.nixStatus);
    return new Promise((ok) => {
      execFile(this.nixBin, ["--version"], { encoding: "utf8", timeout: 10_000 }, (error, stdout, stderr) => {
        const code = (error as NodeJS.ErrnoException | null)?.code;
        // execFile reports a non-zero exit as an error with the exit code as `code`.
        const spawnError = error && typeof code === "string" ? error : undefined;
        const status = error ? (typeof code === "number" ? code : (error as { signal?: string }).signal ?? 1) : 0;
        ok(this.noteNix(nixStatusOf(this.nixBin, spawnError, status, stdout, stderr)));
      });
    });
  }

  private noteNix(status: NixStatus): NixStatus {
    if (status.available) this.nixStatus = status;
    return status;
  }

  /**
   * Queue a build and return its job id; it starts as soon as a slot is free (FIFO). Refuses,
   * creating no job, when Nix is unavailable (NixUnavailableError) or the request is wrong
   * (JobRequestError); both carry a `code` for the HTTP layer.
   */
  enqueue(req: BuildRequest): number {
    const flakeDir = checkRequest(req);
    if (this.closed) throw new JobRequestError("the job runner is shutting down; no new builds are accepted");
    const nix = this.detectNix();
    if (!nix.available) {
      throw new NixUnavailableError(`cannot build ${req.host}: ${nix.problem}. Install Nix: ${nix.installHint}`, nix);
    }
    const id = this.db.createJob({ kind: "build", host: req.host, format: req.format, flakeDir, attr: req.attr });
    this.queue.push(id);
    this.emitState(id);
    this.pump();
    return id;
  }

  /**
   * Stop a job: a queued one leaves the queue; a running one's process group gets SIGTERM (Nix
   * then stops its builders) and SIGKILL after CANCEL_GRACE_MS. Returns false when the job is
   * not queued or running here (already finished, or unknown).
   */
  cancel(id: number, reason = "cancelled by a user"): boolean {
    const queued = this.queue.indexOf(id);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.finish(id, { state: "cancelled", reason });
      return true;
    }
    const run = this.running.get(id);
    if (!run || run.exited) return false;
    if (run.cancelReason !== undefined) return true;
    run.cancelReason = reason;
    if (run.pgid === undefined) return true; // never started: its close handler finishes it
    const pgid = run.pgid;
    killGroup(pgid, "SIGTERM");
    run.killTimer = setTimeout(() => {
      // Nix puts each local builder in a session of its own; SIGKILLed, Nix cannot stop them, so
      // find them (while still Nix's children) and kill their groups too.
      const builders = descendantGroups(pgid);
      killGroup(pgid, "SIGKILL");
      for (const group of builders) killGroup(group, "SIGKILL");
    }, this.cancelGraceMs);
    // The child process itself keeps Node alive while it runs; this timer must not.
    run.killTimer.unref();
    return true;
  }

  /** Resolves with the job once it has finished (at once when it already has); this runner's jobs only. */
  wait(id: number): Promise<JobSummary> {
    const job = this.db.summary(id);
    if (!job) return Promise.reject(new JobRequestError(`there is no job ${id}`));
    if (FINAL_STATES.has(job.state)) return Promise.resolve(job);
    if (!this.queue.includes(id) && !this.running.has(id)) {
      return Promise.reject(new JobRequestError(`job ${id} is ${job.state} but not run by this server (left over from a previous one?)`));
    }
    return new Promise((done) => {
      const list = this.waiters.get(id) ?? [];
      list.push(done);
      this.waiters.set(id, list);
    });
  }

  /**
   * Cancel everything queued or running and wait until every `nix build` has exited. Await it
   * before closing the database, so the jobs' final states are recorded.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const id of [...this.queue]) this.cancel(id, "the server shut down before the job started");
    const running = [...this.running.keys()];
    for (const id of running) this.cancel(id, "the server shut down while the job was running");
    await Promise.all(running.map((id) => this.wait(id)));
  }

  private pump(): void {
    while (!this.closed && this.running.size < this.concurrency && this.queue.length > 0) {
      this.start(this.queue.shift()!);
    }
  }

  private start(id: number): void {
    const job = this.db.getJob(id)!;
    // -L before --log-format: older Nix (2.8 here) treats -L as "--log-format bar-with-logs" and
    // the last flag wins; internal-json carries the build output either way. --json, not --print-out-paths, which
    // Nix 2.8 lacks. `path:` so a flake inside a git checkout sees its untracked generated files.
    const args = [
      "build",
      `path:${job.flakeDir}#${job.attr}`,
      "-L",
      "--log-format",
      "internal-json",
      "--no-link",
      "--json",
      "--extra-experimental-features",
      "nix-command flakes",
    ];
    if (this.builders !== undefined) args.push("--builders", this.builders);

    // detached: nix leads a process group (and session) of its own, so one signal reaches it and
    // the helpers it starts, and a Ctrl-C to the server's terminal does not.
    const child = spawn(this.nixBin, args, { detached: true, stdio: ["ignore", "pipe", "pipe"] });
    const run: RunningJob = { id, child, nix: new NixProgress(), exited: false, lastProgressWrite: 0 };
    if (child.pid !== undefined) run.pgid = child.pid;
    this.running.set(id, run);
    this.db.updateJob(id, { state: "running", startedAt: new Date().toISOString(), pid: child.pid ?? null, pgid: run.pgid ?? null });
    this.emitState(id);

    let spawnError: Error | undefined;
    child.on("error", (e) => {
      spawnError = e;
    });
    child.on("exit", () => {
      run.exited = true;
      // "close" waits for the pipes, which a surviving grandchild may hold open forever; once
      // nix itself is gone, give its output a moment to drain, then stop reading.
      run.drainTimer = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, DRAIN_MS);
      run.drainTimer.unref();
    });

    const stdout: Buffer[] = [];
    child.stdout!.on("data", (b: Buffer) => stdout.push(b));
    this.readLines(child, (lines) => this.onStderr(run, lines));

    child.on("close", (code, signal) => {
      run.exited = true;
      if (run.killTimer) clearTimeout(run.killTimer);
      if (run.drainTimer) clearTimeout(run.drainTimer);
      if (run.progressTimer) clearTimeout(run.progressTimer);
      this.flushProgress(run);
      void this.complete(run, { code, signal, spawnError, stdout: Buffer.concat(stdout).toString("utf8") });
    });
  }

  private readLines(child: ChildProcess, onLines: (lines: string[]) => void): void {
    let rest = "";
    const stderr = child.stderr!;
    stderr.setEncoding("utf8");
    stderr.on("data", (chunk: string) => {
      rest += chunk;
      const lines = rest.split("\n");
      rest = lines.pop()!;
      if (rest.length > MAX_LINE) {
        lines.push(rest.slice(0, MAX_LINE) + " [line cut by hearth]");
        rest = "";
      }
      if (lines.length > 0) onLines(lines);
    });
    stderr.on("end", () => {
      if (rest !== "") onLines([rest]);
    });
  }

  private onStderr(run: RunningJob, lines: string[]): void {
    const log: string[] = [];
    for (const line of lines) {
      const u = run.nix.feed(line.length > MAX_LINE ? line.slice(0, MAX_LINE) : line);
      log.push(...u.log);
      if (u.progress) run.pendingProgress = u.progress;
    }
    if (log.length > 0) {
      this.store(run.id, "its log", () => this.db.appendLogs(run.id, log));
      for (const line of log) this.emit(run.id, { type: "log", line });
    }
    if (run.pendingProgress) this.scheduleProgress(run);
  }

  private scheduleProgress(run: RunningJob): void {
    const wait = run.lastProgressWrite + PROGRESS_INTERVAL_MS - Date.now();
    if (wait <= 0) return this.flushProgress(run);
    if (!run.progressTimer) {
      run.progressTimer = setTimeout(() => {
        run.progressTimer = undefined;
        this.flushProgress(run);
      }, wait);
      run.progressTimer.unref();
    }
  }

  private flushProgress(run: RunningJob): void {
    const progress = run.pendingProgress;
    if (!progress) return;
    run.pendingProgress = undefined;
    run.lastProgressWrite = Date.now();
    this.store(run.id, "its progress", () => this.db.updateJob(run.id, { progress }));
    this.emit(run.id, { type: "progress", progress });
  }

  private async complete(
    run: RunningJob,
    exit: { code: number | null; signal: NodeJS.Signals | null; spawnError?: Error; stdout: string },
  ): Promise<void> {
    const { id } = run;
    try {
      if (run.cancelReason !== undefined) {
        this.finish(id, { state: "cancelled", reason: run.cancelReason });
      } else if (exit.spawnError) {
        this.finish(id, { state: "failed", reason: `could not run ${this.nixBin}: ${exit.spawnError.message}. Install Nix: ${INSTALL_HINT}` });
      } else if (exit.code !== 0) {
        const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
        const reason = run.nix.failureReason() ?? `nix build ${how} without an error message; see the job log`;
        this.finish(id, { state: "failed", reason });
      } else {
        const outPaths = parseOutPaths(exit.stdout);
        const dir = join(this.artifactsDir, String(id));
        try {
          const artifacts = await copyArtifacts(outPaths, dir);
          for (const a of artifacts) this.db.addArtifact(id, a);
          this.finish(id, { state: "succeeded" });
        } catch (e) {
          await rm(dir, { recursive: true, force: true });
          this.finish(id, { state: "failed", reason: `the build succeeded but its outputs could not be copied: ${(e as Error).message}` });
        }
      }
    } catch (e) {
      // A bug or a database failure: still end the job, so it never hangs in "running".
      this.finish(id, { state: "failed", reason: `hearth failed while finishing the job: ${(e as Error).message}` });
    } finally {
      this.running.delete(id);
      this.pump();
    }
  }

  private finish(id: number, end: { state: "succeeded" | "failed" | "cancelled"; reason?: string }): void {
    this.store(id, "its end", () =>
      this.db.updateJob(id, { state: end.state, reason: end.reason ?? null, finishedAt: new Date().toISOString(), pid: null, pgid: null }),
    );
    const job = this.emitState(id);
    const waiting = this.waiters.get(id) ?? [];
    this.waiters.delete(id);
    if (job) for (const done of waiting) done(job);
  }

  private emitState(id: number): JobSummary | undefined {
    const job = this.store(id, "its state", () => this.db.summary(id));
    if (job) this.emit(id, { type: "state", job });
    return job;
  }

  /**
   * A database call from an event handler (stderr, timers, process exit): a failure there (disk
   * full, database closed under a running job) is reported, never thrown into Node's event loop.
   */
  private store<T>(id: number, what: string, write: () => T): T | undefined {
    try {
      return write();
    } catch (e) {
      console.error(`hearth: could not record ${what} for job ${id}: ${(e as Error).message}`);
      return undefined;
    }
  }

  private emit(id: number, event: JobEvent): void {
    if (!this.onEvent) return;
    try {
      this.onEvent(id, event);
    } catch (e) {
      // A listener's bug must not stop the build or its bookkeeping.
      console.error(`hearth: a job event listener failed on job ${id}:`, e);
    }
  }
}

/** What `nix --version` said, as a NixStatus. */
function nixStatusOf(nixBin: string, error: Error | undefined, exit: number | string | null, stdout: string, stderr: string): NixStatus {
  const fail = (problem: string): NixStatus => ({ available: false, installHint: INSTALL_HINT, problem });
  if (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return fail(code === "ENOENT" ? `${nixBin} was not found` : `\`${nixBin} --version\` failed: ${error.message}`);
  }
  if (exit !== 0) return fail(`\`${nixBin} --version\` exited with ${exit}: ${stderr.trim()}`);
  const m = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(stdout);
  if (!m) return fail(`\`${nixBin} --version\` printed no version: ${stdout.trim()}`);
  const version = m[0];
  const [major, minor] = [Number(m[1]), Number(m[2])];
  if (major < MIN_NIX[0] || (major === MIN_NIX[0] && minor < MIN_NIX[1])) {
    return { ...fail(`Nix ${version} is too old; hearth needs ${MIN_NIX.join(".")} or newer for flakes`), version };
  }
  return { available: true, version, installHint: INSTALL_HINT };
}

/** Validates a request; returns its flake directory as an absolute path. */
function checkRequest(req: BuildRequest): string {
  for (const key of ["host", "format", "flakeDir", "attr"] as const) {
    if (typeof req[key] !== "string" || req[key] === "") throw new JobRequestError(`a build needs a ${key}`);
  }
  // The attribute goes into a flake reference: no quoting, no options, no URL syntax.
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/.test(req.attr)) {
    throw new JobRequestError(`"${req.attr}" is not a flake attribute hearth builds (letters, digits, _ . + - only)`);
  }
  const flakeDir = resolve(req.flakeDir);
  if (/[#?%\s]/.test(flakeDir)) {
    throw new JobRequestError(`the flake directory ${flakeDir} contains #, ?, % or a space, which Nix's flake references cannot carry; move it`);
  }
  if (!existsSync(join(flakeDir, "flake.nix")) || !statSync(flakeDir).isDirectory()) {
    throw new JobRequestError(`there is no flake.nix in ${flakeDir}; run \`hearth generate\` first`);
  }
  return flakeDir;
}

/** The store paths `nix build --json` printed: `[{ drvPath, outputs: { out: "/nix/store/…" } }]`. */
export function parseOutPaths(stdout: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    throw new Error(`nix build printed no JSON list of outputs (it printed ${JSON.stringify(stdout.slice(0, 200))})`);
  }
  const paths: string[] = [];
  if (Array.isArray(parsed)) {
    for (const item of parsed) {
      const outputs = (item as { outputs?: unknown })?.outputs;
      if (outputs && typeof outputs === "object") {
        for (const p of Object.values(outputs)) if (typeof p === "string" && isAbsolute(p)) paths.push(p);
      }
    }
  }
  if (paths.length === 0) throw new Error(`nix build reported no output paths (it printed ${JSON.stringify(stdout.slice(0, 200))})`);
  return paths;
}

/**
 * Copy the build's files into `dir`: a file output is one artifact (named without its store
 * hash); a directory output gives its regular files, one level deep. Symlinks are followed
 * (boot-media outputs are often link farms into other store paths); subdirectories are not.
 */
export async function copyArtifacts(outPaths: string[], dir: string): Promise<Omit<ArtifactRow, "jobId">[]> {
  await mkdir(dir, { recursive: true });
  const sources: { name: string; path: string }[] = [];
  for (const out of outPaths) {
    const s = await stat(out);
    if (s.isFile()) {
      sources.push({ name: storeName(out), path: out });
    } else if (s.isDirectory()) {
      for (const entry of (await readdir(out)).sort()) {
        const path = join(out, entry);
        const es = await stat(path).catch(() => undefined); // a dangling link is no artifact
        if (es?.isFile()) sources.push({ name: entry, path });
      }
    }
  }
  const taken = new Set<string>();
  const artifacts: Omit<ArtifactRow, "jobId">[] = [];
  for (const src of sources) {
    let name = src.name;
    for (let n = 2; taken.has(name); n++) name = `${n}-${src.name}`;
    taken.add(name);
    const dest = join(dir, name);
    artifacts.push({ name, path: dest, ...(await copyHashing(src.path, dest)) });
  }
  return artifacts;
}

/** Copy a file and hash it in the same pass (boot images are large; read them once). */
async function copyHashing(src: string, dest: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash("sha256");
  let size = 0;
  await pipeline(
    createReadStream(src),
    async function* (chunks: AsyncIterable<Buffer>) {
      for await (const chunk of chunks) {
        hash.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    },
    createWriteStream(dest, { flags: "wx" }),
  );
  return { size, sha256: hash.digest("hex") };
}

/** `/nix/store/<hash>-nixos.iso` → `nixos.iso`. */
function storeName(path: string): string {
  const base = basename(path);
  return /^[0-9a-z]{32}-/.test(base) ? base.slice(33) : base;
}

/**
 * Process groups of every descendant of the processes in group `pgid`, other than that group
 * (Linux /proc; empty elsewhere).
 */
export function descendantGroups(pgid: number): number[] {
  const procs: { pid: number; ppid: number; pgrp: number }[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ")".
      const [, ppid, pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      procs.push({ pid: Number(entry), ppid: Number(ppid), pgrp: Number(pgrp) });
    } catch {
      // It ended while we looked.
    }
  }
  const inTree = new Set(procs.filter((p) => p.pgrp === pgid).map((p) => p.pid));
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) {
      if (!inTree.has(p.pid) && inTree.has(p.ppid)) {
        inTree.add(p.pid);
        grew = true;
      }
    }
  }
  return [...new Set(procs.filter((p) => inTree.has(p.pid) && p.pgrp !== pgid).map((p) => p.pgrp))];
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (e) {
    // ESRCH: the group is already gone, which is what we wanted. Anything else (EPERM) is
    // reported, not thrown: this runs from timers, where a throw would end the server.
    if ((e as NodeJS.ErrnoException).code !== "ESRCH") console.error(`hearth: could not send ${signal} to process group ${pgid}: ${(e as Error).message}`);
  }
}
