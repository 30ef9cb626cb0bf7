// From a fleet host to an SSH target: address, port, user and the pinned key (the host's
// hearth-generated SSH host key, or for the initrd its separate initrd key), plus facts about
// the machine gathered once before any change.
import { reachableAddress } from "../../core/schema/network.js";
import type { Fleet, Host } from "../../core/schema/fleet.js";
import type { Manifest } from "../../core/secrets/manifest.js";
import { hostKeyKey } from "../../core/secrets/plan.js";
import { UserError } from "../errors.js";
import { explainSsh, SshSession, type SshTarget } from "./ssh.js";
import type { Facts } from "../../core/deploy/facts.js";

export type { Facts };

export interface TargetOptions {
  address?: string;
  port?: number;
  user?: string;
  jump?: string;
  identityFile?: string;
}

const staticAddress = (h: Host) => reachableAddress(h.network);

export function hostTarget(fleet: Fleet, manifest: Manifest, name: string, o: TargetOptions): SshTarget {
  const h = fleet.hosts.get(name);
  if (!h) throw new UserError(`no host '${name}' in the fleet`);
  const hostKey = h.sshHostKey ?? manifest.secrets[hostKeyKey(name)]?.public;
  if (!hostKey) throw new UserError(`${name} has no SSH host key yet: run \`hearth secrets generate\``);
  const address = o.address ?? staticAddress(h) ?? (fleet.domain ? `${name}.${fleet.domain}` : undefined);
  if (!address) throw new UserError(`${name} has no static address: pass --address`);
  return { alias: name, address, port: o.port ?? 22, user: o.user ?? "root", hostKey, ...(o.jump ? { jump: o.jump } : {}), ...(o.identityFile ? { identityFile: o.identityFile } : {}) };
}

/** The initrd's SSH server (remote unlock): its own port and its own pinned key. */
export function initrdTarget(fleet: Fleet, manifest: Manifest, name: string, o: TargetOptions): SshTarget {
  const h = fleet.hosts.get(name);
  if (!h) throw new UserError(`no host '${name}' in the fleet`);
  const ru = h.security.remoteUnlock;
  if (!ru?.enable) throw new UserError(`${name} has no remote unlock: set security.remoteUnlock.enable`);
  const hostKey = manifest.secrets[`hosts/${name}/initrd-ssh-host-key`]?.public;
  if (!hostKey) throw new UserError(`${name} has no initrd SSH host key yet: run \`hearth secrets generate\``);
  const ip = ru.ip !== "dhcp" ? ru.ip.address.split("/")[0] : undefined;
  const address = o.address ?? ip ?? staticAddress(h);
  if (!address) throw new UserError(`${name}'s initrd address is DHCP-assigned: pass --address`);
  return { alias: `${name}-initrd`, address, port: o.port ?? ru.port, user: "root", hostKey, tty: true, ...(o.jump ? { jump: o.jump } : {}), ...(o.identityFile ? { identityFile: o.identityFile } : {}) };
}


// One round trip, read-only; the markers keep the parse independent of the remote shell's noise.
export const FACTS_SCRIPT = [
  "echo arch=$(uname -m)",
  "echo mem=$(awk '/MemTotal/ {print $2}' /proc/meminfo)",
  "echo uid=$(id -u)",
  "if sudo -n true 2>/dev/null; then echo sudo=1; else echo sudo=0; fi",
  "if command -v kexec >/dev/null 2>&1; then echo kexec=1; else echo kexec=0; fi",
  "if [ -e /etc/NIXOS ]; then echo nixos=1; else echo nixos=0; fi",
  // Every name storage may use for a disk (schema/storage.ts), kernel names included.
  "for d in /dev/disk/by-id/* /dev/disk/by-path/* /dev/disk/by-partlabel/* /dev/disk/by-uuid/* /dev/disk/by-label/* /dev/disk/by-partuuid/* /dev/sd* /dev/vd* /dev/xvd* /dev/hd* /dev/nvme* /dev/mmcblk*; do [ -b \"$d\" ] && echo dev=$d; done; true",
].join("; ");

export async function gatherFacts(s: SshSession): Promise<Facts> {
  const r = await s.run(FACTS_SCRIPT, { timeoutMs: 30_000 });
  if (r.code !== 0) throw new UserError(`cannot reach ${s.target.alias}: ${explainSsh(r, s.target)}`);
  const kv = (k: string) => r.stdout.split("\n").filter((l) => l.startsWith(`${k}=`)).map((l) => l.slice(k.length + 1));
  return {
    arch: kv("arch")[0] ?? "?",
    memKiB: Number(kv("mem")[0] ?? 0),
    uid: Number(kv("uid")[0] ?? -1),
    sudo: kv("sudo")[0] === "1",
    kexec: kv("kexec")[0] === "1",
    nixos: kv("nixos")[0] === "1",
    devices: new Set(kv("dev")),
  };
}
