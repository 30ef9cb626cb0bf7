# nixpkgs nixos/modules/system/boot/luksroot.nix assertions (bypassWorkqueues' kernel-version
# check is left out: the stub world has no kernel version).
{ config, options, lib, ... }:
let
  h = import ./lib.nix { inherit config options lib; };
  tag = "[nixpkgs nixos/modules/system/boot/luksroot.nix @0080a8125b58]";
  l = n: d: h.get [ "boot" "initrd" "luks" n ] d;
  devices = lib.attrValues (l "devices" { });
  # Device defaults from luksroot.nix's submodule.
  f = dev: n: d: h.field dev n d;
  sd = h.initrdSystemd;
  gpg = l "gpgSupport" false;
  yubikey = l "yubikeySupport" false;
  fido2 = l "fido2Support" false;
  # `defaultPrio = (mkOptionDefault {}).priority`: reusePassphrases must not be set at all.
  reuseUntouched = (options.boot.initrd.luks.reusePassphrases.highestPrio or 1500) == 1500;
in
{
  assertions = lib.optionals (devices != [ ] || l "forceLuksSupportInInitrd" false) [
    { assertion = !(gpg && yubikey); message = "${tag} YubiKey and GPG Card may not be used at the same time."; }
    { assertion = !(gpg && fido2); message = "${tag} FIDO2 and GPG Card may not be used at the same time."; }
    { assertion = !(fido2 && yubikey); message = "${tag} FIDO2 and YubiKey may not be used at the same time."; }
    {
      assertion = !sd -> lib.all (x: f x "keyFileTimeout" null == null) devices;
      message = "${tag} boot.initrd.luks.devices.<name>.keyFileTimeout is only supported for systemd initrd";
    }
    {
      assertion = sd -> lib.all (dev: !(f dev "fallbackToPassword" false)) devices;
      message = "${tag} boot.initrd.luks.devices.<name>.fallbackToPassword is implied by systemd stage 1.";
    }
    {
      assertion = sd -> lib.all (dev: f dev "preLVM" true) devices;
      message = "${tag} boot.initrd.luks.devices.<name>.preLVM is not used by systemd stage 1.";
    }
    {
      assertion = sd -> reuseUntouched;
      message = "${tag} boot.initrd.luks.reusePassphrases has no effect with systemd stage 1.";
    }
    {
      assertion = sd -> lib.all (dev: f dev "preOpenCommands" "" == "" && f dev "postOpenCommands" "" == "") devices;
      message = "${tag} boot.initrd.luks.devices.<name>.preOpenCommands and postOpenCommands is not supported by systemd stage 1. Please bind a service to cryptsetup.target or cryptsetup-pre.target instead.";
    }
    { assertion = sd -> !gpg; message = "${tag} systemd stage 1 does not support GPG smartcards yet."; }
    {
      assertion = sd -> !fido2;
      message = "${tag} systemd stage 1 does not support configuring FIDO2 unlocking through `boot.initrd.luks.fido2Support`. Use systemd-cryptenroll(1) to configure FIDO2 support, and set `boot.initrd.luks.devices.\${DEVICE}.crypttabExtraOpts` as appropriate per crypttab(5) (e.g. `fido2-device=auto`).";
    }
    { assertion = sd -> !yubikey; message = "${tag} systemd stage 1 does not support Yubikeys yet."; }
  ];
}
