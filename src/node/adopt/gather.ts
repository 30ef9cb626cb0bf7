// The SSH side of `hearth adopt --address`: first contact with a machine (its host key given, or
// trusted on first use and recorded), then the one read-only facts script. The session is
// handed nothing but that script: adopting never changes the machine.
import { readFileSync } from "node:fs";
import { adoptRemoteCommand, parseAdoptOutput, type MachineFacts } from "../../core/adopt/facts.js";
import { mergeFacter, parseFacterReport } from "../../core/adopt/facter.js";
import { keyFingerprint } from "../../core/pull/agent-auth.js";
import { UserError } from "../errors.js";
import { explainSsh, SshSession, type RunResult, type SshTarget } from "../deploy/ssh.js";

export interface AdoptTarget {
  alias: string;
  address: string;
  port: number;
  user: string;
  identityFile?: string;
  /** The machine's key as the admin knows it; without it, `acceptNewKey` must be true. */
  hostKey?: string;
  acceptNewKey?: boolean;
}

export interface Gathered {
  facts: MachineFacts;
  /** The machine's ed25519 host key line (`ssh-ed25519 AAAA…`), as pinned or as first seen. */
  hostKey: string;
  fingerprint: string;
  /** The one command line the machine ran. */
  command: string;
  /** nixos-facter ran there but its output was not a report: why. */
  facterProblem?: string;
}

/** Only ever runs the adopt script: the port through which adoption reaches the machine. */
export interface ReadOnlyRunner {
  runFactsScript(command: string): Promise<RunResult>;
}

const ED25519 = /^ssh-ed25519 [A-Za-z0-9+/]+={0,3}$/;

/** The key line without its comment, refused unless it is an ed25519 key. */
export function normalizeHostKey(k: string): string {
  const line = k.trim().split(/\s+/).slice(0, 2).join(" ");
  if (!ED25519.test(line)) throw new UserError(`--host-key must be the machine's ssh-ed25519 public key ("ssh-ed25519 AAAA…", e.g. from ssh-keyscan -t ed25519 ADDRESS or /etc/ssh/ssh_host_ed25519_key.pub)`);
  return line;
}

/** Connect (pinned, or trusting the first ed25519 key), run the facts script, return the facts. */
export async function gatherOverSsh(t: AdoptTarget, o: { timeoutMs?: number } = {}): Promise<Gathered> {
  if (!t.hostKey && !t.acceptNewKey)
    throw new UserError(`first contact with ${t.address}: hearth does not know its host key yet. Pass --host-key "ssh-ed25519 AAAA…" (from the machine's console: cat /etc/ssh/ssh_host_ed25519_key.pub), or --accept-new-key to trust the key it presents now`);
  const pinned = t.hostKey ? normalizeHostKey(t.hostKey) : undefined;
  const target: SshTarget = {
    alias: t.alias,
    address: t.address,
    port: t.port,
    user: t.user,
    hostKey: pinned ?? "",
    ...(pinned ? {} : { acceptFirstKey: true, firstKeyType: "ssh-ed25519" as const }),
    ...(t.identityFile ? { identityFile: t.identityFile } : {}),
  };
  // No connection sharing: one command, and nothing of the session outlives it.
  const s = new SshSession(target, false);
  const command = adoptRemoteCommand(t.user);
  try {
    const runner: ReadOnlyRunner = { runFactsScript: (c) => s.run(c, { timeoutMs: o.timeoutMs ?? 120_000 }) };
    const r = await runner.runFactsScript(command);
    if (r.code !== 0) {
      if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/i.test(r.stderr))
        throw new UserError(
          pinned
            ? `${t.address}:${t.port} did not present the host key given with --host-key (${keyFingerprint(pinned)}): check the address and the key (ssh-keyscan -t ed25519 -p ${t.port} ${t.address} | ssh-keygen -lf -); nothing was written`
            : `${t.address}:${t.port} offers no ssh-ed25519 host key; hearth pins ed25519 keys only (ssh-keygen -A on the machine makes one)`,
        );
      throw new UserError(`cannot read ${t.address}'s facts: ${explainSsh(r, target)}`);
    }
    let hostKey = pinned;
    if (!hostKey) {
      // accept-new wrote the key it saw to our own known_hosts: "<alias> ssh-ed25519 AAAA…".
      const line = readFileSync(s.knownHosts, "utf8").split("\n").find((l) => l.split(/\s+/)[1] === "ssh-ed25519");
      if (!line) throw new UserError(`${t.address} presented no ssh-ed25519 host key to record`);
      hostKey = line.trim().split(/\s+/).slice(1, 3).join(" ");
    }
    const { facts, facterReport } = parseAdoptOutput(r.stdout);
    let merged = facts;
    let facterProblem: string | undefined;
    if (facterReport) {
      try {
        merged = mergeFacter(facts, parseFacterReport(facterReport));
      } catch (e) {
        facterProblem = (e as Error).message;
      }
    }
    return { facts: merged, hostKey, fingerprint: keyFingerprint(hostKey), command, ...(facterProblem ? { facterProblem } : {}) };
  } finally {
    s.close();
  }
}
