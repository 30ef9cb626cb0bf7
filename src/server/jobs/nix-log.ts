// Reads `nix build --log-format internal-json` stderr, one line at a time, into hearth's
// JobProgress and readable log lines. Pure (no I/O, no clock) so recorded Nix output tests it.
//
// The protocol (Nix src/libutil/logging.{hh,cc}, JSONLogger): every line is `@nix ` + one JSON
// object with `action` "start" (id, type, text, level, fields, parent), "stop" (id), "result"
// (id, type, fields) or "msg" (level, msg). The counting mirrors Nix's own progress bar
// (src/libmain/progress-bar.cc, renderActivity), so hearth shows what `nix build` would show.
import type { JobProgress } from "../wire.js";

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
    const headline = errorHeadline(message);
    const drv = /builder for '([^']+)'/.exec(message)?.[1];
    const tail = drv === undefined ? undefined : this.tails.get(drv);
    if (!tail || tail.length === 0) return headline;
    const telling = [...tail].reverse().find((l) => /error|fail|fatal|cannot|not found|denied/i.test(l)) ?? tail[tail.length - 1]!;
    return `${headline.replace(/[;:.]$/, "")}; its log ends with: ${telling}`;
  }

  private plain(line: string, log: string[]): void {
    const text = stripAnsi(line);
    log.push(text);
    // Before the JSON logger is set up (bad flags, old Nix) errors arrive as plain text.
    if (/^error\b/.test(text)) this.errors.push(text);
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
    if (num(msg.level) === LVL_ERROR) this.errors.push(text);
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
