// Volume kinds by type.
import { btrfs } from "./btrfs.js";
import { ext4 } from "./ext4.js";
import { zfs } from "./zfs.js";
import { xfs } from "./xfs.js";
import { swap } from "./swap.js";
import { lvm } from "./lvm.js";
import { raid } from "./raid.js";
import { mount } from "./mount.js";
import type { VolumeKind } from "./types.js";
import type { Volume } from "../../schema/fleet.js";

export const VOLUME_KINDS: Record<Volume["type"], VolumeKind<any>> = { btrfs, ext4, zfs, xfs, swap, lvm, raid, mount };
export const volumeKind = (v: Volume): VolumeKind<Volume> => VOLUME_KINDS[v.type];
