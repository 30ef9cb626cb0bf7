// EIP-2335 keystores (what staking-deposit-cli and every client write): read one, check its
// shape, and prove the password opens it and the key inside is the one it names, before hearth
// stores it. The secret key exists only in a buffer that is wiped at once.
import { createDecipheriv, createHash, pbkdf2Sync, scryptSync } from "node:crypto";
import { bls12_381 } from "@noble/curves/bls12-381.js";
import { UserError } from "../errors.js";

export interface Keystore {
  /** 0x + 96 hex: the validator's public key. */
  pubkey: string;
  /** The keystore as given (its JSON text), stored encrypted as is. */
  text: string;
  path?: string;
}

export class KeystoreError extends UserError {}

interface Module {
  function: string;
  params: Record<string, unknown>;
  message: string;
}

const hex = (s: unknown, what: string): Buffer => {
  if (typeof s !== "string" || !/^([0-9a-fA-F]{2})*$/.test(s)) throw new KeystoreError(`${what} is not hex`);
  return Buffer.from(s, "hex");
};

/** The keystore in `text`, with its shape checked (version 4, the kdfs, cipher and checksum EIP-2335 defines). */
export function parseKeystore(text: string, name: string): Keystore & { crypto: { kdf: Module; checksum: Module; cipher: Module } } {
  let j: Record<string, any>;
  try {
    j = JSON.parse(text);
  } catch {
    throw new KeystoreError(`${name} is not JSON; a keystore is the keystore-m_12381_3600_….json file staking-deposit-cli writes`);
  }
  if (j?.version !== 4) throw new KeystoreError(`${name} is not an EIP-2335 keystore (version ${JSON.stringify(j?.version)}, expected 4)`);
  const pk = typeof j.pubkey === "string" ? j.pubkey.toLowerCase().replace(/^0x/, "") : "";
  if (!/^[0-9a-f]{96}$/.test(pk)) throw new KeystoreError(`${name} has no validator public key (pubkey: 96 hex digits); a remote-signer or withdrawal keystore cannot be imported`);
  const c = j.crypto;
  if (!c?.kdf || !c?.checksum || !c?.cipher) throw new KeystoreError(`${name}: crypto.kdf, crypto.checksum and crypto.cipher are required (EIP-2335)`);
  if (!["scrypt", "pbkdf2"].includes(c.kdf.function)) throw new KeystoreError(`${name}: kdf ${c.kdf.function} is not scrypt or pbkdf2`);
  if (c.checksum.function !== "sha256") throw new KeystoreError(`${name}: checksum ${c.checksum.function} is not sha256`);
  if (c.cipher.function !== "aes-128-ctr") throw new KeystoreError(`${name}: cipher ${c.cipher.function} is not aes-128-ctr`);
  return { pubkey: `0x${pk}`, text, ...(typeof j.path === "string" ? { path: j.path } : {}), crypto: c };
}

/**
 * EIP-2335's password processing: NFKD, without the C0 and C1 control codes and DEL, as UTF-8.
 * (A trailing newline from a password file is such a control code, so it never matters.)
 */
export function processPassword(password: Buffer): Buffer {
  const s = password.toString("utf8").normalize("NFKD").replace(/[\u0000-\u001f\u007f-\u009f]/g, "");
  return Buffer.from(s, "utf8");
}

/** Check that `password` opens the keystore and that its secret key gives its public key. */
export function verifyKeystore(k: ReturnType<typeof parseKeystore>, password: Buffer, name: string): void {
  const pw = processPassword(password);
  const kdf = k.crypto.kdf.params as { dklen: number; salt: string; n?: number; r?: number; p?: number; c?: number; prf?: string };
  const salt = hex(kdf.salt, "kdf salt");
  let dk: Buffer;
  try {
    if (k.crypto.kdf.function === "scrypt") {
      const N = kdf.n!;
      dk = scryptSync(pw, salt, kdf.dklen, { N, r: kdf.r!, p: kdf.p!, maxmem: 256 * N * kdf.r! + 1024 * 1024 });
    } else {
      if ((kdf.prf ?? "hmac-sha256") !== "hmac-sha256") throw new KeystoreError(`${name}: pbkdf2 prf ${kdf.prf} is not hmac-sha256`);
      dk = pbkdf2Sync(pw, salt, kdf.c!, kdf.dklen, "sha256");
    }
  } finally {
    pw.fill(0);
  }
  const message = hex(k.crypto.cipher.message, "cipher message");
  const checksum = createHash("sha256").update(dk.subarray(16, 32)).update(message).digest("hex");
  if (checksum !== String(k.crypto.checksum.message).toLowerCase()) {
    dk.fill(0);
    throw new KeystoreError(`${name}: the password does not open this keystore (checksum mismatch); nothing was imported`);
  }
  const iv = hex((k.crypto.cipher.params as { iv: string }).iv, "cipher iv");
  const d = createDecipheriv("aes-128-ctr", dk.subarray(0, 16), iv);
  const secret = Buffer.concat([d.update(message), d.final()]);
  dk.fill(0);
  try {
    const pub = Buffer.from(bls12_381.longSignatures.getPublicKey(secret).toBytes(true)).toString("hex");
    if (`0x${pub}` !== k.pubkey) throw new KeystoreError(`${name}: the key inside is 0x${pub.slice(0, 12)}…, not the ${k.pubkey.slice(0, 14)}… the keystore names; the file is corrupt`);
  } finally {
    secret.fill(0);
  }
}
