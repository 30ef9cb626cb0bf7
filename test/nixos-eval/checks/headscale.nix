# nixpkgs nixos/modules/services/networking/headscale.nix assertions.
{ config, options, lib, ... }:
let
  h = import ./lib.nix { inherit config options lib; };
  tag = "[nixpkgs nixos/modules/services/networking/headscale.nix @02d79c9c8bcb]";
  settings = h.get [ "services" "headscale" "settings" ] { };
  s = path: d: let r = builtins.tryEval (lib.attrByPath path d settings); in if r.success then r.value else d;
  # Upstream defaults: dns.magic_dns = true, dns.base_domain = "".
  magicDns = s [ "dns" "magic_dns" ] true;
  baseDomain = s [ "dns" "base_domain" ] "";
  # assertRemovedOption: !lib.hasAttrByPath option cfg. Only what modules define counts: the
  # late-2024 option stub still declares (with defaults) keys that were removed since.
  defined = lib.foldl' lib.recursiveUpdate { } (map (d: d.value)
    (builtins.filter (d: !(lib.hasSuffix "stubs/nixos-options.nix" (toString d.file)))
      (options.services.headscale.settings.definitionsWithLocations or [ ])));
  removed = path: msg: {
    assertion = !lib.hasAttrByPath path defined;
    message = "${tag} The option `services.headscale.settings.${lib.concatStringsSep "." path}` was removed. ${msg}";
  };
in
{
  assertions = lib.optionals (h.get [ "services" "headscale" "enable" ] false) [
    {
      assertion = magicDns -> baseDomain != "";
      message = "${tag} dns.base_domain must be set when using MagicDNS";
    }
    (removed [ "acl_policy_path" ] "Use `policy.path` instead.")
    (removed [ "db_host" ] "Use `database.postgres.host` instead.")
    (removed [ "db_name" ] "Use `database.postgres.name` instead.")
    (removed [ "db_password_file" ] "Use `database.postgres.password_file` instead.")
    (removed [ "db_path" ] "Use `database.sqlite.path` instead.")
    (removed [ "db_port" ] "Use `database.postgres.port` instead.")
    (removed [ "db_type" ] "Use `database.type` instead.")
    (removed [ "db_user" ] "Use `database.postgres.user` instead.")
    (removed [ "dns_config" ] "Use `dns` instead.")
    (removed [ "dns_config" "domains" ] "Use `dns.search_domains` instead.")
    (removed [ "dns_config" "nameservers" ] "Use `dns.nameservers.global` instead.")
    (removed [ "oidc" "strip_email_domain" ] "The strip_email_domain option got removed upstream")
  ];
}
