# Flake outputs of a hearth fleet. flake.nix passes the inputs and a small table of hosts
# (system and boot formats) and of node classes; each host's configuration lives in
# ./hosts/<name>, each class image's in ./images/<class>.
# Kept static so the generator only writes data, never Nix code by string templates.
inputs: { hosts, formats, images ? { }, imageFormats ? { } }:
let
  inherit (inputs.nixpkgs) lib;
  root = ../.;

  mkHost = name: host: lib.nixosSystem {
    system = host.system;
    specialArgs = { inherit inputs; };
    modules = import ./host-modules.nix inputs root name;
  };

  # A node class's image: one system for every host of the class, named "image-<class>".
  mkImage = name: image: lib.nixosSystem {
    system = image.system;
    specialArgs = { inherit inputs; };
    modules = import ./image-modules.nix inputs root name;
  };

  nixosConfigurations = lib.mapAttrs mkHost hosts
    // lib.mapAttrs' (name: image: lib.nameValuePair "image-${name}" (mkImage name image)) images;

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

  # A class image's formats are all boot media (modules under ./formats): `image-<class>-<suffix>`,
  # and `image-<class>` for the first.
  buildImageFormat = name: fmt:
    let f = imageFormats.${fmt}; in
    (nixosConfigurations."image-${name}".extendModules { modules = [ (root + "/formats/${f.module}") ]; }).config.system.build.${f.build};

  imagePackages = name: image:
    lib.listToAttrs (map (fmt: lib.nameValuePair "image-${name}-${imageFormats.${fmt}.suffix}" (buildImageFormat name fmt)) image.formats)
    // { "image-${name}" = buildImageFormat name (builtins.head image.formats); };

  systems = lib.unique (lib.mapAttrsToList (_: h: h.system) hosts ++ lib.mapAttrsToList (_: i: i.system) images);
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
  # The same for a class image: it boots, with the class's name and the agent's unit present.
  imageVmTest = system: name: inputs.nixpkgs.legacyPackages.${system}.testers.runNixOSTest {
    name = "image-${name}-boots";
    node.specialArgs = { inherit inputs; };
    nodes.machine = { imports = import ./image-modules.nix inputs root name; };
    testScript = ''
      machine.wait_for_unit("multi-user.target")
      machine.succeed("test \"$(hostname)\" = ${name}")
      machine.succeed("systemctl cat hearth-agent.service")
    '';
  };
  ofSystem = system: lib.filterAttrs (_: x: x.system == system);
in
{
  inherit nixosConfigurations;
  checks = lib.genAttrs systems (system:
    lib.mapAttrs' (name: _: lib.nameValuePair "${name}-boots" (vmTest system name)) (ofSystem system hosts)
    // lib.mapAttrs' (name: _: lib.nameValuePair "image-${name}-boots" (imageVmTest system name)) (ofSystem system images));
  packages = lib.genAttrs systems (system:
    lib.foldl' (acc: name: acc // hostPackages name hosts.${name}) { } (builtins.attrNames (ofSystem system hosts))
    // lib.foldl' (acc: name: acc // imagePackages name images.${name}) { } (builtins.attrNames (ofSystem system images)));
}
