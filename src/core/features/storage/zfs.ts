// A ZFS pool with native encryption; in `credstore` mode its raw key lives in a small
// LUKS-encrypted zvol unlocked first (by passphrase, TPM2 or remote SSH), as in seeds 002/003.
import type { VolumeKind } from "./types.js";
import type { Volume } from "../../schema/fleet.js";
import { INSTALL_KEYS_DIR } from "../../secrets/kinds.js";

type Zfs = Extract<Volume, { type: "zfs" }>;

export const CREDSTORE_KEY = "/etc/credstore/zfs-sysroot.mount";
/** hearth's secrets as the installer sees them while disko formats (see secrets/kinds.ts). */
export const INSTALL_ZFS_KEY = `${INSTALL_KEYS_DIR}/zfs-raw-key`;
export const INSTALL_LUKS_PASSPHRASE = `${INSTALL_KEYS_DIR}/luks-passphrase`;
export const INSTALL_LUKS_RECOVERY_KEY = `${INSTALL_KEYS_DIR}/luks-recovery-key`;

// disko spells RAID-Z1 "raidz"; single-disk pools have an empty mode.
const DISKO_MODE: Record<Zfs["mode"], string> = { single: "", mirror: "mirror", raidz1: "raidz", raidz2: "raidz2", raidz3: "raidz3" };
const MIN_DEVICES: Record<Zfs["mode"], number> = { single: 1, mirror: 2, raidz1: 3, raidz2: 4, raidz3: 5 };

export const zfs: VolumeKind<Zfs> = {
  type: "zfs",
  mounts: (v) => Object.entries(v.datasets).map(([n, d]) => ({ mountpoint: d.mountpoint, field: ["datasets", n, "mountpoint"] })),
  minDevices: (v) => [MIN_DEVICES[v.mode], `${v.mode} needs at least ${MIN_DEVICES[v.mode]} disks`],
  partitionContent: (_name, v) => ({ type: "zfs", pool: v.pool }),
  extraDevices: (_name, v, host) => {
    const encrypted = v.encryption !== "none";
    const parent = encrypted ? "crypt" : "data";
    const datasets: Record<string, unknown> = {};
    if (v.encryption === "credstore") {
      datasets["credstore"] = {
        type: "zfs_volume",
        size: "100M",
        content: {
          type: "luks",
          name: "credstore",
          passwordFile: INSTALL_LUKS_PASSPHRASE,
          // The recovery key gets a key slot of its own when disko formats (cryptsetup luksAddKey).
          ...(host.security.unlock.recoveryKey ? { additionalKeyFiles: [INSTALL_LUKS_RECOVERY_KEY] } : {}),
          content: { type: "filesystem", format: "ext4" },
        },
      };
    }
    datasets[parent] = {
      type: "zfs_fs",
      options: {
        mountpoint: "none",
        ...(v.encryption === "credstore"
          ? { encryption: "aes-256-gcm", keyformat: "raw", keylocation: `file://${CREDSTORE_KEY}` }
          : v.encryption === "native"
            ? { encryption: "aes-256-gcm", keyformat: "passphrase", keylocation: "prompt" }
            : {}),
      },
      ...(v.encryption === "credstore"
        ? {
            // The raw key is hearth's zfs-raw-key secret (kept encrypted in the fleet repo, so the pool
            // can be recovered); it is written only inside the freshly opened credstore.
            preCreateHook: `mount -o X-mount.mkdir /dev/mapper/credstore /etc/credstore\ninstall -m 0400 ${INSTALL_ZFS_KEY} ${CREDSTORE_KEY}\n`,
            postCreateHook: "umount /etc/credstore\ncryptsetup luksClose /dev/mapper/credstore\n",
          }
        : {}),
    };
    for (const [n, d] of Object.entries(v.datasets)) {
      datasets[`${parent}/${n}`] = {
        type: "zfs_fs",
        mountpoint: d.mountpoint,
        options: { mountpoint: "legacy", "com.sun:auto-snapshot": d.snapshots ? "true" : "false" },
      };
    }
    return {
      zpool: {
        [v.pool]: {
          type: "zpool",
          mode: DISKO_MODE[v.mode],
          options: { ashift: "12" },
          rootFsOptions: { mountpoint: "none", compression: "zstd", acltype: "posixacl", xattr: "sa", "com.sun:auto-snapshot": "true" },
          datasets: datasets as never,
        },
      },
    };
  },
};
