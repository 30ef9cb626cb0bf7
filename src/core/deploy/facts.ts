// What must be true of a machine before hearth changes it, by deploy kind, checked against the
// facts gathered in one read-only round trip (nixos-anywhere's habit). Each problem says what
// to do. Pure: the executor gathers, this decides.
import type { Host } from "../schema/fleet.js";
import { formattedVolumes } from "../features/storage/layout.js";
import type { DeployKind } from "./deploy.js";

export interface Facts {
  arch: string;
  memKiB: number;
  uid: number;
  sudo: boolean;
  kexec: boolean;
  nixos: boolean;
  /** Resolvable names under /dev/disk/by-id, by-path, by-partlabel, by-uuid. */
  devices: Set<string>;
}

/** nixos-anywhere's kexec installer wants about this much RAM. */
export const INSTALL_MIN_MIB = 1024;

const ARCH: Record<string, string> = { "x86_64-linux": "x86_64", "aarch64-linux": "aarch64" };

/** The disks an installation formats, by id: what disko will look for on the machine. */
export const installDisks = (host: Host): string[] =>
  [...new Set([...(host.storage.bootDisk ? [host.storage.bootDisk] : []), ...formattedVolumes(host).flatMap(([, v]) => v.devices)])];

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
