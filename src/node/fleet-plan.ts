// Plans a fleet directory end to end (validate, secrets, mesh state, flake plan) and writes it:
// the one path `hearth generate` and the server's builds share. Refusals carry issues, not text.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { meshState, plan, type Plan } from "../core/plan/plan.js";
import { secretIssues } from "../core/secrets/plan.js";
import { ADDRESSES_FILE, planMesh, type MeshPlan } from "../core/mesh/plan.js";
import type { Issue } from "../core/validate/issues.js";
import { readAgentScript, readStaticNix, validateFleetDir, type Validated } from "./fleet-dir.js";
import { openStore, secretFiles, status, type SecretsStore } from "./secrets/store.js";
import { applyChanges, compareFiles, type FileChange } from "./apply-files.js";
import { writeFileAtomic } from "./fs-atomic.js";

export class PlanRefused extends Error {
  constructor(message: string, readonly issues: Issue[] = []) {
    super(message);
  }
}

/** mesh/addresses.json: the mesh addresses hearth handed out, so they never change. */
export function readMeshAddresses(dir: string): Record<string, string> {
  const f = join(dir, ADDRESSES_FILE);
  if (!existsSync(f)) return {};
  try {
    const data = JSON.parse(readFileSync(f, "utf8")) as { version: number; ipv4: Record<string, string> };
    if (data.version !== 1 || typeof data.ipv4 !== "object") throw new Error("unknown layout");
    return data.ipv4;
  } catch (e) {
    throw new PlanRefused(`${ADDRESSES_FILE}: ${(e as Error).message}; restore it from version control (hearth writes this file)`);
  }
}

/** Record the mesh addresses of a plan; an unchanged file is left alone. */
export function writeMeshAddresses(dir: string, addresses: Record<string, string>): boolean {
  const text = JSON.stringify({ version: 1, ipv4: Object.fromEntries(Object.entries(addresses).sort(([a], [b]) => a.localeCompare(b))) }, null, 2) + "\n";
  const f = join(dir, ADDRESSES_FILE);
  if (existsSync(f) && readFileSync(f, "utf8") === text) return false;
  writeFileAtomic(f, text);
  return true;
}

/**
 * Record the addresses a valid fleet's mesh hands out now (new hosts take free addresses), so an
 * address once shown is the one the host keeps. Returns the plan and the hosts whose address is
 * still provisional (the fleet is invalid, so nothing was recorded).
 */
export function recordMeshAddresses(dir: string, v: Validated, store?: SecretsStore): { plan: MeshPlan; provisional: Set<string> } | undefined {
  if (!v.fleet) return undefined;
  const plan = planMesh(v.fleet, meshState((store ?? openStore(dir, v.fleet)).manifest, readMeshAddresses(dir)));
  if (!plan) return undefined;
  if (v.ok && plan.allocated.length && !plan.findings.some((f) => f.severity === "error")) {
    writeMeshAddresses(dir, plan.addresses);
    return { plan, provisional: new Set() };
  }
  return { plan, provisional: new Set(plan.allocated) };
}

export interface Planned {
  validated: Validated & { fleet: NonNullable<Validated["fleet"]> };
  store: SecretsStore;
  plan: Plan;
  /** Secret problems (only refused when secrets are required). */
  secretProblems: Issue[];
}

/** Validate and plan; refuses an invalid fleet, and (when required) missing or stale secrets. */
export function planFleetDir(dir: string, opts: { requireSecrets: boolean; overrides?: Record<string, string> }): Planned {
  if (!existsSync(dir)) throw new PlanRefused(`fleet directory ${dir} does not exist`);
  const v = validateFleetDir(dir, opts.overrides ?? {});
  if (!v.ok || !v.fleet) throw new PlanRefused("the fleet is not valid; nothing was written", v.issues);
  const store = openStore(dir, v.fleet);
  const secretProblems = secretIssues(status(store), store.planned);
  if (secretProblems.length && opts.requireSecrets) throw new PlanRefused("the fleet's secrets are not ready; nothing was written", secretProblems);
  const p = plan({
    fleet: v.fleet,
    staticFiles: readStaticNix(),
    fleetFiles: v.files,
    secretFiles: secretFiles(store),
    secretsManifest: store.manifest,
    meshAddresses: readMeshAddresses(dir),
    // Only a fleet with node classes carries the agent; without a build, a placeholder that says so.
    ...(v.fleet.images && Object.keys(v.fleet.images).length ? { agentScript: readAgentScript() } : {}),
  });
  const keyless = p.mesh?.type === "wireguard" ? p.mesh.members.filter((m) => !m.publicKey).map((m) => m.name) : [];
  if (keyless.length && opts.requireSecrets) throw new PlanRefused(`no WireGuard key yet for ${keyless.join(", ")}; run \`hearth secrets generate\` (nothing was written)`);
  return { validated: v as Planned["validated"], store, plan: p, secretProblems };
}

/** Write the flake (only changed files) and the mesh address record. */
export function writeFlake(dir: string, outDir: string, p: Plan): { changes: FileChange[]; addressesWritten: boolean } {
  const changes = compareFiles(outDir, p.files);
  applyChanges(outDir, changes);
  const addressesWritten = p.mesh ? writeMeshAddresses(dir, p.mesh.addresses) : false;
  return { changes, addressesWritten };
}
