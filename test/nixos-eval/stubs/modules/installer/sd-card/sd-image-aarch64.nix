# STUB of nixpkgs nixos/modules/installer/sd-card/sd-image-aarch64.nix: only its import of
# sd-image.nix (options and file systems); the Raspberry Pi firmware it stages is what
# nixos-hardware's real raspberry-pi/common/firmware.nix is checked for.
{ ... }:
{
  imports = [ ./sd-image.nix ];
}
