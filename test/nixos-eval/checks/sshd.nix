# nixpkgs nixos/modules/services/networking/ssh/sshd.nix assertions (the X11, Kerberos and GSSAPI
# ones need the client module's xauth setting or the package; see the research doc).
{ config, options, lib, ... }:
let
  h = import ./lib.nix { inherit config options lib; };
  tag = "[nixpkgs nixos/modules/services/networking/ssh/sshd.nix @commit-not-exposed (stored text id 61933264874)]";
  s = n: d: h.get [ "services" "openssh" n ] d;
  # Only the keys modules define: the stub declares the typed settings with defaults, as upstream
  # does, so their names are counted once either way.
  settings = lib.attrNames (s "settings" { });
  duplicates = lib.filter (l: lib.length l > 1) (lib.attrValues (lib.groupBy lib.strings.toLower settings));
  formattedDuplicates = lib.concatMapStringsSep ", " (dupl: "(${lib.concatStringsSep ", " dupl})") duplicates;
in
{
  assertions = lib.optionals (s "enable" false) (
    [
      {
        assertion = lib.length duplicates == 0;
        message = "${tag} Duplicate sshd config key; does your capitalization match the option's? Duplicate keys: ${formattedDuplicates}";
      }
    ]
    ++ map (la: {
      assertion = h.field la "addr" null != null;
      message = "${tag} addr must be specified in each listenAddresses entry";
    }) (s "listenAddresses" [ ])
  );
}
