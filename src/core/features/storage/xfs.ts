// An XFS filesystem: on one disk, a logical volume or an mdadm array (disko lib/types/filesystem.nix, format "xfs").
import type { VolumeKind } from "./types.js";
import type { Volume } from "../../schema/fleet.js";
import { existingDevice } from "./place.js";

type Xfs = Extract<Volume, { type: "xfs" }>;

export const xfs: VolumeKind<Xfs> = {
  type: "xfs",
  mounts: (v) => [{ mountpoint: v.mountpoint, field: ["mountpoint"] }],
  partitionContent: (_name, v) => ({
    type: "filesystem",
    format: "xfs",
    mountpoint: v.mountpoint,
    mountOptions: v.mountOptions,
    // -f: disko formats only what blkid finds empty; a leftover signature must not stop mkfs.
    extraArgs: ["-f", ...(v.label ? ["-L", v.label] : [])],
  }),
  existingFileSystems: (name, v) => ({
    [v.mountpoint]: { device: existingDevice(name, v), fsType: "xfs", options: [...v.mountOptions, "nofail"] },
  }),
};
