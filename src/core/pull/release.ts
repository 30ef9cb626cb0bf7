// What a pull node accepts: a configuration bundle (one host's system closure and encrypted
// files) or a keyring update, each signed in minisign's format by an admin key the node already
// trusts. The trusted comment names kind, host, version, expiry and the bundle's hash, so a node
// decides from signed words alone; the server that hands them out only stores what was signed.
// A node refuses: a changed byte, another key, another host, a version not above the one it
// applied, an expired bundle, and a system that already failed to activate there.
import { utf8 } from "@scure/base";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { HealthCheck } from "../services/types.js";
import { keyIdHex, parsePublicKey, publicKeyLine, sign, SignatureError, verify, type PublicKey, type SecretKey } from "../signing/minisign.js";

export const BUNDLE_FORMAT = "hearth-bundle/1";
/** In the fleet directory: releases/<host>/<version>.json(.minisig) and releases/keyring.json(.minisig). */
export const RELEASES_DIR = "releases";
export const KEYRING_FORMAT = "hearth-keyring/1";

/** One host's configuration, as the agent applies it. */
export interface Bundle {
  format: typeof BUNDLE_FORMAT;
  host: string;
  /** Strictly increasing per host; a node never goes back to a lower one. */
  version: number;
  issued: string;
  expires: string;
  /** The NixOS system closure to switch to (a /nix/store path). */
  system: string;
  /** Where the closure is fetched from (a binary cache hearth serves or points at), and its signing keys. */
  substituters: string[];
  trustedPublicKeys: string[];
  /** Files the host needs, already age-encrypted to its SSH host key (path on the host → armored age). */
  files: Record<string, string>;
  /** The image (node class) this configuration is for. */
  image?: string;
  /** What "healthy" means after the switch (the checks `hearth deploy` runs for this host). */
  checks?: HealthCheck[];
}

/** A new set of signing keys: rotation (new keys) and revocation (removed ones), itself signed. */
export interface Keyring {
  format: typeof KEYRING_FORMAT;
  version: number;
  issued: string;
  /** minisign public key lines that are trusted from now on. */
  keys: string[];
  /** Key ids (minisign's hex) that must never be trusted again, even if an image carries them. */
  revoked: string[];
}

export interface Signed {
  /** The exact bytes that were signed (JSON text). */
  body: string;
  /** The `.minisig` text. */
  signature: string;
}

const STORE_PATH = /^\/nix\/store\/[0-9a-df-np-sv-z]{32}-[A-Za-z0-9+._?=-]+$/;
const hex = (s: string) => bytesToHex(sha256(utf8.decode(s)));

/** The signed words: `hearth-bundle host=node1 version=7 expires=2026-12-30T00:00:00Z sha256=…`. */
export function trustedCommentOf(kind: "bundle" | "keyring" | "adoption" | "image", fields: Record<string, string | number>): string {
  return `hearth-${kind} ${Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(" ")}`;
}

export function parseTrustedComment(comment: string): { kind: string; fields: Record<string, string> } {
  const [head = "", ...rest] = comment.split(" ");
  const fields: Record<string, string> = {};
  for (const part of rest) {
    const i = part.indexOf("=");
    if (i > 0) fields[part.slice(0, i)] = part.slice(i + 1);
  }
  return { kind: head.replace(/^hearth-/, ""), fields };
}

export function signBundle(b: Omit<Bundle, "format">, key: SecretKey): Signed {
  if (!Number.isSafeInteger(b.version) || b.version < 1) throw new Error(`bundle version ${b.version} must be a positive integer`);
  if (!STORE_PATH.test(b.system)) throw new Error(`${b.system} is not a /nix/store path of a system closure`);
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(b.host)) throw new Error(`${JSON.stringify(b.host)} is not a host name`);
  if (Number.isNaN(Date.parse(b.expires))) throw new Error(`expires ${JSON.stringify(b.expires)} is not a date`);
  const body = JSON.stringify({ format: BUNDLE_FORMAT, ...b }, null, 2) + "\n";
  const comment = trustedCommentOf("bundle", { host: b.host, version: b.version, expires: new Date(b.expires).toISOString(), sha256: hex(body) });
  return { body, signature: sign(utf8.decode(body), key, { trustedComment: comment, untrustedComment: `hearth bundle for ${b.host}, version ${b.version}` }) };
}

export function signKeyring(k: Omit<Keyring, "format">, key: SecretKey): Signed {
  for (const line of k.keys) parsePublicKey(line);
  const body = JSON.stringify({ format: KEYRING_FORMAT, ...k }, null, 2) + "\n";
  const comment = trustedCommentOf("keyring", { version: k.version, sha256: hex(body) });
  return { body, signature: sign(utf8.decode(body), key, { trustedComment: comment, untrustedComment: `hearth keyring version ${k.version}` }) };
}

/** Why a node refused something; each is a test in test/pull.test.ts. */
export type Refusal =
  | "bad-signature"
  | "unknown-key"
  | "revoked-key"
  | "malformed"
  | "wrong-host"
  | "not-newer"
  | "expired"
  | "failed-before";

