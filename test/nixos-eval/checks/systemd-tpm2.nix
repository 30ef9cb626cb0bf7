# Hardware-fact check, not an upstream assertion: nixpkgs' systemd/tpm2.nix adds tpm-crb to the
# systemd initrd, and the Raspberry Pi kernel cannot provide it (the closure allows no misses).
{ config, options, lib, ... }:
let
  h = import ./lib.nix { inherit config options lib; };
  tag = "[hardware fact; nixpkgs nixos/modules/system/boot/systemd/tpm2.nix @10e0b4721a29, nixos/modules/system/boot/systemd/initrd.nix @00e6b22b508f, nixos-hardware raspberry-pi/4/default.nix @0471accf8d0a]";
  # tpm2.nix: default = boot.initrd.systemd.package.withTpm2Tss && ...withBootloader, both on
  # for nixpkgs' systemd, so "on" unless a module turns it off.
  tpm2 = h.get [ "boot" "initrd" "systemd" "tpm2" "enable" ] true;
  # tpm2.nix: [ "tpm-tis" ] ++ optional (!(isRiscV64 || isArmv7)) "tpm-crb".
  sys = h.hostSystem;
  addsCrb = sys == null || !(lib.hasPrefix "riscv64-" sys || lib.hasPrefix "armv7" sys);
  # raspberry-pi/5/default.nix sets kernelPackages (common/kernel.nix, rpiVersion = 5) and
  # hardware.deviceTree.filter "bcm2712*-rpi-*.dtb", both with mkDefault: the Pi-5 module is in
  # effect and nothing stronger than mkDefault replaced its kernel.
  pi5Kernel =
    h.get [ "hardware" "deviceTree" "filter" ] null == "bcm2712*-rpi-*.dtb"
    && (options.boot.kernelPackages.highestPrio or 1500) >= 1000;
in
{
  assertions = [
    {
      assertion = !(h.initrdEnabled && h.initrdSystemd && tpm2 && addsCrb && pi5Kernel);
      message = "${tag} The systemd initrd with boot.initrd.systemd.tpm2.enable (on by default) adds the kernel module tpm-crb to boot.initrd.availableKernelModules; the Raspberry Pi 5 kernel from nixos-hardware lacks it and the initrd module closure is built with allowMissing = false. nixos-hardware sets boot.initrd.systemd.tpm2.enable = false for the Pi 4 (\"Allow building kernel\") but not for the Pi 5: set it to false.";
    }
  ];
}
