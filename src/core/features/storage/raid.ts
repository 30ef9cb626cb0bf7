// An mdadm software RAID over member partitions (disko lib/types/mdraid.nix on each member,
// mdadm.nix for the array); what it holds is the volume that names it (`raid: NAME`).
import type { VolumeKind } from "./types.js";
import type { Volume } from "../../schema/fleet.js";

type Raid = Extract<Volume, { type: "raid" }>;

/** Members a level needs to be what its name promises (redundancy, or striping at all). */
export const RAID_MIN_DEVICES: Record<Raid["level"], number> = { 0: 2, 1: 2, 4: 3, 5: 3, 6: 4, 10: 4 };

export const raid: VolumeKind<Raid> = {
  type: "raid",
  mounts: () => [],
  minDevices: (v) => [RAID_MIN_DEVICES[v.level], `RAID ${v.level} needs at least ${RAID_MIN_DEVICES[v.level]} disks`],
  partitionContent: (name) => ({ type: "mdraid", name }),
};
