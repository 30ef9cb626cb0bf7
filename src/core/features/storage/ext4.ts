// A single ext4 filesystem: on one disk, a logical volume or an mdadm array.
import type { VolumeKind } from "./types.js";
import type { Volume } from "../../schema/fleet.js";
import { existingDevice } from "./place.js";

type Ext4 = Extract<Volume, { type: "ext4" }>;

export const ext4: VolumeKind<Ext4> = {
  type: "ext4",
  mounts: (v) => [{ mountpoint: v.mountpoint, field: ["mountpoint"] }],
  partitionContent: (_name, v) => ({
    type: "filesystem",
    format: "ext4",
    mountpoint: v.mountpoint,
    ...(v.label ? { extraArgs: ["-L", v.label] } : {}),
  }),
  existingFileSystems: (name, v) => ({
    [v.mountpoint]: { device: existingDevice(name, v), fsType: "ext4", options: ["nofail"] },
  }),
};
