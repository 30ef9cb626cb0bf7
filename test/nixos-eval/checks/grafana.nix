# nixpkgs nixos/modules/services/monitoring/grafana.nix assertions (the 26.05 text: its secret_key
# message names "the NixOS changelog for 26.05"; read from the search index's stored text id
# 62435813435, whose commit the index does not give). The alerting provision pairs and the removed
# editors_can_admin concern options hearth never sets.
{ config, options, lib, ... }:
let
  h = import ./lib.nix { inherit config options lib; };
  tag = "[nixpkgs nixos/modules/services/monitoring/grafana.nix, 26.05 text]";
  # 26.05: `secret_key = mkOption { default = null; ... }`; the late-2024 stub still has the old
  # default "SW2YcwTIb9zpOOhoPsMm", so only what a module defines counts (settings.* lie below a
  # submodule-typed option, outside the options tree: read from the definitions).
  defined = lib.foldl' lib.recursiveUpdate { } (map (d: d.value)
    (builtins.filter (d: !(lib.hasSuffix "stubs/nixos-options.nix" (toString d.file)))
      (options.services.grafana.settings.definitionsWithLocations or [ ])));
  secretKey = lib.attrByPath [ "security" "secret_key" ] null defined;
  # provision.* defaults are literal nulls, which the stub gives as upstream does.
  provision = h.field config.services.grafana "provision" { };
  sub = name: field: let r = builtins.tryEval ((provision.${name} or { }).${field} or null); in if r.success then r.value else null;
  datasources = sub "datasources" "settings";
  dsPath = sub "datasources" "path";
  dashboards = sub "dashboards" "settings";
  dbPath = sub "dashboards" "path";
  # datasourceConfig's `access` defaults to "proxy".
  prometheusIsNotDirect = ds: lib.all (d: (d.type or null) == "prometheus" -> (d.access or "proxy") != "direct") ds;
in
{
  assertions = lib.optionals (h.get [ "services" "grafana" "enable" ] false) [
    {
      assertion = secretKey != null;
      message = "${tag} Grafana's secret key (services.grafana.settings.security.secret_key) doesn't have a default value anymore. Please generate your own and use a file-provider on this option!";
    }
    {
      assertion = datasources == null || dsPath == null;
      message = "${tag} Cannot set both datasources settings and datasources path";
    }
    {
      assertion = datasources == null || prometheusIsNotDirect (datasources.datasources or [ ]);
      message = "${tag} For datasources of type `prometheus`, the `direct` access mode is not supported anymore (since Grafana 9.2.0)";
    }
    {
      assertion = dashboards == null || dbPath == null;
      message = "${tag} Cannot set both dashboards settings and dashboards path";
    }
  ];
}
