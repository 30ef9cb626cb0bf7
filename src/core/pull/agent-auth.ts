// How a node agent proves who it is to `hearth serve`: every request is signed with the host's
// SSH host key (Ed25519), which hearth made and whose public half the fleet's secrets manifest
// records. No shared token exists to steal; a pending node (no identity yet) signs with a key it
// made at boot and is known by that key until an admin adopts it. The signature covers method,
// path, host, time, a nonce and the body's hash; the server refuses old times and reused nonces.
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { base64, utf8 } from "@scure/base";

export const AGENT_AUTH_SCHEME = "HearthAgent";
/** A request older or newer than this (clock skew included) is refused. */
export const MAX_SKEW_MS = 5 * 60_000;

export interface AgentHeaders {
  "x-hearth-host": string;
  "x-hearth-key": string;
  "x-hearth-time": string;
  "x-hearth-nonce": string;
  authorization: string;
}


function message(method: string, path: string, host: string, key: string, time: string, nonce: string, body: Uint8Array): Uint8Array {
  return utf8.decode(["hearth-agent-v1", method.toUpperCase(), path, host, key, time, nonce, bytesToHex(sha256(body))].join("\n"));
}

/** The raw 32-byte key of an `ssh-ed25519 AAAA…` line. */
export function sshEd25519Key(line: string): Uint8Array {
  const [type, b64] = line.trim().split(/\s+/);
  if (type !== "ssh-ed25519" || !b64) throw new Error("not an ssh-ed25519 public key");
  const wire = base64.decode(b64);
  const view = new DataView(wire.buffer, wire.byteOffset, wire.byteLength);
  const tlen = view.getUint32(0);
  const klen = view.getUint32(4 + tlen);
  if (utf8.encode(wire.subarray(4, 4 + tlen)) !== "ssh-ed25519" || klen !== 32) throw new Error("not an ssh-ed25519 public key");
  return wire.slice(8 + tlen, 8 + tlen + 32);
}

/**
 * Headers for one request. `host` is "" for a pending node; `publicKey` is its `ssh-ed25519` line.
 * @example signRequest({ method: "GET", path: "/api/agent/v1/release", host: "node1", publicKey, seed, body: new Uint8Array() })
 */
export function signRequest(r: { method: string; path: string; host: string; publicKey: string; seed: Uint8Array; body: Uint8Array; now?: number; nonce?: string; sign?: Ed25519["sign"] }): AgentHeaders {
  const time = String(r.now ?? Date.now());
  const nonce = r.nonce ?? bytesToHex(ed25519.utils.randomSecretKey().slice(0, 16));
  const key = r.publicKey.trim().split(/\s+/).slice(0, 2).join(" ");
  const sig = (r.sign ?? nobleEd25519.sign)(message(r.method, r.path, r.host, key, time, nonce, r.body), r.seed);
  return { "x-hearth-host": r.host, "x-hearth-key": key, "x-hearth-time": time, "x-hearth-nonce": nonce, authorization: `${AGENT_AUTH_SCHEME} ${base64.encode(sig)}` };
}

/**
 * Ed25519 by whoever does it fastest: @noble/curves here (pure, the core's only option), Node's
 * OpenSSL on the server, where a verification in JavaScript (about 4 ms on a small machine) would
 * cap check-ins at a few hundred a second.
 */
export interface Ed25519 {
  sign(message: Uint8Array, seed: Uint8Array): Uint8Array;
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}
export const nobleEd25519: Ed25519 = { sign: (m, s) => ed25519.sign(m, s), verify: (sig, m, p) => ed25519.verify(sig, m, p) };

export type AgentAuthFailure = "missing" | "malformed" | "stale" | "replayed" | "unknown-host" | "wrong-key" | "bad-signature";

/**
 * The server's check. `keyOf(host)` is the host's recorded SSH public key line (undefined: not a
 * host of this fleet); `seen(nonce)` records a nonce and says whether it was used before.
 */
export function verifyRequest(
  r: { method: string; path: string; headers: (name: string) => string | undefined; body: Uint8Array; now: number },
  keyOf: (host: string) => string | undefined,
  seen: (nonce: string) => boolean,
  ed: Ed25519 = nobleEd25519,
): { ok: true; host: string; key: string } | { ok: false; why: AgentAuthFailure } {
  const h = (n: keyof AgentHeaders) => r.headers(n);
  const auth = h("authorization");
  const host = h("x-hearth-host") ?? "";
  const key = h("x-hearth-key");
  const time = h("x-hearth-time");
  const nonce = h("x-hearth-nonce");
  if (!auth || !key || !time || !nonce) return { ok: false, why: "missing" };
  const m = new RegExp(`^${AGENT_AUTH_SCHEME} ([A-Za-z0-9+/=]{86,88})$`).exec(auth);
  if (!m || !/^\d{1,16}$/.test(time) || !/^[0-9a-f]{16,64}$/.test(nonce) || (host !== "" && !/^[a-z0-9][a-z0-9-]{0,62}$/.test(host))) return { ok: false, why: "malformed" };
  if (Math.abs(r.now - Number(time)) > MAX_SKEW_MS) return { ok: false, why: "stale" };
  let pub: Uint8Array;
  try {
    pub = sshEd25519Key(key);
  } catch {
    return { ok: false, why: "malformed" };
  }
  if (host) {
    const recorded = keyOf(host);
    if (!recorded) return { ok: false, why: "unknown-host" };
    if (recorded.trim().split(/\s+/).slice(0, 2).join(" ") !== key) return { ok: false, why: "wrong-key" };
  }
  let sig: Uint8Array;
  try {
    sig = base64.decode(m[1]!);
  } catch {
    return { ok: false, why: "malformed" };
  }
  if (sig.length !== 64 || !ed.verify(sig, message(r.method, r.path, host, key, time, nonce, r.body), pub)) return { ok: false, why: "bad-signature" };
  // Recorded only after the signature holds, so nobody can burn another node's nonces.
  if (seen(`${key} ${nonce}`)) return { ok: false, why: "replayed" };
  return { ok: true, host, key };
}

/** A short, stable name for a pending node's key (SHA-256, like `ssh-keygen -l`). */
export function keyFingerprint(key: string): string {
  return `SHA256:${base64.encode(sha256(base64.decode(key.trim().split(/\s+/)[1] ?? ""))).replace(/=+$/, "")}`;
}
