// Assembles the host's disko layout (boot disk, volume members, pools) and the mounts of
// volumes that already exist, from the volume kinds.
import type { Feature, HostContext } from "../types.js";
import { volumeKind } from "./registry.js";
import { nix } from "../../nix/ast.js";
import type { Host } from "../../schema/fleet.js";
import { hasPiFirmware, PI_FIRMWARE_PATH } from "../hardware.js";

/** disko names each partition `disk-<disk>-<partition>`; other members are referenced by that label. */
const partLabel = (disk: string, part: string) => `/dev/disk/by-partlabel/disk-${disk}-${part}`;

export const diskName = (volume: string, index: number) => `${volume}${index}`;

/** True when disko should own the disks (installed hosts, and ephemeral hosts whose volumes are to be formatted). */
export const formattedVolumes = (host: Host) =>
  Object.entries(host.storage.volumes).filter(([, v]) => !("format" in v) || v.format);

export const storageLayout: Feature = {
  id: "storage",
  applies: (ctx) => Object.keys(ctx.host.storage.volumes).length > 0 || ctx.host.storage.bootDisk !== undefined || !!ctx.host.storage.swap,
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
    for (const [name, vol] of formattedVolumes(host)) {
      const kind = volumeKind(vol);
      const members = vol.devices.map((dev, i) => ({ dev, disk: dev === bootDisk ? "boot" : diskName(name, i) }));
      const others = members.slice(1).map((m) => partLabel(m.disk, name));
      members.forEach((m, i) => {
        const content = kind.partitionContent(name, vol, i, others);
        const part = { size: "100%", ...(content ? { content } : {}) };
        if (m.dev === bootDisk && !host.ephemeral) bootParts[name] = part;
        else disks[m.disk] = { type: "disk", device: m.dev, content: { type: "gpt", partitions: { [name]: part } } };
      });
      if (kind.extraDevices) pools.push(kind.extraDevices(name, vol, host) as Record<string, unknown>);
    }
    if (bootDisk && !host.ephemeral) disks["boot"] = { type: "disk", device: bootDisk, content: { type: "gpt", partitions: bootParts } };
    if (Object.keys(disks).length > 0 || pools.length > 0) out.disko.push({ disko: { devices: { disk: disks as never } } }, ...pools.map((p) => ({ disko: { devices: p as never } })));

    // Volumes that exist already (format: false) are only mounted; nofail keeps a RAM-booted
    // host reachable over SSH when a disk is missing.
    const existing = Object.entries(host.storage.volumes).filter(([, v]) => "format" in v && !v.format);
    for (const [name, vol] of existing) {
      const fs = volumeKind(vol).existingFileSystems?.(name, vol);
      if (fs) out.config.push({ fileSystems: fs });
    }
    if (Object.values(host.storage.volumes).some((v) => v.type === "zfs")) {
      out.config.push({ boot: { supportedFilesystems: ["zfs"], zfs: { forceImportRoot: false } }, networking: { hostId: hostId(ctx.hostName) } });
    }
    if (host.storage.swap && host.ephemeral) out.config.push({ zramSwap: { enable: true } });
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
