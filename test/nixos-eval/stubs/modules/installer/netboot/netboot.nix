# STUB of nixpkgs nixos/modules/installer/netboot/netboot.nix @a748cedf46541dd8175ae9e6740a9e259ceaa73e: only its system.build results, for evaluation without nixpkgs.
# The two scripts are copied verbatim (same text @03a5cc692fa68dd055b01f52aee446f26475e3ec and in
# the later version that imports ../../image/file-options.nix): hearth's kexec tree must carry the
# names they load, and the QEMU deploy test runs this kexec-boot text as is. No options are
# declared here; besides system.build it sets, as upstream does, the RAM system's file systems
# (mkImageMediaOverride) and grub.enable = false, so a conflicting definition still conflicts.
{ config, lib, pkgs, ... }:

{
  config = {
    boot.loader.grub.enable = false;
    fileSystems."/" = lib.mkImageMediaOverride { fsType = "tmpfs"; options = [ "mode=0755" ]; };
    fileSystems."/nix/.ro-store" = lib.mkImageMediaOverride { fsType = "squashfs"; device = "../nix-store.squashfs"; options = [ "loop" ]; neededForBoot = true; };
    fileSystems."/nix/.rw-store" = lib.mkImageMediaOverride { fsType = "tmpfs"; options = [ "mode=0755" ]; neededForBoot = true; };
    fileSystems."/nix/store" = lib.mkImageMediaOverride {
      fsType = "overlay";
      device = "overlay";
      options = [ "lowerdir=/nix/.ro-store" "upperdir=/nix/.rw-store/store" "workdir=/nix/.rw-store/work" ];
      depends = [ "/nix/.ro-store" "/nix/.rw-store/store" "/nix/.rw-store/work" ];
    };
    # Create the squashfs image that contains the Nix store.
    # (Upstream: pkgs.callPackage ../../../lib/make-squashfs.nix { storeContents = config.netboot.storeContents; … },
    # a file that is not here.)
    system.build.squashfsStore = pkgs.runCommand "nix-store.squashfs" {
      storeContents = [ config.system.build.toplevel ];
    } "";

    # Create the initrd
    system.build.netbootRamdisk = pkgs.makeInitrdNG {
      prepend = [ "${config.system.build.initialRamdisk}/initrd" ];

      contents =
        [ { source = config.system.build.squashfsStore;
            target = "/nix-store.squashfs";
          }
        ];
    };

    system.build.netbootIpxeScript = pkgs.writeTextDir "netboot.ipxe" ''
      #!ipxe
      # Use the cmdline variable to allow the user to specify custom kernel params
      # when chainloading this script from other iPXE scripts like netboot.xyz
      kernel ${pkgs.stdenv.hostPlatform.linux-kernel.target} init=${config.system.build.toplevel}/init initrd=initrd ${toString config.boot.kernelParams} ''${cmdline}
      initrd initrd
      boot
    '';

    # A script invoking kexec on ./bzImage and ./initrd.gz.
    # Usually used through system.build.kexecTree, but exposed here for composability.
    system.build.kexecScript = pkgs.writeScript "kexec-boot" ''
      #!/usr/bin/env bash
      if ! kexec -v >/dev/null 2>&1; then
        echo "kexec not found: please install kexec-tools" 2>&1
        exit 1
      fi
      SCRIPT_DIR=$( cd -- "$( dirname -- "''${BASH_SOURCE[0]}" )" &> /dev/null && pwd )
      kexec --load ''${SCRIPT_DIR}/bzImage \
        --initrd=''${SCRIPT_DIR}/initrd.gz \
        --command-line "init=${config.system.build.toplevel}/init ${toString config.boot.kernelParams}"
      kexec -e
    '';

    # A tree containing initrd.gz, bzImage and a kexec-boot script.
    system.build.kexecTree = pkgs.linkFarm "kexec-tree" [
      {
        name = "initrd.gz";
        path = "${config.system.build.netbootRamdisk}/initrd";
      }
      {
        name = "bzImage";
        path = "${config.system.build.kernel}/${config.system.boot.loader.kernelFile}";
      }
      {
        name = "kexec-boot";
        path = config.system.build.kexecScript;
      }
    ];
  };
}
