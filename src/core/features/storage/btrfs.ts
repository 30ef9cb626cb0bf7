// btrfs with subvolumes mounted where services need them (seed 000: /var/mnt/{secrets,erigon,lighthouse}).
import type { VolumeKind } from "./types.js";
import type { Volume } from "../../schema/fleet.js";
import { existingDevice } from "./place.js";

type Btrfs = Extract<Volume, { type: "btrfs" }>;

export const btrfs: VolumeKind<Btrfs> = {
  type: "btrfs",
  mounts: (v) => Object.entries(v.subvolumes).map(([n, s]) => ({ mountpoint: s.mountpoint, field: ["subvolumes", n, "mountpoint"] })),
  partitionContent: (name, v, index, others) =>
    index > 0
      ? undefined // members beyond the first are joined through extraArgs of the first
      : {
          type: "btrfs",
          extraArgs: ["-f", ...(v.label ? ["-L", v.label] : []), ...(others.length > 0 ? ["-d", "raid1", "-m", "raid1", ...others] : [])],
          subvolumes: Object.fromEntries(
            Object.entries(v.subvolumes).map(([n, s]) => [`/${n}`, { mountpoint: s.mountpoint, mountOptions: s.mountOptions }]),
          ),
        },
  existingFileSystems: (name, v) =>
    Object.fromEntries(
      Object.entries(v.subvolumes).map(([n, s]) => [
        s.mountpoint,
        {
          device: existingDevice(name, v),
          fsType: "btrfs",
          options: [`subvol=${n}`, ...s.mountOptions, "nofail"],
        },
      ]),
    ),
};
