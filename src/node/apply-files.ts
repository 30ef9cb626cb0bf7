// The one executor for generated files: writes what changed (atomically), leaves identical
// files untouched, and removes stale files only where hearth owns the directory and only files
// it wrote (carrying hearth's marker, or listed with their checksum in the output's
// `.hearth-generated`), never the user's.
import { closeSync, constants, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, realpathSync, rmdirSync, rmSync, statSync } from "node:fs";
import { createHash } from "node:crypto";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { createTwoFilesPatch } from "diff";
import { GENERATED_MARKER } from "../core/plan/plan.js";
import { UserError } from "./errors.js";
import { isTempName, removeStaleTemps, writeFileAtomic } from "./fs-atomic.js";

export interface FileChange {
  path: string;
  action: "create" | "update" | "delete" | "unchanged";
  before?: string;
  after?: string;
}

/** At the top of every output directory: says hearth owns it, and lists the files it wrote that cannot carry the marker. */
export const OUTPUT_MARKER_FILE = ".hearth-generated";
const MANIFEST_HEADER = `# ${GENERATED_MARKER}: this directory is the output of 'hearth generate', which removes only files it wrote.\n# Files written without a marker of their own (age armor has no comment line), with their sha256:\n`;

const carriesMarker = (head: string) => head.slice(0, 200).includes(GENERATED_MARKER);
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * Refuse an output directory that would put the fleet's own files at risk: the fleet
 * directory, a directory containing it, or one inside its hosts/ or secrets/; and a path that
 * is not a directory. Throws UserError.
 */
export function checkOutputDir(fleetDir: string, outDir: string): void {
  inspectOutDir(outDir);
  const fleet = realish(fleetDir);
  const out = realish(outDir);
  const inside = (p: string, parent: string) => p === parent || p.startsWith(parent.endsWith(sep) ? parent : parent + sep);
  if (out === fleet) throw new UserError(`${outDir} is the fleet directory itself; write the flake to a directory of its own (default: ${join(fleetDir, "flake")})`);
  if (inside(fleet, out)) throw new UserError(`${outDir} contains the fleet directory ${fleetDir}; write the flake to a directory of its own (default: ${join(fleetDir, "flake")})`);
  for (const d of ["hosts", "secrets"])
    if (inside(out, join(fleet, d))) throw new UserError(`${outDir} lies inside the fleet's ${d}/ folder, which holds your ${d === "hosts" ? "host files" : "encrypted secrets"}; choose another output directory (default: ${join(fleetDir, "flake")})`);
}

/** Compare the planned files with the output directory; deletions only where hearth owns it. */
export function compareFiles(outDir: string, files: Map<string, string>): FileChange[] {
  const state = inspectOutDir(outDir);
  const changes: FileChange[] = [];
  for (const [path, after] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    const before = readPlanned(outDir, path);
    changes.push({ path, action: before === undefined ? "create" : before === after ? "unchanged" : "update", before, after });
  }
  if (state.kind !== "owned") return changes;
  const written = state.manifest;
  for (const path of listFiles(outDir)) {
    if (files.has(path) || path === OUTPUT_MARKER_FILE) continue;
    const abs = join(outDir, path);
    const marked = carriesMarker(readHead(abs));
    // Before the marker file existed, the copies of encrypted secrets were recognised by place.
    const legacyAge = !written && path.startsWith(`secrets${sep}`) && path.endsWith(".age");
    if (!marked && !legacyAge && !written?.has(path)) continue;
    const text = readFileSync(abs, "utf8");
    if (marked || legacyAge || written?.get(path) === sha256(text)) changes.push({ path, action: "delete", before: text });
  }
  return changes;
}

/** Write creates and updates, remove deletions; refuses a non-empty directory hearth does not own. */
export function applyChanges(outDir: string, changes: FileChange[]): void {
  const state = inspectOutDir(outDir);
  if (state.kind === "foreign")
    throw new UserError(`${outDir} is not empty and is not an output of hearth (it has no ${OUTPUT_MARKER_FILE}); choose a new or empty directory, nothing was written`);
  for (const c of changes) if (c.action !== "delete") safeRelative(c.path);
  mkdirSync(outDir, { recursive: true });
  // Writers that died mid-write (a crash, SIGKILL) left temp files; theirs only, not a live run's.
  for (const d of listDirs(outDir)) removeStaleTemps(d);
  // Claim the directory first, listing what this run writes and what it still has to remove,
  // so a run cut short is still recognised (and cleaned up) by the next one.
  const unmarked = (list: FileChange[]) => new Map(list.filter((c) => c.after !== undefined && !carriesMarker(c.after)).map((c) => [c.path, sha256(c.after!)]));
  const final = unmarked(changes.filter((c) => c.action !== "delete"));
  writeManifest(outDir, new Map([...(state.kind === "owned" ? (state.manifest ?? []) : []), ...final]));
  for (const c of changes) {
    if (c.action === "create" || c.action === "update") writeFileAtomic(join(outDir, c.path), c.after!);
    if (c.action === "delete") rmSync(join(outDir, c.path), { force: true });
  }
  writeManifest(outDir, final);
  pruneEmptyDirs(outDir);
}

