// Boot media per host and per node class. Each format is a static module under nix/formats that
// the flake applies with extendModules; this file only decides which apply and what they are called.
import type { Host, ImageFormat } from "../schema/fleet.js";

export interface FormatInfo {
  /** Package attribute suffix: `<host>` for the default, `<host>-<suffix>` for each. */
  suffix: string;
  /** Static module under nix/formats/, or none for the installed system itself. */
  module?: string;
  /** system.build attribute that is the result. */
  build: string;
  describe: string;
}

export const FORMATS: Record<NonNullable<Host["boot"]["formats"]>[number], FormatInfo> = {
  kexec: { suffix: "kexec", module: "kexec-tree.nix", build: "hearthKexecTree", describe: "kexec tree: kernel, initrd (as initrd.gz for kexec-boot and initrd for netboot.ipxe), kexec-boot script, netboot.ipxe" },
  iso: { suffix: "iso", module: "iso.nix", build: "isoImage", describe: "ISO image loaded into RAM" },
  "sd-image": { suffix: "sd", module: "sd-image.nix", build: "sdImage", describe: "SD card image" },
  disk: { suffix: "disk", build: "toplevel", describe: "installed system closure (deployed with nixos-anywhere / disko)" },
};

export const formatsOf = (h: Host): (keyof typeof FORMATS)[] => h.boot.formats ?? (h.ephemeral ? ["kexec"] : ["disk"]);

/**
 * Boot media of a node class's image (`nixosConfigurations."image-<class>"`, packages
 * `image-<class>-<suffix>`). kexec and iso are the hosts' own modules; a class has no installed
 * system, so its `disk` is the A/B disk image (nix/formats/ab-disk.nix), and `netboot` is the part
 * of the kexec tree iPXE loads.
 */
export const IMAGE_FORMAT_INFO: Record<ImageFormat, FormatInfo> = {
  kexec: FORMATS.kexec,
  netboot: { suffix: "netboot", module: "netboot-tree.nix", build: "hearthNetbootTree", describe: "netboot tree: kernel, initrd and netboot.ipxe, as `hearth serve` answers iPXE" },
  iso: FORMATS.iso,
  disk: { suffix: "disk", module: "ab-disk.nix", build: "image", describe: "A/B disk image (raw GPT): ESP hearth-boot with systemd-boot, side hearth-a with this image, side hearth-b empty for the next" },
};

/** Partition labels of the A/B disk image (nix/formats/ab-disk.nix); the agent finds the sides by them. */
export const AB_DISK_LABELS = { boot: "hearth-boot", a: "hearth-a", b: "hearth-b" } as const;
