# nixpkgs nixos/modules/services/networking/wireguard.nix assertions.
{ config, options, lib, ... }:
let
  h = import ./lib.nix { inherit config options lib; };
  tag = "[nixpkgs nixos/modules/services/networking/wireguard.nix @0056e44b7f36]";
  f = h.field;
  interfaces = h.get [ "networking" "wireguard" "interfaces" ] { };
  # Upstream: enable defaults to `cfg.interfaces != { }` (the stub's default throws).
  enable = h.getDefined [ "networking" "wireguard" "enable" ] (interfaces != { });
in
{
  assertions = lib.optionals enable (lib.concatLists (lib.mapAttrsToList (name: value:
    let
      privateKey = f value "privateKey" null;
      privateKeyFile = f value "privateKeyFile" null;
    in
    [
      {
        assertion = (privateKey != null) != (privateKeyFile != null);
        message = "${tag} Either networking.wireguard.interfaces.${name}.privateKey or networking.wireguard.interfaces.${name}.privateKeyFile must be set.";
      }
      {
        assertion = f value "generatePrivateKeyFile" false -> privateKey == null;
        message = "${tag} networking.wireguard.interfaces.${name}.generatePrivateKeyFile must not be set if networking.wireguard.interfaces.${name}.privateKey is set.";
      }
    ]
    ++ lib.concatMap (peer:
      let
        publicKey = f peer "publicKey" null;
        publicKeyFile = f peer "publicKeyFile" null;
        peerName = if publicKey != null then publicKey else toString publicKeyFile;
      in
      [
        {
          assertion = (publicKey != null) != (publicKeyFile != null);
          message = "${tag} networking.wireguard.interfaces.${name} peer \"${peerName}\" has both publicKey and publicKeyFile set, but only one can be used.";
        }
        {
          assertion = f peer "presharedKey" null == null || f peer "presharedKeyFile" null == null;
          message = "${tag} networking.wireguard.interfaces.${name} peer \"${peerName}\" has both presharedKey and presharedKeyFile set, but only one can be used.";
        }
      ]) (f value "peers" [ ])
  ) interfaces));
}
