// Remote LUKS unlock through the initrd's SSH server: the passphrase is written to the session
// over a terminal, as systemd's password agent reads it, and never echoed, logged or put in argv.
// Used by `hearth unlock` and by deploy's wait when a host stops in its initrd after a reboot.
import { explainSsh, SshSession, type SshTarget } from "./ssh.js";

export interface UnlockResult {
  ok: boolean;
  /** Why not: the SSH failure in words, plus what the prompt said (never anything typed). */
  detail: string;
  /** The initrd's SSH server did not answer at all (the host is not waiting in its initrd). */
  unreachable: boolean;
}

export async function unlockOverInitrd(target: SshTarget, passphrase: Buffer, timeoutMs = 60_000): Promise<UnlockResult> {
  const ssh = new SshSession(target, false);
  const input = Buffer.concat([passphrase, Buffer.from("\n")]);
  try {
    const r = await ssh.run("", { stdin: input, timeoutMs, holdStdin: true });
    if (r.code === 0) return { ok: true, detail: "unlocked", unreachable: false };
    const said = r.stdout.replace(/\r/g, "").split("\n").map((l) => l.trim()).filter(Boolean).slice(-3).join(" / ");
    const unreachable = r.code === 255 && /Connection refused|timed out|No route to host|Network is unreachable/i.test(r.stderr);
    return { ok: false, detail: `${explainSsh(r, target)}${said ? ` (the host said: ${said})` : ""}`, unreachable };
  } finally {
    input.fill(0);
    ssh.close();
  }
}
