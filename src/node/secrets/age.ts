// The age port of hearth's secrets: typage (age-encryption), the ssh-ed25519 recipient and the
// noble curves behind them load on first use (./age-impl.ts), so a command that never encrypts
// or decrypts (validate, generate, --help) does not parse them at start.
import type { Identity } from "age-encryption";
import { UserError } from "../errors.js";

/** A failure of the secrets store (a UserError: names the file, says what to do). */
export class SecretError extends UserError {}

export interface LoadedIdentity {
  /** For messages: the file it came from. */
  source: string;
  /** The recipient it decrypts for (age1… or ssh-ed25519 …). */
  recipient: string;
  identity: Identity | string;
}

const impl = () => import("./age-impl.js");

export const encrypt = async (plaintext: Uint8Array, recipients: string[]): Promise<string> => (await impl()).encrypt(plaintext, recipients);
/** Decrypt an age file (armored or binary); errors name `file` and say what to try. */
export const decrypt = async (file: string, data: Uint8Array, identities: LoadedIdentity[]): Promise<Uint8Array> => (await impl()).decrypt(file, data, identities);
/** An admin's identity file: age identities or an OpenSSH ed25519 private key. */
export const loadIdentityFile = async (path: string): Promise<LoadedIdentity[]> => (await impl()).loadIdentityFile(path);
export const newAgeIdentity = async (): Promise<{ text: string; recipient: string }> => (await impl()).newAgeIdentity();
