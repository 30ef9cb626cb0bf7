# nixpkgs nixos/modules/services/cluster/k3s/default.nix assertions.
{ config, options, lib, ... }:
let
  h = import ./lib.nix { inherit config options lib; };
  tag = "[nixpkgs nixos/modules/services/cluster/k3s/default.nix @01f31c2ee7d0]";
  k = n: d: h.get [ "services" "k3s" n ] d;
  agent = k "role" "server" == "agent";
  configPath = k "configPath" null;
in
{
  assertions = lib.optionals (k "enable" false) [
    {
      assertion = agent -> (configPath != null || k "serverAddr" "" != "");
      message = "${tag} serverAddr or configPath (with 'server' key) should be set if role is 'agent'";
    }
    {
      assertion = agent -> configPath != null || k "tokenFile" null != null || k "token" "" != "";
      message = "${tag} token or tokenFile or configPath (with 'token' or 'token-file' keys) should be set if role is 'agent'";
    }
  ];
}
