// age recipients hearth encrypts to: native X25519 (`age1…`) and SSH ed25519 public keys (the
// hosts' SSH host keys, as agenix uses them). Parsed once here so a bad key is a finding with a
// path, not a crash in the middle of encrypting.
import { base64, bech32 } from "@scure/base";
import { ed25519 } from "@noble/curves/ed25519.js";

export type Recipient =
  | { type: "x25519"; text: string }
  /** `wire` is the SSH wire encoding of the key, `pub` its 32-byte ed25519 point. */
  | { type: "ssh-ed25519"; text: string; wire: Uint8Array; pub: Uint8Array };

export type ParseResult = { ok: true; recipient: Recipient } | { ok: false; reason: string };

const parsed = new Map<string, ParseResult>();

/** Parse one recipient; `text` is normalised (SSH comments dropped) so recipient sets compare. */
export function parseRecipient(input: string): ParseResult {
  // Memoised: checking a point on the curve is costly, and fleets repeat the same few keys.
  let r = parsed.get(input);
  if (!r) {
    r = parseUncached(input);
    if (parsed.size > 100_000) parsed.clear();
    parsed.set(input, r);
  }
  return r;
}

function parseUncached(input: string): ParseResult {
  const s = input.trim();
  if (s.startsWith("age1")) {
    try {
      const { prefix, bytes } = bech32.decodeToBytes(s);
      if (prefix !== "age" || bytes.length !== 32) return { ok: false, reason: "is not an X25519 age recipient (age1… of 62 characters)" };
      return { ok: true, recipient: { type: "x25519", text: s } };
    } catch {
      return { ok: false, reason: "is not a valid age recipient (bad bech32 checksum or characters)" };
    }
  }
  const parts = s.split(/\s+/);
  if (parts[0] === "ssh-ed25519" && parts[1]) {
    let wire: Uint8Array;
    try {
      wire = base64.decode(parts[1]);
    } catch {
      return { ok: false, reason: "has a key part that is not base64" };
    }
    const typeLen = readU32(wire, 0);
    const type = String.fromCharCode(...wire.subarray(4, 4 + Math.max(0, Math.min(typeLen, 64))));
    const keyLen = readU32(wire, 4 + typeLen);
    const pub = wire.subarray(8 + typeLen, 8 + typeLen + keyLen);
    if (type !== "ssh-ed25519" || keyLen !== 32 || wire.length !== 8 + typeLen + 32)
      return { ok: false, reason: "is not a well-formed ssh-ed25519 key blob" };
    try {
      ed25519.Point.fromBytes(pub);
    } catch {
      return { ok: false, reason: "is not a point on the ed25519 curve (a made-up key?)" };
    }
    return { ok: true, recipient: { type: "ssh-ed25519", text: `ssh-ed25519 ${parts[1]}`, wire, pub } };
  }
  if (parts[0]?.startsWith("ssh-") || parts[0]?.startsWith("ecdsa-"))
    return { ok: false, reason: `is a ${parts[0]} key; hearth encrypts to ssh-ed25519 and age1… keys only` };
  return { ok: false, reason: "is neither an age1… recipient nor an ssh-ed25519 public key" };
}

function readU32(b: Uint8Array, at: number): number {
  if (b.length < at + 4) return -1;
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/** The admins' keys that can be recipients, with the fleet.yaml path of each (for findings). */
export function adminRecipientInputs(admins: Record<string, { sshKeys: string[]; ageKeys?: string[] }>) {
  const out: { admin: string; text: string; path: (string | number)[] }[] = [];
  for (const [name, a] of Object.entries(admins)) {
    (a.ageKeys ?? []).forEach((k, i) => out.push({ admin: name, text: k, path: ["admins", name, "ageKeys", i] }));
    a.sshKeys.forEach((k, i) => {
      if (k.startsWith("ssh-ed25519 ")) out.push({ admin: name, text: k, path: ["admins", name, "sshKeys", i] });
    });
  }
  return out;
}
