// Reads a fleet directory and hearth's static Nix files from disk for the pure core. Fleet files
// are read defensively: never through a symbolic link that leaves the fleet (its target's text
// is never shown), never from a FIFO, device or directory, never beyond a size limit; each
// refusal is a finding on the file, not an exception.
import { closeSync, constants, existsSync, fstatSync, lstatSync, openSync, readdirSync, readFileSync, readSync, realpathSync, statSync } from "node:fs";
import { join, relative, resolve, dirname, isAbsolute, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { loadFleet, type Loaded } from "../core/fleet/load.js";
import { issueAt } from "../core/fleet/source.js";
import { checkRules } from "../core/validate/rules.js";
import { hasErrors, type Issue } from "../core/validate/issues.js";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Largest fleet file hearth reads (a host file is a few KiB; anything near this is a mistake or an attack). */
export const MAX_FLEET_FILE = 1024 * 1024;

export type FleetFileRead = { ok: true; text: string; bytes: Buffer } | { ok: false; missing: boolean; message: string; hint: string };

const LINK_HINT = "copy the file into the fleet directory (or link to a file inside it); hearth does not read files outside the fleet";

/**
 * Read `rel` inside the fleet directory `root`: regular files only, links only when they stay
 * inside the fleet, at most `max` bytes. The message never quotes the file's text.
 * @example readFleetFile("/srv/fleet", "hosts/alpha.yaml")
 */
export function readFleetFile(root: string, rel: string, max = MAX_FLEET_FILE): FleetFileRead {
  const refuse = (message: string, hint: string, missing = false): FleetFileRead => ({ ok: false, missing, message, hint });
  if (isAbsolute(rel) || rel.includes("\0") || rel.split("/").some((s) => s === ".." || s === ""))
    return refuse("is not a path inside the fleet directory", "use a relative path without '..' inside the fleet directory");
  const abs = join(root, rel);
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
  } catch {
    return refuse("is missing: the fleet directory does not exist", "check the fleet directory", true);
  }
  let st;
  try {
    st = lstatSync(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return refuse("does not exist", "create it or remove the reference", true);
    if (code === "ENOTDIR") return refuse("does not exist (a part of its path is a file)", "create it or remove the reference", true);
    if (code === "EACCES") return refuse("cannot be read (permission denied)", "make it readable for the user running hearth");
    throw e;
  }
  // The whole path (a linked hosts/ folder too) must resolve inside the fleet.
  let real: string;
  try {
    real = realpathSync(abs);
  } catch {
    return refuse("is a symbolic link to nothing (dangling)", "remove the link or point it at a file inside the fleet");
  }
  if (!within(realRoot, real)) return refuse("is a symbolic link to outside the fleet", LINK_HINT);
  if (st.isSymbolicLink()) st = statSync(real);
  if (st.isDirectory()) return refuse("is a directory, not a file", "remove or rename the directory");
  if (!st.isFile()) return refuse("is not a regular file (a FIFO, socket or device)", "replace it with an ordinary file");
  if (st.size > max) return refuse(`is larger than ${max / 1024} KiB`, "a fleet file is a few KiB; check that this is the file you meant");
  // O_NOFOLLOW and O_NONBLOCK: a file swapped for a link or a FIFO since the checks above
  // fails or returns at once instead of leaking or hanging; fstat decides on what was opened.
  let fd: number;
  try {
    fd = openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ELOOP") return refuse("is a symbolic link to outside the fleet", LINK_HINT);
    if (code === "EACCES") return refuse("cannot be read (permission denied)", "make it readable for the user running hearth");
    return refuse(`cannot be opened (${code})`, "check the file");
  }
  try {
    const fst = fstatSync(fd);
    if (!fst.isFile()) return refuse("is not a regular file (a FIFO, socket or device)", "replace it with an ordinary file");
    const buf = Buffer.alloc(Math.min(fst.size, max) + 1);
    let n = 0;
    for (let r; n < buf.length && (r = readSync(fd, buf, n, buf.length - n, null)) > 0; ) n += r;
    if (n > max) return refuse(`is larger than ${max / 1024} KiB`, "a fleet file is a few KiB; check that this is the file you meant");
    const bytes = buf.subarray(0, n);
    return { ok: true, text: bytes.toString("utf8"), bytes };
  } finally {
    closeSync(fd);
  }
}

const within = (root: string, p: string) => p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);

