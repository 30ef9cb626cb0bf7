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
in
{
  inherit nixosConfigurations;
  packages = lib.genAttrs systems (system:
    lib.foldl' (acc: name: acc // hostPackages name hosts.${name}) { }
      (builtins.filter (name: hosts.${name}.system == system) (builtins.attrNames hosts)));
}
