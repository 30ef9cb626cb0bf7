# nixpkgs nixos/modules/security/acme/default.nix assertions that hearth's output can reach
# (the per-certificate removed-option, challenge-type and credentialFiles ones concern cert
# options hearth never sets; see the research doc).
{ config, options, lib, ... }:
let
  h = import ./lib.nix { inherit config options lib; };
  tag = "[nixpkgs nixos/modules/security/acme/default.nix @014d882725c6]";
  f = h.field;
  # nginx/default.nix @5bba330bed5d adds a cert named after serverName (the vhost's name unless
  # set) for every enabled vhost with enableACME and no useACMEHost (security.acme.certs = ...).
  nginxVhosts = if h.get [ "services" "nginx" "enable" ] false then h.get [ "services" "nginx" "virtualHosts" ] { } else { };
  nginxCerts = lib.listToAttrs (lib.mapAttrsToList (name: v: lib.nameValuePair (let s = f v "serverName" null; in if s == null then name else s) { })
    (lib.filterAttrs (_: v: f v "enableACME" false && f v "useACMEHost" null == null) nginxVhosts));
  certs = h.get [ "security" "acme" "certs" ] { } // nginxCerts;
  explicitCerts = h.get [ "security" "acme" "certs" ] { };
  # An explicit cert's email (default: security.acme.defaults.email, which the first clause covers).
  certEmail = name: f (explicitCerts.${name} or { }) "email" null;
in
{
  # Upstream: mkIf (cfg.certs != { }).
  assertions = lib.optionals (certs != { }) (
    [
      {
        assertion = f (h.get [ "security" "acme" "defaults" ] { }) "email" null != null || lib.all (name: certEmail name != null) (lib.attrNames certs);
        message = "${tag} You must define `security.acme.certs.<name>.email` or `security.acme.defaults.email` to register with the CA. Note that using many different addresses for certs may trigger account rate limits.";
      }
      {
        assertion = h.get [ "security" "acme" "acceptTerms" ] false;
        message = "${tag} You must accept the CA's terms of service before using the ACME module by setting `security.acme.acceptTerms` to `true`. For Let's Encrypt's ToS see https://letsencrypt.org/repository/";
      }
    ]
    ++ map (cert: {
      assertion = !(lib.hasInfix "*" cert);
      message = "${tag} The cert option path `security.acme.certs.${cert}.dnsProvider` cannot contain a * character. Instead, set `security.acme.certs.${cert}.domain = \"${cert}\";` and remove the wildcard from the path.";
    }) (lib.attrNames certs)
  );
}
