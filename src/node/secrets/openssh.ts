// OpenSSH's unencrypted ed25519 private key file (PROTOCOL.key, "openssh-key-v1"): written for
// the host keys hearth makes, read for SSH identities. Only serialisation lives here; the key
// pair comes from Node's crypto. (ssh2's helper dropped a leading zero byte of 1 in 256 public
// keys, which made keys no other tool accepts; test/age.test.ts checks this one.)
import { generateKeyPairSync, randomBytes } from "node:crypto";

const MAGIC = Buffer.from("openssh-key-v1\0", "latin1");
const TYPE = "ssh-ed25519";

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const str = (b: Buffer | string) => {
  const buf = typeof b === "string" ? Buffer.from(b, "utf8") : b;
  return Buffer.concat([u32(buf.length), buf]);
};

/** SSH wire encoding of an ed25519 public key. */
export const publicWire = (pub: Buffer) => Buffer.concat([str(TYPE), str(pub)]);
export const publicLine = (pub: Buffer) => `${TYPE} ${publicWire(pub).toString("base64")}`;

export interface Ed25519Key {
  /** The OpenSSH private key file. */
  privateFile: Buffer;
  /** `ssh-ed25519 AAAA…` without a comment. */
  publicLine: string;
}

export function newEd25519Key(comment: string): Ed25519Key {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const seed = Buffer.from((privateKey.export({ format: "jwk" }) as { d: string }).d, "base64url");
  const pub = Buffer.from((publicKey.export({ format: "jwk" }) as { x: string }).x, "base64url");
  const check = randomBytes(4);
  let inner = Buffer.concat([check, check, str(TYPE), str(pub), str(Buffer.concat([seed, pub])), str(comment)]);
  const pad = (8 - (inner.length % 8)) % 8;
  inner = Buffer.concat([inner, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const body = Buffer.concat([MAGIC, str("none"), str("none"), str(""), u32(1), str(publicWire(pub)), str(inner)]);
  seed.fill(0);
  inner.fill(0);
  const b64 = body.toString("base64").match(/.{1,70}/g)!.join("\n");
  body.fill(0);
  return { privateFile: Buffer.from(`-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}\n-----END OPENSSH PRIVATE KEY-----\n`), publicLine: publicLine(pub) };
}

/** Read seed and public key from an unencrypted OpenSSH ed25519 key file; throws a plain message. */
export function readEd25519Key(text: string): { seed: Uint8Array; pub: Buffer } {
  const m = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(text);
  if (!m) throw new Error("not an OpenSSH private key");
  const b = Buffer.from(m[1]!.replace(/\s+/g, ""), "base64");
  let at = 0;
  const need = (n: number) => {
    if (at + n > b.length) throw new Error("truncated key file");
  };
  const readU32 = () => (need(4), (at += 4), b.readUInt32BE(at - 4));
  const readStr = () => {
    const n = readU32();
    need(n);
    at += n;
    return b.subarray(at - n, at);
  };
  need(MAGIC.length);
  if (!b.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error("not an openssh-key-v1 file");
  at = MAGIC.length;
  const cipher = readStr().toString();
  readStr(); // kdf name
  readStr(); // kdf options
  if (cipher !== "none") throw new Error("the key is passphrase-protected; decrypt a copy with `ssh-keygen -p` or use an age identity");
  if (readU32() !== 1) throw new Error("files with several keys are not supported");
  readStr(); // public key
  const inner = readStr();
  let i = 0;
  const iu32 = () => {
    if (i + 4 > inner.length) throw new Error("truncated key file");
    i += 4;
    return inner.readUInt32BE(i - 4);
  };
  const istr = () => {
    const n = iu32();
    if (i + n > inner.length) throw new Error("truncated key file");
    i += n;
    return inner.subarray(i - n, i);
  };
  if (iu32() !== iu32()) throw new Error("damaged key file (check bytes differ)");
  if (istr().toString() !== TYPE) throw new Error("only ssh-ed25519 keys can be age identities");
  const pub = Buffer.from(istr());
  const priv = istr();
  if (pub.length !== 32 || priv.length !== 64) throw new Error("damaged ed25519 key");
  return { seed: new Uint8Array(priv.subarray(0, 32)), pub };
}
