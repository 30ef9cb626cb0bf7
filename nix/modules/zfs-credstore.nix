# zfs-credstore: the boot flow of seeds 002/003. In the systemd initrd the pool is imported
# without mounting, the small LUKS credstore zvol is opened (passphrase, TPM2 or remote SSH),
# and the raw ZFS key inside it loads the encrypted datasets before sysroot is mounted.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.hearth.zfsCredstore;
in
{
  options.hearth.zfsCredstore = {
    enable = mkOption { type = types.bool; default = false; description = "Unlock ZFS through a LUKS credstore zvol."; };
    pool = mkOption { type = types.str; default = "rpool"; description = "Pool holding the credstore and the encrypted datasets."; };
    dataset = mkOption { type = types.str; default = "rpool/crypt"; description = "Encryption root whose key lives in the credstore."; };
    keyFile = mkOption { type = types.str; default = "/etc/credstore/zfs-sysroot.mount"; description = "Path of the raw key while the credstore is mounted."; };
    tpm2Pcrs = mkOption { type = types.listOf types.int; default = [ ]; description = "Unseal the credstore with TPM2 bound to these PCRs (empty: passphrase only)."; };
  };

  config = lib.mkIf cfg.enable {
    boot.initrd.systemd.enable = true;
    boot.initrd.supportedFilesystems = [ "zfs" "ext4" ];
    boot.initrd.luks.devices.credstore = {
      device = "/dev/zvol/${cfg.pool}/credstore";
      crypttabExtraOpts = lib.optionals (cfg.tpm2Pcrs != [ ]) [
        "tpm2-device=auto"
        "tpm2-pcrs=${lib.concatMapStringsSep "+" toString cfg.tpm2Pcrs}"
        "tpm2-measure-pcr=yes"
      ];
    };
    security.tpm2.enable = lib.mkIf (cfg.tpm2Pcrs != [ ]) true;
    boot.initrd.systemd.services."import-${cfg.pool}-bare" = {
      description = "Import ${cfg.pool} without mounting";
      after = [ "modprobe@zfs.service" "systemd-udev-settle.service" ];
      before = [ "cryptsetup-pre.target" ];
      wantedBy = [ "cryptsetup-pre.target" ];
      unitConfig.DefaultDependencies = false;
      serviceConfig = { Type = "oneshot"; RemainAfterExit = true; };
      script = ''
        for i in $(seq 1 30); do
          zpool import -N -d /dev/disk/by-id ${lib.escapeShellArg cfg.pool} && exit 0
          sleep 1
        done
        exit 1
      '';
    };
    boot.initrd.systemd.services."${cfg.pool}-load-key" = {
      description = "Load the ZFS key of ${cfg.dataset} from the credstore";
      after = [ "import-${cfg.pool}-bare.service" "systemd-cryptsetup@credstore.service" ];
      requires = [ "systemd-cryptsetup@credstore.service" ];
      before = [ "sysroot.mount" ];
      wantedBy = [ "sysroot.mount" ];
      unitConfig.DefaultDependencies = false;
      serviceConfig = { Type = "oneshot"; RemainAfterExit = true; };
      script = ''
        mkdir -p /etc/credstore
        mount -o ro /dev/mapper/credstore /etc/credstore
        zfs load-key -L ${lib.escapeShellArg "file://${cfg.keyFile}"} ${lib.escapeShellArg cfg.dataset}
        umount /etc/credstore
      '';
    };
  };
}
