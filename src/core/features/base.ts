// What every host gets: identity, locale, key-only SSH, users, networking.
import type { Feature } from "./types.js";

export const SSH_HOST_KEY = "/etc/ssh/ssh_host_ed25519_key";

export const base: Feature = {
  id: "base",
  applies: () => true,
  contribute: ({ fleet, host, hostName }, out) => {
    const adminKeys = Object.values(fleet.admins).flatMap((a) => a.sshKeys);
    const users: Record<string, unknown> = {
      // root keeps no password; admins reach it only by key.
      root: { hashedPassword: "!", openssh: { authorizedKeys: { keys: adminKeys } } },
    };
    for (const [name, u] of Object.entries(host.users)) {
      users[name] = {
        isNormalUser: true,
        extraGroups: u.sudo ? ["wheel"] : [],
        openssh: { authorizedKeys: { keys: u.sshKeys } },
      };
    }
    const net = host.network;
    out.config.push({
      networking: {
        hostName,
        ...(fleet.domain ? { domain: fleet.domain } : {}),
        useDHCP: false,
        interfaces: {
          [net.interface]: net.dhcp
            ? { useDHCP: true }
            : { ipv4: { addresses: net.addresses.map((a) => ({ address: a.split("/")[0]!, prefixLength: Number(a.split("/")[1]) })) } },
        },
        ...(net.gateway ? { defaultGateway: net.gateway } : {}),
        ...(net.dns.length ? { nameservers: net.dns } : {}),
      },
      time: { timeZone: fleet.timeZone },
      i18n: { defaultLocale: fleet.locale },
      services: {
        openssh: {
          enable: true,
          openFirewall: true,
          hostKeys: [{ path: SSH_HOST_KEY, type: "ed25519" }],
          settings: { PasswordAuthentication: false, KbdInteractiveAuthentication: false, PermitRootLogin: "prohibit-password" },
        },
      },
      users: { mutableUsers: false, users: users as never },
      security: { sudo: { wheelNeedsPassword: false } },
      nix: { settings: { "experimental-features": ["nix-command", "flakes"], "trusted-users": ["root", "@wheel"] } },
      system: { stateVersion: host.stateVersion },
    });
  },
  secrets: () => [{ id: "ssh-host-key", kind: "ssh-host-key", path: SSH_HOST_KEY }],
};
