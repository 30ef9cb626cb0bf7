# nixpkgs nixos/modules/tasks/filesystems.nix: its assertions, plus the mount-point rule its
# option type enforces (the stubs may type fileSystems loosely, so it is checked here).
{ config, options, lib, ... }:
let
  h = import ./lib.nix { inherit config options lib; };
  tag = "[nixpkgs nixos/modules/tasks/filesystems.nix @0148e16d1446]";
  resizableFSes = [ "ext3" "ext4" "btrfs" "xfs" ];
  notAutoResizable = fs: fs.autoResize && !(builtins.elem fs.fsType resizableFSes);
  # nonEmptyWithoutTrailingSlash: isNonEmpty s && builtins.match ".+/" s == null.
  goodMountPoint = s: builtins.match "[ \t\n]*" s == null && builtins.match ".+/" s == null;
  escape = builtins.replaceStrings [ " " "\t" ] [ "\\040" "\\011" ];
in
{
  assertions =
    [
      {
        assertion = !(lib.any notAutoResizable h.fileSystems);
        message = "${tag} 'autoResize = true' is not supported for this fsType; only the following support it: ${lib.concatStringsSep ", " resizableFSes} (mount points: ${lib.concatMapStringsSep ", " (fs: fs.mountPoint) (lib.filter notAutoResizable h.fileSystems)}).";
      }
      {
        assertion = !(lib.any (fs: fs.formatOptions != null) h.fileSystems);
        message = "${tag} 'fileSystems.<name>.formatOptions' has been removed, since systemd-makefs does not support any way to provide formatting options.";
      }
    ]
    ++ map (fs: {
      assertion = fs.label != null -> fs.device == "/dev/disk/by-label/${escape fs.label}";
      message = "${tag} The filesystem with mount point ${fs.mountPoint} has its label and device set to inconsistent values: label: ${toString fs.label} device: ${toString fs.device}. 'filesystems.<name>.label' and 'filesystems.<name>.device' are mutually exclusive. Please set only one.";
    }) h.fileSystems
    ++ map (fs: {
      assertion = goodMountPoint fs.mountPoint;
      message = "${tag} fileSystems mount point '${fs.mountPoint}' is not a valid value of type: string (with check: non-empty without trailing slash)";
    }) h.fileSystems;
}
