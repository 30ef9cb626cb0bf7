// Where a volume lives: its own disks (one partition each), a logical volume of an LVM volume
// group (`lvm: { vg, size }`), or an mdadm array (`raid: NAME`). Shared by the kinds and the layout.
import type { Volume } from "../../schema/fleet.js";

export type Placement = { on: "disks"; devices: string[] } | { on: "lvm"; vg: string; size: string } | { on: "raid"; raid: string } | { on: "none" };

export function placementOf(v: Volume): Placement {
  if (v.type === "mount") return { on: "none" };
  if ("lvm" in v && v.lvm) return { on: "lvm", vg: v.lvm.vg, size: v.lvm.size };
  if ("raid" in v && v.raid) return { on: "raid", raid: v.raid };
  return { on: "disks", devices: v.devices };
}

/** Disks a volume names itself (none for a mount-only filesystem). */
export const volumeDevices = (v: Volume): string[] => (v.type === "mount" ? [] : v.devices);

/** The block device a volume's filesystem is on once it exists (to mount it without disko). */
export function existingDevice(name: string, v: Volume & { label?: string | undefined }): string {
  if (v.label) return `/dev/disk/by-label/${v.label}`;
  const p = placementOf(v);
  if (p.on === "lvm") return `/dev/${p.vg}/${name}`;
  if (p.on === "raid") return `/dev/md/${p.raid}`;
  return p.on === "disks" ? p.devices[0]! : "";
}
