// Assembles the host's disko layout (boot disk, volume members, pools) and the mounts of
// volumes that already exist, from the volume kinds.
import type { Feature, HostContext } from "../types.js";
import { volumeKind } from "./registry.js";
import { nix } from "../../nix/ast.js";
import type { Host, Volume } from "../../schema/fleet.js";
import { placementOf } from "./place.js";
import { INSTALL_LUKS_PASSPHRASE, INSTALL_LUKS_RECOVERY_KEY } from "./zfs.js";
import { hasPiFirmware, PI_FIRMWARE_PATH } from "../hardware.js";

/** disko names each partition `disk-<disk>-<partition>`; other members are referenced by that label. */
const partLabel = (disk: string, part: string) => `/dev/disk/by-partlabel/disk-${disk}-${part}`;

export const diskName = (volume: string, index: number) => `${volume}${index}`;

/** True when disko should own the disks (installed hosts, and ephemeral hosts whose volumes are to be formatted). */
export const formattedVolumes = (host: Host): [string, Volume][] =>
  Object.entries(host.storage.volumes).filter(([, v]) => !volumeKind(v).neverFormatted && (!("format" in v) || v.format));

/** Filesystems hearth only mounts and never formats (type: mount), by name. */
export const mountOnlyVolumes = (host: Host) =>
  Object.entries(host.storage.volumes).filter((e): e is [string, Extract<Volume, { type: "mount" }>] => e[1].type === "mount");

/**
 * LUKS around `content`, keyed with hearth's luks-passphrase while disko formats (disko
 * lib/types/luks.nix; its _config adds boot.initrd.luks.devices.<name> for the unlock at boot).
 */
function luks(name: string, content: unknown, host: Host): Record<string, unknown> {
  return {
    type: "luks",
    name,
    passwordFile: INSTALL_LUKS_PASSPHRASE,
    ...(host.security.unlock.recoveryKey ? { additionalKeyFiles: [INSTALL_LUKS_RECOVERY_KEY] } : {}),
    settings: { allowDiscards: true },
    content,
  };
}

/** Volumes with LUKS of their own (the zfs credstore is the unlock feature's). */
export const luksVolumes = (host: Host) => formattedVolumes(host).filter(([, v]) => "encryption" in v && v.encryption === "luks");

