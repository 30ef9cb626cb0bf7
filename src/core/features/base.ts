// What every host gets: identity, locale, key-only SSH, users, networking.
import type { Feature } from "./types.js";
import type { Host } from "../schema/fleet.js";
import { volumeKind } from "./storage/registry.js";
import { nix } from "../nix/ast.js";
import { AGENT } from "./agent.js";
import { networkingOptions } from "./network.js";

export const SSH_HOST_KEY = "/etc/ssh/ssh_host_ed25519_key";
const HOST_KEY_FILE = "ssh_host_ed25519_key";

/** Mount points of the host's volumes, with the volume and entry (subvolume, dataset) names. */
function mountsOf(host: Host): { mountpoint: string; names: string[] }[] {
  return Object.entries(host.storage.volumes).flatMap(([name, v]) =>
    volumeKind(v).mounts(v).map((m) => ({ mountpoint: m.mountpoint, names: [name, ...m.field.filter((f): f is string => typeof f === "string" && f !== "mountpoint" && f !== "subvolumes" && f !== "datasets")] })),
  );
}

/** Where an ephemeral host keeps its SSH host key across boots (seed 001: the secrets subvolume). */
export function persistentSecretsDir(host: Host): string | undefined {
  if (host.storage.secretsDir) return host.storage.secretsDir;
  return mountsOf(host).find((m) => m.names[m.names.length - 1] === "secrets")?.mountpoint;
}

/** The mount point that holds `path`, if it lies on one of the host's volumes. */
export function mountHolding(host: Host, path: string): string | undefined {
  return mountsOf(host)
    .map((m) => m.mountpoint)
    .filter((mp) => path === mp || path.startsWith(mp.endsWith("/") ? mp : mp + "/"))
    .sort((a, b) => b.length - a.length)[0];
}

/**
 * The SSH host key path; it is also the host's age identity, so it must survive reboots. A host
 * that boots a class image gets it from its identity drive at every boot (the agent puts it there).
 */
export function sshHostKeyPath(host: Host): string {
  if (host.image !== undefined) return AGENT.sshHostKey;
  const dir = host.ephemeral ? persistentSecretsDir(host) : undefined;
  return dir ? `${dir.replace(/\/$/, "")}/${HOST_KEY_FILE}` : SSH_HOST_KEY;
}

/** Key-only SSH; root only by key. Every host and every class image. */
export const SSHD_SETTINGS = { PasswordAuthentication: false, KbdInteractiveAuthentication: false, PermitRootLogin: "prohibit-password" };
export const NIX_SETTINGS = { "experimental-features": ["nix-command", "flakes"], "trusted-users": ["root", "@wheel"] };

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
    out.config.push({
      networking: {
        hostName,
        ...(fleet.domain ? { domain: fleet.domain } : {}),
        ...networkingOptions(host),
      },
      time: { timeZone: fleet.timeZone },
      i18n: { defaultLocale: fleet.locale },
      services: {
        openssh: {
          enable: true,
          openFirewall: true,
          hostKeys: [{ path: sshHostKeyPath(host), type: "ed25519" }],
          settings: SSHD_SETTINGS,
        },
      },
      users: { mutableUsers: false, users: users as never },
      security: { sudo: { wheelNeedsPassword: false } },
      nix: { settings: NIX_SETTINGS },
      system: { stateVersion: host.stateVersion },
    });
    // A RAM-only host is its own system before any boot medium is applied: root on tmpfs and no
    // installed boot loader (grub would otherwise default on and assert a boot disk). The kexec,
    // ISO and netboot formats override the root with their own (mkImageMediaOverride).
    if (host.ephemeral)
      out.config.push({
        fileSystems: { "/": nix.apply(nix.sel(nix.v("lib"), "mkDefault"), { device: "none", fsType: "tmpfs", options: ["mode=0755"] }) },
        boot: { loader: { grub: { enable: false } } },
      });
    // agenix decrypts during activation, before ordinary mounts: the filesystem holding the host
    // key of an ephemeral host must be mounted in the initrd, and agenix told where the key is.
    const keyPath = sshHostKeyPath(host);
    if (keyPath !== SSH_HOST_KEY) {
      const mp = mountHolding(host, keyPath);
      out.config.push({
        age: { identityPaths: [keyPath] },
        ...(mp ? { fileSystems: { [mp]: { neededForBoot: true } } } : {}),
      });
    }
  },
  // A key the user supplied (sshHostKey) was made on the machine; hearth neither makes nor holds it.
  secrets: ({ host }) => (host.sshHostKey ? [] : [{ id: "ssh-host-key", kind: "ssh-host-key", path: sshHostKeyPath(host), mode: "0600" }]),
};
