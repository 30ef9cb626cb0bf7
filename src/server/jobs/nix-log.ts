// Reads `nix build --log-format internal-json` stderr, one line at a time, into hearth's
// JobProgress and readable log lines. Pure (no I/O, no clock) so recorded Nix output tests it.
//
// The protocol (Nix src/libutil/logging.{hh,cc}, JSONLogger): every line is `@nix ` + one JSON
// object with `action` "start" (id, type, text, level, fields, parent), "stop" (id), "result"
// (id, type, fields) or "msg" (level, msg). The counting mirrors Nix's own progress bar
// (src/libmain/progress-bar.cc, renderActivity), so hearth shows what `nix build` would show.
import type { JobProgress, JobSummary } from "../wire.js";

/** Nix's ActivityType values (logging.hh). */
export const Act = {
  copyPath: 100,
  fileTransfer: 101,
  realise: 102,
  copyPaths: 103,
  builds: 104,
  build: 105,
  substitute: 108,
  queryPathInfo: 109,
  postBuildHook: 110,
  buildWaiting: 111,
} as const;

/** Nix's ResultType values (logging.hh). */
export const Res = {
  buildLogLine: 101,
  setPhase: 104,
  progress: 105,
  setExpected: 106,
  postBuildLogLine: 107,
} as const;

/** Nix's Verbosity: 0 error, 1 warn, 2 notice, 3 info, 4 talkative ... */
const LVL_ERROR = 0;
const LVL_INFO = 3;

/** What one line of stderr changed. */
export interface NixLogUpdate {
  /** Lines for the job log, in order: `name> ` build output, Nix messages, plain stderr. */
  log: string[];
  /** The progress after this line, present only when it changed. */
  progress?: JobProgress;
}

interface Activity {
  type: number;
  text: string;
  parent?: string;
  /** Derivation or store path from the activity's fields, when it has one. */
  path?: string;
  /** Where a substitution fetches from, or the remote machine a build runs on. */
  source?: string;
  /** Package name shown before build output, as Nix's `-L` does (`hello> ...`). */
  name?: string;
  phase?: string;
  done: number;
  expected: number;
  running: number;
  failed: number;
  /** resSetExpected: ActivityType → expected, counted into that type's total while alive. */
  expectedByType: Map<number, number>;
  /** Order of last attention, to pick what "phase" shows (Nix moves an activity on output). */
  touched: number;
}

interface TypeTotals {
  /** Sums left by stopped activities, plus resSetExpected announcements. */
  done: number;
  failed: number;
  expected: number;
  live: Set<string>;
}

// How many recent lines of each build's output to keep for a failure reason, and for how many
// finished builds: a failed builder's lines arrive before Nix's error message names it.
const TAIL_LINES = 8;
const TAIL_BUILDS = 32;
// Plain (non-JSON) stderr lines kept: what a program Nix ran (git, ssh) said before it failed.
const PLAIN_TAIL = 8;

