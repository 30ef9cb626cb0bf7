// An LVM volume group over physical volumes (disks or one mdadm array); its logical volumes are
// the volumes that name it (`lvm: { vg, size }`). disko lib/types/lvm_pv.nix and lvm_vg.nix.
import type { VolumeKind } from "./types.js";
import type { Volume } from "../../schema/fleet.js";

type Lvm = Extract<Volume, { type: "lvm" }>;

export const lvm: VolumeKind<Lvm> = {
  type: "lvm",
  mounts: () => [],
  partitionContent: (name) => ({ type: "lvm_pv", vg: name }),
};
