# SD card image for Raspberry Pi hosts.
# The FIRMWARE partition (mounted at /boot/firmware) is filled by nixos-hardware's
# raspberry-pi/common/firmware.nix, which every Pi host imports: once sdImage's options exist it
# mkForces sdImage.populateFirmwareCommands to its own install script (GPU firmware, the DTBs,
# config.txt, u-boot.bin), replacing sd-image-aarch64.nix's Pi 3/4-only list (nixos-hardware
# 0471accf8d0a).
{ lib, options, modulesPath, ... }:
{
  imports = [ (modulesPath + "/installer/sd-card/sd-image-aarch64.nix") ];
  config = lib.mkMerge [
    { sdImage.compressImage = false; }
    # The image brings its own partitions (FIRMWARE, NIXOS_SD); the host's disko layout describes
    # the installed disk, and disko's enableConfig "should be false on an installer image"
    # (disko v1.13.0 module.nix). Otherwise both define fileSystems."/" and "/boot/firmware".
    (lib.optionalAttrs (options ? disko) { disko.enableConfig = false; })
  ];
}
