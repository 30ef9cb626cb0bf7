# nixpkgs nixos/modules/system/boot/loader/systemd-boot/systemd-boot.nix assertions (the EFI
# boot stub and devicetree ones need the kernel package; see the research doc).
{ config, options, lib, ... }:
let
  h = import ./lib.nix { inherit config options lib; };
  tag = "[nixpkgs nixos/modules/system/boot/loader/systemd-boot/systemd-boot.nix @01e499cec163]";
  sb = n: d: h.get [ "boot" "loader" "systemd-boot" n ] d;
  esp = h.get [ "boot" "loader" "efi" "efiSysMountPoint" ] "/boot";
  xbootldr = sb "xbootldrMountPoint" null;
  id = lib.strings.escapeNixIdentifier;
in
{
  assertions = lib.optionals h.loaders.systemdBoot (
    [
      { assertion = lib.hasPrefix "/" esp; message = "${tag} The ESP mount point '${toString esp}' must be an absolute path"; }
      {
        assertion = xbootldr == null || lib.hasPrefix "/" xbootldr;
        message = "${tag} The XBOOTLDR mount point '${toString xbootldr}' must be an absolute path";
      }
      {
        assertion = xbootldr != esp;
        message = "${tag} The XBOOTLDR mount point '${toString xbootldr}' cannot be the same as the ESP mount point '${toString esp}'";
      }
    ]
    ++ lib.concatMap (filename: [
      { assertion = !(lib.hasInfix "/" filename); message = "${tag} boot.loader.systemd-boot.extraEntries.${id filename} is invalid: entries within folders are not supported"; }
      { assertion = lib.hasSuffix ".conf" filename; message = "${tag} boot.loader.systemd-boot.extraEntries.${id filename} is invalid: entries must have a .conf file extension"; }
    ]) (lib.attrNames (sb "extraEntries" { }))
    ++ lib.concatMap (filename: [
      { assertion = !(lib.hasPrefix "/" filename); message = "${tag} boot.loader.systemd-boot.extraFiles.${id filename} is invalid: paths must not begin with a slash"; }
      { assertion = !(lib.hasInfix ".." filename); message = "${tag} boot.loader.systemd-boot.extraFiles.${id filename} is invalid: paths must not reference the parent directory"; }
      { assertion = !(lib.hasInfix "nixos/.extra-files" (lib.toLower filename)); message = "${tag} boot.loader.systemd-boot.extraFiles.${id filename} is invalid: files cannot be placed in the nixos/.extra-files directory"; }
    ]) (lib.attrNames (sb "extraFiles" { }))
  );
}
