# STUB of nixpkgs nixos/modules/image/repart.nix (read at NixOS/nixpkgs 013635633ffe, stored text id
# 4967832519): its options (image.repart.*) are declared by ../../nixos-options.nix from the option
# list, as upstream types them; here only its result, system.build.image, as a stub derivation
# carrying the partitions it would hand to systemd-repart (upstream: repart-image.nix with
# finalPartitions), so a test reads exactly what hearth asked for. Upstream also asserts that a
# partition label fits GPT's 36 characters; that check is re-stated here.
{ config, lib, pkgs, ... }:
let cfg = config.image.repart; in
{
  config = {
    assertions = lib.mapAttrsToList (n: p: {
      assertion = p.repartConfig ? Label -> builtins.stringLength p.repartConfig.Label <= 36;
      message = "[nixpkgs nixos/modules/image/repart.nix] The partition label '${p.repartConfig.Label}' defined for '${n}' is longer than the 36 characters UEFI allows.";
    }) cfg.partitions;
    system.build.image = pkgs.runCommand "${cfg.name}.raw" { inherit (cfg) partitions; } "STUB";
  };
}
