# Evaluates NixOS modules the way a NixOS system would, without nixpkgs' nixos/modules: nixpkgs'
# real lib (26.05) runs lib.evalModules over the STUB option declarations (./stubs), the given
# modules (hearth's output and the real upstream modules) and the harness checks that re-state
# nixpkgs' assertions (./checks). Returns what failed, never a fake pass.
{ upstream, modules, system ? "x86_64-linux", specialArgs ? { }, optionsJson ? upstream + "/../data/nixos-options.json", checks ? true }:
let
  lib = import (upstream + "/nixpkgs-lib/lib");
  eval = lib.evalModules {
    specialArgs = { modulesPath = toString ./stubs/modules; } // specialArgs;
    modules = [
      (import ./stubs/nixos-options.nix optionsJson)
      ./stubs/internal-options.nix
      ./stubs/hidden-options.nix
      # As in NixOS, the package set follows nixpkgs.hostPlatform (the flake's `system` otherwise).
      ({ config, ... }: { _module.args.pkgs = import ./stubs/pkgs.nix { inherit lib; system = if builtins.isString config.nixpkgs.hostPlatform then config.nixpkgs.hostPlatform else config.nixpkgs.hostPlatform.system; }; })
    ] ++ lib.optional (checks && builtins.pathExists ./checks/default.nix) ./checks/default.nix
      ++ modules;
  };
  inherit (eval) config options;
  # An assertion whose condition cannot be evaluated is reported, not hidden.
  judged = map (a:
    let r = builtins.tryEval (builtins.deepSeq a.assertion a.assertion); in
    if !r.success then "could not evaluate the assertion: ${a.message or "(no message)"}"
    else if r.value then null else a.message) config.assertions;
in
{
  inherit config options eval lib;
  pkgs = eval._module.args.pkgs;
  failedAssertions = builtins.filter (x: x != null) judged;
  warnings = config.warnings;
}
