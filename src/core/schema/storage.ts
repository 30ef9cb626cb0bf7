// The host's `storage:` block: disks, the volumes on them (one kind per filesystem, LVM volume
// group or mdadm array, see ../features/storage/*) and existing filesystems only to be mounted.
import { z } from "zod";
import { absPath, size } from "./common.js";

/** Names that stay the same across boots; kernel names (/dev/sdb) are accepted with a warning. */
export const STABLE_DEVICE = /^\/dev\/disk\/by-(id|label|uuid|partlabel|partuuid|path)\/\S+$/;
/** Kernel names of whole disks: the order the kernel finds disks in can change from boot to boot. */
export const KERNEL_DISK = /^\/dev\/(sd[a-z]+|vd[a-z]+|xvd[a-z]+|hd[a-z]+|nvme\d+n\d+|mmcblk\d+)$/;

export const diskId = z
  .string()
  .refine(
    (s) => STABLE_DEVICE.test(s) || KERNEL_DISK.test(s),
    "must name the disk by /dev/disk/by-id/... (stable across reboots), or by-label, by-uuid, by-partlabel, by-partuuid, by-path, or /dev/sdX, /dev/nvmeXnY",
  );

const volumeName = z.string().regex(/^[a-z][a-z0-9-]*$/, "volume names: lower-case letters, digits and '-'");

const encryption = z
  .enum(["none", "luks"])
  .default("none")
  .describe("luks: LUKS2 under the volume (on each of its partitions, or on the array), unlocked at boot with hearth's luks-passphrase");

/** Where a filesystem lives besides its own disks: a logical volume of a volume group, or an mdadm array. */
const lvm = z
  .strictObject({
    vg: volumeName.describe("The volume group: a volume of type lvm"),
    size: z
      .string()
      .regex(/^(\d+(\.\d+)?[KMGTP]|(100|[1-9]\d?)%)$/, "must be an LV size such as 512M or 50G, or a share of the group's free space such as 40% or 100%")
      .describe("Size of the logical volume: 50G, or a share of the free space (100% takes what is left)"),
  })
  .describe("A logical volume of this size in an LVM volume group");
const raid = volumeName.describe("The mdadm array (a volume of type raid) this volume lives on");
const devicesOrElsewhere = z.array(diskId).default([]).describe("Disks of the volume, by id (one partition each); none when it is on lvm: or raid:");

const btrfsVolume = z.strictObject({
  type: z.literal("btrfs"),
  devices: devicesOrElsewhere,
  lvm: lvm.optional(),
  raid: raid.optional(),
  format: z
    .boolean()
    .default(true)
    .describe("Let disko partition and format the disks; false mounts an existing filesystem (ephemeral hosts, seed 000)"),
  label: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/).optional().describe("Filesystem label, used to mount an existing volume"),
  subvolumes: z
    .record(
      z.string().regex(/^[A-Za-z0-9@._-]+$/, "subvolume names: letters, digits, @ . _ -"),
      z.strictObject({
        mountpoint: absPath.describe("Where the subvolume is mounted"),
        mountOptions: z.array(z.string()).default(["compress=zstd", "noatime"]).describe("Mount options"),
      }),
    )
    .default({})
    .describe("Subvolumes by name, each mounted where services need it"),
});

const zfsVolume = z.strictObject({
  type: z.literal("zfs"),
  pool: z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]*$/).default("rpool").describe("Pool name (default rpool)"),
  mode: z.enum(["single", "mirror", "raidz1", "raidz2", "raidz3"]).default("single").describe("Redundancy of the pool"),
  devices: z.array(diskId).min(1).describe("Disks of the pool, by id"),
  encryption: z
    .enum(["none", "native", "credstore"])
    .default("credstore")
    .describe("credstore: ZFS native encryption with its raw key in a LUKS-encrypted zvol (seeds 002/003); native: passphrase prompt"),
  datasets: z
    .record(
      z.string().regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/),
      z.strictObject({
        mountpoint: absPath.describe("Mount point"),
        snapshots: z.boolean().default(true).describe("Include in automatic snapshots"),
      }),
    )
    .default({ root: { mountpoint: "/", snapshots: true }, nix: { mountpoint: "/nix", snapshots: false }, var: { mountpoint: "/var", snapshots: true }, home: { mountpoint: "/home", snapshots: true } })
    .describe("Datasets by name under the encrypted parent"),
});

const ext4Volume = z.strictObject({
  type: z.literal("ext4"),
  devices: z.array(diskId).max(1, "an ext4 volume lives on exactly one disk").default([]).describe("The disk, by id; none when it is on lvm: or raid:"),
  lvm: lvm.optional(),
  raid: raid.optional(),
  format: z.boolean().default(true).describe("Let disko partition and format the disk"),
  encryption,
  label: z.string().regex(/^[A-Za-z0-9_-]{1,16}$/).optional().describe("Filesystem label"),
  mountpoint: absPath.describe("Mount point"),
});

