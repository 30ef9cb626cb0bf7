# nixpkgs nixos/modules/system/boot/stage-1.nix assertions, re-implemented for the stub world.
{ config, options, lib, ... }:
let
  h = import ./lib.nix { inherit config options lib; };
  old = "[nixpkgs nixos/modules/system/boot/stage-1.nix @4c853b32a3f2]";
  # The initrd-secrets assertion is in newer stored texts only; the index gives their text
  # (id 62781097) but not their commit. See docs/research/nixos-assertions.md.
  new = "[nixpkgs nixos/modules/system/boot/stage-1.nix @commit-not-exposed (stored text id 62781097)]";
  resumeDevice = h.get [ "boot" "resumeDevice" ] "";
in
{
  assertions = lib.optionals h.initrdEnabled [
    {
      # "/" is always needed for boot, so filtering by fsNeededForBoot does not change `any`.
      assertion = lib.any (fs: fs.mountPoint == "/") h.fileSystems;
      message = "${old} The ‘fileSystems’ option does not specify your root file system.";
    }
    {
      assertion = resumeDevice == "" || builtins.substring 0 1 resumeDevice == "/";
      message = "${old} boot.resumeDevice has to be an absolute path. Old \"x:y\" style is no longer supported.";
    }
    {
      # Secrets come from boot.initrd.secrets and initrd-ssh's hostKeys (lib.nix); a loader
      # without append-initrd-secrets (extlinux) would copy them into the store at build time.
      assertion = !h.supportsInitrdSecrets ->
        lib.all (source: builtins.isPath source || (builtins.isString source && lib.hasPrefix builtins.storeDir source))
          (lib.attrValues h.initrdSecrets);
      message = "${new} boot.loader.initrd.secrets values must be unquoted paths when using a bootloader that doesn't natively support initrd secrets (offending: ${lib.concatStringsSep ", " (lib.attrNames h.initrdSecrets)}). Note that this will result in all secrets being stored world-readable in the Nix store!";
    }
  ];
}
