// The fleet's release signing key, on the admin's side only. The secret key (minisign's own
// unencrypted file format, so `minisign -S -s` can use a decrypted copy) lives in the fleet as
// signing/key.age, age-encrypted to the admins and to nobody else: no host and no server can
// sign. The public key goes into every node class image (fleet.yaml signing.publicKeys).
// Rotation and revocation are keyrings signed by a key the nodes already trust.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { generateKey, keyIdHex, parsePublicKey, parseSecretKey, publicKeyFile, publicKeyLine, secretKeyFile, type SecretKey } from "../../core/signing/minisign.js";
import { keyHash, RELEASES_DIR, signAdoption, signBundle, signImage, signKeyring, type Bundle, type ImageFile, type ImageRelease, type Signed } from "../../core/pull/release.js";
import { createHash } from "node:crypto";
import { decrypt, encrypt, type LoadedIdentity } from "../secrets/age.js";
import { writeFileAtomic } from "../fs-atomic.js";
import { UserError } from "../errors.js";

export const SIGNING_KEY_FILE = "signing/key.age";
export const SIGNING_PUB_FILE = "signing/hearth.pub";
export const KEYRING_FILE = `${RELEASES_DIR}/keyring.json`;

/** Makes the fleet's first signing key; refuses when one exists (rotate instead). */
export async function initSigningKey(fleetDir: string, adminRecipients: string[]): Promise<{ publicKey: string; keyId: string }> {
  if (existsSync(join(fleetDir, SIGNING_KEY_FILE))) throw new UserError(`${SIGNING_KEY_FILE} exists; hearth never replaces a signing key silently: \`hearth signing rotate\` makes a new one the nodes will trust`);
  if (!adminRecipients.length) throw new UserError("fleet.yaml: admins: no admin has an age or ssh-ed25519 key to encrypt the signing key to; add admins.<you>.ageKeys first");
  const k = generateKey();
  await storeKey(fleetDir, k, adminRecipients);
  return { publicKey: publicKeyLine(k), keyId: keyIdHex(k.keyId) };
}

async function storeKey(fleetDir: string, k: SecretKey, adminRecipients: string[]): Promise<void> {
  const plain = new TextEncoder().encode(secretKeyFile(k));
  try {
    writeFileAtomic(join(fleetDir, SIGNING_KEY_FILE), await encrypt(plain, adminRecipients), 0o644);
  } finally {
    plain.fill(0);
  }
  writeFileAtomic(join(fleetDir, SIGNING_PUB_FILE), publicKeyFile(k));
}

/** The signing key, decrypted in memory with an admin identity. */
export async function loadSigningKey(fleetDir: string, identities: LoadedIdentity[]): Promise<SecretKey> {
  const file = join(fleetDir, SIGNING_KEY_FILE);
  if (!existsSync(file)) throw new UserError(`${SIGNING_KEY_FILE} is missing; make the fleet's signing key with \`hearth signing init\``);
  const plain = await decrypt(SIGNING_KEY_FILE, readFileSync(file), identities);
  try {
    return parseSecretKey(new TextDecoder().decode(plain));
  } finally {
    plain.fill(0);
  }
}

