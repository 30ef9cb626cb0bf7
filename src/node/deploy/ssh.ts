// The SSH transport of deploy commands: OpenSSH's client (as nixos-anywhere uses it) with the
// target's host key pinned to the key hearth generated (its own known_hosts file, a host-key
// alias per host and one for its initrd), batch mode, optional jump host. Commands go as one
// shell-quoted string; secrets only ever travel on stdin, never in arguments.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { escapeShellArg } from "../../core/plan/shell.js";

export interface SshTarget {
  /** Host name in the fleet; also the host-key alias (`<host>-initrd` for the initrd). */
  alias: string;
  address: string;
  port: number;
  user: string;
  /** The pinned public key line (`ssh-ed25519 AAAA…`). */
  hostKey: string;
  /** ProxyJump, e.g. `admin@bastion:22`. */
  jump?: string;
  /** Private key to log in with (default: the user's agent and ~/.ssh keys). */
  identityFile?: string;
  /** Allocate a terminal (the initrd's password agent wants one). */
  tty?: boolean;
  /**
   * First contact with a machine that is not yet the host (a rescue system before kexec or
   * install): accept its own key for this session only. The host hearth brings up is pinned.
   */
  acceptFirstKey?: boolean;
  /** With acceptFirstKey: take only a key of this type (`hearth adopt` records an ed25519 key). */
  firstKeyType?: "ssh-ed25519";
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The command line hearth runs: printed by --dry-run, so it must be exactly what runs. */
export function sshArgv(t: SshTarget, knownHostsFile: string, command: string, controlPath?: string): string[] {
  return [
    "ssh",
    // One connection per host for all of a deploy's commands (and nix copy): handshakes are the
    // cost that grows when many hosts are deployed at once.
    ...(controlPath ? ["-o", "ControlMaster=auto", "-o", `ControlPath=${controlPath}`, "-o", "ControlPersist=30"] : []),
    "-o", "BatchMode=yes",
    "-o", `StrictHostKeyChecking=${t.acceptFirstKey ? "accept-new" : "yes"}`,
    "-o", `UserKnownHostsFile=${knownHostsFile}`,
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", `HostKeyAlias=${t.alias}`,
    ...(t.acceptFirstKey && !t.firstKeyType ? [] : ["-o", `HostKeyAlgorithms=${t.firstKeyType ?? "ssh-ed25519"}`]),
    "-o", "ConnectTimeout=10",
    "-o", "ServerAliveInterval=5",
    "-o", "ServerAliveCountMax=3",
    "-o", "LogLevel=ERROR",
    "-p", String(t.port),
    ...(t.identityFile ? ["-i", t.identityFile, "-o", "IdentitiesOnly=yes"] : []),
    ...(t.jump ? ["-J", t.jump] : []),
    ...(t.tty ? ["-tt"] : ["-T"]),
    `${t.user}@${t.address}`,
    "--",
    command,
  ];
}

/** Quote an argv for the remote shell, with sudo when the login user is not root. */
export function remoteCommand(t: SshTarget, argv: string[]): string {
  const cmd = argv.map(escapeShellArg).join(" ");
  return t.user === "root" ? cmd : `sudo -n -- ${cmd}`;
}

export class SshSession {
  private readonly dir = mkdtempSync(join(tmpdir(), "hearth-ssh-"));
  readonly knownHosts = join(this.dir, "known_hosts");

  /** `multiplex: false` for machines about to kexec: no shared connection outlives a command. */
  constructor(readonly target: SshTarget, private readonly multiplex = true) {
    writeFileSync(this.knownHosts, target.acceptFirstKey ? "" : `${target.alias} ${target.hostKey.split(/\s+/).slice(0, 2).join(" ")}\n`, { mode: 0o600 });
  }

  private readonly control = join(this.dir, "cm");

  argv(command: string): string[] {
    return sshArgv(this.target, this.knownHosts, command, this.multiplex ? this.control : undefined);
  }

  /** Run a remote shell command; `stdin` (for secrets) is written and closed. Bounded by `timeoutMs`. */
  run(command: string, opts: { stdin?: Buffer; timeoutMs?: number; holdStdin?: boolean; signal?: AbortSignal } = {}): Promise<RunResult> {
    const [cmd, ...args] = this.argv(command);
    return new Promise((resolve) => {
      const child = spawn(cmd!, args, { stdio: ["pipe", "pipe", "pipe"] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on("data", (d: Buffer) => out.push(d));
      child.stderr.on("data", (d: Buffer) => err.push(d));
      const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
      // A stopping server ends its polls at once rather than waiting out their timeouts.
      const abort = () => child.kill("SIGKILL");
      opts.signal?.addEventListener("abort", abort, { once: true });
      if (opts.signal?.aborted) abort();
      child.on("close", (code) => {
        clearTimeout(timer);
        opts.signal?.removeEventListener("abort", abort);
        resolve({ code: code ?? 255, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
      });
      child.stdin.on("error", () => {});
      // On a terminal session, closing stdin hangs up the remote side: keep it open until the
      // remote command is done (the initrd prompt reads a line, then works for a while).
      if (opts.holdStdin) child.stdin.write(opts.stdin ?? Buffer.alloc(0));
      else child.stdin.end(opts.stdin ?? Buffer.alloc(0));
    });
  }

  close(): void {
    // Stop the shared connection, then forget its socket and our known_hosts.
    if (this.multiplex) {
      const [cmd, ...args] = this.argv("true");
      spawnSync(cmd!, ["-O", "exit", ...args.slice(0, -2)], { stdio: "ignore", timeout: 5000 });
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** What an SSH failure means, in words a user can act on. */
export function explainSsh(r: RunResult, t: SshTarget): string {
  const e = r.stderr;
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/i.test(e))
    return `${t.address}:${t.port} did not present ${t.alias}'s pinned host key (${t.hostKey.slice(0, 40)}…): it is another machine, or it was reinstalled without hearth's key; check the address, or place the key with \`hearth secrets extra-files ${t.alias.replace(/-initrd$/, "")}\``;
  if (/Permission denied/i.test(e)) return `${t.user}@${t.address} refused our key: add your SSH key to fleet.yaml admins (and deploy it), or pass --ssh-key`;
  if (/Connection refused/i.test(e)) return `nothing listens on ${t.address}:${t.port}: is the host up (and, for unlock, waiting in its initrd)?`;
  if (/timed out|No route to host|Network is unreachable/i.test(e)) return `${t.address}:${t.port} is not reachable: check the address and the network`;
  if (/sudo: a password is required|sudo: a terminal is required/i.test(e)) return `${t.user} on ${t.alias} needs passwordless sudo (or log in as root)`;
  return e.trim().split("\n").slice(-3).join(" / ") || `ssh exited with status ${r.code}`;
}