export class Refused extends Error {
  constructor(
    readonly reason: Refusal,
    message: string,
  ) {
    super(message);
  }
}

/** What a node trusts: the keys in its image, changed only by keyrings those keys signed. */
export interface Trust {
  keys: string[];
  revoked: string[];
  keyringVersion: number;
}

export const trustFromImage = (keys: string[]): Trust => ({ keys, revoked: [], keyringVersion: 0 });

function trustedKeys(t: Trust): PublicKey[] {
  const revoked = new Set(t.revoked.map((r) => r.toUpperCase()));
  return t.keys.map((k) => parsePublicKey(k)).filter((k) => !revoked.has(keyIdOf(k)));
}

const keyIdOf = (k: PublicKey) => keyIdHex(k.keyId);

function checkSignature(s: Signed, t: Trust, kind: string): Record<string, string> {
  let comment: string;
  try {
    comment = verify(utf8.decode(s.body), s.signature, trustedKeys(t)).trustedComment;
  } catch (e) {
    if (e instanceof SignatureError) {
      if (e.reason === "unknown-key") {
        // Say "revoked" when that is why: an admin reading the node's report needs to know.
        const revoked = t.revoked.find((r) => e.message.includes(r.toUpperCase()));
        throw new Refused(revoked ? "revoked-key" : "unknown-key", revoked ? `signed by key ${revoked}, which was revoked` : e.message);
      }
      throw new Refused(e.reason === "malformed" || e.reason === "legacy" ? "malformed" : "bad-signature", e.message);
    }
    throw e;
  }
  const tc = parseTrustedComment(comment);
  if (tc.kind !== kind) throw new Refused("malformed", `a signed ${tc.kind || "unknown thing"}, not a ${kind}`);
  if (tc.fields.sha256 !== hex(s.body)) throw new Refused("bad-signature", "the signed hash does not match the body");
  return tc.fields;
}

/** The signature's words and the parsed body; a body that is not JSON is refused as malformed. */
function openSigned<T>(s: Signed, trust: Trust, kind: string): { f: Record<string, string>; body: T } {
  const f = checkSignature(s, trust, kind);
  try {
    return { f, body: JSON.parse(s.body) as T };
  } catch {
    throw new Refused("malformed", `the ${kind} is not JSON`);
  }
}

export interface NodeState {
  host: string;
  /** The version last applied (or 0). */
  appliedVersion: number;
  /** Systems that failed to activate here; retried only in a newer bundle with another system. */
  failedSystems: string[];
}

/**
 * The agent's check before anything is applied. Returns the bundle, or throws Refused; the node
 * then keeps running what it had. `now` in ms.
 */
export function acceptBundle(s: Signed, trust: Trust, node: NodeState, now: number): Bundle {
  const { f, body: b } = openSigned<Bundle>(s, trust, "bundle");
  // The body must say what the signed words say (a bundle is never read apart from its comment).
  if (b.format !== BUNDLE_FORMAT || b.host !== f.host || String(b.version) !== f.version || new Date(b.expires).toISOString() !== f.expires || !STORE_PATH.test(b.system ?? ""))
    throw new Refused("malformed", "the bundle's body does not match its signed comment");
  if (b.host !== node.host) throw new Refused("wrong-host", `this bundle is for ${b.host}, this node is ${node.host}`);
  if (b.version <= node.appliedVersion) throw new Refused("not-newer", `version ${b.version} is not newer than the applied version ${node.appliedVersion}`);
  if (Date.parse(b.expires) <= now) throw new Refused("expired", `the bundle expired at ${b.expires}`);
  if (node.failedSystems.includes(b.system)) throw new Refused("failed-before", `${b.system} failed to activate here before; waiting for a newer configuration`);
  return b;
}

/** A keyring update: signed by a key trusted now, newer than the last one; returns the new trust. */
export function acceptKeyring(s: Signed, trust: Trust): Trust {
  const { f, body: k } = openSigned<Keyring>(s, trust, "keyring");
  if (k.format !== KEYRING_FORMAT || String(k.version) !== f.version || !Array.isArray(k.keys) || !Array.isArray(k.revoked)) throw new Refused("malformed", "the keyring's body does not match its signed comment");
  if (k.version <= trust.keyringVersion) throw new Refused("not-newer", `keyring version ${k.version} is not newer than ${trust.keyringVersion}`);
  const keys = k.keys.map((line) => publicKeyLine(parsePublicKey(line)));
  // Revocations accumulate: a later keyring cannot bring back a revoked key.
  const revoked = [...new Set([...trust.revoked, ...k.revoked.map((r) => r.toUpperCase())])];
  if (!trustedKeys({ keys, revoked, keyringVersion: k.version }).length) throw new Refused("malformed", "the keyring leaves no trusted key");
  return { keys, revoked, keyringVersion: k.version };
}

export { keyIdOf };

// ---- adoption: a pending node becomes a host ------------------------------------------------

