// `hearth prepare`: seed 000's "Format drives" done from the fleet description. A pure plan of
// named phases, each a list of remote commands (argv) with, at most, a secret to stream on
// stdin (named, never its value); the executor runs them over SSH, --dry-run prints them.
import type { Host } from "../schema/fleet.js";
import type { PlannedSecret } from "../secrets/plan.js";
import { existingFilesystemsProblem } from "./facts.js";

type Btrfs = Extract<Host["storage"]["volumes"][string], { type: "btrfs" }>;

export interface RemoteStep {
  argv: string[];
  /** Secret key whose plaintext is streamed on stdin (decrypted only in hearth's memory). */
  stdinSecret?: string;
  /** Shown in progress output. */
  what: string;
}

export interface Phase {
  name: "check" | "format" | "subvolumes" | "secrets";
  /** Destroys data: the user types the host's name back before it runs. */
  destructive: boolean;
  steps: RemoteStep[];
}

export interface PrepareFacts {
  /** Entries of /dev/disk/by-id etc. that resolve on the target. */
  devices: Set<string>;
}

export const PREPARE_PHASES = ["check", "format", "subvolumes", "secrets"] as const;
const MNT = "/mnt/hearth-prepare";

/** btrfs volumes that hearth does not format at install (format: false): the ones to prepare. */
export const preparableVolumes = (host: Host): [string, Btrfs][] =>
  Object.entries(host.storage.volumes).filter((e): e is [string, Btrfs] => e[1].type === "btrfs" && !e[1].format && e[1].devices.length > 0);

/** Where an absolute path on the running host lives inside a volume: [volume, subvolume, relative path]. */
function placeOf(host: Host, path: string): [string, string, string] | undefined {
  let best: [string, string, string] | undefined;
  let bestLen = -1;
  for (const [vname, v] of preparableVolumes(host))
    for (const [sname, s] of Object.entries(v.subvolumes)) {
      const mp = s.mountpoint.replace(/\/$/, "");
      if ((path.startsWith(mp + "/")) && mp.length > bestLen) {
        best = [vname, sname, path.slice(mp.length + 1)];
        bestLen = mp.length;
      }
    }
  return best;
}

export function planPrepare(
  hostName: string,
  host: Host,
  secrets: PlannedSecret[],
  facts?: PrepareFacts,
  /** confirmExisting: the host's name typed back (--confirm-existing); formats: whether the format phase is chosen (default yes). */
  o: { confirmExisting?: string; formats?: boolean } = {},
): { phases: Phase[]; problems: string[] } {
  const problems: string[] = [];
  const volumes = preparableVolumes(host);
  if (volumes.length === 0) problems.push(`${hostName} has no btrfs volume with format: false to prepare (installed hosts are formatted by disko at install)`);
  const existing = o.formats === false ? undefined : existingFilesystemsProblem(hostName, host, "hearth prepare's format phase", volumes.flatMap(([, v]) => v.devices), o.confirmExisting);
  if (existing) problems.push(existing);
  const check: Phase = { name: "check", destructive: false, steps: [] };
  const format: Phase = { name: "format", destructive: true, steps: [] };
  const subvolumes: Phase = { name: "subvolumes", destructive: false, steps: [] };
  const secretsPhase: Phase = { name: "secrets", destructive: false, steps: [] };
  for (const [vname, v] of volumes) {
    for (const d of v.devices) {
      check.steps.push({ what: `${d} exists`, argv: ["test", "-b", d] });
      if (facts && !facts.devices.has(d)) problems.push(`${d} (volume ${vname}) is not on ${hostName}; its disks are: ${[...facts.devices].sort().join(", ") || "none by id"}`);
    }
    const [first, ...others] = v.devices;
    format.steps.push({
      what: `btrfs on ${v.devices.join(" + ")}`,
      argv: ["mkfs.btrfs", "-f", "-L", v.label ?? vname, ...(others.length ? ["-d", "raid1", "-m", "raid1"] : []), first!, ...others],
    });
    const mnt = `${MNT}/${vname}`;
    subvolumes.steps.push({ what: `mount ${vname}`, argv: ["mkdir", "-p", mnt] }, { what: `mount ${vname}`, argv: ["mount", "-t", "btrfs", first!, mnt] });
    for (const sname of Object.keys(v.subvolumes))
      subvolumes.steps.push({ what: `subvolume ${sname}`, argv: ["sh", "-c", `test -d "$1" || btrfs subvolume create "$1"`, "sh", `${mnt}/${sname}`] });
    subvolumes.steps.push({ what: `unmount ${vname}`, argv: ["umount", mnt] });
  }
  // Secrets the host reads from its volumes before agenix can run: its SSH host key.
  const placed = secrets.filter((s) => s.uses.some((u) => u.host === hostName && u.delivery === "install"));
  const byVolume = new Map<string, { subvol: string; rel: string; key: string; mode: string }[]>();
  for (const s of placed) {
    const use = s.uses.find((u) => u.host === hostName && u.delivery === "install")!;
    const place = placeOf(host, use.path);
    if (!place) continue;
    const [vname, subvol, rel] = place;
    byVolume.set(vname, [...(byVolume.get(vname) ?? []), { subvol, rel, key: s.key, mode: use.mode ?? "0600" }]);
  }
  for (const [vname, files] of byVolume) {
    const v = volumes.find(([n]) => n === vname)![1];
    const mnt = `${MNT}/${vname}`;
    secretsPhase.steps.push({ what: `mount ${vname}`, argv: ["mkdir", "-p", mnt] }, { what: `mount ${vname}`, argv: ["mount", "-t", "btrfs", v.devices[0]!, mnt] });
    for (const f of files) {
      const dest = `${mnt}/${f.subvol}/${f.rel}`;
      // umask first, so the file never exists with wider permissions, even for a moment.
      secretsPhase.steps.push({
        what: `${f.key} → ${f.subvol}/${f.rel}`,
        argv: ["sh", "-c", `umask 077 && mkdir -p "$(dirname "$1")" && cat > "$1.tmp" && chmod "$2" "$1.tmp" && mv "$1.tmp" "$1"`, "sh", dest, f.mode],
        stdinSecret: f.key,
      });
    }
    secretsPhase.steps.push({ what: `unmount ${vname}`, argv: ["umount", mnt] });
  }
  return { phases: [check, format, subvolumes, secretsPhase], problems };
}
