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
  /** The Pi's EEPROM boot loader reads its firmware from a FAT partition (see PI_FIRMWARE_PATH). */
  piFirmware?: true;
  /** Whether the machine has Wi-Fi: true on the Pis (onboard brcmfmac), false on servers and VMs; unknown for a generic PC. */
  wifi?: boolean;
}

const modulesPath = (p: string) => nix.interp(nix.v("modulesPath"), p);

/**
 * Where nixos-hardware's Raspberry Pi firmware module installs start*.elf, fixup*.dat, the DTBs,
 * config.txt and u-boot.bin: the default of `hardware.raspberry-pi.firmware.path`
 * (raspberry-pi/common/firmware.nix, nixos-hardware 0471accf8d0a), the same mount point nixpkgs'
 * sd-image.nix gives its FIRMWARE partition. The disko layout puts a FAT partition there.
 */
export const PI_FIRMWARE_PATH = "/boot/firmware";

// Every Pi: the firmware partition is (re)filled on activation (`firmware.enable`, which only
// writes when PI_FIRMWARE_PATH is a mount point), and the GPU firmware chain-loads U-Boot
// (`firmware.uboot.enable`: config.txt kernel=u-boot.bin, arm_64bit=1), which reads the
// extlinux.conf of generic-extlinux-compatible. The systemd initrd's TPM2 support pulls in
// tpm-crb, which the Pi kernel lacks; raspberry-pi/4 turns it off "to allow building the
// kernel", raspberry-pi/5 does not (nixos-hardware 0471accf8d0a; option from nixpkgs'
// nixos/modules/system/boot/systemd/tpm2.nix). A Pi has no TPM unless a HAT adds one.
const piConfig = (extra: Record<string, NixValue> = {}): NixValue => ({
  hardware: { enableRedistributableFirmware: true, "raspberry-pi": { ...extra, firmware: { enable: true, uboot: { enable: true } } } },
  boot: { initrd: { systemd: { tpm2: { enable: nix.apply(nix.sel(nix.v("lib"), "mkDefault"), false) } } } },
});

const X86_MODULES = ["xhci_pci", "ahci", "nvme", "usbhid", "usb_storage", "sd_mod"];
const PI_MODULES = ["xhci_pci", "usbhid", "usb_storage", "uas"];

export const PROFILES: Record<Host["hardware"], Profile> = {
  "generic-x86-uefi": { system: "x86_64-linux", initrdModules: X86_MODULES, imports: [], config: { hardware: { enableRedistributableFirmware: true, cpu: { intel: { updateMicrocode: true }, amd: { updateMicrocode: true } } } }, loader: "systemd-boot" },
  "hetzner-dedicated": { wifi: false, system: "x86_64-linux", initrdModules: [...X86_MODULES, "igb", "e1000e"], imports: [], config: { hardware: { enableRedistributableFirmware: true, cpu: { intel: { updateMicrocode: true }, amd: { updateMicrocode: true } } } }, loader: "systemd-boot" },
  "hetzner-cloud": { wifi: false, system: "x86_64-linux", initrdModules: ["virtio_pci", "virtio_scsi", "virtio_net", "sd_mod", "sr_mod"], imports: [modulesPath("/profiles/qemu-guest.nix")], config: {}, loader: "grub-bios-efi" },
  "qemu-vm": { wifi: false, system: "x86_64-linux", initrdModules: ["virtio_pci", "virtio_blk", "virtio_scsi", "virtio_net"], imports: [modulesPath("/profiles/qemu-guest.nix")], config: {}, loader: "systemd-boot" },
  "raspberry-pi-4": { wifi: true, system: "aarch64-linux", initrdModules: [...PI_MODULES, "genet"], imports: [nix.sel(nix.v("inputs"), "nixos-hardware", "nixosModules", "raspberry-pi-4")], config: piConfig({ "4": { "fkms-3d": { enable: false } } }), loader: "extlinux", piFirmware: true },
  "raspberry-pi-5": { wifi: true, system: "aarch64-linux", initrdModules: [...PI_MODULES, "macb"], imports: [nix.sel(nix.v("inputs"), "nixos-hardware", "nixosModules", "raspberry-pi-5")], config: piConfig(), loader: "extlinux", piFirmware: true },
};

/** True for Raspberry Pi hosts, whose boot disk carries the firmware partition. */
export const hasPiFirmware = (host: Host) => PROFILES[host.hardware].piFirmware === true;

/**
 * Whether the host's boot loader appends `boot.initrd.secrets` to the initrd at install time.
 * generic-extlinux-compatible does not (it never sets `boot.loader.supportsInitrdSecrets`, nixpkgs
 * nixos/modules/system/boot/loader/generic-extlinux-compatible/default.nix at 000b272ea30a), and
 * then stage-1 asserts that every secret is a store path; systemd-boot, GRUB and Lanzaboote do.
 */
export const loaderSupportsInitrdSecrets = (host: Host) => host.security.secureBoot || PROFILES[host.hardware].loader !== "extlinux";

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
