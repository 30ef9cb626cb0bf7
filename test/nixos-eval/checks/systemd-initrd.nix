# nixpkgs nixos/modules/system/boot/systemd/initrd.nix assertions (systemd stage 1).
{ config, options, lib, ... }:
let
  h = import ./lib.nix { inherit config options lib; };
  tag = "[nixpkgs nixos/modules/system/boot/systemd/initrd.nix @00e6b22b508f]";
  root = h.get [ "boot" "initrd" "systemd" "root" ] "fstab";
  # Scripted-stage-1 hooks the systemd initrd ignores; upstream requires each to be "".
  unsupported = [
    [ "preFailCommands" ] [ "preDeviceCommands" ] [ "preLVMCommands" ] [ "postDeviceCommands" ]
    [ "postResumeCommands" ] [ "postMountCommands" ] [ "extraUdevRulesCommands" ]
    [ "extraUtilsCommands" ] [ "extraUtilsCommandsTest" ] [ "network" "postCommands" ]
  ];
in
{
  assertions = lib.optionals (h.initrdEnabled && h.initrdSystemd) (
    [
      {
        assertion = root == "fstab" -> lib.any (fs: fs.mountPoint == "/") h.fileSystems;
        message = "${tag} The ‘fileSystems’ option does not specify your root file system.";
      }
    ]
    ++ map (name: {
      assertion = h.get ([ "boot" "initrd" ] ++ name) "" == "";
      message = "${tag} systemd stage 1 does not support 'boot.initrd.${lib.concatStringsSep "." name}'. Please convert it to analogous systemd units in 'boot.initrd.systemd'.";
    }) unsupported
  );
}
