# nixpkgs nixos/modules/config/users-groups.nix assertions (the UID/GID uniqueness and
# null-shell checks need ids/pkgs and are left out; see the research doc).
{ config, options, lib, ... }:
let
  h = import ./lib.nix { inherit config options lib; };
  tag = "[nixpkgs nixos/modules/config/users-groups.nix @005ab72f9cf5]";
  f = h.field;
  mutableUsers = h.get [ "users" "mutableUsers" ] true;
  allowNoPasswordLogin = h.get [ "users" "allowNoPasswordLogin" ] false;

  allowsLogin = hash: hash == "" || !(lib.elem hash [ null "!" "!!" "*" ]);

  # Upstream user defaults; root/nobody get uid/group from the module's own config block, and
  # isNormalUser sets group to "users" (option description).
  users = lib.mapAttrs (name: u:
    let
      isNormalUser = f u "isNormalUser" false;
      group = f u "group" "";
      keys = f (f u "openssh" { }) "authorizedKeys" { };
    in {
      name = f u "name" name;
      inherit isNormalUser;
      isSystemUser = f u "isSystemUser" (name == "nobody");
      # users-groups.nix defines root's and nobody's uid itself (ids.uids), at normal priority.
      uid = { root = 0; nobody = 65534; }.${name} or (f u "uid" null);
      group =
        if group != "" then group
        else if name == "root" then "root"
        else if name == "nobody" then "nogroup"
        else if isNormalUser then "users"
        else "";
      extraGroups = f u "extraGroups" [ ];
      hashedPassword = f u "hashedPassword" null;
      password = f u "password" null;
      hashedPasswordFile = f u "hashedPasswordFile" null;
      authorizedKeys = f keys "keys" [ ];
      authorizedKeyFiles = f keys "keyFiles" [ ];
    }) (lib.filterAttrs (_: u: f u "enable" true) (h.get [ "users" "users" ] { }));

  # Groups the module itself defines (users.groups = { root.gid = ...; wheel.gid = ...; ... }).
  builtinGroups = [ "root" "wheel" "disk" "kmem" "tty" "floppy" "uucp" "lp" "cdrom" "tape" "audio"
    "video" "dialout" "nogroup" "users" "nixbld" "utmp" "adm" "input" "kvm" "render" "sgx" "shadow" "clock" ];
  groups = builtinGroups ++ lib.attrNames (h.get [ "users" "groups" ] { });
  usersWithoutExistingGroup = lib.filterAttrs (_: u: u.group != "" && !(lib.elem u.group groups)) users;
  nameRegex = "[a-zA-Z0-9_.][a-zA-Z0-9_.-]*";
in
{
  assertions =
    [
      {
        assertion = usersWithoutExistingGroup == { };
        message = "${tag} The following users have a primary group that is undefined: ${lib.concatStringsSep " " (lib.attrNames usersWithoutExistingGroup)}";
      }
      {
        assertion = !mutableUsers -> !allowNoPasswordLogin -> lib.any lib.id (
          lib.mapAttrsToList (name: u:
            (name == "root" || u.group == "wheel" || lib.elem "wheel" u.extraGroups)
            && (allowsLogin u.hashedPassword || u.password != null || u.hashedPasswordFile != null
                || u.authorizedKeys != [ ] || u.authorizedKeyFiles != [ ])) users
          ++ [ (h.get [ "security" "googleOsLogin" "enable" ] false) ]);
        message = "${tag} Neither the root account nor any wheel user has a password or SSH authorized key. You must set one to prevent being locked out of your system. If you really want to be locked out of your system, set users.allowNoPasswordLogin = true; However you are most probably better off by setting users.mutableUsers = true; and manually running passwd root to set the root password.";
      }
    ]
    ++ lib.flatten (lib.mapAttrsToList (name: user: [
      {
        assertion = builtins.match nameRegex user.name != null;
        message = "${tag} The username \"${user.name}\" is not valid, it does not match the regex \"${nameRegex}\".";
      }
      {
        assertion = user.hashedPassword != null -> builtins.match ".*:.*" user.hashedPassword == null;
        message = "${tag} The password hash of user \"${user.name}\" contains a \":\" character.";
      }
      {
        assertion = user.isNormalUser && user.uid != null -> user.uid >= 1000;
        message = "${tag} A user cannot have a users.users.${user.name}.uid set below 1000 and set users.users.${user.name}.isNormalUser.";
      }
      {
        assertion = lib.xor (user.isSystemUser || (user.uid != null && user.uid < 1000 && !user.isNormalUser)) user.isNormalUser;
        message = "${tag} Exactly one of users.users.${user.name}.isSystemUser and users.users.${user.name}.isNormalUser must be set.";
      }
      {
        assertion = user.group != "";
        message = "${tag} users.users.${user.name}.group is unset. This used to default to nogroup, but this is unsafe.";
      }
    ]) users);
}
