// EIP-2335 keystores for tests, built as the spec's test vectors build them (fast kdf
// parameters), around a fresh BLS key.
import { createCipheriv, createHash, pbkdf2Sync, randomBytes, scryptSync } from "node:crypto";
import { bls12_381 } from "@noble/curves/bls12-381.js";
import { processPassword } from "../../src/node/validators/keystore.js";

/** An EIP-2335 keystore as the spec's test vectors build one (fast kdf parameters). */
export function keystore(password: string, kdf: "pbkdf2" | "scrypt" = "pbkdf2") {
  const secret = bls12_381.longSignatures.keygen().secretKey;
  const pubkey = Buffer.from(bls12_381.longSignatures.getPublicKey(secret).toBytes(true)).toString("hex");
  const salt = randomBytes(32);
  const pw = processPassword(Buffer.from(password));
  const dk = kdf === "pbkdf2" ? pbkdf2Sync(pw, salt, 16, 32, "sha256") : scryptSync(pw, salt, 32, { N: 1024, r: 8, p: 1 });
  const iv = randomBytes(16);
  const c = createCipheriv("aes-128-ctr", dk.subarray(0, 16), iv);
  const message = Buffer.concat([c.update(secret), c.final()]);
  const checksum = createHash("sha256").update(dk.subarray(16, 32)).update(message).digest("hex");
  const params = kdf === "pbkdf2" ? { dklen: 32, c: 16, prf: "hmac-sha256", salt: salt.toString("hex") } : { dklen: 32, n: 1024, r: 8, p: 1, salt: salt.toString("hex") };
  return {
    pubkey: `0x${pubkey}`,
    json: JSON.stringify({
      crypto: { kdf: { function: kdf, params, message: "" }, checksum: { function: "sha256", params: {}, message: checksum }, cipher: { function: "aes-128-ctr", params: { iv: iv.toString("hex") }, message: message.toString("hex") } },
      pubkey,
      path: "m/12381/3600/0/0/0",
      uuid: "1d85ae20-35c5-4611-98e8-aa14a633906f",
      version: 4,
    }),
  };
}

