# A/B disk image (format `disk` of a node class): one raw GPT disk, byte-identical for every node of
# the class, built by systemd-repart through nixpkgs' image.repart module
# (nixos/modules/image/repart.nix: partitions.<name>.{repartConfig,contents,storePaths,
# stripNixStorePrefix}, result system.build.image). Three partitions, found by their GPT labels:
#
#   hearth-boot  ESP, FAT, 1 GiB: systemd-boot (the loader, also at the removable-media path
#                EFI/BOOT/BOOT<ARCH>.EFI, so it boots with empty NVRAM), loader/loader.conf, side A's
#                kernel and initrd as EFI/hearth/a/{linux,initrd}, its entry loader/entries/hearth-a.conf
#   hearth-a     side A, 4 GiB: the system's Nix store closure as a squashfs, written to the
#                partition itself, with nix-path-registration at its root (as netboot's squashfs)
#   hearth-b     side B, 4 GiB: empty; the agent writes the next version here
#
# The ESP's layout, entry text and loader.conf are those hearth's agent reads and writes (src/agent/ab.ts:
# PARTLABEL, ESP_PATHS, entryText, loaderConf, defaultFor; test/images.test.ts compares them), so
# the agent's first update of a node finds side A as it would have written it.
#
# The system runs from RAM as the netboot system does (nixpkgs' netboot.nix, imported): / is tmpfs,
# the side's squashfs the read-only lower layer of /nix/store. Which side that is comes from the
# boot entry's `hearth.slot=a|b` (the parameter the agent reads too): stage 1 links
# /dev/hearth-slot to /dev/disk/by-partlabel/hearth-<slot> before it mounts the store, so one
# system boots from either side.
#
# Boot counting is systemd-boot's (Boot Loader Specification): the agent stages side B as
# loader/entries/hearth-b+3.conf, which systemd-boot counts down at each boot of it; loader.conf's
# `default hearth-b[.+][1-9c]*` matches it only while it is blessed or has tries left, and once none
# are left systemd-boot boots the first entry in its order, side A. systemd-bless-boot.service drops
# the counter (the side is good) once boot-complete.target is reached.
{ config, lib, pkgs, modulesPath, ... }:
let
  efiArch = pkgs.stdenv.hostPlatform.efiArch;
  kernelFile = config.system.boot.loader.kernelFile;
  systemdBoot = "${pkgs.systemd}/lib/systemd/boot/efi/systemd-boot${efiArch}.efi";
  toplevel = config.system.build.toplevel;
  # src/agent/ab.ts entryText("a", { cmdline, version }): the slot parameter last.
  entryA = pkgs.writeText "hearth-a.conf" ''
    title hearth ${config.system.nixos.label} (side a)
    version ${config.system.nixos.label}
    linux /EFI/hearth/a/linux
    initrd /EFI/hearth/a/initrd
    options ${lib.concatStringsSep " " ([ "init=${toplevel}/init" ] ++ config.boot.kernelParams ++ [ "hearth.slot=a" ])}
  '';
  # src/agent/ab.ts loaderConf(defaultFor("a")): no menu, no editing the command line at the console.
  loaderConf = pkgs.writeText "loader.conf" ''
    # Written by hearth into the A/B disk image (nix/formats/ab-disk.nix); the agent rewrites it on every update and bless.
    timeout 0
    editor no
    default hearth-a[.+][1-9c]*
  '';
  closure = pkgs.closureInfo { rootPaths = [ toplevel ]; };
  side = label: {
    Type = "linux-generic";
    Label = label;
    SizeMinBytes = "4G";
    SizeMaxBytes = "4G";
  };
in
{
  imports = [
    (modulesPath + "/installer/netboot/netboot.nix")
    (modulesPath + "/image/repart.nix")
  ];

  config = {
    image.repart = {
      name = "hearth-${config.networking.hostName}";
      partitions = {
        "10-hearth-boot" = {
          contents = {
            "/EFI/BOOT/BOOT${lib.toUpper efiArch}.EFI".source = systemdBoot;
            "/EFI/systemd/systemd-boot${efiArch}.efi".source = systemdBoot;
            "/EFI/hearth/a/linux".source = "${config.system.build.kernel}/${kernelFile}";
            "/EFI/hearth/a/initrd".source = "${config.system.build.initialRamdisk}/initrd";
            "/loader/loader.conf".source = loaderConf;
            "/loader/entries/hearth-a.conf".source = entryA;
          };
          repartConfig = { Type = "esp"; Format = "vfat"; Label = "hearth-boot"; SizeMinBytes = "1G"; SizeMaxBytes = "1G"; };
        };
        "20-hearth-a" = {
          storePaths = [ toplevel ];
          stripNixStorePrefix = true;
          contents."/nix-path-registration".source = "${closure}/registration";
          repartConfig = side "hearth-a" // { Format = "squashfs"; };
        };
        "30-hearth-b".repartConfig = side "hearth-b";
      };
    };

    # The side's squashfs instead of the one netboot.nix puts in its ramdisk: mkForce over netboot's
    # mkImageMediaOverride of the whole mount (the rest of netboot's RAM layout stays).
    fileSystems."/nix/.ro-store" = lib.mkForce { device = "/dev/hearth-slot"; fsType = "squashfs"; options = [ "ro" ]; neededForBoot = true; };
    # The ESP, for the agent's updates and for systemd-bless-boot; nofail: the system runs without it.
    fileSystems."/boot" = { device = "/dev/disk/by-partlabel/hearth-boot"; fsType = "vfat"; options = [ "umask=0077" "nofail" ]; };

    # The slot link is made by the scripted stage 1 (postDeviceCommands runs after udev made
    # /dev/disk/by-partlabel and before the store is mounted), hence no systemd stage 1 here.
    boot.initrd.systemd.enable = false;
    boot.initrd.postDeviceCommands = ''
      slot=
      for o in $(cat /proc/cmdline); do
        case "$o" in hearth.slot=*) slot="''${o#hearth.slot=}" ;; esac
      done
      case "$slot" in
        a|b) ln -sfn "/dev/disk/by-partlabel/hearth-$slot" /dev/hearth-slot ;;
        *) echo "hearth: no hearth.slot=a or hearth.slot=b on the kernel command line; the store cannot be mounted" ;;
      esac
    '';

    # Boot counting: the units nixpkgs does not enable by default (its systemd-boot and appliance
    # tests add them the same way).
    systemd.additionalUpstreamSystemUnits = [ "systemd-bless-boot.service" "boot-complete.target" ];
  };
}
