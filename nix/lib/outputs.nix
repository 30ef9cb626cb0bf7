# Flake outputs of a hearth fleet. flake.nix passes the inputs and a small table of hosts
# (system and boot formats); each host's configuration lives in ./hosts/<name>.
# Kept static so the generator only writes data, never Nix code by string templates.
inputs: { hosts, formats }:
let
  inherit (inputs.nixpkgs) lib;
  root = ../.;

  mkHost = name: host: lib.nixosSystem {
    system = host.system;
    specialArgs = { inherit inputs; };
    modules = import ./host-modules.nix inputs root name;
  };

  nixosConfigurations = lib.mapAttrs mkHost hosts;

  # One package per boot format: `<host>-<suffix>`, and `<host>` for the first format.
  buildFormat = name: fmt:
    let
      f = formats.${fmt};
      sys = if f ? module
        then nixosConfigurations.${name}.extendModules { modules = [ (root + "/formats/${f.module}") ]; }
        else nixosConfigurations.${name};
    in sys.config.system.build.${f.build};

  hostPackages = name: host:
    lib.listToAttrs (map (fmt: lib.nameValuePair "${name}-${formats.${fmt}.suffix}" (buildFormat name fmt)) host.formats)
    // { ${name} = buildFormat name (builtins.head host.formats); };

  systems = lib.unique (lib.mapAttrsToList (_: h: h.system) hosts);
  # A NixOS VM test per host, for `nix flake check` on a machine that can run QEMU: the host's own
  # modules boot to multi-user.target (qemu-vm.nix puts VM disks in place of the host's).
  vmTest = system: name: inputs.nixpkgs.legacyPackages.${system}.testers.runNixOSTest {
    name = "${name}-boots";
    node.specialArgs = { inherit inputs; };
    nodes.machine = { imports = import ./host-modules.nix inputs root name; };
    testScript = ''
      machine.wait_for_unit("multi-user.target")
      machine.succeed("test \"$(hostname)\" = ${name}")
    '';
  };
in
{
  inherit nixosConfigurations;
  checks = lib.genAttrs systems (system:
    lib.mapAttrs' (name: _: lib.nameValuePair "${name}-boots" (vmTest system name))
      (lib.filterAttrs (_: h: h.system == system) hosts));
  packages = lib.genAttrs systems (system:
    lib.foldl' (acc: name: acc // hostPackages name hosts.${name}) { }
      (builtins.filter (name: hosts.${name}.system == system) (builtins.attrNames hosts)));
}
