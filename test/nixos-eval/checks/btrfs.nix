# nixpkgs nixos/modules/tasks/filesystems/btrfs.nix assertion (autoScrub).
{ config, options, lib, ... }:
let
  h = import ./lib.nix { inherit config options lib; };
  tag = "[nixpkgs nixos/modules/tasks/filesystems/btrfs.nix @03a362fe87d4]";
  # Upstream default (mkDefault): the mount points of all btrfs fileSystems.
  scrubFileSystems = h.get [ "services" "btrfs" "autoScrub" "fileSystems" ]
    (map (fs: fs.mountPoint) (lib.filter (fs: fs.fsType == "btrfs") h.fileSystems));
in
{
  assertions = lib.optionals (h.get [ "services" "btrfs" "autoScrub" "enable" ] false) [
    {
      assertion = scrubFileSystems != [ ];
      message = "${tag} If 'services.btrfs.autoScrub' is enabled, you need to have at least one btrfs file system mounted via 'fileSystems' or specify a list manually in 'services.btrfs.autoScrub.fileSystems'.";
    }
  ];
}