const ANSI = /\x1b\[[0-9;?]*[ -\/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;

/** Text without terminal colour and cursor sequences (Nix colours its messages). */
export function stripAnsi(s: string): string {
  return s.replace(ANSI, "");
}

/**
 * Incremental state of one `nix build` run.
 *
 *     const nix = new NixProgress();
 *     for (const line of stderrLines) { const u = nix.feed(line); save(u.log); if (u.progress) show(u.progress); }
 *     if (exitCode !== 0) reason = nix.failureReason();
 */
export class NixProgress {
  private readonly acts = new Map<string, Activity>();
  private readonly byType = new Map<number, TypeTotals>();
  private readonly tails = new Map<string, string[]>();
  private readonly errors: string[] = [];
  /** Where in the Nix files each error points (same index as `errors`), when Nix said. */
  private readonly errorAt: (string | undefined)[] = [];
  private readonly plainTail: string[] = [];
  private clock = 0;
  private last: JobProgress = emptyProgress();
  private lastKey = JSON.stringify(this.last);

  /** The progress as of the last line fed. */
  get progress(): JobProgress {
    return { ...this.last };
  }

  /** Feed one stderr line (without its newline). Never throws: anything unreadable is a log line. */
  feed(rawLine: string): NixLogUpdate {
    const line = rawLine.endsWith("\r") ? rawLine.slice(0, -1) : rawLine;
    const log: string[] = [];
    if (!line.startsWith("@nix ")) {
      this.plain(line, log);
      return { log };
    }
    const json = line.slice(5);
    let msg: unknown;
    try {
      msg = JSON.parse(json);
    } catch {
      this.plain(line, log);
      return { log };
    }
    if (!isObject(msg) || typeof msg.action !== "string") {
      this.plain(line, log);
      return { log };
    }
    // Activity ids are (pid << 32) + n: above 2^53 for large pids, where JSON.parse would round
    // two ids into one. Read them from the text instead.
    const id = rawKey(json, "id");
    switch (msg.action) {
      case "start":
        if (id !== undefined) this.start(id, msg, json, log);
        break;
      case "stop":
        if (id !== undefined) this.stop(id);
        break;
      case "result":
        if (id !== undefined) this.result(id, msg, log);
        break;
      case "msg":
        this.message(msg, log);
        break;
      default:
        // Newer Nix may add actions; they carry nothing hearth shows.
        break;
    }
    return { log, progress: this.changedProgress() };
  }

  /**
   * Why the build failed, from what Nix said: its error message (the builder's when one
   * failed) and the last telling line of that builder's output. Undefined when Nix said nothing.
   *
   * e.g. "builder for '/nix/store/…-fail.drv' failed with exit code 1; its log ends with: error: the widget is broken"
   */
  failureReason(): string | undefined {
    const builderError = [...this.errors].reverse().find((e) => /builder for '[^']+' failed/.test(e));
    const message = builderError ?? this.errors[this.errors.length - 1];
    if (message === undefined) return undefined;
    const at = builderError === undefined ? this.errorAt[this.errors.length - 1] : undefined;
    const headline = errorHeadline(message) + (at === undefined ? "" : ` at ${at}`);
    const drv = /builder for '([^']+)'/.exec(message)?.[1];
    // `program 'git' failed with exit code 128` says nothing by itself; git's own line (printed
    // straight to stderr, not through Nix's logger) says why, e.g. that a host did not resolve.
    if (drv === undefined && /^program '[^']+' failed/.test(headline)) {
      const said = [...this.plainTail].reverse().find((l) => /^(fatal|error):|could not|unable|denied|refused|timed out/i.test(l));
      if (said !== undefined) return `${headline}; it said: ${said}`;
    }
    const tail = drv === undefined ? undefined : this.tails.get(drv);
    if (!tail || tail.length === 0) return headline;
    const telling = [...tail].reverse().find((l) => /error|fail|fatal|cannot|not found|denied/i.test(l)) ?? tail[tail.length - 1]!;
    return `${headline.replace(/[;:.]$/, "")}; its log ends with: ${telling}`;
  }

  private plain(line: string, log: string[]): void {
    const text = stripAnsi(line);
    log.push(text);
    if (text.trim() !== "") {
      this.plainTail.push(text.trim());
      if (this.plainTail.length > PLAIN_TAIL) this.plainTail.shift();
    }
    // Before the JSON logger is set up (bad flags, old Nix) errors arrive as plain text.
    if (/^error\b/.test(text)) this.addError(text);
  }

  private start(id: string, msg: Record<string, unknown>, json: string, log: string[]): void {
    const type = num(msg.type);
    const text = typeof msg.text === "string" ? msg.text : "";
    const fields = Array.isArray(msg.fields) ? msg.fields : [];
    const act: Activity = {
      type,
      text,
      parent: rawKey(json, "parent"),
      done: 0,
      expected: 0,
      running: 0,
      failed: 0,
      expectedByType: new Map(),
      touched: ++this.clock,
    };
    if (typeof fields[0] === "string") act.path = fields[0];
    if (typeof fields[1] === "string" && fields[1] !== "") act.source = fields[1];
    if ((type === Act.build || type === Act.postBuildHook) && act.path) act.name = packageName(act.path);
    this.acts.set(id, act);
    this.totals(type).live.add(id);
    if (type === Act.build && act.path) this.tails.set(act.path, []);
    // Nix prints a started activity's text at its level when verbosity allows (default: info).
    const level = num(msg.level);
    if (text !== "" && level <= LVL_INFO && type !== Act.buildWaiting) log.push(`${stripAnsi(text)}...`);
  }

  private stop(id: string): void {
    const act = this.acts.get(id);
    if (!act) return;
    const totals = this.totals(act.type);
    totals.done += act.done;
    totals.failed += act.failed;
    for (const [type, n] of act.expectedByType) this.totals(type).expected -= n;
    totals.live.delete(id);
    this.acts.delete(id);
    // Keep the tails of only the most recent builds (Map keeps insertion order).
    while (this.tails.size > TAIL_BUILDS) this.tails.delete(this.tails.keys().next().value!);
  }

  private result(id: string, msg: Record<string, unknown>, log: string[]): void {
    const act = this.acts.get(id);
    const fields = Array.isArray(msg.fields) ? msg.fields : [];
    const type = num(msg.type);
    if (type === Res.buildLogLine || type === Res.postBuildLogLine) {
      if (typeof fields[0] !== "string") return;
      const text = stripAnsi(fields[0]).replace(/\s+$/, "");
      if (text === "") return;
      const suffix = type === Res.postBuildLogLine ? " (post)> " : "> ";
      log.push(`${act?.name ?? "unnamed"}${suffix}${text}`);
      if (act) {
        act.touched = ++this.clock;
        const tail = act.path !== undefined ? this.tails.get(act.path) : undefined;
        if (tail) {
          tail.push(text);
          if (tail.length > TAIL_LINES) tail.shift();
        }
      }
      return;
    }
    if (!act) return;
    if (type === Res.setPhase && typeof fields[0] === "string") {
      act.phase = fields[0];
      act.touched = ++this.clock;
    } else if (type === Res.progress) {
      act.done = num(fields[0]);
      act.expected = num(fields[1]);
      act.running = num(fields[2]);
      act.failed = num(fields[3]);
    } else if (type === Res.setExpected) {
      const of = num(fields[0]);
      const totals = this.totals(of);
      totals.expected -= act.expectedByType.get(of) ?? 0;
      const n = num(fields[1]);
      act.expectedByType.set(of, n);
      totals.expected += n;
    }
  }

  private message(msg: Record<string, unknown>, log: string[]): void {
    if (typeof msg.msg !== "string") return;
    const text = stripAnsi(msg.msg);
    for (const l of text.split("\n")) log.push(l);
    // Nix follows an evaluation error with a hint at error level; the error is the one before it.
    if (num(msg.level) === LVL_ERROR && !/^\(use '--show-trace'/.test(text.trim())) this.addError(text, position(msg));
  }

  private addError(text: string, at?: string): void {
    this.errors.push(text);
    this.errorAt.push(at);
  }

  private totals(type: number): TypeTotals {
    let t = this.byType.get(type);
    if (!t) this.byType.set(type, (t = { done: 0, failed: 0, expected: 0, live: new Set() }));
    return t;
  }

  /** done / expected / running of one activity type, exactly as progress-bar.cc adds them up. */
  private count(type: number): { done: number; expected: number; running: number } {
    const t = this.totals(type);
    let done = t.done;
    let expected = t.done;
    let running = 0;
    for (const id of t.live) {
      const a = this.acts.get(id)!;
      done += a.done;
      expected += a.expected;
      running += a.running;
    }
    return { done, expected: Math.max(expected, t.expected), running };
  }

  private changedProgress(): JobProgress | undefined {
    const builds = this.count(Act.builds);
    const downloads = this.count(Act.copyPaths);
    const next: JobProgress = {
      done: builds.done,
      expected: builds.expected,
      running: builds.running,
      downloadsDone: downloads.done,
      downloadsExpected: downloads.expected,
    };
    const phase = this.currentPhase();
    if (phase !== undefined) next.phase = phase;
    const key = JSON.stringify(next);
    if (key === this.lastKey) return undefined;
    this.last = next;
    this.lastKey = key;
    return { ...next };
  }

  /** What Nix is doing now: the most recently active build, fetch or copy. */
  private currentPhase(): string | undefined {
    let best: Activity | undefined;
    for (const a of this.acts.values()) {
      if (!this.describable(a)) continue;
      if (!best || a.touched > best.touched) best = a;
    }
    return best && describe(best);
  }

  private describable(a: Activity): boolean {
    switch (a.type) {
      case Act.build:
      case Act.substitute:
      case Act.postBuildHook:
        return true;
      case Act.copyPath:
      case Act.fileTransfer:
        // Nix hides these under a substitution or path-info query (only newer Nix sends `parent`).
        return a.text !== "" && !this.hasAncestor(a, [Act.substitute, Act.copyPath, Act.queryPathInfo]);
      default:
        return false;
    }
  }

  private hasAncestor(a: Activity, types: number[]): boolean {
    let parentId = a.parent;
    for (let hops = 0; parentId !== undefined && parentId !== "0" && hops < 64; hops++) {
      const p = this.acts.get(parentId);
      if (!p) return false;
      if (types.includes(p.type)) return true;
      parentId = p.parent;
    }
    return false;
  }
}

