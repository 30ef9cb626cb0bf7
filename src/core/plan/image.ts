// Plans a node class's image (issue 14, seed 004): the RAM-booted base OS that every host of the
// class boots, identical on each machine because nothing in it names a host. It has the class's
// name as host name, no SSH host key (sshd makes one in RAM at every boot until the host's own
// configuration, with the key from the identity drive, is switched to), no secrets and no
// services of any host; it carries the fleet's admins, the agent and the keys the agent trusts.
// Pure: a function of fleet-wide settings and the class, never of the hosts listed.
import { nix, type NixValue } from "../nix/ast.js";
import { mergeNix } from "../nix/merge.js";
import { hostSchema, type Fleet, type Host, type ImageClass } from "../schema/fleet.js";
import { hardware } from "../features/hardware.js";
import { NIX_SETTINGS, SSHD_SETTINGS } from "../features/base.js";
import { agentSettings } from "../features/agent.js";
import type { HostModules } from "../features/types.js";
import { NIXOS_RELEASE } from "../nix/input-pins.js";

export interface ImagePlan {
  /** The class name; the flake's configuration is `image-<name>`. */
  name: string;
  cls: ImageClass;
  /** images/<name>/default.nix and hardware.nix bodies, and the extra imports of default.nix. */
  config: NixValue;
  hardware: NixValue;
  imports: NixValue[];
}

/** `nixosConfigurations."image-<class>"` and the packages `image-<class>-<format>`. */
export const imageAttr = (className: string) => `image-${className}`;

/** Where sshd keeps the key it makes at boot on the image: in RAM (/etc is built at activation), never in the image. */
export const IMAGE_SSH_HOST_KEY = "/etc/ssh/ssh_host_ed25519_key";

export function planImage(fleet: Fleet, name: string): ImagePlan {
  const cls = fleet.images[name]!;
  // The hardware feature of a RAM-only host with the class's system and hardware: the same kernel
  // modules, firmware and nixos-hardware modules its hosts get, and no boot loader.
  const ramHost = hostSchema.parse({ system: cls.system, hardware: cls.hardware, ephemeral: true, stateVersion: NIXOS_RELEASE }) as Host;
  const mods: HostModules = { config: [], imports: [], disko: [], hardware: [] };
  hardware.contribute({ fleet, host: ramHost, hostName: name }, mods);
  const adminKeys = Object.values(fleet.admins).flatMap((a) => a.sshKeys);
  const config: NixValue = {
    networking: {
      // Generic until the host's configuration is switched to; DHCP on whatever interface has a link.
      hostName: name,
      ...(fleet.domain ? { domain: fleet.domain } : {}),
      useDHCP: true,
      firewall: { enable: true },
    },
    time: { timeZone: fleet.timeZone },
    i18n: { defaultLocale: fleet.locale },
    services: {
      openssh: {
        enable: true,
        openFirewall: true,
        hostKeys: [{ path: IMAGE_SSH_HOST_KEY, type: "ed25519" }],
        settings: SSHD_SETTINGS,
      },
    },
    users: { mutableUsers: false, users: { root: { hashedPassword: "!", openssh: { authorizedKeys: { keys: adminKeys } } } } },
    nix: { settings: NIX_SETTINGS },
    system: { stateVersion: NIXOS_RELEASE },
    // As a RAM-only host before a boot format is applied (see ../features/base.ts).
    fileSystems: { "/": nix.apply(nix.sel(nix.v("lib"), "mkDefault"), { device: "none", fsType: "tmpfs", options: ["mode=0755"] }) },
    boot: { loader: { grub: { enable: false } } },
    hearth: { agent: agentSettings(fleet, name) },
  };
  return { name, cls, config, hardware: mergeNix(mods.hardware), imports: mods.imports };
}

/** images/<class>/default.nix */
export function imageModule(p: ImagePlan): NixValue {
  return nix.lambda(["config", "lib", "pkgs", "inputs", "modulesPath"], { imports: [nix.path("./hardware.nix"), ...p.imports], ...(p.config as Record<string, NixValue>) });
}

/** The flake package of a class image in one format: `image-<class>-<suffix>`. */
export const imagePackage = (className: string, suffix: string) => `${imageAttr(className)}-${suffix}`;

/**
 * The command that builds one boot medium of a class image from the generated flake, as
 * `hearth image` runs it (and prints with --dry-run). `path:` so a flake in a git checkout sees
 * its untracked generated files; --json names the store paths built.
 * @example imageBuildArgv("/srv/fleet/flake", "image-k3s-node-kexec")
 */
export function imageBuildArgv(flakeDir: string, pkg: string): string[] {
  return ["nix", "build", `path:${flakeDir}#${pkg}`, "--no-link", "--json", "--extra-experimental-features", "nix-command flakes"];
}
