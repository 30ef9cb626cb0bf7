# kexec tree (seed 001's format): the host as a RAM-only netboot system, packaged as
# bzImage + initrd + kexec-boot script + netboot.ipxe in one directory.
{ config, lib, pkgs, modulesPath, ... }:
{
  imports = [ (modulesPath + "/installer/netboot/netboot.nix") ];

  system.build.hearthKexecTree = pkgs.linkFarm "kexec-tree-${config.networking.hostName}" [
    { name = "bzImage"; path = "${config.system.build.kernel}/${config.system.boot.loader.kernelFile}"; }
    { name = "initrd"; path = "${config.system.build.netbootRamdisk}/initrd"; }
    { name = "kexec-boot"; path = config.system.build.kexecScript; }
    { name = "netboot.ipxe"; path = "${config.system.build.netbootIpxeScript}/netboot.ipxe"; }
  ];
}