export const ADOPTION_FORMAT = "hearth-adoption/1";

/**
 * An admin's answer to a pending node: "you are `host`". The host's identity (name, SSH host key,
 * network) is age-encrypted to the key the pending node made at boot, so the server that hands
 * it over cannot read it, and the whole is signed, so the server cannot make one up either.
 */
export interface Adoption {
  format: typeof ADOPTION_FORMAT;
  host: string;
  /** The pending node's own ssh-ed25519 key (what it signs its check-ins with). */
  key: string;
  issued: string;
  expires: string;
  /** Armored age, to `key`: JSON { host, sshPrivateKey, sshPublicKey, network? }. */
  identity: string;
}

export function signAdoption(a: Omit<Adoption, "format">, key: SecretKey): Signed {
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(a.host)) throw new Error(`${JSON.stringify(a.host)} is not a host name`);
  const body = JSON.stringify({ format: ADOPTION_FORMAT, ...a }, null, 2) + "\n";
  const comment = trustedCommentOf("adoption", { host: a.host, key: keyHash(a.key), expires: new Date(a.expires).toISOString(), sha256: hex(body) });
  return { body, signature: sign(utf8.decode(body), key, { trustedComment: comment, untrustedComment: `hearth adoption of a pending node as ${a.host}` }) };
}

/** SHA-256 (hex) of an ssh public key line's type and base64: names an adoption file. */
export const keyHash = (line: string) => hex(line.trim().split(/\s+/).slice(0, 2).join(" "));

/** The pending node's check: signed by a trusted key, addressed to its own key, not expired. */
export function acceptAdoption(s: Signed, trust: Trust, ownKey: string, now: number): Adoption {
  const { f, body: a } = openSigned<Adoption>(s, trust, "adoption");
  if (a.format !== ADOPTION_FORMAT || a.host !== f.host || keyHash(a.key) !== f.key || typeof a.identity !== "string") throw new Refused("malformed", "the adoption's body does not match its signed comment");
  if (keyHash(a.key) !== keyHash(ownKey)) throw new Refused("wrong-host", "this adoption is for another pending node");
  if (Date.parse(a.expires) <= now) throw new Refused("expired", `the adoption expired at ${a.expires}`);
  return a;
}

// ---- image releases: a new OS for the A/B sides of a node class -------------------------------

export const IMAGE_FORMAT = "hearth-image/1";

export interface ImageFile {
  /** kernel and initrd go to the boot partition, os to the side's partition. */
  name: "kernel" | "initrd" | "os";
  sha256: string;
  size: number;
}

/** A new image for every host of a class, written to the side a node did not boot. */
export interface ImageRelease {
  format: typeof IMAGE_FORMAT;
  image: string;
  version: number;
  issued: string;
  expires: string;
  /** The kernel command line of the new side (hearth.slot= is added by the node). */
  cmdline: string;
  files: ImageFile[];
  /** Boot attempts before systemd-boot falls back to the old side. */
  tries: number;
  /** The new side must report healthy within this long after it boots, or the node reboots into the old one. */
  healthyWithinSeconds: number;
  /** The hosts that boot this class (whom a rollout offers it to). */
  hosts: string[];
}

export function signImage(r: Omit<ImageRelease, "format">, key: SecretKey): Signed {
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(r.image)) throw new Error(`${JSON.stringify(r.image)} is not a class name`);
  for (const n of ["kernel", "initrd", "os"] as const) if (!r.files.some((f) => f.name === n && /^[0-9a-f]{64}$/.test(f.sha256))) throw new Error(`the image release needs its ${n} with a sha256`);
  const body = JSON.stringify({ format: IMAGE_FORMAT, ...r }, null, 2) + "\n";
  const comment = trustedCommentOf("image", { image: r.image, version: r.version, expires: new Date(r.expires).toISOString(), sha256: hex(body) });
  return { body, signature: sign(utf8.decode(body), key, { trustedComment: comment, untrustedComment: `hearth image ${r.image} version ${r.version}` }) };
}

export function acceptImage(s: Signed, trust: Trust, node: { image: string; appliedVersion: number; failedVersions: number[] }, now: number): ImageRelease {
  const { f, body: r } = openSigned<ImageRelease>(s, trust, "image");
  if (r.format !== IMAGE_FORMAT || r.image !== f.image || String(r.version) !== f.version || new Date(r.expires).toISOString() !== f.expires || !Array.isArray(r.files))
    throw new Refused("malformed", "the image release's body does not match its signed comment");
  if (r.image !== node.image) throw new Refused("wrong-host", `this image is for class ${r.image}, this node boots ${node.image}`);
  if (r.version <= node.appliedVersion) throw new Refused("not-newer", `image version ${r.version} is not newer than the running ${node.appliedVersion}`);
  if (Date.parse(r.expires) <= now) throw new Refused("expired", `the image release expired at ${r.expires}`);
  if (node.failedVersions.includes(r.version)) throw new Refused("failed-before", `image version ${r.version} did not come up healthy here before`);
  return r;
}
