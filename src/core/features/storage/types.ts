// One file per filesystem kind, behind this interface (disko's lib/types/* habit).
import type { NixValue } from "../../nix/ast.js";
import type { Host, Volume } from "../../schema/fleet.js";

export interface Mount {
  mountpoint: string;
  /** YAML path below `storage.volumes.<name>` of the field that declares it. */
  field: (string | number)[];
}

export interface VolumeKind<V extends Volume = Volume> {
  type: V["type"];
  /** Only mounted, never formatted: no command of hearth may write to its device. */
  neverFormatted?: true;
  /** Mount points the volume provides. */
  mounts(vol: V): Mount[];
  /**
   * disko content of the partition on device `index` of the volume (partlabels of the others
   * given); index 0 and no others for a volume on a logical volume or an mdadm array.
   */
  partitionContent(name: string, vol: V, index: number, otherPartitions: string[]): NixValue | undefined;
  /** Top-level disko devices besides disks (zpools). */
  extraDevices?(name: string, vol: V, host: Host): NixValue;
  /** NixOS fileSystems for a volume that exists already and is only mounted (format: false). */
  existingFileSystems?(name: string, vol: V): NixValue;
  /** Minimum devices for the chosen layout, with the reason. */
  minDevices?(vol: V): [number, string];
}
