# nixpkgs nixos/modules/tasks/filesystems/zfs.nix assertions (ZED's enableMail check needs the
# zfs package and is left out).
{ config, options, lib, ... }:
let
  h = import ./lib.nix { inherit config options lib; };
  tag = "[nixpkgs nixos/modules/tasks/filesystems/zfs.nix @a623be9d17ee]";
  # cfgZfs.enabled = inInitrd || inSystem: "zfs" in the (initrd) supported file systems.
  enabled = lib.elem "zfs" h.supportedFilesystems;
in
{
  assertions = lib.optionals enabled [
    {
      assertion = h.get [ "networking" "hostId" ] null != null;
      message = "${tag} ZFS requires networking.hostId to be set";
    }
    {
      assertion = !(h.get [ "boot" "zfs" "forceImportAll" ] false) || h.get [ "boot" "zfs" "forceImportRoot" ] true;
      message = "${tag} If you enable boot.zfs.forceImportAll, you must also enable boot.zfs.forceImportRoot";
    }
  ];
}
