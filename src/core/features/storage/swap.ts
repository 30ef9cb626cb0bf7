// Swap on a logical volume, a disk or an array (disko lib/types/swap.nix).
import type { VolumeKind } from "./types.js";
import type { Volume } from "../../schema/fleet.js";

type Swap = Extract<Volume, { type: "swap" }>;

export const swap: VolumeKind<Swap> = {
  type: "swap",
  mounts: () => [],
  partitionContent: (_name, v) => ({ type: "swap", randomEncryption: v.randomEncryption }),
};
