// Helpers every command shares: errors with exit codes, output, and the validated fleet.
import { lstatSync } from "node:fs";
import { existsSync } from "node:fs";
import { formatIssue, type Issue } from "../core/validate/issues.js";
import { validateFleetDir, type Validated } from "../node/fleet-dir.js";
import { openStore } from "../node/secrets/store.js";
import { PlanRefused, planFleetDir } from "../node/fleet-plan.js";
export { writeMeshAddresses } from "../node/fleet-plan.js";
import { UserError } from "../node/errors.js";

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
  try {
    const r = planFleetDir(dir, opts);
    const warnings = r.validated.issues;
    if (warnings.length) reportIssues(warnings);
    return r.plan;
  } catch (e) {
    if (e instanceof PlanRefused) {
      reportIssues(e.issues);
      throw new CliError(e.message);
    }
    if (e instanceof UserError) throw new CliError(e.message);
    throw e;
  }
}

export function openStoreCli(dir: string, fleet: Validated["fleet"] & {}) {
  try {
    return openStore(dir, fleet);
  } catch (e) {
    if (e instanceof UserError) throw new CliError(e.message);
    throw e;
  }
}

/** Exists, counting a (dangling) symbolic link as existing: a host file never overwritten by accident. */
export const lexists = (p: string): boolean => {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
};
