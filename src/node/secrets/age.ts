// The age port of hearth's secrets: typage (age-encryption), the ssh-ed25519 recipient and the
// noble curves behind them load on first use (./age-impl.ts), so a command that never encrypts
// or decrypts (validate, generate, --help) does not parse them at start.
import type { Identity } from "age-encryption";
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import { UserError } from "../errors.js";

/** A failure of the secrets store (a UserError: names the file, says what to do). */
export class SecretError extends UserError {}

interface IdentityBase {
  /** For messages, and for the age CLI: the file it came from. */
  source: string;
  /**
   * The recipient it decrypts for (age1… or ssh-ed25519 …). For a plugin identity, the one its
   * file names in a comment (`#    Recipient: age1yubikey1…`, as age-plugin-yubikey writes it),
   * or "" when it names none: only the plugin could tell.
   */
  recipient: string;
}

/**
 * An admin's identity: one typage decrypts in process (X25519, ssh-ed25519), or an age plugin
 * identity (`AGE-PLUGIN-YUBIKEY-1…`) that only the plugin can use, which hearth hands to the
 * age CLI as `age -d -i <source>` (age speaks the identity protocol and asks for a PIN on the
 * terminal itself).
 */
export type LoadedIdentity = (IdentityBase & { identity: Identity | string; plugin?: undefined }) | (IdentityBase & { plugin: string; identity?: undefined });

const impl = () => import("./age-impl.js");

/** Encrypt to X25519, ssh-ed25519 and age plugin recipients (the latter through `age-plugin-NAME`); armored. */
export const encrypt = async (plaintext: Uint8Array, recipients: string[]): Promise<string> => (await impl()).encrypt(plaintext, recipients);
/** Decrypt an age file (armored or binary); errors name `file` and say what to try. */
export const decrypt = async (file: string, data: Uint8Array, identities: LoadedIdentity[]): Promise<Uint8Array> => (await impl()).decrypt(file, data, identities);
/** An admin's identity file: age identities (native or plugin) or an OpenSSH ed25519 private key. */
export const loadIdentityFile = async (path: string): Promise<LoadedIdentity[]> => (await impl()).loadIdentityFile(path);
export const newAgeIdentity = async (): Promise<{ text: string; recipient: string }> => (await impl()).newAgeIdentity();

/**
 * The executable `name` in a directory of PATH, or undefined. As C2SP age-plugin.md requires for
 * plugin binaries, relative PATH entries (and so the working directory) are never searched.
 */
export function findOnPath(name: string, path = process.env.PATH ?? ""): string | undefined {
  if (name.includes("/")) return undefined;
  for (const dir of path.split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      if (statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return undefined;
}
