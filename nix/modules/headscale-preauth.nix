# headscale-preauth: makes hearth's preauth key (an agenix secret also held by every client)
# valid on the Headscale server, so clients join the tailnet on first boot with no manual
# `headscale preauthkeys create`. Schema of Headscale 0.23 (NixOS 24.11); see the .sql file.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.hearth.headscalePreauth;
  db = config.services.headscale.settings.database.sqlite.path;
in
{
  options.hearth.headscalePreauth = {
    enable = mkOption { type = types.bool; default = false; description = "Register hearth's preauth key with the local Headscale."; };
    user = mkOption { type = types.str; default = "hearth"; description = "Headscale user the fleet's machines belong to."; };
    keyFile = mkOption { type = types.str; description = "File holding the preauth key (decrypted by agenix)."; };
  };

  config = lib.mkIf cfg.enable {
    systemd.services.hearth-headscale-preauth = {
      description = "Register hearth's Headscale preauth key";
      after = [ "headscale.service" ];
      requires = [ "headscale.service" ];
      wantedBy = [ "multi-user.target" ];
      path = [ pkgs.sqlite pkgs.coreutils ];
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        User = config.services.headscale.user;
        # systemd reads the root-owned secret and hands it over; the key never enters argv.
        LoadCredential = "preauth:${cfg.keyFile}";
      };
      script = ''
        set -eu
        key=$(tr -d '\n' < "$CREDENTIALS_DIRECTORY/preauth")
        case "$key" in *[!0-9a-f]*|"") echo "preauth key must be lower-case hex" >&2; exit 1 ;; esac
        # Headscale creates its tables on start; wait for them (bounded).
        for i in $(seq 1 60); do
          sqlite3 ${lib.escapeShellArg db} "SELECT 1 FROM pre_auth_keys LIMIT 0" 2>/dev/null && break
          sleep 1
        done
        { printf '.parameter set :user %s\n' "'${cfg.user}'"
          printf '.parameter set :key %s\n' "'$key'"
          cat ${./headscale-preauth.sql}
        } | sqlite3 -bail ${lib.escapeShellArg db}
      '';
    };
  };
}
