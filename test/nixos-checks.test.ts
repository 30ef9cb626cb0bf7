// Proves each harness check in test/nixos-eval/checks can fail: a minimal violating module makes
// its message appear, a minimal passing one does not (evaluated with test/nixos-eval/eval-modules.nix).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "../src/node/fleet-dir.js";
import { SHARED_DIR as SHARED } from "./support/nixos-eval.js";

const EVAL = join(REPO_ROOT, "test/nixos-eval/eval-modules.nix");

function failed(module: string, system = "x86_64-linux"): string[] {
  const expr = `(import ${EVAL} { upstream = ${JSON.stringify(join(SHARED, "upstream"))}; system = "${system}"; modules = [ (${module}) ]; }).failedAssertions`;
  return JSON.parse(execFileSync("nix-instantiate", ["--eval", "--strict", "--json", "-E", expr], { encoding: "utf8" }));
}

// A root file system and a loader, so only the rule under test can fire.
const ROOT = `fileSystems."/" = { device = "/dev/sda1"; fsType = "ext4"; };`;
const PI = `boot.loader.grub.enable = false; boot.loader.generic-extlinux-compatible.enable = true;`;
const SSH = (hostKeys: string, keys = `[ "ssh-ed25519 AAAA k" ]`) =>
  `boot.initrd.network.enable = true; boot.initrd.network.ssh = { enable = true; authorizedKeys = ${keys}; hostKeys = ${hostKeys}; };`;
// The ISO format's import (eval-modules.nix's modulesPath: the stub of nixpkgs' iso-image.nix).
const ISO = JSON.stringify(join(REPO_ROOT, "test/nixos-eval/stubs/modules/installer/cd-dvd/iso-image.nix"));
const hw = (file: string) => JSON.stringify(join(SHARED, "upstream/nixos-hardware", file));

