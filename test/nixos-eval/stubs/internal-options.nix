# STUB of NixOS options that nixos-options.json leaves out because they are internal: the
# assertion and warning lists (nixpkgs nixos/modules/misc/assertions.nix) and the loader's
# initrd-secret flag (nixos/modules/system/boot/stage-1.nix). Declared only; nothing here
# asserts anything, and nothing sets supportsInitrdSecrets: ../checks model who would.
{ lib, ... }:
let inherit (lib) mkOption types; in
{
  options = {
    assertions = mkOption { type = types.listOf types.unspecified; default = [ ]; description = "STUB"; };
    warnings = mkOption { type = types.listOf types.str; default = [ ]; description = "STUB"; };
    boot.loader.supportsInitrdSecrets = mkOption { type = types.bool; default = false; description = "STUB"; };
  };
}
