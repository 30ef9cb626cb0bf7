# nixpkgs nixos/modules/system/boot/initrd-ssh.nix assertions.
{ config, options, lib, ... }:
let
  h = import ./lib.nix { inherit config options lib; };
  tag = "[nixpkgs nixos/modules/system/boot/initrd-ssh.nix @001dade9d8f9]";
  p = [ "boot" "initrd" "network" "ssh" ];
  users = h.get [ "users" "users" ] { };
  rootKeys = h.field (h.field (users.root or { }) "openssh" { }) "authorizedKeys" { };
  # Upstream defaults: users.users.root.openssh.authorizedKeys.{keys,keyFiles}. The stubs model
  # them by reading that path, which aborts (uncatchably) while no module defines users.users.root,
  # and reading an undefined option's priority forces it; so without root, authorizedKeyFiles is
  # not consulted and counts as [ ] (upstream's root has no key files unless set).
  opt = n: d: if users ? root then h.get (p ++ [ n ]) d else d;
  authorizedKeys = h.get (p ++ [ "authorizedKeys" ]) (h.field rootKeys "keys" [ ]);
  authorizedKeyFiles = opt "authorizedKeyFiles" (h.field rootKeys "keyFiles" [ ]);
in
{
  assertions = lib.optionals h.ssh.enable [
    {
      assertion = authorizedKeys != [ ] || authorizedKeyFiles != [ ];
      message = "${tag} You should specify at least one authorized key for initrd SSH";
    }
    {
      assertion = h.ssh.hostKeys != [ ] || h.get (p ++ [ "ignoreEmptyHostKeys" ]) false;
      message = "${tag} You must now pre-generate the host keys for initrd SSH. See the boot.initrd.network.ssh.hostKeys documentation for instructions.";
    }
  ];
}
