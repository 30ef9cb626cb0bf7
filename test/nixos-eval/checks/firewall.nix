# nixpkgs nixos/modules/services/networking/firewall.nix and firewall-nftables.nix assertions
# (the conntrack-helper one and firewall-iptables.nix's rpfilter one need the kernel package; see
# the research doc).
{ config, options, lib, ... }:
let
  h = import ./lib.nix { inherit config options lib; };
  tag = "[nixpkgs nixos/modules/services/networking/firewall.nix @0192bb844360]";
  nftTag = "[nixpkgs nixos/modules/services/networking/firewall-nftables.nix @040b4eb6c334]";
  fw = n: d: h.get [ "networking" "firewall" n ] d;
  nftables = h.get [ "networking" "nftables" "enable" ] false;
  # firewall.nix: backend defaults to firewalld / nftables / iptables, in that order.
  backend = fw "backend" (
    if h.get [ "services" "firewalld" "enable" ] false then "firewalld"
    else if nftables then "nftables"
    else "iptables");
  pingLimit = fw "pingLimit" null;
  extraCommands = fw "extraCommands" "";
  extraStopCommands = fw "extraStopCommands" "";
in
{
  # Upstream: config = mkIf cfg.enable { ... }; enable defaults to true.
  assertions = lib.optionals (fw "enable" true) (
    [
      {
        assertion = fw "filterForward" false -> nftables;
        message = "${tag} filterForward only works with the nftables based firewall";
      }
      {
        assertion = h.field (fw "filterOutput" { }) "enabled" false -> nftables;
        message = "${tag} filterOutput.enabled only works with the nftables based firewall";
      }
    ]
    # firewall-nftables.nix: mkIf (cfg.enable && cfg.backend == "nftables").
    ++ lib.optionals (backend == "nftables") [
      {
        assertion = extraCommands == "";
        message = "${nftTag} extraCommands is incompatible with the nftables based firewall: ${extraCommands}";
      }
      {
        assertion = extraStopCommands == "";
        message = "${nftTag} extraStopCommands is incompatible with the nftables based firewall: ${extraStopCommands}";
      }
      {
        assertion = pingLimit == null || !(lib.hasPrefix "--" pingLimit);
        message = "${nftTag} nftables syntax like \"2/second\" should be used in networking.firewall.pingLimit";
      }
      {
        assertion = h.get [ "networking" "nftables" "rulesetFile" ] null == null;
        message = "${nftTag} networking.nftables.rulesetFile conflicts with the firewall";
      }
    ]
  );
}
