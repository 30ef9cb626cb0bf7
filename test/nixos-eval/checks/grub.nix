# nixpkgs nixos/modules/system/boot/loader/grub/grub.nix assertions (the trustedBoot and
# GRUB-version ones concern options hearth never sets; see the research doc).
{ config, options, lib, ... }:
let
  h = import ./lib.nix { inherit config options lib; };
  tag = "[nixpkgs nixos/modules/system/boot/loader/grub/grub.nix @00f7b4bdb0be]";
  g = n: d: h.get [ "boot" "loader" "grub" n ] d;
  device = g "device" "";
  # Upstream: devices = optional (cfg.device != "") cfg.device (merged with the option's own
  # definitions, e.g. disko's lib/types/gpt.nix for an EF02 partition), and
  # mirroredBoots = optionals (cfg.devices != []) [ { path = "/boot"; inherit devices; efiSysMountPoint; } ].
  devices = g "devices" [ ] ++ lib.optional (device != "") device;
  efiSysMountPoint = h.get [ "boot" "loader" "efi" "efiSysMountPoint" ] "/boot";
  mirroredBoots = map (b: {
      path = h.field b "path" "";
      devices = h.field b "devices" [ ];
      efiSysMountPoint = h.field b "efiSysMountPoint" null;
    }) (g "mirroredBoots" [ ])
    ++ lib.optional (devices != [ ]) { path = "/boot"; inherit devices efiSysMountPoint; };
  efiSupport = g "efiSupport" false;
  removable = g "efiInstallAsRemovable" false;
  bootDeviceCounters = lib.foldr (device: attr: attr // { ${device} = (attr.${device} or 0) + 1; }) { }
    (lib.concatMap (args: args.devices) mirroredBoots);
in
{
  assertions = lib.optionals h.loaders.grub (
    [
      {
        assertion = mirroredBoots != [ ];
        message = "${tag} You must set the option ‘boot.loader.grub.devices’ or 'boot.loader.grub.mirroredBoots' to make the system bootable.";
      }
      {
        assertion = efiSupport || lib.all (c: c < 2) (lib.attrValues bootDeviceCounters);
        message = "${tag} You cannot have duplicated devices in mirroredBoots";
      }
      {
        assertion = removable -> efiSupport;
        message = "${tag} If you wish to to use boot.loader.grub.efiInstallAsRemovable, then turn on boot.loader.grub.efiSupport";
      }
      {
        assertion = removable -> !(h.get [ "boot" "loader" "efi" "canTouchEfiVariables" ] false);
        message = "${tag} If you wish to to use boot.loader.grub.efiInstallAsRemovable, then turn off boot.loader.efi.canTouchEfiVariables";
      }
    ]
    ++ lib.concatMap (args: [
      { assertion = args.devices != [ ]; message = "${tag} A boot path cannot have an empty devices string in ${args.path}"; }
      { assertion = lib.hasPrefix "/" args.path; message = "${tag} Boot paths must be absolute, not ${args.path}"; }
      {
        assertion = args.efiSysMountPoint == null || lib.hasPrefix "/" args.efiSysMountPoint;
        message = "${tag} EFI paths must be absolute, not ${toString args.efiSysMountPoint}";
      }
    ] ++ map (device: {
      assertion = device == "nodev" || lib.hasPrefix "/" device;
      message = "${tag} GRUB devices must be absolute paths, not ${device} in ${args.path}";
    }) args.devices) mirroredBoots
  );
}
