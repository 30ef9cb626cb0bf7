// Boot media per host. Each format is a static module under nix/formats that the flake
// applies with extendModules; this file only decides which apply and what they are called.
import type { Host } from "../schema/fleet.js";

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