/** Versions already published for a host. */
export function publishedVersions(fleetDir: string, host: string): number[] {
  const d = join(fleetDir, RELEASES_DIR, host);
  if (!existsSync(d)) return [];
  return readdirSync(d)
    .map((f) => /^(\d{1,15})\.json$/.exec(f)?.[1])
    .filter((v): v is string => v !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * Signs and writes one host's next release: releases/<host>/<version>.json and its .minisig. The
 * signature lands first, so the server (which lists a version only with both files) never serves
 * a body without its signature.
 */
export function writeRelease(fleetDir: string, key: SecretKey, b: Omit<Bundle, "format" | "version">): { version: number; file: string; signed: Signed } {
  const version = (publishedVersions(fleetDir, b.host).at(-1) ?? 0) + 1;
  const signed = signBundle({ ...b, version }, key);
  const rel = `${RELEASES_DIR}/${b.host}/${version}.json`;
  writeFileAtomic(join(fleetDir, `${rel}.minisig`), signed.signature);
  writeFileAtomic(join(fleetDir, rel), signed.body);
  return { version, file: rel, signed };
}

/** The keyring the nodes have now (version 0: only the keys in their image). */
export function currentKeyring(fleetDir: string): { version: number; keys: string[]; revoked: string[] } | undefined {
  const f = join(fleetDir, KEYRING_FILE);
  if (!existsSync(f)) return undefined;
  const k = JSON.parse(readFileSync(f, "utf8")) as { version: number; keys: string[]; revoked: string[] };
  return k;
}

/**
 * A new signing key: a keyring signed by the current key trusts old and new; `revoke` (key ids)
 * are never trusted again. The new key replaces signing/key.age; the fleet's public keys must
 * list it too, so images built from now on carry it.
 */
export async function rotateSigningKey(fleetDir: string, current: SecretKey, imageKeys: string[], adminRecipients: string[], revoke: string[] = []): Promise<{ publicKey: string; keyId: string; keyringVersion: number }> {
  const next = generateKey();
  const prev = currentKeyring(fleetDir);
  const revoked = [...new Set([...(prev?.revoked ?? []), ...revoke.map((r) => r.toUpperCase())])];
  const keys = [...new Set([...(prev?.keys ?? imageKeys).map((k) => publicKeyLine(parsePublicKey(k))), publicKeyLine(current), publicKeyLine(next)])].filter((k) => !revoked.includes(keyIdHex(parsePublicKey(k).keyId)));
  const version = (prev?.version ?? 0) + 1;
  const signed = signKeyring({ version, issued: new Date().toISOString(), keys, revoked }, current);
  writeFileAtomic(join(fleetDir, `${KEYRING_FILE}.minisig`), signed.signature);
  writeFileAtomic(join(fleetDir, KEYRING_FILE), signed.body);
  await storeKey(fleetDir, next, adminRecipients);
  return { publicKey: publicKeyLine(next), keyId: keyIdHex(next.keyId), keyringVersion: version };
}

/**
 * Adopts a pending node as `host`: its identity, encrypted to the node's own key, signed, in
 * releases/adoptions/<sha256 of the key>.json for the server to hand over at its next check-in.
 */
export async function writeAdoption(fleetDir: string, key: SecretKey, a: { host: string; pendingKey: string; identity: { host: string; sshPrivateKey: string; sshPublicKey: string; network?: unknown }; expires: string }): Promise<string> {
  if (!/^ssh-ed25519 [A-Za-z0-9+/=]+/.test(a.pendingKey.trim())) throw new UserError("--key must be the pending node's ssh-ed25519 public key, as `hearth serve` lists it");
  const plain = new TextEncoder().encode(JSON.stringify(a.identity));
  let identity: string;
  try {
    identity = await encrypt(plain, [a.pendingKey.trim().split(/\s+/).slice(0, 2).join(" ")]);
  } finally {
    plain.fill(0);
  }
  const signed = signAdoption({ host: a.host, key: a.pendingKey.trim().split(/\s+/).slice(0, 2).join(" "), issued: new Date().toISOString(), expires: a.expires, identity }, key);
  const rel = `${RELEASES_DIR}/adoptions/${keyHash(a.pendingKey)}.json`;
  writeFileAtomic(join(fleetDir, `${rel}.minisig`), signed.signature);
  writeFileAtomic(join(fleetDir, rel), signed.body);
  return rel;
}

/**
 * Signs a node class's next image: the files go, named by their SHA-256, to
 * releases/images/<class>/files/ (where `hearth serve` hands them to the agents), and the signed
 * release beside them.
 */
export function writeImageRelease(fleetDir: string, key: SecretKey, r: Omit<ImageRelease, "format" | "version" | "files">, files: Record<ImageFile["name"], string>): { version: number; file: string } {
  const dir = join(fleetDir, RELEASES_DIR, "images", r.image);
  const version = (publishedVersions(fleetDir, `images/${r.image}`).at(-1) ?? 0) + 1;
  const list: ImageFile[] = [];
  for (const name of ["kernel", "initrd", "os"] as const) {
    const src = files[name];
    if (!src || !existsSync(src)) throw new UserError(`--${name} ${src ?? ""}: no such file`);
    const bytes = readFileSync(src);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const dest = join(dir, "files", sha256);
    if (!existsSync(dest)) writeFileAtomic(dest, bytes);
    list.push({ name, sha256, size: bytes.length });
  }
  const signed = signImage({ ...r, version, files: list }, key);
  const rel = `${RELEASES_DIR}/images/${r.image}/${version}.json`;
  writeFileAtomic(join(fleetDir, `${rel}.minisig`), signed.signature);
  writeFileAtomic(join(fleetDir, rel), signed.body);
  return { version, file: rel };
}