export const storageLayout: Feature = {
  id: "storage",
  applies: (ctx) =>
    Object.keys(ctx.host.storage.volumes).length > 0 || ctx.host.storage.bootDisk !== undefined || !!ctx.host.storage.swap || ctx.host.storage.initrdModules.length > 0,
  // The passphrase (and recovery key) that disko's LUKS is formatted with, as for the credstore.
  secrets: (ctx) =>
    luksVolumes(ctx.host).length === 0
      ? []
      : [
          { id: "luks-passphrase", kind: "luks-passphrase", path: INSTALL_LUKS_PASSPHRASE, mode: "0400" },
          ...(ctx.host.security.unlock.recoveryKey
            ? [{ id: "luks-recovery-key", kind: "luks-recovery-key" as const, path: INSTALL_LUKS_RECOVERY_KEY, delivery: "disk" as const }]
            : []),
        ],
  contribute: (ctx: HostContext, out) => {
    const { host } = ctx;
    const disks: Record<string, unknown> = {};
    const pools: Record<string, unknown>[] = [];
    const bootDisk = host.storage.bootDisk;
    const bootParts: Record<string, unknown> = {};
    if (bootDisk && !host.ephemeral) {
      if (host.hardware === "hetzner-cloud") bootParts["bios"] = { size: "1M", type: "EF02", priority: 1 };
      // The Pi's EEPROM boot loader reads config.txt, start*.elf and the DTBs from a FAT partition;
      // first on the disk, like the FIRMWARE partition of nixpkgs' sd-image.nix (there MBR type b,
      // W95 FAT32; 0700, basic data, is its GPT match). nixos-hardware fills it at PI_FIRMWARE_PATH.
      // sd-image.nix sizes it for ~18 MiB of firmware; the module copies every vendor DTB and
      // overlay, hence the room. fmask=0177: files 0600, so the initrd SSH key that
      // `hearth deploy --install` puts here (remote-unlock) is root's only, and tar's chmod 0600
      // of it succeeds on vfat.
      if (hasPiFirmware(host))
        bootParts["firmware"] = {
          size: "256M",
          type: "0700",
          priority: 1,
          content: { type: "filesystem", format: "vfat", mountpoint: PI_FIRMWARE_PATH, mountOptions: ["fmask=0177", "dmask=0077"] },
        };
      bootParts["ESP"] = {
        size: "1G",
        type: "EF00",
        priority: 2,
        content: { type: "filesystem", format: "vfat", mountpoint: "/boot", mountOptions: ["umask=0077"] },
      };
      if (host.storage.swap)
        bootParts["swap"] = { size: host.storage.swap.size, content: { type: "swap", randomEncryption: host.storage.swap.randomEncryption } };
    }
    const formatted = formattedVolumes(host);
    const lvmVgs: Record<string, { type: "lvm_vg"; lvs: Record<string, unknown> }> = {};
    const mdadm: Record<string, Record<string, unknown>> = {};
    /** The volume's own content (a filesystem, a PV, an array member), inside LUKS when it asks for it. */
    const contentOf = (name: string, vol: Volume, index: number, others: string[], cryptName: string) => {
      const content = volumeKind(vol).partitionContent(name, vol, index, others);
      return content && "encryption" in vol && vol.encryption === "luks" ? luks(cryptName, content, host) : content;
    };
    for (const [name, vol] of formatted) {
      const kind = volumeKind(vol);
      const place = placementOf(vol);
      if (vol.type === "raid") {
        // The array holds the one volume placed on it (a filesystem, or an LVM group's PV).
        const user = formatted.find(([, v]) => placementOf(v).on === "raid" && (v as { raid?: string }).raid === name);
        const inner = user ? volumeKind(user[1]).partitionContent(user[0], user[1], 0, []) : undefined;
        const wrapped = inner && user && "encryption" in user[1] && user[1].encryption === "luks" ? luks(`crypt-${user[0]}`, inner, host) : inner;
        mdadm[name] = { type: "mdadm", level: vol.level, ...(wrapped ? { content: vol.encryption === "luks" ? luks(`crypt-${name}`, wrapped, host) : wrapped } : {}) };
      }
      if (vol.type === "lvm") lvmVgs[name] = { type: "lvm_vg", lvs: {} };
      if (place.on === "lvm") {
        // Filled in below, once every group exists; a missing group is a validation finding.
        continue;
      }
      if (place.on !== "disks") continue;
      const members = place.devices.map((dev, i) => ({ dev, disk: dev === bootDisk ? "boot" : diskName(name, i) }));
      const others = members.slice(1).map((m) => partLabel(m.disk, name));
      members.forEach((m, i) => {
        // A raid member is mdraid, an LVM member lvm_pv; LUKS of an array goes on the array, not its members.
        const content = vol.type === "raid" ? kind.partitionContent(name, vol, i, others) : contentOf(name, vol, i, others, members.length > 1 ? `crypt-${m.disk}` : `crypt-${name}`);
        const part = { size: "100%", ...(content ? { content } : {}) };
        if (m.dev === bootDisk && !host.ephemeral) bootParts[name] = part;
        else disks[m.disk] = { type: "disk", device: m.dev, content: { type: "gpt", partitions: { [name]: part } } };
      });
      if (kind.extraDevices) pools.push(kind.extraDevices(name, vol, host) as Record<string, unknown>);
    }
    for (const [name, vol] of formatted) {
      const place = placementOf(vol);
      const vg = place.on === "lvm" ? lvmVgs[place.vg] : undefined;
      if (place.on !== "lvm" || !vg) continue;
      const content = contentOf(name, vol, 0, [], `crypt-${name}`);
      vg.lvs[name] = { size: place.size, ...(content ? { content } : {}) };
    }
    if (Object.keys(lvmVgs).length) pools.push({ lvm_vg: lvmVgs });
    if (Object.keys(mdadm).length) pools.push({ mdadm });
    if (bootDisk && !host.ephemeral) disks["boot"] = { type: "disk", device: bootDisk, content: { type: "gpt", partitions: bootParts } };
    if (Object.keys(disks).length > 0 || pools.length > 0) out.disko.push({ disko: { devices: { disk: disks as never } } }, ...pools.map((p) => ({ disko: { devices: p as never } })));

    // Volumes that exist already (format: false, type: mount) are only mounted, as NixOS
    // fileSystems and never in disko's layout; nofail keeps a RAM-booted host reachable over SSH
    // when a disk is missing.
    const existing = Object.entries(host.storage.volumes).filter(([, v]) => volumeKind(v).neverFormatted || ("format" in v && !v.format));
    for (const [name, vol] of existing) {
      const fs = volumeKind(vol).existingFileSystems?.(name, vol);
      if (fs) out.config.push({ fileSystems: fs });
    }
    if (Object.values(host.storage.volumes).some((v) => v.type === "zfs")) {
      out.config.push({ boot: { supportedFilesystems: ["zfs"], zfs: { forceImportRoot: false } }, networking: { hostId: hostId(ctx.hostName) } });
    }
    if (host.storage.swap && host.ephemeral) out.config.push({ zramSwap: { enable: true } });
    if (host.storage.initrdModules.length) out.hardware.push({ boot: { initrd: { availableKernelModules: host.storage.initrdModules } } });
    if (out.disko.length > 0) out.imports.push(nix.sel(nix.v("inputs"), "disko", "nixosModules", "disko"));
  },
};

/** ZFS needs a stable 8-hex-digit host id; derive it from the name (FNV-1a) so it never changes. */
export function hostId(name: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}
