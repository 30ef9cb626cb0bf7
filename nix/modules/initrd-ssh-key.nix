# initrd-ssh-key: the initrd SSH host key on boot loaders without initrd secrets
# (generic-extlinux-compatible on a Raspberry Pi). nixpkgs' initrd-ssh.nix turns
# boot.initrd.network.ssh.hostKeys into boot.initrd.secrets, and stage-1 then asserts they are
# store paths, i.e. world-readable in /nix/store. Instead hostKeys stays empty and the initrd
# copies the key from the firmware partition before its sshd starts.
#
# Exposure: the key lies on the unencrypted FAT partition, readable by anyone holding the disk,
# exactly as exposed as initrd secrets appended to an initrd on an ESP (systemd-boot's way). It is
# the initrd's own key (hearth's remote-unlock secret), never the host's real SSH key.
# utils (NixOS's module argument) has a default only so option readers can import the file alone.
{ config, lib, utils ? null, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.hearth.initrdSshKey;
  fs = config.fileSystems.${cfg.mountPoint};
  # Path of the key on the partition, relative to its mount point.
  relative = lib.removePrefix "${cfg.mountPoint}/" cfg.source;
  copy = ''
    mkdir -p /run/hearth-firmware "$(dirname ${lib.escapeShellArg cfg.path})"
    mount -t ${lib.escapeShellArg fs.fsType} -o ro ${lib.escapeShellArg fs.device} /run/hearth-firmware
    # sshd refuses a key others can read.
    install -m 0600 /run/hearth-firmware/${lib.escapeShellArg relative} ${lib.escapeShellArg cfg.path}
    umount /run/hearth-firmware
  '';
in
{
  options.hearth.initrdSshKey = {
    enable = mkOption { type = types.bool; default = false; description = "Copy the initrd SSH host key from a boot partition in the initrd."; };
    mountPoint = mkOption { type = types.str; default = "/boot/firmware"; description = "Mount point (in fileSystems) of the partition holding the key."; };
    source = mkOption { type = types.str; default = "/boot/firmware/hearth/initrd_ssh_host_ed25519_key"; description = "Path of the key on the running system, below mountPoint."; };
    path = mkOption { type = types.str; default = "/etc/secrets/initrd/ssh_host_ed25519_key"; description = "Where the initrd's sshd reads the key."; };
  };

  config = lib.mkIf cfg.enable (lib.mkMerge [
    {
      assertions = [{
        assertion = lib.hasPrefix "${cfg.mountPoint}/" cfg.source;
        message = "hearth.initrdSshKey.source must lie below hearth.initrdSshKey.mountPoint";
      }];
      # Empty hostKeys is allowed "to deploy ssh host keys out of band" (initrd-ssh.nix); HostKey
      # names the copied file, since sshdConfig only lists hostKeys.
      boot.initrd.network.ssh.ignoreEmptyHostKeys = true;
      boot.initrd.network.ssh.extraConfig = "HostKey ${cfg.path}\n";
      boot.initrd.supportedFilesystems = [ fs.fsType ];
    }
    # systemd initrd (hearth's ZFS credstore hosts): a oneshot ordered before initrd-ssh.nix's
    # sshd.service, after the partition's device unit appeared.
    (lib.mkIf config.boot.initrd.systemd.enable {
      boot.initrd.systemd.services.hearth-initrd-ssh-key =
        let dev = "${utils.escapeSystemdPath fs.device}.device"; in {
          description = "Copy the initrd SSH host key from ${cfg.mountPoint}";
          requiredBy = [ "sshd.service" ];
          before = [ "sshd.service" ];
          requires = [ dev ];
          after = [ dev ];
          unitConfig.DefaultDependencies = false;
          serviceConfig = { Type = "oneshot"; RemainAfterExit = true; };
          script = copy;
        };
    })
    # Scripted initrd: network.postCommands ends by starting sshd (initrd-ssh.nix); mkBefore runs
    # the copy first. USB disks may show up late, so wait for the device.
    (lib.mkIf (!config.boot.initrd.systemd.enable) {
      boot.initrd.network.postCommands = lib.mkBefore ''
        for i in $(seq 1 30); do [ -e ${lib.escapeShellArg fs.device} ] && break; sleep 1; done
        ${copy}
      '';
    })
  ]);
}
