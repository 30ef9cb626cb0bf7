// What must be true of a machine before hearth changes it, by deploy kind, checked against the
// facts gathered in one read-only round trip (nixos-anywhere's habit). Each problem says what
// to do. Pure: the executor gathers, this decides.
import type { Host } from "../schema/fleet.js";
import { formattedVolumes, mountOnlyVolumes } from "../features/storage/layout.js";
import { volumeDevices } from "../features/storage/place.js";
import type { DeployKind } from "./deploy.js";

export interface Facts {
  arch: string;
  memKiB: number;
  uid: number;
  sudo: boolean;
  kexec: boolean;
  nixos: boolean;
  /** Block devices that resolve: /dev/disk/by-{id,path,partlabel,uuid,label,partuuid}/*, and kernel names (/dev/sdb, /dev/nvme0n1). */
  devices: Set<string>;
}

/** nixos-anywhere's kexec installer wants about this much RAM. */
export const INSTALL_MIN_MIB = 1024;

const ARCH: Record<string, string> = { "x86_64-linux": "x86_64", "aarch64-linux": "aarch64" };

/** The disks an installation formats, by id: what disko will look for on the machine. */
export const installDisks = (host: Host): string[] =>
  [...new Set([...(host.storage.bootDisk ? [host.storage.bootDisk] : []), ...formattedVolumes(host).flatMap(([, v]) => volumeDevices(v))])];

/**
 * The refusal to format disks on a host with filesystems that are only mounted (type: mount):
 * their by-uuid or by-label names cannot be told apart from the wiped disks before the fact, so
 * the user types the host's name back (`--confirm-existing HOST`). Undefined when nothing is at risk.
 *
 *   existingFilesystemsProblem("nas", host, "nixos-anywhere (disko)", ["/dev/disk/by-id/a"], undefined)
 *   // → "nas has filesystems that hearth must only mount, never format: /srv/media (…) …"
 */
export function existingFilesystemsProblem(name: string, host: Host, formatter: string, disks: string[], confirm: string | undefined): string | undefined {
  const existing = mountOnlyVolumes(host);
  if (existing.length === 0 || disks.length === 0 || confirm === name) return undefined;
  const list = existing.map(([v, m]) => `${m.mountpoint} (${m.device}, ${m.fsType}; volume ${v})`).join(", ");
  return `${name} has filesystems that hearth must only mount, never format: ${list}. ${formatter} wipes ${disks.join(", ")}; check that none of those filesystems is on them (lsblk -o NAME,FSTYPE,UUID,LABEL,MOUNTPOINTS on the machine), then run again with --confirm-existing ${name}`;
}

export function checkFacts(
  name: string,
  host: Host,
  kind: DeployKind,
  f: Facts,
  o: {
    user: string;
    /** The system is built from the fleet (not --system): its architecture is the host's. */
    builtFromFleet: boolean;
    /** Bytes of the kexec tree, once built. */
    kexecBytes?: number;
    /** The host's name, typed back: the disks an install formats hold none of its mount-only filesystems. */
    confirmExisting?: string;
  },
): string[] {
  const problems: string[] = [];
  if (f.uid !== 0 && !f.sudo) problems.push(`${o.user} has no passwordless sudo on the machine: log in as root (--user root) or allow ${o.user} sudo without a password`);
  const want = ARCH[host.system];
  if (o.builtFromFleet && want && f.arch !== want)
    problems.push(`the machine is ${f.arch}, but ${name} is built for ${host.system}: check the address, or set system: in hosts/${name}.yaml`);
  const mib = Math.floor(f.memKiB / 1024);
  if (kind === "kexec") {
    if (!f.kexec) problems.push("kexec is not installed on the machine: install kexec-tools there (apt install kexec-tools), or netboot the host instead");
    // The kernel and initrd are loaded into RAM, and the initrd unpacks into RAM again.
    const need = o.kexecBytes !== undefined ? Math.ceil((2 * o.kexecBytes) / 1048576) + 256 : undefined;
    if (need !== undefined && mib < need) problems.push(`the machine has ${mib} MiB of RAM; booting this kexec image needs about ${need} MiB`);
  }
  if (kind === "install") {
    if (mib < INSTALL_MIN_MIB) problems.push(`the machine has ${mib} MiB of RAM; nixos-anywhere's installer needs at least ${INSTALL_MIN_MIB} MiB`);
    const existing = existingFilesystemsProblem(name, host, "nixos-anywhere runs disko, which", installDisks(host), o.confirmExisting);
    if (existing) problems.push(existing);
    const missing = installDisks(host).filter((d) => !f.devices.has(d));
    if (missing.length) {
      const byId = [...f.devices].filter((d) => d.startsWith("/dev/disk/by-id/")).sort();
      problems.push(
        `${missing.join(", ")} (in hosts/${name}.yaml storage) ${missing.length > 1 ? "are" : "is"} not on the machine, so nothing would be formatted right; its disks by id: ${byId.join(", ") || "none"}. Fix the ids in hosts/${name}.yaml`,
      );
    }
  }
  return problems;
}
