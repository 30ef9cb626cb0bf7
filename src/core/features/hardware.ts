// Hardware profiles: kernel modules, boot loader and nixos-hardware modules per machine kind.
import type { Feature } from "./types.js";
import { nix, type NixValue } from "../nix/ast.js";
import type { Host } from "../schema/fleet.js";

interface Profile {
  system: Host["system"];
  initrdModules: string[];
  imports: NixValue[];
  config: NixValue;
  /** Boot loader for installed systems. */
  loader: "systemd-boot" | "grub-bios-efi" | "extlinux";
}

const modulesPath = (p: string) => nix.interp(nix.v("modulesPath"), p);

const X86_MODULES = ["xhci_pci", "ahci", "nvme", "usbhid", "usb_storage", "sd_mod"];
const PI_MODULES = ["xhci_pci", "usbhid", "usb_storage", "uas"];

export const PROFILES: Record<Host["hardware"], Profile> = {
  "generic-x86-uefi": { system: "x86_64-linux", initrdModules: X86_MODULES, imports: [], config: { hardware: { enableRedistributableFirmware: true, cpu: { intel: { updateMicrocode: true }, amd: { updateMicrocode: true } } } }, loader: "systemd-boot" },
  "hetzner-dedicated": { system: "x86_64-linux", initrdModules: [...X86_MODULES, "igb", "e1000e"], imports: [], config: { hardware: { enableRedistributableFirmware: true, cpu: { intel: { updateMicrocode: true }, amd: { updateMicrocode: true } } } }, loader: "systemd-boot" },
  "hetzner-cloud": { system: "x86_64-linux", initrdModules: ["virtio_pci", "virtio_scsi", "virtio_net", "sd_mod", "sr_mod"], imports: [modulesPath("/profiles/qemu-guest.nix")], config: {}, loader: "grub-bios-efi" },
  "qemu-vm": { system: "x86_64-linux", initrdModules: ["virtio_pci", "virtio_blk", "virtio_scsi", "virtio_net"], imports: [modulesPath("/profiles/qemu-guest.nix")], config: {}, loader: "systemd-boot" },
  "raspberry-pi-4": { system: "aarch64-linux", initrdModules: [...PI_MODULES, "genet"], imports: [nix.sel(nix.v("inputs"), "nixos-hardware", "nixosModules", "raspberry-pi-4")], config: { hardware: { enableRedistributableFirmware: true, "raspberry-pi": { "4": { "fkms-3d": { enable: false } } } } }, loader: "extlinux" },
  "raspberry-pi-5": { system: "aarch64-linux", initrdModules: [...PI_MODULES, "macb"], imports: [nix.sel(nix.v("inputs"), "nixos-hardware", "nixosModules", "raspberry-pi-5")], config: { hardware: { enableRedistributableFirmware: true } }, loader: "extlinux" },
};

export const hardware: Feature = {
  id: "hardware",
  applies: () => true,
  contribute: ({ host }, out) => {
    const p = PROFILES[host.hardware];
    out.hardware.push(
      { nixpkgs: { hostPlatform: host.system }, boot: { initrd: { availableKernelModules: p.initrdModules } } },
      p.config,
    );
    out.imports.push(...p.imports);
    if (host.ephemeral || host.security.secureBoot) return; // netboot / lanzaboote own the boot path
    out.hardware.push(
      p.loader === "systemd-boot"
        ? { boot: { loader: { "systemd-boot": { enable: true, configurationLimit: 20 }, efi: { canTouchEfiVariables: true } } } }
        : p.loader === "grub-bios-efi"
          ? { boot: { loader: { grub: { enable: true, efiSupport: true, efiInstallAsRemovable: true } } } }
          : { boot: { loader: { grub: { enable: false }, "generic-extlinux-compatible": { enable: true } } } },
    );
  },
};