function describe(a: Activity): string {
  let s: string;
  if (a.type === Act.build && a.path) s = `building ${a.path}${a.source ? ` on ${a.source}` : ""}`;
  else if (a.type === Act.substitute && a.path) s = `fetching ${a.path}${a.source ? ` from ${a.source}` : ""}`;
  else if (a.type === Act.postBuildHook && a.path) s = `post-build hook for ${a.path}`;
  else s = stripAnsi(a.text).replace(/'/g, "");
  return a.phase ? `${s} (${a.phase})` : s;
}

/** The line of a (possibly multi-line) Nix error worth showing: its innermost `error: …`. */
function errorHeadline(message: string): string {
  const lines = message.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const errorLines = lines.map((l) => /^error:\s*(.*)$/.exec(l)?.[1]).filter((l): l is string => !!l);
  return errorLines[errorLines.length - 1] ?? lines.find((l) => l !== "error:") ?? message.trim();
}

/**
 * `file:line:col` of an error message's position, the flake's own files relative to their
 * source (`/nix/store/<hash>-source/flake.nix` → `flake.nix`).
 */
function position(msg: Record<string, unknown>): string | undefined {
  if (typeof msg.file !== "string" || msg.file === "" || typeof msg.line !== "number") return undefined;
  const file = msg.file.replace(/^\/nix\/store\/[0-9a-z]{32}-source\//, "");
  return `${file}:${msg.line}${typeof msg.column === "number" ? `:${msg.column}` : ""}`;
}

/** A failure summary is one line of at most this many characters. */
const SUMMARY_MAX = 300;

/**
 * Why a job did not succeed, in one line for the UI, from its state and stored reason (which
 * NixProgress.failureReason wrote from Nix's stderr): what kind of failure it was, then the line
 * of the log that says why. Undefined for jobs that are queued, running or succeeded.
 *
 *     failureSummary({ state: "failed", reason: "unable to download 'https://x.invalid/s.tar.gz': Couldn't resolve host name (6)" })
 *     // "Flake inputs could not be fetched: https://x.invalid/s.tar.gz: Couldn't resolve host name (6)"
 */
export function failureSummary(job: Pick<JobSummary, "state" | "reason">): string | undefined {
  const reason = job.reason?.replace(/\s*\n\s*/g, " ").trim() || undefined;
  switch (job.state) {
    case "cancelled":
      return clip(reason ? `Cancelled: ${reason}` : "Cancelled");
    case "interrupted":
      return clip(`Interrupted: ${reason ?? "the server stopped while the build was queued or running"}`);
    case "failed":
      return clip(reason === undefined ? "Failed without a reason; see the log" : classify(reason));
    default:
      return undefined;
  }
}

function classify(reason: string): string {
  // hearth's own reasons (runner.ts) already say what happened in words.
  if (/^(could not run |the build succeeded but|nix build (exited|was killed)|hearth failed)/.test(reason)) return capitalize(reason);
  const builder = /builder for '([^']+)' failed (?:with exit code (\d+)|due to signal (\d+)(?: \(([^)]*)\))?)[^;]*(?:; its log ends with: (.*))?$/.exec(reason);
  const drv = builder ? derivationName(builder[1]!) : undefined;
  const building = drv === undefined ? "" : ` while building ${drv}`;
  const logLine = builder?.[5];
  if (/no space left on device|ENOSPC|lack of free disk space|disk quota exceeded/i.test(reason))
    return `Out of disk space${building}: ${logLine ?? reason}`;
  if (/out of memory|cannot allocate memory|std::bad_alloc|memory exhausted|MemoryError/i.test(reason))
    return `Out of memory${building}: ${logLine ?? (/^out of memory$/i.test(reason) ? "Nix itself ran out of memory" : reason)}`;
  if (builder) {
    // SIGKILL that hearth did not send (a cancel ends as "cancelled"): the kernel's OOM killer sends it.
    if (builder[3] === "9") return `Out of memory? ${drv}'s builder was killed by signal 9 (KILL, which the kernel's out-of-memory killer sends)`;
    const how = builder[2] !== undefined ? `exit code ${builder[2]}` : `signal ${builder[3]}${builder[4] ? ` (${builder[4]})` : ""}`;
    return `${drv} failed to build (${how})${logLine ? `: ${logLine}` : "; see the log"}`;
  }
  const fetch = fetchProblem(reason);
  if (fetch !== undefined) return `Flake inputs could not be fetched: ${fetch}`;
  const attr = /^(?:flake '([^']+)' )?does not provide attribute '([^']+)'/.exec(reason) ?? /()does not provide attribute '([^']+)'/.exec(reason);
  if (attr) return `Attribute missing: ${attr[1] ? `flake '${attr[1]}'` : "the flake"} has no '${attr[2]}'`;
  if (/^(unrecognised flag|unrecognized flag|unknown flag|experimental Nix feature|opening lock file|cannot connect to socket|cannot open connection)/i.test(reason) || /permission denied/i.test(reason))
    return `Nix could not run the build: ${reason}`;
  return `Evaluation failed: ${reason}`;
}

