# hearth-agent: the pull agent of a node class (fleet.yaml `images:`, seed 004). On a node booted
# from the class image it reads which host it is from the identity drive, installs the host's SSH
# host key from it, then pulls the configuration published for that host, checks its minisign
# signature against the trusted keys only, and switches to it; in the switched-to configuration
# (the host's own, which imports this module too) it keeps pulling. The agent is hearth's script
# (agent/hearth-agent.mjs in the flake), run by Node.js.
#
# Files it reads, written here (hearth's src/core/features/agent.ts names the same paths):
#   /etc/hearth/agent.json          { server, class, identityLabel, stateDir, intervalSeconds, trustedKeysDir }
#   /etc/hearth/signing.d/<ID>.pub  one minisign public key file per trusted key ("untrusted comment: …\nRW…")
# and, written by the agent: /var/lib/hearth-agent (its state), /run/hearth/identity (0700; the
# identity drive's contents, the SSH host key as /run/hearth/identity/ssh_host_ed25519_key).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.hearth.agent;
  configFile = "hearth/agent.json";
  keysDir = "hearth/signing.d";
in
{
  options.hearth.agent = {
    enable = mkOption { type = types.bool; default = false; description = "Run the hearth pull agent."; };
    server = mkOption { type = types.str; description = "URL of the hearth server the agent pulls from."; };
    class = mkOption { type = types.str; description = "Node class (fleet.yaml images:) this system belongs to."; };
    identityLabel = mkOption { type = types.str; default = "HEARTH-ID"; description = "Filesystem label of the identity drive."; };
    intervalSeconds = mkOption { type = types.ints.positive; default = 300; description = "Seconds between two checks for a new configuration."; };
    trustedKeys = mkOption {
      type = types.attrsOf types.str;
      default = { };
      description = "minisign public key files by key id; the agent accepts what one of them signed, nothing else.";
    };
    # Node 20 reached its end of life on 2026-04-30 and nixos-26.05 marks nodejs_20 insecure (it
    # refuses to evaluate; nixpkgs#511784, dropped after the release in nixpkgs#541445): Node 24, the
    # LTS line, runs the agent (built for Node 20 and later).
    package = mkOption { type = types.package; default = pkgs.nodejs_24; defaultText = "pkgs.nodejs_24"; description = "Node.js that runs the agent."; };
    script = mkOption { type = types.path; default = ../agent/hearth-agent.mjs; description = "The agent script (hearth's dist/agent/hearth-agent.mjs)."; };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      { assertion = cfg.trustedKeys != { }; message = "hearth.agent: no trusted signing key, so the agent would accept no configuration; run `hearth signing init`"; }
    ];

    environment.etc = {
      ${configFile}.text = builtins.toJSON {
        inherit (cfg) server class identityLabel intervalSeconds;
        stateDir = "/var/lib/hearth-agent";
        trustedKeysDir = "/etc/${keysDir}";
      };
    } // lib.mapAttrs' (id: text: lib.nameValuePair "${keysDir}/${id}.pub" { inherit text; }) cfg.trustedKeys;

    # /run is tmpfs: the identity drive's key is never written to any other disk.
    systemd.tmpfiles.rules = [ "d /run/hearth 0755 root root - -" "d /run/hearth/identity 0700 root root - -" ];

    systemd.services.hearth-agent = {
      description = "hearth agent: pull this node's signed configuration from ${cfg.server}";
      wantedBy = [ "multi-user.target" ];
      after = [ "network-online.target" ];
      wants = [ "network-online.target" ];
      # The agent runs the switch to a new configuration itself: a switch must not stop or restart
      # it halfway. It restarts itself afterwards (Restart=always) into the new ExecStart.
      restartIfChanged = false;
      # What it runs: mount (the identity drive), nix-store (fetching), bash scripts (switch, health
      # checks with curl, ip, awk); then the running system's own tools, whichever it switched to.
      path = [ pkgs.bash config.nix.package pkgs.util-linux "/run/current-system/sw" ];
      serviceConfig = {
        ExecStart = "${cfg.package}/bin/node ${cfg.script} --config /etc/${configFile}";
        Restart = "always";
        RestartSec = 10;
        StateDirectory = "hearth-agent";
        StateDirectoryMode = "0700";
      };
    };
  };
}
