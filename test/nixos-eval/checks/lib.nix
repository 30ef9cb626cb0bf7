# Facts nixpkgs' modules would derive and the stubs do not (they implement no behaviour),
# shared by the checks. Each value cites where upstream computes it.
{ config, options, lib }:
let
  inherit (lib) attrByPath getAttrFromPath;

  # Option value at `path` when some module defines it, else `dflt`: the upstream default,
  # passed (and cited) by the caller. A stub's own default is never read: for non-literal
  # defaults it aborts, which tryEval cannot catch.
  get = path: dflt:
    let
      opt = attrByPath path null options;
      explicit = opt != null && opt.isDefined && opt.highestPrio < 1500; # 1500 = mkOptionDefault
    in
    if explicit then getAttrFromPath path config else dflt;

  # `get` for an option whose stub default throws (a non-literal upstream default the stubs do not
  # model): while no module defines it, reading its priority forces that default; the throw is
  # caught and the caller's upstream default used.
  getDefined = path: dflt:
    let r = builtins.tryEval (get path dflt); in if r.success then r.value else dflt;

  # Field of a submodule value (fileSystems.<n>, users.users.<n>, ...), else upstream's default.
  field = set: name: dflt:
    let r = builtins.tryEval (set.${name} or dflt); in if r.success then r.value else dflt;

  # boot.supportedFilesystems takes a list or an attrset of bools (filesystems.nix @0148e16d1446, attrNamesToTrue).
  fsNames = v: if builtins.isList v then v else lib.attrNames (lib.filterAttrs (_: on: on) v);

  isContainer = get [ "boot" "isContainer" ] false;

  # filesystems.nix @0148e16d1446: mountPoint defaults to the attribute name, fsType to "auto",
  # options to [ "defaults" ]; device = mkDefault by-label when label is set, or the fsType for
  # special file systems; `apply = lib.filterAttrs (_: fs: fs.enable)`.
  specialFSTypes = [ "proc" "sysfs" "tmpfs" "ramfs" "devtmpfs" "devpts" ];
  escape = builtins.replaceStrings [ " " "\t" ] [ "\\040" "\\011" ];
  fileSystems = lib.filter (fs: fs.enable) (lib.mapAttrsToList (name: fs:
    let
      fsType = field fs "fsType" "auto";
      label = field fs "label" null;
      device = field fs "device" null;
    in {
      inherit fsType label;
      enable = field fs "enable" true;
      mountPoint = field fs "mountPoint" name;
      device =
        if device != null then device
        else if label != null then "/dev/disk/by-label/${escape label}"
        else if lib.elem fsType specialFSTypes then fsType
        else null;
      autoResize = field fs "autoResize" false;
      formatOptions = field fs "formatOptions" null;
      options = field fs "options" [ "defaults" ];
    }) (get [ "fileSystems" ] { }));

  # systemd-boot.nix @01e499cec163 sets `boot.loader.grub.enable = mkDefault false`; grub.enable
  # otherwise defaults to !config.boot.isContainer (options JSON default text).
  # external.nix @08a4c8850831 (lanzaboote's route) sets grub.enable = mkDefault false as well.
  systemdBoot = get [ "boot" "loader" "systemd-boot" "enable" ] false;
  external = get [ "boot" "loader" "external" "enable" ] false;
  grub = get [ "boot" "loader" "grub" "enable" ] (!systemdBoot && !external && !isContainer);
  lanzaboote = get [ "boot" "lanzaboote" "enable" ] false;

  # initrd-ssh.nix @001dade9d8f9: enabled = (initrd.network.enable || initrd.systemd.network.enable) && ssh.enable.
  ssh = {
    enable =
      (get [ "boot" "initrd" "network" "enable" ] false || get [ "boot" "initrd" "systemd" "network" "enable" ] false)
      && get [ "boot" "initrd" "network" "ssh" "enable" ] false;
    hostKeys = get [ "boot" "initrd" "network" "ssh" "hostKeys" ] [ ];
  };
  # initrd-ssh.nix @001dade9d8f9: "Nix complains if you include a store hash in initrd path names".
  initrdKeyPath = path:
    if lib.isString path then path
    else let name = builtins.baseNameOf path; in
      builtins.unsafeDiscardStringContext ("/etc/ssh/" + lib.substring 1 (lib.stringLength name) name);
in
{
  inherit get getDefined field fsNames isContainer fileSystems;

  # stage-1.nix: boot.initrd.enable defaults to !config.boot.isContainer.
  initrdEnabled = get [ "boot" "initrd" "enable" ] (!isContainer);
  initrdSystemd = get [ "boot" "initrd" "systemd" "enable" ] false;

  # Set to true by systemd-boot.nix @01e499cec163 and grub.nix @00f7b4bdb0be (under their
  # `mkIf cfg.enable`) and by lanzaboote v1.1.0 nix/modules/lanzaboote.nix:446; the option
  # defaults to false (stage-1.nix) and generic-extlinux-compatible/default.nix @000b272ea30a
  # never sets it.
  # A module that sets the flag itself (lanzaboote is evaluated for real) counts as well.
  supportsInitrdSecrets = systemdBoot || grub || lanzaboote || get [ "boot" "loader" "supportsInitrdSecrets" ] false;
  loaders = { inherit systemdBoot grub lanzaboote; };

  inherit ssh initrdKeyPath;
  # boot.initrd.secrets plus what initrd-ssh.nix @001dade9d8f9 adds:
  #   boot.initrd.secrets = listToAttrs (map (path: nameValuePair (initrdKeyPath path) path) cfg.hostKeys);
  initrdSecrets = get [ "boot" "initrd" "secrets" ] { }
    // lib.optionalAttrs ssh.enable
      (lib.listToAttrs (map (p: lib.nameValuePair (initrdKeyPath p) p) ssh.hostKeys));

  # filesystems.nix @0148e16d1446: `boot.supportedFilesystems = map (fs: fs.fsType) fileSystems;`
  # (stage-1 adds the boot-needed ones to the initrd list, a subset of these).
  supportedFilesystems = lib.unique (
    fsNames (get [ "boot" "supportedFilesystems" ] { })
    ++ fsNames (get [ "boot" "initrd" "supportedFilesystems" ] { })
    ++ map (fs: fs.fsType) fileSystems
  );

  hostSystem =
    let p = get [ "nixpkgs" "hostPlatform" ] null;
    in if p == null then null else if lib.isString p then p else p.system or null;
}