/** The URL and cause of a failed download or clone in a reason, or undefined when it is not one. */
function fetchProblem(reason: string): string | undefined {
  if (!/unable to download|couldn't resolve host|could not resolve host|cannot fetch input|unable to access|failed to connect|connection refused|connection timed out|network is unreachable|unable to fetch|while fetching the input/i.test(reason))
    return undefined;
  const m = /(?:unable to download|unable to access) '([^']+)': (.*)$/i.exec(reason);
  return m ? `${m[1]!.replace(/\/$/, "")}: ${m[2]}` : reason;
}

/** `/nix/store/<hash>-hearth-widget-1.0.drv` → `hearth-widget-1.0`. */
function derivationName(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1).replace(/\.drv$/, "");
  return /^[0-9a-z]{32}-/.test(base) ? base.slice(33) : base;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function clip(s: string): string {
  return s.length <= SUMMARY_MAX ? s : `${s.slice(0, SUMMARY_MAX - 1)}…`;
}

/** `/nix/store/<hash>-hello-2.12.drv` → `hello`, the way Nix's DrvName splits name and version. */
export function packageName(storePath: string): string {
  const base = storePath.slice(storePath.lastIndexOf("/") + 1);
  const dash = base.indexOf("-");
  let name = dash < 0 ? base : base.slice(dash + 1);
  if (name.endsWith(".drv")) name = name.slice(0, -4);
  // The version starts at the first dash followed by a non-letter.
  const v = /-[^A-Za-z]/.exec(name);
  return v ? name.slice(0, v.index) : name;
}

export function emptyProgress(): JobProgress {
  return { done: 0, expected: 0, running: 0, downloadsDone: 0, downloadsExpected: 0 };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

/**
 * A top-level integer member of a JSON object, as digits. Safe against look-alikes inside
 * strings: there every `"` is escaped, so `,"id":` or `{"id":` cannot occur.
 */
function rawKey(json: string, key: string): string | undefined {
  return new RegExp(`[{,]"${key}":(\\d+)`).exec(json)?.[1];
}
