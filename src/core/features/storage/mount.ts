// A filesystem that exists already and is only mounted: NixOS fileSystems, never in disko's
// layout, so nothing hearth runs (disko, `hearth prepare`) formats it.
import type { VolumeKind } from "./types.js";
import type { Volume } from "../../schema/fleet.js";

type Mount = Extract<Volume, { type: "mount" }>;

export const mount: VolumeKind<Mount> = {
  type: "mount",
  neverFormatted: true,
  mounts: (v) => [{ mountpoint: v.mountpoint, field: ["mountpoint"] }],
  partitionContent: () => undefined,
  existingFileSystems: (_name, v) => ({ [v.mountpoint]: { device: v.device, fsType: v.fsType, options: v.options } }),
};
