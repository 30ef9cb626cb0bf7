# nixpkgs nixos/modules/services/monitoring/prometheus/default.nix: its one assertion (search index
# stored text id 62237455239, the hardened-service era; the commit is not exposed). The exporters'
# module (exporters.nix @01241074a76d) asserts only about exporters hearth does not enable, and
# that firewallFilter needs openFirewall, which hearth sets neither of.
{ config, options, lib, ... }:
let
  h = import ./lib.nix { inherit config options lib; };
  tag = "[nixpkgs nixos/modules/services/monitoring/prometheus/default.nix]";
  listenAddress = h.get [ "services" "prometheus" "listenAddress" ] "0.0.0.0";
  # An IPv4 address (dots) or a bracketed IPv6 address followed by a port.
  legacy = builtins.match "(.*\\..*|.*]):([[:digit:]]+)" listenAddress;
in
{
  assertions = lib.optionals (h.get [ "services" "prometheus" "enable" ] false) [
    {
      assertion = legacy == null;
      message = "${tag} Do not specify the port for Prometheus to listen on in the listenAddress option; use the port option instead";
    }
  ];
}
