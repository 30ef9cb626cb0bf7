# netboot tree (format `netboot` of a node class): the RAM system as iPXE loads it, the files of
# the kexec tree that netboot.ipxe names and nothing for kexec. The names are those of nixpkgs'
# netboot.nix netbootIpxeScript (`kernel <linux-kernel.target>`, `initrd initrd`), as in
# ./kexec-tree.nix, which `hearth serve` answers at /netboot/<name>/<file>.
{ config, pkgs, modulesPath, ... }:
let
  kernel = "${config.system.build.kernel}/${config.system.boot.loader.kernelFile}";
  ipxeKernel = pkgs.stdenv.hostPlatform.linux-kernel.target;
in
{
  imports = [ (modulesPath + "/installer/netboot/netboot.nix") ];

  system.build.hearthNetbootTree = pkgs.linkFarm "netboot-tree-${config.networking.hostName}" [
    { name = ipxeKernel; path = kernel; }
    { name = "initrd"; path = "${config.system.build.netbootRamdisk}/initrd"; }
    { name = "netboot.ipxe"; path = "${config.system.build.netbootIpxeScript}/netboot.ipxe"; }
  ];
}