/** Where `abs` leads, following links: inside the fleet `root`, outside it, nowhere, or it does not exist. */
function resolvesInside(root: string, abs: string): "inside" | "outside" | "dangling" | "missing" {
  try {
    lstatSync(abs);
  } catch {
    return "missing";
  }
  try {
    return within(realpathSync(root), realpathSync(abs)) ? "inside" : "outside";
  } catch {
    return "dangling";
  }
}

/** Texts of fleet.yaml and hosts/*.yaml, plus a finding for each that could not be read safely. */
export function readFleetDir(dir: string): { files: Record<string, string>; issues: Issue[] } {
  const files: Record<string, string> = {};
  const issues: Issue[] = [];
  // One finding that names the directory, rather than "fleet.yaml is missing" for a mistyped path.
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {}
  if (!isDir) {
    const message = `the fleet directory ${dir} ${existsSync(dir) ? "is not a directory" : "does not exist"}`;
    return { files, issues: [{ severity: "error", file: "fleet.yaml", path: [], message, hint: "pass the folder that holds fleet.yaml and hosts/, or make one with `hearth init DIR`" }] };
  }
  const read = (rel: string, reportMissing: boolean) => {
    const r = readFleetFile(dir, rel);
    if (r.ok) files[rel] = r.text;
    else if (!r.missing || reportMissing) issues.push({ severity: "error", file: rel, path: [], message: `this file ${r.message}`, hint: r.hint });
  };
  read("fleet.yaml", false);
  // hosts/ may itself be a link; it is listed only when it resolves to a folder inside the fleet.
  const hostsDir = join(dir, "hosts");
  const where = resolvesInside(dir, hostsDir);
  if (where === "inside") {
    if (statSync(hostsDir).isDirectory()) {
      for (const f of readdirSync(hostsDir).sort()) if (/\.ya?ml$/.test(f)) read(`hosts/${f}`, true);
    } else issues.push({ severity: "error", file: "hosts", path: [], message: "hosts is not a folder", hint: "hosts/ holds one NAME.yaml per host; move the file away" });
  } else if (where !== "missing")
    issues.push({ severity: "error", file: "hosts", path: [], message: where === "outside" ? "hosts is a symbolic link to outside the fleet" : "hosts is a symbolic link to nothing (dangling)", hint: LINK_HINT });
  issues.push(...secretsTreeIssues(dir));
  return { files, issues };
}

/** Largest encrypted secret file (an armored age file of a key is well under 1 KiB). */
export const MAX_SECRET_FILE = 16 * 1024 * 1024;

/**
 * Findings for the secrets/ tree, checked without reading any file: a link leaving the fleet
 * (its text would be copied into the flake), a dangling link, a FIFO or device (reading it
 * hangs), a file too large to be a secret. The secrets store reads only after this passed.
 */
