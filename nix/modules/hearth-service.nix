# hearth-service: runs a long-lived process from a package that has no NixOS module of its own
# (the Ethereum clients and MEV-boost). hearth computes the command line; this module turns it
# into a hardened systemd unit named after the service, with its own system user.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.hearth.services;
  enabled = lib.filterAttrs (_: s: s.enable) cfg;
in
{
  options.hearth.services = mkOption {
    default = { };
    description = "Long-running services planned by hearth, by systemd unit name.";
    type = types.attrsOf (types.submodule ({ name, ... }: {
      options = {
        enable = mkOption { type = types.bool; default = true; description = "Whether to run the service."; };
        description = mkOption { type = types.str; default = name; description = "Unit description."; };
        package = mkOption { type = types.package; description = "Package providing the binary."; };
        binary = mkOption { type = types.str; description = "Binary under the package's bin/."; };
        args = mkOption { type = types.listOf types.str; default = [ ]; description = "Arguments, shell-escaped into ExecStart."; };
        user = mkOption { type = types.str; default = name; description = "System user the service runs as."; };
        dataDirs = mkOption { type = types.listOf types.str; default = [ ]; description = "Directories owned by the service user; the unit requires their mounts."; };
        after = mkOption { type = types.listOf types.str; default = [ ]; description = "Units to start after (and want)."; };
        supplementaryGroups = mkOption { type = types.listOf types.str; default = [ ]; description = "Extra groups, e.g. to read a shared JWT secret."; };
        uid = mkOption {
          type = types.nullOr types.int;
          default = null;
          description = "Fixed uid (and gid of the user's group), so data on a persistent volume keeps its owner on RAM-only hosts whatever other users come and go.";
        };
        preStart = mkOption {
          default = [ ];
          description = "Commands before every start, each skipped when `unless` exists; `creates` is touched after success.";
          type = types.listOf (types.submodule {
            options = {
              binary = mkOption { type = types.nullOr types.str; default = null; description = "Binary under the package's bin/ (default: the service's)."; };
              args = mkOption { type = types.listOf types.str; default = [ ]; description = "Arguments."; };
              unless = mkOption { type = types.nullOr types.str; default = null; description = "Skip when this path exists."; };
              creates = mkOption { type = types.nullOr types.str; default = null; description = "Touched after the command succeeded."; };
              removeStale = mkOption {
                type = types.nullOr (types.submodule { options = { dir = mkOption { type = types.str; }; name = mkOption { type = types.str; }; }; });
                default = null;
                description = "Instead of a command: remove <dir>/*/<name>, files only a crashed run of this unit leaves.";
              };
            };
          });
        };
      };
    }));
  };

  config = lib.mkIf (enabled != { }) {
    users.users = lib.mapAttrs' (_: s: lib.nameValuePair s.user ({ isSystemUser = true; group = s.user; } // lib.optionalAttrs (s.uid != null) { inherit (s) uid; })) enabled;
    users.groups = lib.mapAttrs' (_: s: lib.nameValuePair s.user (lib.optionalAttrs (s.uid != null) { gid = s.uid; })) enabled
      // lib.genAttrs (lib.unique (lib.concatMap (s: s.supplementaryGroups) (lib.attrValues enabled))) (_: { });
    systemd.tmpfiles.rules = lib.concatMap (s: map (d: "d ${d} 0750 ${s.user} ${s.user} - -") s.dataDirs) (lib.attrValues enabled);
    systemd.services = lib.mapAttrs (name: s: {
      description = s.description;
      wantedBy = [ "multi-user.target" ];
      after = [ "network-online.target" ] ++ s.after;
      wants = [ "network-online.target" ] ++ s.after;
      unitConfig.RequiresMountsFor = s.dataDirs;
      preStart = lib.concatMapStrings (p:
        if p.removeStale != null then "rm -f -- ${lib.escapeShellArg p.removeStale.dir}/*/${lib.escapeShellArg p.removeStale.name}\n" else
        let
          cmd = "${s.package}/bin/${if p.binary != null then p.binary else s.binary} ${lib.escapeShellArgs p.args}";
          run = if p.creates != null then "{ ${cmd} && touch ${lib.escapeShellArg p.creates}; }" else cmd;
        in
        (if p.unless != null then "test -e ${lib.escapeShellArg p.unless} || " else "") + run + "\n") s.preStart;
      serviceConfig = {
        ExecStart = "${s.package}/bin/${s.binary} ${lib.escapeShellArgs s.args}";
        User = s.user;
        Group = s.user;
        SupplementaryGroups = s.supplementaryGroups;
        Restart = "on-failure";
        RestartSec = 10;
        TimeoutStopSec = 300;
        NoNewPrivileges = true;
        PrivateTmp = true;
        ProtectSystem = "full";
        ProtectHome = true;
        ProtectKernelTunables = true;
        ProtectControlGroups = true;
        RestrictSUIDSGID = true;
        LockPersonality = true;
      };
    }) enabled;
  };
}
