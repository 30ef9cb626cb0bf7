# STUB declarations of NixOS options that exist upstream but are `visible = false`, so
# shared/data/nixos-options.json (the documented options) leaves them out. Each is copied from
# the nixpkgs source named beside it.
{ lib, ... }:
let inherit (lib) mkOption types; in
{
  # nixos/modules/system/boot/luksroot.nix: `crypttabExtraOpts = mkOption { type = with types;
  # listOf singleLineStr; default = []; visible = false; }` ("Only used with systemd stage 1").
  options.boot.initrd.luks.devices = mkOption {
    type = types.attrsOf (types.submodule {
      options.crypttabExtraOpts = mkOption { type = types.listOf types.singleLineStr; default = [ ]; };
    });
  };
}