function secretsTreeIssues(dir: string): Issue[] {
  const issues: Issue[] = [];
  const add = (rel: string, message: string, hint: string) => issues.push({ severity: "error", file: rel, path: [], message, hint });
  const root = join(dir, "secrets");
  const where = resolvesInside(dir, root);
  if (where === "missing") return issues;
  if (where !== "inside") {
    add("secrets", where === "outside" ? "secrets is a symbolic link to outside the fleet" : "secrets is a symbolic link to nothing (dangling)", LINK_HINT);
    return issues;
  }
  if (!statSync(root).isDirectory()) return issues;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const rel = relative(dir, p);
      if (e.isDirectory()) walk(p);
      else if (e.isSymbolicLink()) {
        const w = resolvesInside(dir, p);
        if (w === "outside") add(rel, "this file is a symbolic link to outside the fleet", LINK_HINT);
        else if (w === "dangling") add(rel, "this file is a symbolic link to nothing (dangling)", "remove the link");
        else if (!statSync(p).isFile()) add(rel, "this is a link to something other than a regular file", "replace it with the encrypted file itself");
      } else if (!e.isFile()) add(rel, "this file is not a regular file (a FIFO, socket or device)", "remove it; hearth writes secrets as ordinary files");
      else if (lstatSync(p).size > MAX_SECRET_FILE) add(rel, `this file is larger than ${MAX_SECRET_FILE / 1024 / 1024} MiB`, "an encrypted secret is small; check that this is the file you meant");
    }
  };
  walk(root);
  return issues;
}

/** Texts of fleet.yaml and hosts/*.yaml (files that cannot be read safely are left out; readFleetDir says why). */
export function readFleetFiles(dir: string): Record<string, string> {
  return readFleetDir(dir).files;
}

export interface Validated extends Loaded {
  issues: Issue[];
  ok: boolean;
}

/** Load and validate a fleet directory: schema findings, then cross-field rules. */
export function validateFleetDir(dir: string, overrides: Record<string, string> = {}, removes: readonly string[] = []): Validated {
  const read = readFleetDir(dir);
  const files = { ...read.files, ...overrides };
  // Files a change would remove (a deleted or renamed host) are validated as gone.
  for (const f of removes) delete files[f];
  const readIssues = read.issues.filter((i) => !(i.file in overrides) && !removes.includes(i.file));
  let loaded = loadFleet(files);
  // A fleet.yaml refused above is not also "missing".
  if (readIssues.some((i) => i.file === "fleet.yaml")) loaded = { ...loaded, issues: loaded.issues.filter((i) => i.file !== "fleet.yaml") };
  const issues = [...readIssues, ...loaded.issues];
  if (loaded.fleet) {
    // Extra modules are read only once we know which files the hosts name.
    for (const [name, host] of loaded.fleet.hosts)
      for (const [i, m] of host.extraModules.entries()) {
        if (m in files) continue;
        const r = readFleetFile(dir, m);
        if (r.ok) files[m] = r.text;
        else if (!r.missing) {
          const src = loaded.sources.get(loaded.hostFiles.get(name)!)!;
          issues.push(issueAt(src, ["extraModules", i], "error", `${m} ${r.message}`, r.hint));
        }
      }
    loaded = { ...loaded, files };
  }
  if (loaded.fleet && !hasErrors(issues)) issues.push(...checkRules({ fleet: loaded.fleet, sources: loaded.sources, hostFiles: loaded.hostFiles, files }));
  return { ...loaded, issues, ok: !hasErrors(issues) };
}

/** hearth's own Nix files (nix/modules, nix/formats, nix/lib, the SQL a module runs, and Grafana's dashboards under nix/dashboards) by path relative to the flake root. */
export function readStaticNix(): Record<string, string> {
  const out: Record<string, string> = {};
  const root = join(REPO_ROOT, "nix");
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".nix") || e.name.endsWith(".sql") || (e.name.endsWith(".json") && relative(root, d) === "dashboards"))
        out[relative(root, p)] = readFileSync(p, "utf8");
    }
  };
  walk(root);
  return out;
}

/** Where `npm run build:cli` puts the node classes' pull agent (src/agent). */
export const AGENT_BUILD = join(REPO_ROOT, "dist/agent/hearth-agent.mjs");

/** The built agent's text for the flake, or undefined when it was not built (the flake then gets core's placeholder). */
export function readAgentScript(file = AGENT_BUILD): string | undefined {
  return existsSync(file) ? readFileSync(file, "utf8") : undefined;
}