interface Case { name: string; message: string; bad: string; good: string; system?: string }
const cases: Case[] = [
  { name: "stage-1: root file system", message: "does not specify your root file system", bad: `{ ${PI} }`, good: `{ ${PI} ${ROOT} }` },
  { name: "stage-1: resumeDevice absolute", message: "boot.resumeDevice has to be an absolute path", bad: `{ ${ROOT} boot.resumeDevice = "8:3"; }`, good: `{ ${ROOT} boot.resumeDevice = "/dev/sda3"; }` },
  { name: "stage-1: initrd secrets on extlinux", message: "initrd.secrets values must be unquoted paths",
    bad: `{ ${ROOT} ${PI} ${SSH(`[ "/etc/secrets/initrd/ssh_host_ed25519_key" ]`)} }`,
    good: `{ ${ROOT} boot.loader.systemd-boot.enable = true; ${SSH(`[ "/etc/secrets/initrd/ssh_host_ed25519_key" ]`)} }` },
  { name: "systemd initrd: unsupported scripted hooks", message: "systemd stage 1 does not support 'boot.initrd.postDeviceCommands'",
    bad: `{ ${ROOT} boot.initrd.systemd.enable = true; boot.initrd.postDeviceCommands = "echo hi"; }`, good: `{ ${ROOT} boot.initrd.systemd.enable = true; }` },
  { name: "tpm2 in the systemd initrd on a Pi 5 kernel", message: "adds the kernel module tpm-crb", system: "aarch64-linux",
    bad: `{ imports = [ ${hw("raspberry-pi/5/default.nix")} ]; ${ROOT} boot.initrd.systemd.enable = true; nixpkgs.hostPlatform = "aarch64-linux"; }`,
    good: `{ imports = [ ${hw("raspberry-pi/5/default.nix")} ]; ${ROOT} boot.initrd.systemd.enable = true; boot.initrd.systemd.tpm2.enable = false; nixpkgs.hostPlatform = "aarch64-linux"; }` },
  { name: "initrd-ssh: authorized keys", message: "at least one authorized key for initrd SSH",
    bad: `{ ${ROOT} ${SSH(`[ "/k" ]`, "[ ]")} }`, good: `{ ${ROOT} ${SSH(`[ "/k" ]`)} }` },
  { name: "initrd-ssh: host keys", message: "pre-generate the host keys for initrd SSH", bad: `{ ${ROOT} ${SSH("[ ]")} }`, good: `{ ${ROOT} ${SSH(`[ "/k" ]`)} }` },
  { name: "luksroot: preOpenCommands with the systemd initrd", message: "preOpenCommands and postOpenCommands is not supported by systemd stage 1",
    bad: `{ ${ROOT} boot.initrd.systemd.enable = true; boot.initrd.luks.devices.c = { device = "/dev/zvol/rpool/credstore"; preOpenCommands = "true"; }; }`,
    good: `{ ${ROOT} boot.initrd.systemd.enable = true; boot.initrd.luks.devices.c = { device = "/dev/zvol/rpool/credstore"; }; }` },
  { name: "luksroot: reusePassphrases with the systemd initrd", message: "reusePassphrases has no effect with systemd stage 1",
    bad: `{ ${ROOT} boot.initrd.systemd.enable = true; boot.initrd.luks.reusePassphrases = true; boot.initrd.luks.devices.c.device = "/dev/x"; }`,
    good: `{ ${ROOT} boot.initrd.luks.reusePassphrases = true; boot.initrd.luks.devices.c.device = "/dev/x"; }` },
  { name: "filesystems: mount point without trailing slash", message: "non-empty without trailing slash",
    bad: `{ ${ROOT} fileSystems."/data/" = { device = "/dev/sdb1"; fsType = "ext4"; }; }`, good: `{ ${ROOT} fileSystems."/data" = { device = "/dev/sdb1"; fsType = "ext4"; }; }` },
  { name: "filesystems: label and device", message: "label and device set to inconsistent values",
    bad: `{ ${ROOT} fileSystems."/boot" = { label = "ESP"; device = "/dev/sda2"; fsType = "vfat"; }; }`, good: `{ ${ROOT} fileSystems."/boot" = { label = "ESP"; fsType = "vfat"; }; }` },
  { name: "filesystems: autoResize", message: "'autoResize = true' is not supported",
    bad: `{ ${ROOT} fileSystems."/d" = { device = "/dev/sdb"; fsType = "vfat"; autoResize = true; }; }`, good: `{ ${ROOT} fileSystems."/d" = { device = "/dev/sdb"; fsType = "ext4"; autoResize = true; }; }` },
  { name: "zfs: hostId", message: "ZFS requires networking.hostId to be set",
    bad: `{ fileSystems."/" = { device = "rpool/root"; fsType = "zfs"; }; }`, good: `{ fileSystems."/" = { device = "rpool/root"; fsType = "zfs"; }; networking.hostId = "8425e349"; }` },
  { name: "btrfs: autoScrub without file systems", message: "services.btrfs.autoScrub' is enabled",
    bad: `{ ${ROOT} services.btrfs.autoScrub.enable = true; }`, good: `{ ${ROOT} fileSystems."/d" = { device = "/dev/sdb"; fsType = "btrfs"; }; services.btrfs.autoScrub.enable = true; }` },
  { name: "users: lock-out", message: "Neither the root account nor any wheel user has a password or SSH authorized key",
    bad: `{ ${ROOT} users.mutableUsers = false; users.users.admin = { isNormalUser = true; extraGroups = [ "wheel" ]; }; }`,
    good: `{ ${ROOT} users.mutableUsers = false; users.users.admin = { isNormalUser = true; extraGroups = [ "wheel" ]; openssh.authorizedKeys.keys = [ "ssh-ed25519 AAAA k" ]; }; }` },
  { name: "users: group unset", message: "group is unset", bad: `{ ${ROOT} users.users.svc.isSystemUser = true; }`, good: `{ ${ROOT} users.users.svc = { isSystemUser = true; group = "svc"; }; users.groups.svc = { }; }` },
  { name: "users: missing primary group", message: "primary group that is undefined", bad: `{ ${ROOT} users.users.svc = { isSystemUser = true; group = "svc"; }; }`, good: `{ ${ROOT} users.users.svc = { isSystemUser = true; group = "svc"; }; users.groups.svc = { }; }` },
  { name: "users: normal or system", message: "Exactly one of users.users.svc.isSystemUser", bad: `{ ${ROOT} users.users.svc.group = "users"; }`, good: `{ ${ROOT} users.users.svc = { isNormalUser = true; }; }` },
  { name: "k3s: agent needs serverAddr", message: "serverAddr or configPath", bad: `{ ${ROOT} services.k3s = { enable = true; role = "agent"; tokenFile = "/run/t"; }; }`,
    good: `{ ${ROOT} services.k3s = { enable = true; role = "agent"; tokenFile = "/run/t"; serverAddr = "https://10.0.0.1:6443"; }; }` },
  { name: "k3s: agent needs a token", message: "token or tokenFile or configPath", bad: `{ ${ROOT} services.k3s = { enable = true; role = "agent"; serverAddr = "https://10.0.0.1:6443"; }; }`,
    good: `{ ${ROOT} services.k3s = { enable = true; role = "agent"; tokenFile = "/run/t"; serverAddr = "https://10.0.0.1:6443"; }; }` },
  { name: "headscale: MagicDNS base domain", message: "dns.base_domain must be set when using MagicDNS",
    bad: `{ ${ROOT} services.headscale = { enable = true; settings.dns.magic_dns = true; }; }`, good: `{ ${ROOT} services.headscale = { enable = true; settings.dns = { magic_dns = true; base_domain = "ts.example.net"; }; }; }` },
  { name: "headscale: removed option", message: "services.headscale.settings.dns_config` was removed",
    bad: `{ ${ROOT} services.headscale = { enable = true; settings.dns = { base_domain = "t.example"; }; settings.dns_config = { }; }; }`, good: `{ ${ROOT} services.headscale = { enable = true; settings.dns.base_domain = "t.example"; }; }` },
  { name: "grub: devices", message: "You must set the option ‘boot.loader.grub.devices’",
    bad: `{ ${ROOT} boot.loader.grub = { enable = true; efiSupport = true; efiInstallAsRemovable = true; }; }`,
    good: `{ ${ROOT} boot.loader.grub = { enable = true; efiSupport = true; efiInstallAsRemovable = true; devices = [ "/dev/sda" ]; }; }` },
  { name: "grub: removable vs canTouchEfiVariables", message: "then turn off boot.loader.efi.canTouchEfiVariables",
    bad: `{ ${ROOT} boot.loader.efi.canTouchEfiVariables = true; boot.loader.grub = { enable = true; efiSupport = true; efiInstallAsRemovable = true; devices = [ "nodev" ]; }; }`,
    good: `{ ${ROOT} boot.loader.grub = { enable = true; efiSupport = true; efiInstallAsRemovable = true; devices = [ "nodev" ]; }; }` },
  { name: "systemd-boot: ESP absolute", message: "must be an absolute path", bad: `{ ${ROOT} boot.loader.systemd-boot.enable = true; boot.loader.efi.efiSysMountPoint = "boot"; }`,
    good: `{ ${ROOT} boot.loader.systemd-boot.enable = true; }` },
  { name: "firewall: filterForward needs nftables", message: "filterForward only works with the nftables based firewall",
    bad: `{ ${ROOT} networking.firewall.filterForward = true; }`, good: `{ ${ROOT} networking.nftables.enable = true; networking.firewall.filterForward = true; }` },
  { name: "firewall: extraCommands with nftables", message: "extraCommands is incompatible with the nftables based firewall",
    bad: `{ ${ROOT} networking.nftables.enable = true; networking.firewall.extraCommands = "iptables -A INPUT -j ACCEPT"; }`,
    good: `{ ${ROOT} networking.firewall.extraCommands = "iptables -A INPUT -j ACCEPT"; }` },
  { name: "wireguard: private key", message: "Either networking.wireguard.interfaces.wg0.privateKey or",
    bad: `{ ${ROOT} networking.wireguard.interfaces.wg0 = { ips = [ "10.100.0.1/24" ]; }; }`,
    good: `{ ${ROOT} networking.wireguard.interfaces.wg0 = { ips = [ "10.100.0.1/24" ]; privateKeyFile = "/run/agenix/wireguard-key"; }; }` },
  { name: "wireguard: preshared key", message: "has both presharedKey and presharedKeyFile set",
    bad: `{ ${ROOT} networking.wireguard.interfaces.wg0 = { privateKeyFile = "/k"; peers = [ { publicKey = "XSWp65hFMHGMHPX3dvb9sqL/brsXrVHI2PqMKcOzS0k="; allowedIPs = [ "10.100.0.0/24" ]; presharedKey = "a"; presharedKeyFile = "/p"; } ]; }; }`,
    good: `{ ${ROOT} networking.wireguard.interfaces.wg0 = { privateKeyFile = "/k"; peers = [ { publicKey = "XSWp65hFMHGMHPX3dvb9sqL/brsXrVHI2PqMKcOzS0k="; allowedIPs = [ "10.100.0.0/24" ]; presharedKeyFile = "/p"; } ]; }; }` },
  { name: "nginx: SSL modes exclusive", message: "rejectSSL are mutually exclusive",
    bad: `{ ${ROOT} services.nginx = { enable = true; virtualHosts."a.example.org" = { forceSSL = true; addSSL = true; }; }; }`,
    good: `{ ${ROOT} services.nginx = { enable = true; virtualHosts."a.example.org" = { forceSSL = true; }; }; }` },
  { name: "nginx: enableACME needs an HTTP listener", message: "enableACME requires a HTTP listener",
    bad: `{ ${ROOT} security.acme = { acceptTerms = true; defaults.email = "a@example.org"; }; services.nginx = { enable = true; defaultListenAddresses = [ ]; virtualHosts."a.example.org" = { forceSSL = true; enableACME = true; }; }; }`,
    good: `{ ${ROOT} security.acme = { acceptTerms = true; defaults.email = "a@example.org"; }; services.nginx = { enable = true; virtualHosts."a.example.org" = { forceSSL = true; enableACME = true; }; }; }` },
  { name: "acme: terms of service (through an nginx vhost)", message: "You must accept the CA's terms of service",
    bad: `{ ${ROOT} security.acme.defaults.email = "a@example.org"; services.nginx = { enable = true; virtualHosts."a.example.org" = { forceSSL = true; enableACME = true; }; }; }`,
    good: `{ ${ROOT} security.acme = { acceptTerms = true; defaults.email = "a@example.org"; }; services.nginx = { enable = true; virtualHosts."a.example.org" = { forceSSL = true; enableACME = true; }; }; }` },
  { name: "acme: contact e-mail", message: "You must define `security.acme.certs.<name>.email`",
    bad: `{ ${ROOT} security.acme.acceptTerms = true; services.nginx = { enable = true; virtualHosts."a.example.org" = { forceSSL = true; enableACME = true; }; }; }`,
    good: `{ ${ROOT} security.acme = { acceptTerms = true; defaults.email = "a@example.org"; }; services.nginx = { enable = true; virtualHosts."a.example.org" = { forceSSL = true; enableACME = true; }; }; }` },
  { name: "caddy: adapter without own config file", message: "To specify an adapter other than 'caddyfile'",
    bad: `{ ${ROOT} services.caddy = { enable = true; adapter = "nginx"; }; }`, good: `{ ${ROOT} services.caddy = { enable = true; email = "a@example.org"; }; }` },
  { name: "sshd: duplicate settings keys", message: "Duplicate sshd config key",
    bad: `{ ${ROOT} services.openssh = { enable = true; settings = { PasswordAuthentication = false; passwordAuthentication = false; }; }; }`,
    good: `{ ${ROOT} services.openssh = { enable = true; settings = { PasswordAuthentication = false; }; }; }` },
  { name: "sshd: listen address", message: "addr must be specified in each listenAddresses entry",
    bad: `{ ${ROOT} services.openssh = { enable = true; listenAddresses = [ { port = 22; } ]; }; }`,
    good: `{ ${ROOT} services.openssh = { enable = true; listenAddresses = [ { addr = "0.0.0.0"; port = 22; } ]; }; }` },
  { name: "iso-image: BIOS boot only on x86", message: "BIOS boot is only supported on x86-based architectures", system: "aarch64-linux",
    bad: `{ imports = [ ${ISO} ]; ${ROOT} nixpkgs.hostPlatform = "aarch64-linux"; isoImage.makeBiosBootable = true; }`,
    good: `{ imports = [ ${ISO} ]; ${ROOT} nixpkgs.hostPlatform = "aarch64-linux"; isoImage.makeEfiBootable = true; }` },
  { name: "iso-image: volume ID length", message: "characters longer than the limit of 32",
    bad: `{ imports = [ ${ISO} ]; ${ROOT} isoImage.volumeID = "hearth-ponkila-ephemeral-beta-x86_64"; }`,
    good: `{ imports = [ ${ISO} ]; ${ROOT} isoImage.volumeID = "hearth-beta"; }` },
  { name: "grafana: secret_key has no default (26.05)", message: "secret key (services.grafana.settings.security.secret_key) doesn't have a default",
    bad: `{ ${ROOT} services.grafana.enable = true; }`, good: `{ ${ROOT} services.grafana = { enable = true; settings.security.secret_key = "$__file{/run/agenix/grafana-secret-key}"; }; }` },
  { name: "grafana: prometheus data source not direct", message: "the `direct` access mode is not supported anymore",
    bad: `{ ${ROOT} services.grafana = { enable = true; settings.security.secret_key = "k"; provision.datasources.settings.datasources = [ { name = "P"; type = "prometheus"; access = "direct"; url = "http://10.100.0.1:9090"; } ]; }; }`,
    good: `{ ${ROOT} services.grafana = { enable = true; settings.security.secret_key = "k"; provision.datasources.settings.datasources = [ { name = "P"; type = "prometheus"; url = "http://10.100.0.1:9090"; } ]; }; }` },
  { name: "grafana: dashboards settings or path", message: "Cannot set both dashboards settings and dashboards path",
    bad: `{ ${ROOT} services.grafana = { enable = true; settings.security.secret_key = "k"; provision.dashboards = { path = /tmp; settings.providers = [ ]; }; }; }`,
    good: `{ ${ROOT} services.grafana = { enable = true; settings.security.secret_key = "k"; provision.dashboards.settings.providers = [ ]; }; }` },
  { name: "prometheus: no port in listenAddress", message: "Do not specify the port for Prometheus to listen on",
    bad: `{ ${ROOT} services.prometheus = { enable = true; listenAddress = "10.100.0.1:9090"; }; }`, good: `{ ${ROOT} services.prometheus = { enable = true; listenAddress = "10.100.0.1"; port = 9090; }; }` },
];

for (const c of cases) {
  test(`nixos check ${c.name}: fails when violated, passes otherwise`, () => {
    const bad = failed(c.bad, c.system);
    assert.ok(bad.some((m) => m.includes(c.message)), `expected "${c.message}" in ${JSON.stringify(bad, null, 1)}`);
    const good = failed(c.good, c.system);
    assert.ok(!good.some((m) => m.includes(c.message)), `unexpected "${c.message}" in ${JSON.stringify(good, null, 1)}`);
  });
}

test("nixos checks: disko's EF02 partition gives grub its devices", () => {
  const disko = JSON.stringify(join(SHARED, "upstream/disko/module.nix"));
  const good = failed(`{ imports = [ ${disko} ]; ${ROOT} boot.loader.grub = { enable = true; efiSupport = true; efiInstallAsRemovable = true; };
    disko.devices.disk.main = { device = "/dev/sda"; type = "disk"; content = { type = "gpt"; partitions.boot = { size = "1M"; type = "EF02"; }; }; }; }`);
  assert.ok(!good.some((m) => m.includes("boot.loader.grub.devices")), JSON.stringify(good, null, 1));
});
