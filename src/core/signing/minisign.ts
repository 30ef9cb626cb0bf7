// minisign's formats, read and written by hearth: public keys, secret keys (the unencrypted
// `minisign -G -W` form; hearth keeps the file itself age-encrypted) and signatures with a
// trusted comment. Layouts and algorithms from minisign 0.11 (Debian's), src/minisign.h and
// src/minisign.c: PubkeyStruct = "Ed" | keynum(8) | pk(32); SeckeyStruct = "Ed" | kdf "\0\0" or
// "Sc" | "B2" | salt(32) | opslimit(8) | memlimit(8) | keynum(8) | sk(64) | chk(32); SigStruct =
// "Ed" (legacy) or "ED" (prehashed: Ed25519 over BLAKE2b-512 of the file) | keynum(8) | sig(64);
// the global signature is Ed25519 over sig(64) | trusted comment. test/signing.test.ts checks
// each direction against the minisign binary.
import { ed25519 } from "@noble/curves/ed25519.js";
import { blake2b } from "@noble/hashes/blake2.js";
import { base64, utf8 } from "@scure/base";

const UNTRUSTED = "untrusted comment: ";
const TRUSTED = "trusted comment: ";
/** minisign.h TRUSTEDCOMMENTMAXBYTES (8192) less the prefix and NUL. */
const MAX_TRUSTED = 8192 - TRUSTED.length - 1;

export interface PublicKey {
  /** 8 bytes; minisign prints it as the little-endian 64-bit number in hex. */
  keyId: Uint8Array;
  key: Uint8Array;
}
export interface SecretKey extends PublicKey {
  /** libsodium's 64-byte secret key: seed | public key. */
  secret: Uint8Array;
}

export class SignatureError extends Error {
  constructor(
    /** What failed, for a caller that reacts per case. */
    readonly reason: "malformed" | "unknown-key" | "bad-signature" | "bad-comment-signature" | "legacy",
    message: string,
  ) {
    super(message);
  }
}

const bytesEq = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
const ascii = (b: Uint8Array) => String.fromCharCode(...b);

/**
 * The key id as minisign prints it ("minisign public key 30AAE1685842E56"): the 8 bytes read as a
 * little-endian 64-bit number, in upper-case hex without leading zeros (minisign.c write_pk_file,
 * `%" PRIX64`).
 */
export function keyIdHex(keyId: Uint8Array): string {
  return [...keyId].reduceRight((n, b) => (n << 8n) | BigInt(b), 0n).toString(16).toUpperCase();
}

/** A new key pair; `seed` only for tests that need a fixed key. */
export function generateKey(seed: Uint8Array = ed25519.utils.randomSecretKey(), keyId: Uint8Array = ed25519.utils.randomSecretKey().slice(0, 8)): SecretKey {
  const key = ed25519.getPublicKey(seed);
  const secret = new Uint8Array(64);
  secret.set(seed);
  secret.set(key, 32);
  return { keyId, key, secret };
}

/** The base64 line of a public key (what `minisign -P` takes and `minisign.pub` holds on its second line). */
export function publicKeyLine(k: PublicKey): string {
  return base64.encode(new Uint8Array([...utf8.decode("Ed"), ...k.keyId, ...k.key]));
}

/** A `minisign.pub` file. */
export function publicKeyFile(k: PublicKey): string {
  return `${UNTRUSTED}minisign public key ${keyIdHex(k.keyId)}\n${publicKeyLine(k)}\n`;
}

/** A public key from its base64 line or a whole `.pub` file. */
export function parsePublicKey(text: string): PublicKey {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const line = lines.find((l) => !l.startsWith(UNTRUSTED.trim()));
  let raw: Uint8Array;
  try {
    raw = base64.decode(line ?? "");
  } catch {
    throw new SignatureError("malformed", "not a minisign public key (expected a base64 line starting with RW)");
  }
  if (raw.length !== 42 || ascii(raw.slice(0, 2)) !== "Ed") throw new SignatureError("malformed", "not a minisign Ed25519 public key (42 bytes starting with \"Ed\")");
  return { keyId: raw.slice(2, 10), key: raw.slice(10) };
}

/** checksum of an unencrypted secret key: BLAKE2b-256 of sig_alg | keynum | sk (minisign.c seckey_compute_chk). */
const checksum = (k: SecretKey) => blake2b(new Uint8Array([...utf8.decode("Ed"), ...k.keyId, ...k.secret]), { dkLen: 32 });

/** An unencrypted secret key file, as `minisign -G -W` writes it (hearth age-encrypts the whole file). */
export function secretKeyFile(k: SecretKey, comment = "hearth signing key (unencrypted; keep it age-encrypted)"): string {
  const body = new Uint8Array(2 + 2 + 2 + 32 + 8 + 8 + 8 + 64 + 32);
  body.set(utf8.decode("Ed"), 0);
  // kdf_alg "\0\0": no password (minisign.h KDFNONE); salt and limits stay zero as in generate().
  body.set(utf8.decode("B2"), 4);
  body.set(k.keyId, 54);
  body.set(k.secret, 62);
  body.set(checksum(k), 126);
  return `${UNTRUSTED}${comment}\n${base64.encode(body)}\n`;
}

