# nixpkgs nixos/modules/services/web-servers/caddy/default.nix assertions (the certificate
# ownership one concerns useACMEHost, which hearth never sets; see the research doc).
{ config, options, lib, ... }:
let
  h = import ./lib.nix { inherit config options lib; };
  tag = "[nixpkgs nixos/modules/services/web-servers/caddy/default.nix @0145c6da2896]";
  # Upstream: configFile defaults to the generated Caddyfile, and adapter to "caddyfile" when the
  # file is someone else's or named Caddyfile (null otherwise). Without an own configFile the
  # generated one is used.
  ownConfigFile = h.get [ "services" "caddy" "configFile" ] null != null;
  adapter = h.get [ "services" "caddy" "adapter" ] "caddyfile";
in
{
  assertions = lib.optionals (h.get [ "services" "caddy" "enable" ] false) [
    {
      assertion = !ownConfigFile -> adapter == "caddyfile" || adapter == null;
      message = "${tag} To specify an adapter other than 'caddyfile' please provide your own configuration via `services.caddy.configFile`";
    }
  ];
}
