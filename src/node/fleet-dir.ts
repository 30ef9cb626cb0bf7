// Reads a fleet directory and hearth's static Nix files from disk for the pure core.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { loadFleet, type Loaded } from "../core/fleet/load.js";
import { checkRules } from "../core/validate/rules.js";
import { hasErrors, type Issue } from "../core/validate/issues.js";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Texts of fleet.yaml and hosts/*.yaml, plus the extra module files hosts refer to. */
export function readFleetFiles(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const fleetYaml = join(dir, "fleet.yaml");
  if (existsSync(fleetYaml)) files["fleet.yaml"] = readFileSync(fleetYaml, "utf8");
  const hostsDir = join(dir, "hosts");
  if (existsSync(hostsDir))
    for (const f of readdirSync(hostsDir).sort())
      if (/\.ya?ml$/.test(f)) files[`hosts/${f}`] = readFileSync(join(hostsDir, f), "utf8");
  return files;
}

export interface Validated extends Loaded {
  issues: Issue[];
  ok: boolean;
}

/** Load and validate a fleet directory: schema findings, then cross-field rules. */
export function validateFleetDir(dir: string, overrides: Record<string, string> = {}): Validated {
  const files = { ...readFleetFiles(dir), ...overrides };
  let loaded = loadFleet(files);
  if (loaded.fleet) {
    // Extra modules are read only once we know which files the hosts name.
    const extras = [...loaded.fleet.hosts.values()].flatMap((h) => h.extraModules);
    for (const m of extras) {
      const p = join(dir, m);
      if (!(m in files) && existsSync(p) && statSync(p).isFile()) files[m] = readFileSync(p, "utf8");
    }
    loaded = { ...loaded, files };
  }
  const issues = [...loaded.issues];
  if (loaded.fleet && !hasErrors(issues)) issues.push(...checkRules({ fleet: loaded.fleet, sources: loaded.sources, hostFiles: loaded.hostFiles, files }));
  return { ...loaded, issues, ok: !hasErrors(issues) };
}

/** hearth's own Nix files (nix/modules, nix/formats, nix/lib, and the SQL a module runs) by path relative to the flake root. */
export function readStaticNix(): Record<string, string> {
  const out: Record<string, string> = {};
  const root = join(REPO_ROOT, "nix");
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".nix") || e.name.endsWith(".sql")) out[relative(root, p)] = readFileSync(p, "utf8");
    }
  };
  walk(root);
  return out;
}
