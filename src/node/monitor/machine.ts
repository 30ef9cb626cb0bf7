// The live machine-state collector: runs core/monitor/machine.ts's script on many hosts over
// SSH (the deploy transport, host keys pinned), a few at a time, each bounded by a timeout.
// One host that is down or presents the wrong key is a state to report, never an exception.
import type { Fleet } from "../../core/schema/fleet.js";
import type { Manifest } from "../../core/secrets/manifest.js";
import { hostKeyKey } from "../../core/secrets/plan.js";
import { escapeShellArg } from "../../core/plan/shell.js";
import { MACHINE_STATE_SCRIPT, parseMachineState, unreachableState, type MachineState } from "../../core/monitor/machine.js";
import { explainSsh, SshSession, type SshTarget } from "../deploy/ssh.js";
import { hostTarget, type TargetOptions } from "../deploy/target.js";

export interface MachineTarget {
  host: string;
  target: SshTarget;
}

/**
 * Every host of the fleet that can be reached as deploy reaches it (hostTarget: its static
 * address or `<host>.<domain>`, its pinned key), and the ones that cannot, with why.
 */
export function machineTargets(
  fleet: Fleet,
  manifest: Manifest,
  opts: Omit<TargetOptions, "address"> = {},
): { targets: MachineTarget[]; skipped: { host: string; reason: string }[] } {
  const targets: MachineTarget[] = [];
  const skipped: { host: string; reason: string }[] = [];
  for (const [name, h] of fleet.hosts) {
    // Checked here for reasons that fit a dashboard (hostTarget's name CLI flags).
    if (!(h.sshHostKey ?? manifest.secrets[hostKeyKey(name)]?.public)) {
      skipped.push({ host: name, reason: "no SSH host key yet to pin: run `hearth secrets generate`" });
      continue;
    }
    if (!h.network.addresses[0] && !fleet.domain) {
      skipped.push({ host: name, reason: `no static address (network.addresses in hosts/${name}.yaml) and no fleet domain to find it by` });
      continue;
    }
    try {
      targets.push({ host: name, target: hostTarget(fleet, manifest, name, opts) });
    } catch (e) {
      skipped.push({ host: name, reason: (e as Error).message });
    }
  }
  return { targets, skipped };
}

const END = /^@@hearth-machine-state@@ end$/m;

async function collectOne(t: SshTarget, timeoutMs: number, signal?: AbortSignal): Promise<MachineState> {
  let s: SshSession | undefined;
  try {
    // One command per host: a shared connection would only outlive it.
    s = new SshSession(t, false);
    const started = Date.now();
    // Under sh whatever the login shell is (fish, zsh); read-only, so no sudo.
    const r = await s.run(`sh -c ${escapeShellArg(MACHINE_STATE_SCRIPT)}`, { timeoutMs, ...(signal ? { signal } : {}) });
    if (END.test(r.stdout)) return parseMachineState(r.stdout);
    if (r.code === 0) return unreachableState(`${t.alias} answered, but not with the state report (a forced command on its SSH server?): ${r.stdout.trim().slice(0, 200) || "no output"}`);
    // SshSession kills ssh at the timeout; that leaves no words of its own on stderr.
    if (Date.now() - started >= timeoutMs && !r.stderr.trim()) return unreachableState(`${t.address}:${t.port} did not answer within ${timeoutMs / 1000} s`);
    return unreachableState(explainSsh(r, t));
  } catch (e) {
    return unreachableState(`cannot run ssh to ${t.alias}: ${(e as Error).message}`);
  } finally {
    s?.close();
  }
}

/**
 * Every target's state, `concurrency` SSH sessions at a time, each cut at `timeoutMs`.
 * Resolves with one state per host; an unreachable host is `{ reachable: false, reason }`.
 */
export async function collectMachineStates(targets: MachineTarget[], opts: { concurrency: number; timeoutMs: number; signal?: AbortSignal }): Promise<Map<string, MachineState>> {
  const states = new Map<string, MachineState>();
  const queue = [...targets];
  const worker = async () => {
    for (let next = queue.shift(); next && !opts.signal?.aborted; next = queue.shift()) states.set(next.host, await collectOne(next.target, opts.timeoutMs, opts.signal));
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(Math.floor(opts.concurrency) || 1, queue.length)) }, worker));
  // In the order given, not the order answered.
  return new Map(targets.filter((t) => states.has(t.host)).map((t) => [t.host, states.get(t.host)!]));
}
