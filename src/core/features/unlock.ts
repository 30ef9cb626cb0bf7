// Unlocking encrypted storage at boot: the credstore (LUKS in a zvol) opened by passphrase or
// TPM2, SSH in the initrd for remote unlock (seed 003), and Lanzaboote Secure Boot (seed 002).
import type { Feature, HostContext } from "./types.js";
import { nix } from "../nix/ast.js";
import { hasPiFirmware, loaderSupportsInitrdSecrets, PI_FIRMWARE_PATH } from "./hardware.js";
import { CREDSTORE_KEY, INSTALL_LUKS_PASSPHRASE, INSTALL_LUKS_RECOVERY_KEY, INSTALL_ZFS_KEY } from "./storage/zfs.js";

export const INITRD_HOST_KEY = "/etc/secrets/initrd/ssh_host_ed25519_key";
/** The initrd key on a Pi's firmware partition, where nixos-anywhere's extra-files put it. */
export const FIRMWARE_INITRD_HOST_KEY = `${PI_FIRMWARE_PATH}/hearth/initrd_ssh_host_ed25519_key`;

/** Loaders without initrd secrets (extlinux on a Pi): the initrd copies the key from the firmware partition. */
export const initrdKeyOnFirmware = (ctx: HostContext) => hasPiFirmware(ctx.host) && !loaderSupportsInitrdSecrets(ctx.host);

const credstorePool = (ctx: HostContext) =>
  Object.values(ctx.host.storage.volumes).find((v) => v.type === "zfs" && v.encryption === "credstore") as
    | { pool: string }
    | undefined;

export const credstore: Feature = {
  id: "zfs-credstore",
  applies: (ctx) => credstorePool(ctx) !== undefined,
  contribute: (ctx, out) => {
    const pool = credstorePool(ctx)!.pool;
    const { unlock } = ctx.host.security;
    // Options of the static module nix/modules/zfs-credstore.nix (the seed 003 boot flow).
    out.config.push({
      hearth: {
        zfsCredstore: {
          enable: true,
          pool,
          dataset: `${pool}/crypt`,
          keyFile: CREDSTORE_KEY,
          tpm2Pcrs: unlock.method === "tpm2" ? unlock.tpm2Pcrs : [],
        },
      },
    });
  },
  // Both are used while disko formats the disks (nixos-anywhere --disk-encryption-keys); the
  // passphrase is also what `hearth unlock` types; the recovery key gets its own key slot then.
  secrets: (ctx) => [
    { id: "zfs-raw-key", kind: "zfs-raw-key", path: INSTALL_ZFS_KEY, mode: "0400" },
    { id: "luks-passphrase", kind: "luks-passphrase", path: INSTALL_LUKS_PASSPHRASE, mode: "0400" },
    ...(ctx.host.security.unlock.recoveryKey
      ? [{ id: "luks-recovery-key", kind: "luks-recovery-key" as const, path: INSTALL_LUKS_RECOVERY_KEY, delivery: "disk" as const }]
      : []),
  ],
};

export const secureBoot: Feature = {
  id: "secure-boot",
  applies: (ctx) => ctx.host.security.secureBoot,
  contribute: (_ctx, out) => {
    out.imports.push(nix.sel(nix.v("inputs"), "lanzaboote", "nixosModules", "lanzaboote"));
    out.config.push({
      boot: {
        // Lanzaboote replaces systemd-boot's installer with one that signs the UKIs.
        loader: { "systemd-boot": { enable: nix.apply(nix.sel(nix.v("lib"), "mkForce"), false) }, efi: { canTouchEfiVariables: true } },
        // No Secure Boot keys exist before the first install, and hearth delivers none: lanzaboote
        // (v1.1.0, nix/modules/lanzaboote.nix) installs unsigned the first time (allowUnsigned
        // defaults to autoGenerateKeys), its generate-sb-keys unit runs `sbctl create-keys` into
        // pkiBundle on first boot, and prepare-sb-auto-enroll stages them for systemd-boot to
        // enroll at the next boot of firmware in Setup Mode (Microsoft keys kept for option ROMs).
        lanzaboote: { enable: true, pkiBundle: "/var/lib/sbctl", autoGenerateKeys: { enable: true }, autoEnrollKeys: { enable: true } },
      },
    });
  },
};

export const remoteUnlock: Feature = {
  id: "remote-unlock",
  applies: (ctx) => ctx.host.security.remoteUnlock?.enable === true,
  contribute: (ctx, out) => {
    const ru = ctx.host.security.remoteUnlock!;
    const keys = ru.authorizedKeys ?? Object.values(ctx.fleet.admins).flatMap((a) => a.sshKeys);
    const ip =
      ru.ip === "dhcp"
        ? "ip=dhcp"
        : `ip=${ru.ip.address.split("/")[0]}::${ru.ip.gateway}:${prefixToMask(Number(ru.ip.address.split("/")[1]))}:${ctx.hostName}:${ru.ip.interface}:off`;
    // hostKeys become boot.initrd.secrets (nixpkgs initrd-ssh.nix); a loader without initrd-secret
    // support would need them in the world-readable store (stage-1's assertion), so there the
    // list stays empty and nix/modules/initrd-ssh-key.nix copies the key from the firmware partition.
    const onFirmware = initrdKeyOnFirmware(ctx);
    out.config.push({
      boot: {
        kernelParams: [ip],
        initrd: {
          availableKernelModules: ru.networkModule ? [ru.networkModule] : [],
          network: { enable: true, ssh: { enable: true, port: ru.port, authorizedKeys: keys, hostKeys: onFirmware ? [] : [INITRD_HOST_KEY] } },
          // With the systemd initrd, logging in hands the session to the password agent.
          systemd: { users: { root: { shell: "/bin/systemd-tty-ask-password-agent" } } },
        },
      },
      ...(onFirmware
        ? { hearth: { initrdSshKey: { enable: true, mountPoint: PI_FIRMWARE_PATH, source: FIRMWARE_INITRD_HOST_KEY, path: INITRD_HOST_KEY } } }
        : {}),
    });
  },
  // A key of its own: the initrd is readable on the ESP (or the key lies on the firmware
  // partition), so it must not be the real host key. nixos-anywhere copies extra-files into /mnt
  // after disko mounted the partitions, so the firmware path lands on the firmware partition.
  secrets: (ctx) => [
    { id: "initrd-ssh-host-key", kind: "ssh-host-key", path: initrdKeyOnFirmware(ctx) ? FIRMWARE_INITRD_HOST_KEY : INITRD_HOST_KEY, mode: "0600" },
  ],
};

function prefixToMask(bits: number): string {
  const m = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return [24, 16, 8, 0].map((s) => (m >>> s) & 255).join(".");
}
