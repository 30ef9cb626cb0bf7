// The secret kinds hearth knows: what each is, how its value is made (by the executor, with
// Node's crypto), whether it has a public half, and how it reaches the machine that reads it.

export type SecretKind =
  | "ssh-host-key"
  | "jwt-hex"
  | "wireguard-key"
  | "zfs-raw-key"
  | "luks-passphrase"
  | "luks-recovery-key"
  | "headscale-preauth"
  | "k3s-token"
  | "age-identity"
  | "wallet-password"
  | "validator-keystore"
  | "validator-password"
  | "grafana-secret-key"
  | "grafana-admin-password"
  | "user";

/**
 * activation: agenix decrypts it on the host at activation, into /run/agenix (tmpfs).
 * install: handed to the install step as an extra file (host keys must exist before agenix can run).
 * disk: used once while formatting disks (disko reads it from INSTALL_KEYS_DIR on the installer).
 * admin: only admins read it.
 */
export type Delivery = "activation" | "install" | "disk" | "admin";

export interface KindInfo {
  description: string;
  /** How the generator makes the value (shown by `hearth secrets status`). */
  makes: string;
  /** Default delivery. */
  delivery: Delivery;
  /** The value is made by hearth (false: the user sets it with `hearth secrets set`). */
  generated: boolean;
  /** Has a public half recorded in the manifest (SSH and WireGuard public keys, age recipients). */
  hasPublic: boolean;
}

export const KINDS: Record<SecretKind, KindInfo> = {
  "ssh-host-key": { description: "SSH host key (ed25519); the host's age recipient", makes: "ed25519 key pair, OpenSSH format", delivery: "install", generated: true, hasPublic: true },
  "jwt-hex": { description: "Engine API JWT shared by execution and consensus clients", makes: "32 random bytes, hex", delivery: "activation", generated: true, hasPublic: false },
  "wireguard-key": { description: "WireGuard private key", makes: "X25519 key pair, base64", delivery: "activation", generated: true, hasPublic: true },
  "zfs-raw-key": { description: "raw ZFS encryption key kept in the LUKS credstore", makes: "32 random bytes", delivery: "disk", generated: true, hasPublic: false },
  "luks-passphrase": { description: "LUKS passphrase", makes: "6 random words of 8 base32 letters", delivery: "disk", generated: true, hasPublic: false },
  "luks-recovery-key": { description: "LUKS recovery key", makes: "256 bits in systemd's modhex groups", delivery: "disk", generated: true, hasPublic: false },
  "headscale-preauth": { description: "Headscale pre-authentication key", makes: "24 random bytes, hex", delivery: "activation", generated: true, hasPublic: false },
  "k3s-token": { description: "k3s cluster join token", makes: "32 random bytes, hex", delivery: "activation", generated: true, hasPublic: false },
  "age-identity": { description: "age identity", makes: "X25519 age identity", delivery: "activation", generated: true, hasPublic: true },
  "wallet-password": { description: "password of a validator client's wallet (Prysm)", makes: "32 random bytes, hex", delivery: "activation", generated: true, hasPublic: false },
  "validator-keystore": { description: "validator keystore (EIP-2335)", makes: "imported with `hearth validator import`", delivery: "activation", generated: false, hasPublic: false },
  "validator-password": { description: "password of a validator keystore", makes: "imported with `hearth validator import`", delivery: "activation", generated: false, hasPublic: false },
  "grafana-secret-key": { description: "Grafana's secret_key (encrypts what Grafana stores)", makes: "32 random bytes, hex", delivery: "activation", generated: true, hasPublic: false },
  "grafana-admin-password": { description: "Grafana's first admin password (user admin)", makes: "16 random bytes, hex", delivery: "activation", generated: true, hasPublic: false },
  user: { description: "user-provided secret", makes: "set with `hearth secrets set`", delivery: "activation", generated: false, hasPublic: false },
};

/** Where disk keys wait on the installer for disko (nixos-anywhere's --disk-encryption-keys). */
export const INSTALL_KEYS_DIR = "/tmp/hearth-keys";
/** Fleet-relative folder of the encrypted secrets and their manifest. */
export const SECRETS_DIR = "secrets";
export const MANIFEST_FILE = `${SECRETS_DIR}/manifest.json`;
/** agenix's rules file, so `agenix -e` and `agenix -r` work on hearth's secrets too. */
export const AGENIX_RULES_FILE = `${SECRETS_DIR}/secrets.nix`;
export const AGENIX_DIR = "/run/agenix";
