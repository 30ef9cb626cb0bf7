// Runs test/nixos-eval/harness.nix on one host of a generated flake with real Nix and the real
// upstream modules, and turns its report into plain lists: failed assertions, warnings, and each
// value hearth defines that does not evaluate, with Nix's own error message.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../src/node/fleet-dir.js";

// CI clones the repo with shared/ beside it; HEARTH_SHARED_DIR points elsewhere when needed.
export const SHARED_DIR =
  [process.env["HEARTH_SHARED_DIR"], join(REPO_ROOT, "..", "shared"), "/work/shared"].find((d): d is string => !!d && existsSync(join(d, "upstream"))) ??
  join(REPO_ROOT, "..", "shared");
export const UPSTREAM = join(SHARED_DIR, "upstream");
const HARNESS = join(REPO_ROOT, "test/nixos-eval/harness.nix");

export interface HostReport {
  host: string;
  format?: string;
  system: string;
  failedAssertions: string[];
  warnings: string[];
  /** Values hearth defines that do not evaluate: path → Nix's error. */
  errors: { path: string; error: string }[];
  /** disko scripts (format, mount, unmount) that disko cannot write for this layout. */
  disko: Record<string, string>;
  packageNames: string[];
  checkedPaths: number;
}

const nixStr = (s: string) => JSON.stringify(s).replace(/\$\{/g, "\\${");

/** Options of an evaluation beyond host and format: `files` whose definitions are checked (default: hosts/<host>/{default,hardware,disko}.nix). */
export interface EvalOptions {
  files?: string[];
}

function harnessExpr(flake: string, host: string, formatModule?: string, opts: EvalOptions = {}): string {
  const files = opts.files ? ` files = [ ${opts.files.map(nixStr).join(" ")} ];` : "";
  return `import ${nixStr(HARNESS)} { upstream = ${nixStr(UPSTREAM)}; flake = ${nixStr(flake)}; host = ${nixStr(host)};${formatModule ? ` formatModule = ${nixStr(formatModule)};` : ""}${files} }`;
}

function nixEval(expr: string): { ok: boolean; out: string; err: string } {
  const r = spawnSync("nix-instantiate", ["--eval", "--strict", "--json", "--show-trace", "-E", expr], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  return { ok: r.status === 0, out: r.stdout, err: r.stderr };
}

/** The first `error:` block of Nix's output, without the trace. */
export function nixError(stderr: string): string {
  const i = stderr.lastIndexOf("error: ");
  const text = i >= 0 ? stderr.slice(i + 7) : stderr;
  return text.split("\n").filter((l) => l.trim() && !/^\s*… /.test(l) && !/show-trace/.test(l)).slice(0, 12).join("\n").trim();
}

/** Evaluate `host` of the flake in `flake` (optionally with a boot-format module applied). */
export function evalHost(flake: string, host: string, formatModule?: string, opts: EvalOptions = {}): HostReport {
  const h = harnessExpr(flake, host, formatModule, opts);
  const r = nixEval(`let h = ${h}; in { inherit (h) system failedAssertions warnings badPaths disko packageNames checkedPaths; }`);
  if (!r.ok) {
    // The host does not evaluate at all: the configuration as a whole is the error.
    return { host, ...(formatModule ? { format: formatModule } : {}), system: "?", failedAssertions: [], warnings: [], errors: [{ path: "(whole configuration)", error: nixError(r.err) }], disko: {}, packageNames: [], checkedPaths: 0 };
  }
  const j = JSON.parse(r.out);
  const errors = (j.badPaths as string[]).slice(0, 8).map((path, i) => {
    const e = nixEval(`let h = ${h}; in builtins.deepSeq (h.badValue ${i}) true`);
    return { path, error: e.ok ? "(evaluates alone; fails only with the others)" : nixError(e.err) };
  });
  if (j.badPaths.length > 8) errors.push({ path: `… ${j.badPaths.length - 8} more`, error: "" });
  return { host, ...(formatModule ? { format: formatModule } : {}), system: j.system, failedAssertions: j.failedAssertions, warnings: j.warnings, errors, disko: j.disko, packageNames: j.packageNames, checkedPaths: j.checkedPaths };
}

/** Every problem in a report, one line each (empty when the host evaluates cleanly). */
export function problems(r: HostReport): string[] {
  const where = `${r.host}${r.format ? ` (${r.format})` : ""}`;
  return [
    ...r.failedAssertions.map((m) => `${where}: failed assertion: ${m}`),
    ...r.errors.map((e) => `${where}: ${e.path}: ${e.error}`),
    ...Object.entries(r.disko).map(([s, m]) => `${where}: disko ${s}: ${m}`),
  ];
}

/** One value of the evaluated host (`config.…`, or any attribute of the harness result) as JSON. */
export function evalValue(flake: string, host: string, attr: string, formatModule?: string, opts: EvalOptions = {}): unknown {
  const r = nixEval(`let h = ${harnessExpr(flake, host, formatModule, opts)}; in h.${attr}`);
  if (!r.ok) throw new Error(nixError(r.err));
  return JSON.parse(r.out);
}

/** Any Nix expression over the harness result `h` (e.g. `builtins.attrNames h.config.systemd.services`) as JSON. */
export function evalWith(flake: string, host: string, expr: string, formatModule?: string, opts: EvalOptions = {}): unknown {
  const r = nixEval(`let h = ${harnessExpr(flake, host, formatModule, opts)}; in ${expr}`);
  if (!r.ok) throw new Error(nixError(r.err));
  return JSON.parse(r.out);
}
