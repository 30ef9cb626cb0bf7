# Evaluates one host of a GENERATED hearth flake (the directory `hearth generate` wrote) with
# the real upstream modules its flake.nix names (disko, agenix, lanzaboote, nixos-hardware from
# shared/upstream) and, for a boot format, the format module applied as lib/outputs.nix does.
# Reports failed assertions (real upstream ones and ./checks), warnings, and every value hearth's
# files define that does not evaluate (unknown option, wrong type, missing package).
# `files` are the flake's files whose definitions are checked value by value: a host's by default,
# a class image's images/<class>/{default,hardware}.nix for `image-<class>`.
{ upstream, flake, host, formatModule ? null, files ? [ "hosts/${host}/default.nix" "hosts/${host}/hardware.nix" "hosts/${host}/disko.nix" ] }:
let
  lib = import (upstream + "/nixpkgs-lib/lib");
  # PACKAGES.txt (written from ethereum.nix's own package.nix platforms): attr → systems.
  ethLines = builtins.filter (l: builtins.match "[a-z0-9][a-z0-9._-]* +[a-z0-9_,-]+-[a-z]+ .*" l != null)
    (lib.splitString "\n" (builtins.readFile (upstream + "/ethereum.nix/PACKAGES.txt")));
  ethPackages = lib.listToAttrs (map (l: let f = builtins.match "([^ ]+) +([^ ]+) .*" l; in
    lib.nameValuePair (builtins.elemAt f 0) (lib.splitString "," (builtins.elemAt f 1))) ethLines);
  hardwareFlake = (import (upstream + "/nixos-hardware/flake.nix")).outputs {
    self = { outPath = upstream + "/nixos-hardware"; };
    nixpkgs = { inherit lib; };
  };
  # lib.nixosSystem as the flake calls it, evaluated by ./eval-modules.nix on the stubs.
  nixosSystem = args:
    let r = import ./eval-modules.nix { inherit upstream; inherit (args) system modules; specialArgs = args.specialArgs or { }; }; in
    r // { extendModules = { modules ? [ ] }: nixosSystem (args // { modules = args.modules ++ modules; }); };
  inputs = {
    self = { outPath = flake; };
    nixpkgs = {
      lib = lib // { inherit nixosSystem; };
      outPath = "/nix/store/00000000000000000000000000000000-STUB-nixpkgs";
      legacyPackages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" ] (system: import ./stubs/pkgs.nix { inherit lib system; });
    };
    disko.nixosModules.disko = upstream + "/disko/module.nix";
    agenix.nixosModules.default = upstream + "/agenix/modules/age.nix";
    lanzaboote.nixosModules.lanzaboote = upstream + "/lanzaboote/nix/modules/lanzaboote.nix";
    nixos-hardware.nixosModules = hardwareFlake.nixosModules;
    # Only what ethereum.nix builds for each system: using another fails, as on a real build
    # (there the attribute is missing; here the message names the package and its systems).
    ethereum-nix.packages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" ] (sys:
      let p = import ./stubs/pkgs.nix { inherit lib; system = sys; }; in
      lib.mapAttrs (n: systems:
        if builtins.elem sys systems then p.stdenv // { name = n; pname = n; outPath = "/nix/store/00000000000000000000000000000000-${n}"; }
        else throw "ethereum.nix (PACKAGES.txt) builds ${n} for ${lib.concatStringsSep ", " systems}, not for ${sys}") ethPackages);
  };
  # The generated flake.nix itself, with those inputs.
  outputs = (import (flake + "/flake.nix")).outputs inputs;
  base = outputs.nixosConfigurations.${host};
  result = if formatModule == null then base else base.extendModules { modules = [ (flake + "/formats/${formatModule}") ]; };
  inherit (result) config;
  system = config.nixpkgs.hostPlatform;
  stubPkgs = result.pkgs;

  # The option definitions hearth's own files make, as written (before merging).
  hearthFiles = files;
  rawOf = rel:
    let f = flake + "/${rel}"; in
    if !builtins.pathExists f then { } else
    let m = import f; v = if builtins.isFunction m then m (builtins.intersectAttrs (builtins.functionArgs m) {
      inherit config lib inputs; pkgs = stubPkgs; modulesPath = toString ./stubs/modules;
    }) else m; in builtins.removeAttrs v [ "imports" ];

  # Every leaf path of a definition tree, looking through mkForce/mkDefault/mkMerge and into
  # lists of attribute sets; a path under a false mkIf is not defined and not visited.
  leaves = prefix: v:
    if !(builtins.tryEval (builtins.isAttrs v)).success then [ prefix ]
    else if builtins.isAttrs v && (v._type or null) == "override" then leaves prefix v.content
    else if builtins.isAttrs v && (v._type or null) == "order" then leaves prefix v.content
    else if builtins.isAttrs v && (v._type or null) == "merge" then lib.concatMap (leaves prefix) v.contents
    else if builtins.isAttrs v && (v._type or null) == "if" then [ ]
    else if builtins.isAttrs v && v ? _type then [ prefix ]
    else if builtins.isAttrs v && !(lib.isDerivation v) then lib.concatLists (lib.mapAttrsToList (k: leaves (prefix ++ [ k ])) v)
    # Elements of a list of submodules are checked option by option: forcing a whole element
    # would also force the options nobody set, whose NixOS defaults the stubs do not model.
    else if builtins.isList v && v != [ ] && builtins.all (e: builtins.isAttrs e && !(e ? _type) && !(lib.isDerivation e)) v
      then lib.concatLists (lib.imap0 (i: e: leaves (prefix ++ [ i ]) e) v)
    else [ prefix ];
  # Plus what every module together defines for the disks and mounts: two modules that define
  # one mount differently (an image format and disko, say) conflict only when it is read.
  mountPaths = lib.concatLists (lib.mapAttrsToList (n: _: map (o: [ "fileSystems" n o ]) [ "device" "fsType" "options" "neededForBoot" ]) config.fileSystems)
    ++ lib.mapAttrsToList (n: _: [ "boot" "initrd" "luks" "devices" n "device" ]) config.boot.initrd.luks.devices
    ++ [ [ "boot" "loader" "grub" "devices" ] [ "boot" "initrd" "secrets" ] [ "boot" "initrd" "systemd" "enable" ] [ "boot" "kernelParams" ] ];
  paths = lib.unique (lib.concatMap (rel: leaves [ ] (rawOf rel)) hearthFiles ++ mountPaths);
  valueAt = path: builtins.foldl' (v: seg: if builtins.isInt seg then builtins.elemAt v seg else v.${seg}) config path;
  # A value that throws when forced is an unknown option, a type error or a missing package.
  bad = builtins.filter (p: !(builtins.tryEval (builtins.deepSeq (valueAt p) true)).success) paths;
  # disko's own scripts for this layout (format, mount, unmount): the real disko code, run by Nix.
  diskoScripts = lib.optionalAttrs (config ? disko) (lib.filterAttrs (_: v: v != null) (lib.genAttrs [ "_create" "_mount" "_unmount" ] (s:
    let d = config.disko.devices; in
    if d ? ${s} then (if (builtins.tryEval (builtins.deepSeq d.${s} true)).success then null else "disko cannot write its ${s} script for this layout") else null)));
  packageNames = builtins.attrNames (outputs.packages.${system} or { });
  # The flake's VM test of this host, as handed to pkgs.testers.runNixOSTest.
  vmTest = let t = (outputs.checks.${system}."${host}-boots" or { args = null; }).args; in
    if t == null then null else {
      inherit (t) name testScript;
      imports = map toString t.nodes.machine.imports;
      specialArgs = builtins.attrNames t.node.specialArgs;
    };
in
{
  inherit system packageNames vmTest;
  failedAssertions = result.failedAssertions;
  warnings = result.warnings;
  badPaths = map (p: lib.concatMapStringsSep "." toString p) bad;
  checkedPaths = builtins.length paths;
  disko = diskoScripts;
  value = path: valueAt (lib.splitString "." path);
  # The i-th of badPaths (its attribute names may contain dots, so not through `value`).
  badValue = i: valueAt (builtins.elemAt bad i);
  inherit config;
}
