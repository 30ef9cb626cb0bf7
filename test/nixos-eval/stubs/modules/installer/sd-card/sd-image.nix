# STUB of nixpkgs nixos/modules/installer/sd-card/sd-image.nix @00850412e84a: its options with
# their upstream types and defaults, and the two file systems it defines (FIRMWARE at
# /boot/firmware, NIXOS_SD at /), copied as upstream has them so a conflicting definition
# still conflicts. The image build itself is a stub derivation.
{ config, lib, pkgs, ... }:
let inherit (lib) mkOption types; in
{
  options.sdImage = {
    storePaths = mkOption { type = types.listOf types.package; };
    firmwarePartitionOffset = mkOption { type = types.int; default = 8; };
    firmwarePartitionID = mkOption { type = types.str; default = "0x2178694e"; };
    firmwarePartitionName = mkOption { type = types.str; default = "FIRMWARE"; };
    rootPartitionUUID = mkOption { type = types.nullOr types.str; default = null; };
    rootVolumeLabel = mkOption { type = types.str; default = "NIXOS_SD"; };
    rootFilesystemCreator = mkOption { type = types.oneOf [ types.package types.path ]; default = pkgs.stdenv; };
    rootFilesystemImage = mkOption { type = types.package; default = pkgs.stdenv; };
    firmwareSize = mkOption { type = types.int; default = 30; };
    populateFirmwareCommands = mkOption { };
    populateRootCommands = mkOption { };
    postBuildCommands = mkOption { default = ""; };
    compressImage = mkOption { type = types.bool; default = true; };
    expandOnBoot = mkOption { type = types.bool; default = true; };
    nixPathRegistrationFile = mkOption { type = types.str; default = "/nix-path-registration"; };
  };

  config = {
    fileSystems = {
      "/boot/firmware" = {
        device = "/dev/disk/by-label/${config.sdImage.firmwarePartitionName}";
        fsType = "vfat";
        options = [ "nofail" "noauto" ];
      };
      "/" = {
        device = "/dev/disk/by-label/${config.sdImage.rootVolumeLabel}";
        fsType = "ext4";
      };
    };
    sdImage.storePaths = [ config.system.build.toplevel ];
    system.build.sdImage = pkgs.runCommand "nixos-sd-image.img" { } "STUB: ${config.sdImage.populateFirmwareCommands}";
  };
}
