// The executor of `hearth prepare` (core/deploy/prepare.ts plans it): facts first, then the
// chosen phases over SSH, a destructive phase only with the host's name typed back, secrets
// streamed on stdin and zeroed. One place for the CLI and the server's "Prepare disks" button.
import type { SecretsStore } from "../secrets/store.js";
import { show } from "../secrets/store.js";
import type { LoadedIdentity } from "../secrets/age.js";
import { planPrepare, type Phase } from "../../core/deploy/prepare.js";
import { escapeShellArg } from "../../core/plan/shell.js";
import { explainSsh, remoteCommand, SshSession, type SshTarget } from "./ssh.js";
import { gatherFacts, type Facts } from "./target.js";
import { UserError } from "../errors.js";

export interface PrepareRun {
  phases: ReadonlySet<string>;
  /** The host's name as typed back by the user; required when a chosen phase destroys data. */
  confirm?: string;
  /** The host's name typed back (--confirm-existing): formatting may go on beside its mount-only filesystems. */
  confirmExisting?: string;
  identities: () => Promise<LoadedIdentity[]>;
  log: (line: string) => void;
}

/** The plan as --dry-run prints it: every command over the SSH prefix, secrets named, never shown. */
export function preparePlanText(phases: Phase[], ssh: SshSession): string[] {
  const prefix = ssh.argv("").slice(0, -1).map(escapeShellArg).join(" ");
  const out = [`via: ${prefix} COMMAND`];
  for (const p of phases) {
    out.push(`phase ${p.name}${p.destructive ? " (destroys data)" : ""}:`);
    for (const s of p.steps) out.push(`  ${remoteCommand(ssh.target, s.argv)}${s.stdinSecret ? `   < ${s.stdinSecret} (decrypted in memory, on stdin)` : ""}`);
  }
  return out;
}

/** Facts and the chosen phases of the plan for `name` (throws UserError for what cannot work). */
export async function planPrepareOver(ssh: SshSession, store: SecretsStore, name: string, phases: ReadonlySet<string>, withFacts = true, confirmExisting?: string): Promise<{ facts?: Facts; chosen: Phase[] }> {
  const host = store.fleet.hosts.get(name);
  if (!host) throw new UserError(`no host '${name}' in the fleet`);
  const facts = withFacts ? await gatherFacts(ssh) : undefined;
  if (facts && facts.uid !== 0 && !facts.sudo) throw new UserError(`${ssh.target.user} on ${name} is not root and has no passwordless sudo; log in as root or allow sudo -n`);
  const plan = planPrepare(name, host, store.planned, facts ? { devices: facts.devices } : undefined, { formats: phases.has("format"), ...(confirmExisting ? { confirmExisting } : {}) });
  if (plan.problems.length) throw new UserError(plan.problems.join("\n"));
  return { ...(facts ? { facts } : {}), chosen: plan.phases.filter((p) => phases.has(p.name)) };
}

/** Runs the chosen phases; refuses a destructive one unless `confirm` is the host's name. */
export async function runPrepare(store: SecretsStore, name: string, target: SshTarget, o: PrepareRun): Promise<void> {
  const ssh = new SshSession(target);
  try {
    const { facts, chosen } = await planPrepareOver(ssh, store, name, o.phases, true, o.confirmExisting);
    if (facts) o.log(`${name} at ${target.address}: ${facts.arch}, ${Math.round(facts.memKiB / 1024)} MiB RAM, ${facts.devices.size} disk name(s) by id${facts.nixos ? ", NixOS" : ""}`);
    await executePrepare(ssh, store, name, chosen, o);
  } finally {
    ssh.close();
  }
}

/** The chosen phases, in order, over an open session. */
export async function executePrepare(ssh: SshSession, store: SecretsStore, name: string, chosen: Phase[], o: Omit<PrepareRun, "phases">): Promise<void> {
  if (chosen.some((p) => p.destructive) && o.confirm !== name) throw new UserError(`not confirmed (expected '${name}'); nothing was changed`);
  const ids = chosen.some((p) => p.steps.some((s) => s.stdinSecret)) ? await o.identities() : [];
  for (const phase of chosen) {
    o.log(`phase ${phase.name}`);
    for (const step of phase.steps) {
      const secret = step.stdinSecret ? await show(store, step.stdinSecret, ids) : undefined;
      const r = await ssh.run(remoteCommand(ssh.target, step.argv), secret ? { stdin: secret } : {});
      secret?.fill(0);
      if (r.code !== 0) throw new UserError(`phase ${phase.name}, ${step.what}: failed on ${name}: ${explainSsh(r, ssh.target)}`);
      o.log(`  ok  ${step.what}`);
    }
  }
  o.log(`${name} is prepared: ${chosen.map((p) => p.name).join(", ")}`);
}