export function unifiedDiff(changes: FileChange[]): string {
  return changes
    .filter((c) => c.action !== "unchanged")
    .map((c) => createTwoFilesPatch(c.before === undefined ? "/dev/null" : `a/${c.path}`, c.after === undefined ? "/dev/null" : `b/${c.path}`, c.before ?? "", c.after ?? ""))
    .join("");
}

type OutState = { kind: "absent" | "empty" | "foreign" } | { kind: "owned"; manifest?: Map<string, string> };

/** What the output directory is: new, empty, hearth's (with its manifest, if any) or someone else's. */
function inspectOutDir(outDir: string): OutState {
  let st;
  try {
    st = statSync(outDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { kind: "absent" };
    if ((e as NodeJS.ErrnoException).code === "ENOTDIR") throw new UserError(`${outDir} is not a directory (a part of the path is a file); -o names the directory the flake is written to`);
    throw e;
  }
  if (!st.isDirectory()) throw new UserError(`${outDir} is not a directory; -o names the directory the flake is written to`);
  const entries = readdirSync(outDir);
  if (entries.length === 0) return { kind: "empty" };
  const marker = join(outDir, OUTPUT_MARKER_FILE);
  if (isRegular(marker)) {
    const text = readFileSync(marker, "utf8");
    if (carriesMarker(text)) {
      const manifest = new Map<string, string>();
      for (const line of text.split("\n")) {
        const m = /^([0-9a-f]{64}) {2}(.+)$/.exec(line);
        if (m && isSafeRelative(m[2]!)) manifest.set(m[2]!, m[1]!);
      }
      return { kind: "owned", manifest };
    }
  }
  // An output written before the marker file existed: its flake.nix carries the marker.
  const flake = join(outDir, "flake.nix");
  if (isRegular(flake) && carriesMarker(readHead(flake))) return { kind: "owned" };
  return { kind: "foreign" };
}

function writeManifest(outDir: string, entries: Map<string, string>): void {
  const text = MANIFEST_HEADER + [...entries].sort(([a], [b]) => a.localeCompare(b)).map(([p, h]) => `${h}  ${p}\n`).join("");
  const file = join(outDir, OUTPUT_MARKER_FILE);
  if (isRegular(file) && readFileSync(file, "utf8") === text) return;
  writeFileAtomic(file, text);
}

const isRegular = (p: string) => {
  try {
    return lstatSync(p).isFile();
  } catch {
    return false;
  }
};

const isSafeRelative = (p: string) =>
  p.length > 0 && !isAbsolute(p) && !p.includes("\0") && p.split("/").every((s) => s !== "" && s !== "." && s !== "..");

function safeRelative(path: string): void {
  // The planner builds paths from validated names; one leaving the output is a bug, never written.
  if (!isSafeRelative(path)) throw new Error(`refusing to write outside the output directory: ${JSON.stringify(path)}`);
}

/**
 * The current text of a planned file, undefined when absent. Never through a symbolic link or
 * into a special file (a link could show another file's text in a diff; a FIFO would hang).
 */
function readPlanned(outDir: string, path: string): string | undefined {
  safeRelative(path);
  let cur = outDir;
  const segs = path.split("/");
  for (const [i, seg] of segs.entries()) {
    cur = join(cur, seg);
    let st;
    try {
      st = lstatSync(cur);
    } catch {
      return undefined;
    }
    const shown = relative(outDir, cur);
    if (st.isSymbolicLink()) throw new UserError(`${join(outDir, shown)} is a symbolic link; hearth does not write through links in its output, remove it`);
    if (i < segs.length - 1 && !st.isDirectory()) throw new UserError(`${join(outDir, shown)} is in the way of ${path}: a file where hearth writes a directory; remove it`);
    if (i === segs.length - 1 && !st.isFile()) throw new UserError(`${join(outDir, shown)} is not a regular file; remove it so hearth can write ${path}`);
  }
  return readFileSync(join(outDir, path), "utf8");
}

/** The first bytes of a file, to look for the marker without reading a large file whole. */
function readHead(path: string): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const buf = Buffer.alloc(512);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/** A nested fleet or another hearth output is never ours to clean, even inside our output. */
const foreignDir = (d: string) => existsSync(join(d, "fleet.yaml")) || existsSync(join(d, OUTPUT_MARKER_FILE));

function walkOwned(dir: string, onFile: (rel: string) => void, onDir: (abs: string) => void): void {
  if (!existsSync(dir)) return;
  const walk = (d: string) => {
    onDir(d);
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name === ".git" || e.name === "result") continue;
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (!foreignDir(p)) walk(p);
      } else if (e.isFile() && !isTempName(e.name)) onFile(relative(dir, p));
    }
  };
  walk(dir);
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  walkOwned(dir, (f) => out.push(f), () => {});
  return out.sort();
}

function listDirs(dir: string): string[] {
  const out: string[] = [];
  walkOwned(dir, () => {}, (d) => out.push(d));
  return out;
}

function pruneEmptyDirs(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name === ".git") continue;
    const p = join(dir, e.name);
    if (foreignDir(p)) continue;
    pruneEmptyDirs(p);
    if (readdirSync(p).length === 0) rmdirSync(p);
  }
}

/** The real path of `p`, resolving links in the part that exists (the rest may not yet). */
function realish(p: string): string {
  const abs = resolve(p);
  try {
    return realpathSync(abs);
  } catch {
    const parent = dirname(abs);
    return parent === abs ? abs : join(realish(parent), relative(parent, abs));
  }
}
