# kexec tree (seed 001's format): the host as a RAM-only netboot system, in one directory that
# both of nixpkgs' scripts can boot from.
#
# Each file is named as the script that loads it says (nixpkgs nixos/modules/installer/netboot/
# netboot.nix, e.g. @a748cedf46541dd8175ae9e6740a9e259ceaa73e):
# - kexec-boot (system.build.kexecScript) loads $SCRIPT_DIR/bzImage and $SCRIPT_DIR/initrd.gz;
#   these two entries are those of nixpkgs' own system.build.kexecTree.
# - netboot.ipxe says `kernel <linux-kernel.target>` (bzImage on x86_64, Image on aarch64) and
#   `initrd initrd`, relative names that `hearth serve` answers at /netboot/<host>/<file>.
# Hence the initrd twice (and the kernel twice on aarch64). Entries are spelled out rather than
# taken from kexecTree.entries, whose form differs between nixpkgs versions.
{ config, lib, pkgs, modulesPath, ... }:
let
  kernel = "${config.system.build.kernel}/${config.system.boot.loader.kernelFile}";
  initrd = "${config.system.build.netbootRamdisk}/initrd";
  ipxeKernel = pkgs.stdenv.hostPlatform.linux-kernel.target;
in
{
  imports = [ (modulesPath + "/installer/netboot/netboot.nix") ];

  system.build.hearthKexecTree = pkgs.linkFarm "kexec-tree-${config.networking.hostName}" (
    [
      # for kexec-boot
      { name = "bzImage"; path = kernel; }
      { name = "initrd.gz"; path = initrd; }
      { name = "kexec-boot"; path = config.system.build.kexecScript; }
      # for netboot.ipxe
      { name = "initrd"; path = initrd; }
      { name = "netboot.ipxe"; path = "${config.system.build.netbootIpxeScript}/netboot.ipxe"; }
    ]
    ++ lib.optional (ipxeKernel != "bzImage") { name = ipxeKernel; path = kernel; }
  );
}
