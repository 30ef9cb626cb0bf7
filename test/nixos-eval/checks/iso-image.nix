# nixpkgs nixos/modules/installer/cd-dvd/iso-image.nix assertions, for hosts that import it (the
# ISO format; the stub in ../stubs/modules declares its options). The specialisation and CHRP
# ones concern options hearth never sets; see the research doc.
{ config, options, lib, ... }:
let
  h = import ./lib.nix { inherit config options lib; };
  tag = "[nixpkgs nixos/modules/installer/cd-dvd/iso-image.nix @commit-not-exposed (stored text id 30848981444)]";
  system = h.hostSystem;
  isx86 = system != null && (lib.hasPrefix "x86_64-" system || lib.hasPrefix "i686-" system);
  # The upstream default of makeBiosBootable was not read (the stub's `true` is not trusted):
  # only a value a module sets is judged. volumeID's upstream default,
  # "nixos[-<edition>]-<release>-<processor>", is at most 27 characters for the default edition.
  makeBiosBootable = h.get [ "isoImage" "makeBiosBootable" ] isx86;
  volumeID = h.get [ "isoImage" "volumeID" ] "";
in
{
  assertions = lib.optionals (options ? isoImage) [
    {
      assertion = makeBiosBootable -> isx86;
      message = "${tag} BIOS boot is only supported on x86-based architectures.";
    }
    {
      assertion = !(lib.stringLength volumeID > 32);
      message =
        let length = lib.stringLength volumeID; in
        "${tag} isoImage.volumeID ${volumeID} is ${toString length} characters. That is ${toString (length - 32)} characters longer than the limit of 32.";
    }
  ];
}