const xfsVolume = z.strictObject({
  type: z.literal("xfs"),
  devices: z.array(diskId).max(1, "an xfs volume lives on exactly one disk (for several, put it on lvm: or raid:)").default([]).describe("The disk, by id; none when it is on lvm: or raid:"),
  lvm: lvm.optional(),
  raid: raid.optional(),
  format: z.boolean().default(true).describe("Let disko partition and format the disk; false mounts the existing filesystem"),
  encryption,
  // mkfs.xfs -L takes at most 12 characters.
  label: z.string().regex(/^[A-Za-z0-9_-]{1,12}$/, "XFS labels: at most 12 letters, digits, '_' or '-'").optional().describe("Filesystem label"),
  mountpoint: absPath.describe("Mount point"),
  mountOptions: z.array(z.string().min(1)).min(1, "NixOS needs at least one mount option, e.g. [defaults]").default(["noatime"]).describe("Mount options (default noatime)"),
  // Not an XFS feature; named so the finding can say what to do instead (validate/rules.ts).
  subvolumes: z.unknown().optional().describe("Not supported: XFS has no subvolumes (use btrfs, or one logical volume per mount point)"),
});

const swapVolume = z.strictObject({
  type: z.literal("swap"),
  devices: z.array(diskId).max(1, "a swap volume lives on one disk").default([]).describe("The disk, by id; none when it is on lvm: or raid:"),
  lvm: lvm.optional(),
  raid: raid.optional(),
  randomEncryption: z.boolean().default(true).describe("Encrypt swap with a fresh random key each boot"),
});

const lvmVolume = z.strictObject({
  type: z.literal("lvm"),
  devices: z.array(diskId).default([]).describe("Physical volumes: disks by id, one partition each; none when the group is on raid:"),
  raid: raid.optional().describe("The mdadm array (a volume of type raid) that is the group's one physical volume"),
  encryption,
});

export const RAID_LEVELS = [0, 1, 4, 5, 6, 10] as const;
const raidVolume = z.strictObject({
  type: z.literal("raid"),
  level: z
    .union(RAID_LEVELS.map((l) => z.literal(l)) as unknown as [z.ZodLiteral<0>, z.ZodLiteral<1>, ...z.ZodLiteral<4 | 5 | 6 | 10>[]])
    .default(1)
    .describe("mdadm RAID level: 0, 1, 4, 5, 6 or 10 (default 1, a mirror)"),
  devices: z.array(diskId).min(1).describe("Member disks, by id (one partition each)"),
  encryption,
});

const mountVolume = z.strictObject({
  type: z.literal("mount"),
  device: z
    .string()
    .regex(/^\/dev\/\S+$/, "must be a device path such as /dev/disk/by-uuid/..., /dev/disk/by-label/... or /dev/mapper/...")
    .describe("The existing filesystem's device: /dev/disk/by-uuid/… (blkid shows it) or by-label/…"),
  fsType: z.string().regex(/^[a-z0-9]+(\.[a-z0-9]+)?$/, "must be a file system type such as xfs, ext4, btrfs, ntfs3").describe("File system type, as mount -t takes it"),
  mountpoint: absPath.describe("Mount point"),
  // fileSystems.<name>.options is a non-empty list of non-empty strings (../shared/data/nixos-options.json).
  options: z
    .array(z.string().min(1))
    .min(1, "NixOS needs at least one mount option: [defaults], or [nofail] to boot on without the disk")
    .default(["nofail"])
    .describe("Mount options (default nofail: boot on without the disk)"),
});

export const volume = z.discriminatedUnion("type", [btrfsVolume, zfsVolume, ext4Volume, xfsVolume, swapVolume, lvmVolume, raidVolume, mountVolume]);

export const storage = z
  .strictObject({
    bootDisk: diskId.optional().describe("Disk holding the EFI system partition when the system is installed"),
    volumes: z
      .record(volumeName, volume)
      .default({})
      .describe("Volumes by name: filesystems (btrfs, zfs, ext4, xfs, swap), LVM volume groups (lvm), mdadm arrays (raid), and existing filesystems that are only mounted, never formatted (mount)"),
    swap: z
      .strictObject({
        size: size.describe("Swap partition size, e.g. 8G"),
        randomEncryption: z.boolean().default(true).describe("Encrypt swap with a fresh random key each boot"),
      })
      .optional()
      .describe("Swap partition on the boot disk"),
    secretsDir: absPath
      .optional()
      .describe("Persistent directory for the SSH host key of an ephemeral host (default: the mountpoint of a volume, subvolume or dataset named 'secrets')"),
    initrdModules: z
      .array(z.string().regex(/^[a-z0-9_-]+$/, "a kernel module name such as nvme, ahci, xhci_pci, usb_storage, uas"))
      .default([])
      .describe("Kernel modules the initrd needs to see the disks (nvme, ahci, xhci_pci, usb_storage, uas, …): boot.initrd.availableKernelModules"),
  })
  .prefault({})
  .describe("Disks, filesystems and mounts");
