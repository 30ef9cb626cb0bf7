# Imported into ponkila-ephemeral-beta through `extraModules:`.
#
# hearth opens only the ports a service marks public (Besu: p2p 30303) and keeps
# JSON-RPC (8545) for the host itself. This household's wallets use beta's Besu
# over the LAN, so open it on the LAN interface only (Besu answers any Host
# there: hearth sets --host-allowlist=*).
{ ... }:
{
  networking.firewall.interfaces."enp1s0".allowedTCPPorts = [ 8545 ];
}
