// age's ssh-ed25519 recipient type (age-encryption.org/v1, "ssh-ed25519" stanza), which typage
// does not ship, as a typage Recipient and Identity. agenix hosts decrypt with their SSH host key
// through it. Only the stanza's composition lives here; X25519, HKDF and ChaCha20-Poly1305 come
// from the @noble libraries typage itself uses. Checked against the age CLI in test/age.test.ts.
import { Stanza, type Identity, type Recipient } from "age-encryption";
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { randomBytes } from "node:crypto";
import { base64nopad } from "@scure/base";

const LABEL = new TextEncoder().encode("age-encryption.org/v1/ssh-ed25519");
const ZERO_NONCE = new Uint8Array(12);

const tagOf = (wire: Uint8Array) => base64nopad.encode(sha256(wire).subarray(0, 4));
const tweakOf = (wire: Uint8Array) => hkdf(sha256, new Uint8Array(0), wire, LABEL, 32);

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function sharedSecret(scalar: Uint8Array, point: Uint8Array, tweak: Uint8Array): Uint8Array {
  const s = x25519.getSharedSecret(tweak, x25519.getSharedSecret(scalar, point));
  if (s.every((b) => b === 0)) throw new Error("invalid ssh-ed25519 stanza (low-order point)");
  return s;
}

export class SshEd25519Recipient implements Recipient {
  private readonly montgomery: Uint8Array;
  /** @param wire SSH wire encoding of the public key; @param pub its 32-byte ed25519 point. */
  constructor(private readonly wire: Uint8Array, pub: Uint8Array) {
    this.montgomery = ed25519.utils.toMontgomery(pub);
  }

  wrapFileKey(fileKey: Uint8Array): Stanza[] {
    const ephemeral = new Uint8Array(randomBytes(32));
    const share = x25519.getPublicKey(ephemeral);
    const secret = sharedSecret(ephemeral, this.montgomery, tweakOf(this.wire));
    const key = hkdf(sha256, secret, concat(share, this.montgomery), LABEL, 32);
    const body = chacha20poly1305(key, ZERO_NONCE).encrypt(fileKey);
    return [new Stanza(["ssh-ed25519", tagOf(this.wire), base64nopad.encode(share)], body)];
  }
}

export class SshEd25519Identity implements Identity {
  private readonly scalar: Uint8Array;
  private readonly montgomery: Uint8Array;
  private readonly tag: string;
  private readonly tweak: Uint8Array;
  /** @param seed the 32-byte ed25519 private seed; @param wire the public key's SSH wire encoding. */
  constructor(seed: Uint8Array, wire: Uint8Array, pub: Uint8Array) {
    this.scalar = ed25519.utils.toMontgomerySecret(seed);
    this.montgomery = ed25519.utils.toMontgomery(pub);
    this.tag = tagOf(wire);
    this.tweak = tweakOf(wire);
  }

  unwrapFileKey(stanzas: Stanza[]): Uint8Array | null {
    for (const s of stanzas) {
      if (s.args[0] !== "ssh-ed25519" || s.args[1] !== this.tag) continue;
      if (s.args.length !== 3 || s.body.length !== 32) throw new Error("invalid ssh-ed25519 stanza");
      const share = base64nopad.decode(s.args[2]!);
      if (share.length !== 32) throw new Error("invalid ssh-ed25519 stanza");
      const secret = sharedSecret(this.scalar, share, this.tweak);
      const key = hkdf(sha256, secret, concat(share, this.montgomery), LABEL, 32);
      try {
        return chacha20poly1305(key, ZERO_NONCE).decrypt(s.body);
      } catch {
        // Same tag, other key (4-byte tags collide rarely): try the next stanza.
        continue;
      }
    }
    return null;
  }
}
