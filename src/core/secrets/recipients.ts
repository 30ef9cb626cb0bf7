// age recipients hearth encrypts to: native X25519 (`age1…`), SSH ed25519 public keys (the
// hosts' SSH host keys, as agenix uses them) and age plugin recipients (`age1yubikey1…`: an
// admin's key on a hardware token, wrapped by the `age-plugin-NAME` binary). Parsed once here so
// a bad key is a finding with a path, not a crash in the middle of encrypting.
import { base64, bech32 } from "@scure/base";
import { ed25519 } from "@noble/curves/ed25519.js";

export type Recipient =
  | { type: "x25519"; text: string }
  /** `wire` is the SSH wire encoding of the key, `pub` its 32-byte ed25519 point. */
  | { type: "ssh-ed25519"; text: string; wire: Uint8Array; pub: Uint8Array }
  /** Bech32 with HRP `age1<plugin>` (C2SP age-plugin.md); only `age-plugin-<plugin>` understands its data. */
  | { type: "plugin"; text: string; plugin: string };

/** `hint`: what to do instead, when there is more to say than the reason. */
export type ParseResult = { ok: true; recipient: Recipient } | { ok: false; reason: string; hint?: string };

/** A plugin name as C2SP age-plugin.md allows it (lower case, as in the recipient's HRP). */
const PLUGIN_NAME = /^[a-z0-9._+-]+$/;

/** The binary that wraps and unwraps for a plugin: `age-plugin-yubikey` for `age1yubikey1…`. */
export const pluginBinary = (plugin: string) => `age-plugin-${plugin}`;

/** How to get a plugin binary, for messages. */
export function pluginInstallHint(plugin: string): string {
  const bin = pluginBinary(plugin);
  return `install ${bin} into a directory on PATH: \`cargo install ${bin}\`, your distribution's ${bin} package, or the release binary from its project page`;
}

/** Where the plugin recipient's owner finds the line to paste, for hints. */
const recipientSource = (plugin: string) =>
  plugin === "yubikey" ? "the Recipient line `age-plugin-yubikey --list` prints" : `the recipient line \`${pluginBinary(plugin)}\` printed when the key was made`;

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
  if (s.startsWith("age1")) return parseAge1(s);
  // An identity pasted where a recipient belongs: say so, a secret key must not stay in the file.
  if (s.startsWith("AGE-SECRET-KEY-"))
    return { ok: false, reason: "is a secret key (AGE-SECRET-KEY-…), not a recipient", hint: "remove it from the file (treat it as leaked) and put its recipient there: `age-keygen -y FILE` prints it" };
  const pluginIdentity = /^AGE-PLUGIN-([A-Z0-9._+-]+)-1/i.exec(s);
  if (pluginIdentity) {
    const plugin = pluginIdentity[1]!.toLowerCase();
    return { ok: false, reason: `is an age plugin identity (${pluginBinary(plugin)}), not a recipient`, hint: `put the age1${plugin}1… recipient there: ${recipientSource(plugin)}` };
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

/**
 * `age1…`: native X25519 when the HRP is `age` (32 bytes), a plugin recipient when it is
 * `age1<name>` (any data: only the plugin reads it). Bech32 as age uses it, without BIP-173's
 * 90-character limit, since plugin recipients may be longer.
 */
function parseAge1(s: string): ParseResult {
  // The HRP ends at the last '1'; a plugin recipient has a second one (`age1yubikey1…`).
  const sep = s.lastIndexOf("1");
  const hrp = s.slice(0, sep);
  const plugin = hrp.startsWith("age1") ? hrp.slice(4) : undefined;
  if (plugin !== undefined && !PLUGIN_NAME.test(plugin))
    return { ok: false, reason: `is not an age recipient: '${plugin}' is not a plugin name (letters, digits, '-', '_', '.', '+')`, hint: "paste the whole recipient line the key's tool printed" };
  let prefix: string;
  let bytes: Uint8Array;
  try {
    ({ prefix, bytes } = bech32.decodeToBytes(s, false));
  } catch {
    if (plugin !== undefined)
      return {
        ok: false,
        reason: `is not a valid age plugin recipient for ${pluginBinary(plugin)} (bad bech32 checksum or characters: a typo or a cut-off line?)`,
        hint: `paste it again from ${recipientSource(plugin)}`,
      };
    return { ok: false, reason: "is not a valid age recipient (bad bech32 checksum or characters)", hint: "use the line age-keygen -y (or hearth secrets keygen) prints" };
  }
  // Native in age 1.3+ (hybrid post-quantum, tag recipients), not plugins: no age-plugin-pq exists to install.
  if (prefix === "age1pq" || prefix === "age1tag" || prefix === "age1tagpq")
    return { ok: false, reason: `is a native age ${prefix}1… recipient (age 1.3+), which hearth does not encrypt to yet`, hint: "use an X25519 recipient (age-keygen) or a plugin recipient" };
  if (prefix === "age") {
    if (bytes.length !== 32) return { ok: false, reason: "is not an X25519 age recipient (age1… of 62 characters)", hint: "use the line age-keygen -y (or hearth secrets keygen) prints" };
    return { ok: true, recipient: { type: "x25519", text: s } };
  }
  return { ok: true, recipient: { type: "plugin", text: s, plugin: plugin! } };
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
