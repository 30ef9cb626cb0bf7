// Volume kinds by type.
import { btrfs } from "./btrfs.js";
import { ext4 } from "./ext4.js";
import { zfs } from "./zfs.js";
import type { VolumeKind } from "./types.js";
import type { Volume } from "../../schema/fleet.js";

export const VOLUME_KINDS: Record<Volume["type"], VolumeKind<any>> = { btrfs, ext4, zfs };
export const volumeKind = (v: Volume): VolumeKind<Volume> => VOLUME_KINDS[v.type];
