# Imported into ponkila-ephemeral-beta through `extraModules:`.
#
# hearth opens only the ports a service marks public (Besu: p2p 30303). The
# engine API (8551) is "local", yet ponkila-ephemeral-sigma's Lighthouse uses it
# over the LAN, so open it on the LAN interface only. The JWT secret still
# guards every request.
{ ... }:
{
  networking.firewall.interfaces."enp1s0".allowedTCPPorts = [ 8551 ];
}
