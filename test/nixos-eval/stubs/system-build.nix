# STUB of what nixpkgs' system modules put in system.build, for the tests that read what a boot
# format builds from them (the A/B disk's partitions and boot entry): top-level.nix's toplevel,
# kernel.nix's kernel and its internal system.boot.loader.kernelFile (default
# pkgs.stdenv.hostPlatform.linux-kernel.target), stage-1.nix's initialRamdisk, each a stub
# derivation; and version.nix's system.nixos.label (upstream: the release and revision). Not part of the harness's default evaluation: a test adds it with the format module.
{ lib, pkgs, ... }:
{
  options.system.boot.loader.kernelFile = lib.mkOption { type = lib.types.str; default = pkgs.stdenv.hostPlatform.linux-kernel.target; description = "STUB"; };
  config.system.nixos.label = "26.05.stub";
  config.system.build = {
    toplevel = pkgs.runCommand "nixos-system-stub" { } "STUB";
    kernel = pkgs.runCommand "linux-stub" { } "STUB";
    initialRamdisk = pkgs.runCommand "initrd-stub" { } "STUB";
  };
}
