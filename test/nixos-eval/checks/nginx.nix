# nixpkgs nixos/modules/services/web-servers/nginx/default.nix assertions (the QUIC ones need the
# package's pname and the certificate-ownership one the ACME cert's group; see the research doc).
{ config, options, lib, ... }:
let
  h = import ./lib.nix { inherit config options lib; };
  tag = "[nixpkgs nixos/modules/services/web-servers/nginx/default.nix @5bba330bed5d]";
  f = h.field;
  n = p: d: h.get ([ "services" "nginx" ] ++ p) d;
  # Upstream defaults: virtualHosts = { localhost = { }; }; defaultListen = [ ];
  # defaultListenAddresses = [ "0.0.0.0" ] ++ optional networking.enableIPv6 "[::0]" (never empty).
  virtualHosts = lib.attrValues (lib.mapAttrs (_: v: {
    locations = lib.attrValues (f v "locations" { });
    addSSL = f v "addSSL" false;
    onlySSL = f v "onlySSL" false;
    enableSSL = f v "enableSSL" false;
    forceSSL = f v "forceSSL" false;
    rejectSSL = f v "rejectSSL" false;
    enableACME = f v "enableACME" false;
    useACMEHost = f v "useACMEHost" null;
    listen = f v "listen" [ ];
    listenAddresses = f v "listenAddresses" [ ];
  }) (n [ "virtualHosts" ] { localhost = { }; }));
  defaultListen = n [ "defaultListen" ] [ ];
  defaultListenAddresses = h.getDefined [ "services" "nginx" "defaultListenAddresses" ] [ "0.0.0.0" ];
  hasAtLeastHttpListener = listenOptions: lib.any (l: if l ? proxyProtocol then !l.proxyProtocol else true) listenOptions;
  hasAtLeastDefaultHttpListener = if defaultListen != [ ] then hasAtLeastHttpListener defaultListen else defaultListenAddresses != [ ];
in
{
  assertions = lib.optionals (n [ "enable" ] false) [
    {
      assertion = lib.all (host: lib.all (l: f l "root" null == null || f l "alias" null == null) host.locations) virtualHosts;
      message = "${tag} Only one of nginx root or alias can be specified on a location.";
    }
    {
      assertion = lib.all (host: lib.count lib.id [ host.addSSL (host.onlySSL || host.enableSSL) host.forceSSL host.rejectSSL ] <= 1) virtualHosts;
      message = "${tag} Options services.nginx.service.virtualHosts.<name>.addSSL, services.nginx.virtualHosts.<name>.onlySSL, services.nginx.virtualHosts.<name>.forceSSL and services.nginx.virtualHosts.<name>.rejectSSL are mutually exclusive.";
    }
    {
      assertion = lib.all (host: !(host.enableACME && host.useACMEHost != null)) virtualHosts;
      message = "${tag} Options services.nginx.service.virtualHosts.<name>.enableACME and services.nginx.virtualHosts.<name>.useACMEHost are mutually exclusive.";
    }
    {
      assertion = lib.all (host:
        let
          hasAtLeastVhostHttpListener = if host.listen != [ ] then hasAtLeastHttpListener host.listen else host.listenAddresses != [ ];
          vhostAuthority = host.listen != [ ] || (defaultListen == [ ] && host.listenAddresses != [ ]);
        in
        host.enableACME -> ((vhostAuthority && hasAtLeastVhostHttpListener) || (!vhostAuthority && hasAtLeastDefaultHttpListener))
      ) virtualHosts;
      message = "${tag} services.nginx.virtualHosts.<name>.enableACME requires a HTTP listener to answer to ACME requests.";
    }
    {
      assertion = f (n [ "resolver" ] { }) "ipv4" true || f (n [ "resolver" ] { }) "ipv6" true;
      message = "${tag} At least one of services.nginx.resolver.ipv4 and services.nginx.resolver.ipv6 must be true.";
    }
  ];
}
