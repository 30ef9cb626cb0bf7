// Helpers every command shares: errors with exit codes, output, and the validated fleet.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ADDRESSES_FILE } from "../core/mesh/plan.js";
import { writeFileAtomic } from "../node/fs-atomic.js";
import { formatIssue, type Issue } from "../core/validate/issues.js";
import { plan } from "../core/plan/plan.js";
import { secretIssues } from "../core/secrets/plan.js";
import { readStaticNix, validateFleetDir, type Validated } from "../node/fleet-dir.js";
import { openStore, secretFiles, status } from "../node/secrets/store.js";
import { SecretError } from "../node/secrets/age.js";

export class CliError extends Error {
  constructor(message: string, readonly code = 1) {
    super(message);
  }
}

export const out = (s: string) => process.stdout.write(s.endsWith("\n") ? s : s + "\n");
export const err = (s: string) => process.stderr.write(s.endsWith("\n") ? s : s + "\n");

export function reportIssues(issues: Issue[]): void {
  for (const i of issues) err(formatIssue(i));
  const e = issues.filter((i) => i.severity === "error").length;
  const w = issues.length - e;
  if (issues.length) err(`${e} error(s), ${w} warning(s)`);
}

export function validated(dir: string, overrides: Record<string, string> = {}): Validated & { fleet: NonNullable<Validated["fleet"]> } {
  if (!existsSync(dir)) throw new CliError(`fleet directory ${dir} does not exist`);
  const v = validateFleetDir(dir, overrides);
  if (!v.ok || !v.fleet) {
    reportIssues(v.issues);
    throw new CliError("the fleet is not valid; nothing was written");
  }
  if (v.issues.length) reportIssues(v.issues);
  return v as never;
}

/** The flake plan, refused while a secret some host decrypts is missing or stale. */
export function planFor(dir: string, opts: { requireSecrets: boolean } = { requireSecrets: true }) {
  const v = validated(dir);
  const store = openStoreCli(dir, v.fleet);
  const problems = secretIssues(status(store), store.planned);
  if (problems.length && opts.requireSecrets) {
    reportIssues(problems);
    throw new CliError("the fleet's secrets are not ready; nothing was written");
  }
  const p = plan({
    fleet: v.fleet,
    staticFiles: readStaticNix(),
    fleetFiles: v.files,
    secretFiles: secretFiles(store),
    secretsManifest: store.manifest,
    meshAddresses: readMeshAddresses(dir),
  });
  const keyless = p.mesh?.type === "wireguard" ? p.mesh.members.filter((m) => !m.publicKey).map((m) => m.name) : [];
  if (keyless.length && opts.requireSecrets)
    throw new CliError(`no WireGuard key yet for ${keyless.join(", ")}; run \`hearth secrets generate\` (nothing was written)`);
  return p;
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
    throw new CliError(`${ADDRESSES_FILE}: ${(e as Error).message}; restore it from version control (hearth writes this file)`);
  }
}

/** Record the mesh addresses of a plan; unchanged files are left alone. */
export function writeMeshAddresses(dir: string, addresses: Record<string, string>): boolean {
  const text = JSON.stringify({ version: 1, ipv4: Object.fromEntries(Object.entries(addresses).sort(([a], [b]) => a.localeCompare(b))) }, null, 2) + "\n";
  const f = join(dir, ADDRESSES_FILE);
  if (existsSync(f) && readFileSync(f, "utf8") === text) return false;
  writeFileAtomic(f, text);
  return true;
}

export function openStoreCli(dir: string, fleet: Validated["fleet"] & {}) {
  try {
    return openStore(dir, fleet);
  } catch (e) {
    if (e instanceof SecretError) throw new CliError(e.message);
    throw e;
  }
}