/** A secret key file without a password (`-W`); a password-protected one is refused with what to do. */
export function parseSecretKey(text: string): SecretKey {
  const line = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean).find((l) => !l.startsWith(UNTRUSTED.trim()));
  let raw: Uint8Array;
  try {
    raw = base64.decode(line ?? "");
  } catch {
    throw new SignatureError("malformed", "not a minisign secret key");
  }
  if (raw.length !== 158 || ascii(raw.slice(0, 2)) !== "Ed" || ascii(raw.slice(4, 6)) !== "B2") throw new SignatureError("malformed", "not a minisign Ed25519 secret key");
  const kdf = raw.slice(2, 4);
  if (ascii(kdf) === "Sc") throw new SignatureError("malformed", "this minisign secret key has a password; hearth keeps keys age-encrypted instead: `minisign -C -s KEY` and choose no password, then import it");
  if (kdf[0] !== 0 || kdf[1] !== 0) throw new SignatureError("malformed", "unknown key derivation in this minisign secret key");
  const keyId = raw.slice(54, 62);
  const secret = raw.slice(62, 126);
  const key = secret.slice(32);
  if (!bytesEq(ed25519.getPublicKey(secret.slice(0, 32)), key)) throw new SignatureError("malformed", "this minisign secret key is damaged (its public half does not match)");
  return { keyId, key, secret };
}

export interface SignOptions {
  /** One line, signed with the data (host, version, expiry, hash ...). */
  trustedComment: string;
  untrustedComment?: string;
}

/** A `.minisig` for `data`, prehashed ("ED") as minisign has made by default since 0.8. */
export function sign(data: Uint8Array, k: SecretKey, o: SignOptions): string {
  if (/[\r\n]/.test(o.trustedComment) || utf8.decode(o.trustedComment).length > MAX_TRUSTED) throw new Error("a trusted comment is one line of at most 8 KiB");
  const untrusted = o.untrustedComment ?? "signature from hearth";
  if (/[\r\n]/.test(untrusted)) throw new Error("an untrusted comment is one line");
  const seed = k.secret.slice(0, 32);
  const sig = ed25519.sign(blake2b(data, { dkLen: 64 }), seed);
  const global = ed25519.sign(new Uint8Array([...sig, ...utf8.decode(o.trustedComment)]), seed);
  const sigStruct = new Uint8Array([...utf8.decode("ED"), ...k.keyId, ...sig]);
  return `${UNTRUSTED}${untrusted}\n${base64.encode(sigStruct)}\n${TRUSTED}${o.trustedComment}\n${base64.encode(global)}\n`;
}

export interface Verified {
  trustedComment: string;
  /** The key that signed, one of those given. */
  key: PublicKey;
}

/**
 * Checks a `.minisig` against `data` and the trusted keys; returns the trusted comment only when
 * both signatures hold. Legacy (non-prehashed) signatures are refused as `minisign -V` does
 * without `-l`.
 */
export function verify(data: Uint8Array, signature: string, trusted: readonly PublicKey[]): Verified {
  const lines = signature.split("\n").map((l) => l.replace(/\r$/, ""));
  const [c1, s, c2, g] = lines;
  if (!c1?.startsWith(UNTRUSTED) || !s || !c2?.startsWith(TRUSTED) || !g) throw new SignatureError("malformed", "not a minisign signature (untrusted comment, signature, trusted comment, global signature)");
  let sigStruct: Uint8Array;
  let global: Uint8Array;
  try {
    sigStruct = base64.decode(s.trim());
    global = base64.decode(g.trim());
  } catch {
    throw new SignatureError("malformed", "the signature is not valid base64");
  }
  if (sigStruct.length !== 74 || global.length !== 64) throw new SignatureError("malformed", "the signature has the wrong length");
  const alg = ascii(sigStruct.slice(0, 2));
  if (alg === "Ed") throw new SignatureError("legacy", "a legacy (non-prehashed) signature; sign again with minisign 0.8 or later");
  if (alg !== "ED") throw new SignatureError("malformed", `unknown signature algorithm ${JSON.stringify(alg)}`);
  const keyId = sigStruct.slice(2, 10);
  const key = trusted.find((k) => bytesEq(k.keyId, keyId));
  if (!key) throw new SignatureError("unknown-key", `signed by key ${keyIdHex(keyId)}, which is not trusted here`);
  const sig = sigStruct.slice(10);
  if (!ed25519.verify(sig, blake2b(data, { dkLen: 64 }), key.key)) throw new SignatureError("bad-signature", "the signature does not match the data");
  const trustedComment = c2.slice(TRUSTED.length);
  if (!ed25519.verify(global, new Uint8Array([...sig, ...utf8.decode(trustedComment)]), key.key)) throw new SignatureError("bad-comment-signature", "the trusted comment was changed after signing");
  return { trustedComment, key };
}
