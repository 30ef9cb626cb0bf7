# STUB of nixpkgs nixos/modules/installer/cd-dvd/iso-image.nix: the options hearth sets, with
# their upstream types, and the result attribute as a stub derivation.
{ lib, pkgs, ... }:
let inherit (lib) mkOption types; in
{
  options.isoImage = {
    makeEfiBootable = mkOption { type = types.bool; default = false; };
    makeUsbBootable = mkOption { type = types.bool; default = false; };
    makeBiosBootable = mkOption { type = types.bool; default = true; };
    volumeID = mkOption { type = types.str; default = "nixos"; };
  };
  config.system.build.isoImage = pkgs.runCommand "nixos.iso" { } "STUB";
}
