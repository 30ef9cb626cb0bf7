// A single ext4 filesystem on one disk.
import type { VolumeKind } from "./types.js";
import type { Volume } from "../../schema/fleet.js";

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
  existingFileSystems: (_name, v) => ({
    [v.mountpoint]: { device: v.label ? `/dev/disk/by-label/${v.label}` : v.devices[0]!, fsType: "ext4", options: ["nofail"] },
  }),
};
