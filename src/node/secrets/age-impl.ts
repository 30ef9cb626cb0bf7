// age encryption for hearth (loaded on first use through ./age.js): typage (age-encryption) for the format and X25519 recipients, plus
// the ssh-ed25519 recipient type and age plugin recipients (./age-plugin.ts); plugin identities
// decrypt through the age CLI (./age-cli.ts). Files are ASCII-armored so they diff and merge as text.
import { Decrypter, Encrypter, armor, generateX25519Identity, identityToRecipient } from "age-encryption";
import { bech32 } from "@scure/base";
import { readFileSync } from "node:fs";
import { parseRecipient, pluginBinary, pluginInstallHint } from "../../core/secrets/recipients.js";
import { SshEd25519Identity, SshEd25519Recipient } from "./ssh-ed25519.js";
import { publicLine, readEd25519Key } from "./openssh.js";
import { SecretError, findOnPath, type LoadedIdentity } from "./age.js";
import { PluginRecipients, checkLabels, short } from "./age-plugin.js";
import { decryptWithAgeCli } from "./age-cli.js";

export async function encrypt(plaintext: Uint8Array, recipients: string[]): Promise<string> {
  if (recipients.length === 0) throw new SecretError("no recipients to encrypt to");
  const e = new Encrypter();
  const byPlugin = new Map<string, string[]>();
  let native = 0;
  for (const text of recipients) {
    const r = parseRecipient(text);
    if (!r.ok) throw new SecretError(`recipient '${text.slice(0, 40)}' ${r.reason}`);
    if (r.recipient.type === "plugin") {
      byPlugin.set(r.recipient.plugin, [...(byPlugin.get(r.recipient.plugin) ?? []), r.recipient.text]);
      continue;
    }
    e.addRecipient(r.recipient.type === "x25519" ? r.recipient.text : new SshEd25519Recipient(r.recipient.wire, r.recipient.pub));
    native++;
  }
  // Every plugin must be there before any is run: a missing one fails the file, not half of it.
  const plugins: PluginRecipients[] = [];
  for (const [name, rs] of byPlugin) {
    const binary = findOnPath(pluginBinary(name));
    if (!binary) throw new SecretError(`cannot encrypt to ${short(rs[0]!)}: it needs ${pluginBinary(name)}, which is not on PATH; ${pluginInstallHint(name)}`);
    plugins.push(new PluginRecipients(name, binary, rs));
  }
  for (const p of plugins) e.addRecipient(p);
  const sealed = await e.encrypt(plaintext);
  checkLabels(plugins, native);
  return armor.encode(sealed);
}


/** Decrypt an age file (armored or binary); errors name `file` and say what to try. */
export async function decrypt(file: string, data: Uint8Array, identities: LoadedIdentity[]): Promise<Uint8Array> {
  if (identities.length === 0) throw new SecretError(`${file}: no identity to decrypt with; pass --identity FILE or set HEARTH_IDENTITY`);
  let bytes = data;
  const text = new TextDecoder().decode(data.subarray(0, 64));
  if (text.trimStart().startsWith("-----BEGIN AGE ENCRYPTED FILE-----")) {
    try {
      bytes = armor.decode(new TextDecoder().decode(data));
    } catch (e) {
      throw new SecretError(`${file}: damaged armor (${(e as Error).message}); restore the file from version control`);
    }
  } else if (!text.startsWith("age-encryption.org/v1")) {
    throw new SecretError(`${file}: not an age file; restore it from version control`);
  }
  const sources = [...new Set(identities.map((i) => i.source))];
  const viaPlugin = identities.filter((i): i is Extract<LoadedIdentity, { plugin: string }> => i.plugin !== undefined);
  const inProcess = identities.flatMap((i) => (i.plugin === undefined ? [i.identity] : []));
  // Keys hearth holds first: a token is asked (PIN, touch) only when they cannot open the file.
  if (inProcess.length) {
    const d = new Decrypter();
    for (const i of inProcess) d.addIdentity(i);
    try {
      return await d.decrypt(bytes);
    } catch (e) {
      const msg = (e as Error).message;
      if (!/no identity matched/i.test(msg))
        throw new SecretError(`${file}: corrupted or truncated (${msg}); restore it from version control, or regenerate it with \`hearth secrets generate --rotate\``);
      if (!viaPlugin.length)
        throw new SecretError(
          `${file}: none of your identities (${sources.join(", ")}) can decrypt it; ` +
            `use an admin's identity, or have an admin who can run \`hearth secrets rekey\` after adding your key to fleet.yaml`,
        );
    }
  }
  return decryptWithAgeCli(file, bytes, viaPlugin, sources);
}

/**
 * Read an identity file: age identities (`AGE-SECRET-KEY-1…` lines, comments allowed, as
 * age-keygen writes) or an unencrypted OpenSSH ed25519 private key.
 */
export async function loadIdentityFile(path: string): Promise<LoadedIdentity[]> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new SecretError(`identity file ${path}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : (e as Error).message}`);
  }
  if (text.includes("-----BEGIN OPENSSH PRIVATE KEY-----")) return [sshIdentity(path, text)];
  const out: LoadedIdentity[] = [];
  // age-plugin-yubikey writes `#    Recipient: age1yubikey1…` above each identity; age-keygen `# public key: age1…`.
  let named = "";
  for (const [n, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    const comment = /^#.*\b(?:recipient|public key):\s*(age1\S+)/i.exec(line);
    if (comment) named = comment[1]!;
    if (line === "" || line.startsWith("#")) continue;
    if (line.startsWith("AGE-PLUGIN-")) {
      out.push({ source: path, recipient: named, plugin: pluginIdentityName(path, n + 1, line) });
      named = "";
      continue;
    }
    if (!line.startsWith("AGE-SECRET-KEY-1"))
      throw new SecretError(`identity file ${path}, line ${n + 1}: not an age identity (AGE-SECRET-KEY-1…, AGE-PLUGIN-…-1…) or OpenSSH private key`);
    try {
      out.push({ source: path, recipient: await identityToRecipient(line), identity: line });
    } catch {
      throw new SecretError(`identity file ${path}, line ${n + 1}: damaged age identity (bad checksum)`);
    }
  }
  if (out.length === 0) throw new SecretError(`identity file ${path} holds no identity`);
  return out;
}

/**
 * The plugin of an `AGE-PLUGIN-NAME-1…` identity (Bech32, HRP `AGE-PLUGIN-NAME-`, C2SP
 * age-plugin.md): `yubikey` for age-plugin-yubikey. Its data is the plugin's business.
 */
function pluginIdentityName(path: string, line: number, text: string): string {
  try {
    const { prefix } = bech32.decodeToBytes(text, false);
    const name = /^age-plugin-([a-z0-9._+-]+)-$/.exec(prefix)?.[1];
    if (name) return name;
  } catch {
    // reported below
  }
  throw new SecretError(`identity file ${path}, line ${line}: damaged age plugin identity (bad bech32 checksum or plugin name); copy it again from the plugin`);
}

/** An identity from an OpenSSH ed25519 private key (a host key, or an admin's ~/.ssh/id_ed25519). */
export function sshIdentity(source: string, text: string): LoadedIdentity {
  let key: ReturnType<typeof readEd25519Key>;
  try {
    key = readEd25519Key(text);
  } catch (e) {
    throw new SecretError(`${source}: cannot use this SSH private key: ${(e as Error).message}`);
  }
  const r = parseRecipient(publicLine(key.pub));
  if (!r.ok || r.recipient.type !== "ssh-ed25519") throw new SecretError(`${source}: its public key ${r.ok ? "is not ed25519" : r.reason}`);
  return { source, recipient: r.recipient.text, identity: new SshEd25519Identity(key.seed, r.recipient.wire, r.recipient.pub) };
}

/** A new admin identity: the file text (age-keygen's layout) and its recipient. */
export async function newAgeIdentity(): Promise<{ text: string; recipient: string }> {
  const identity = await generateX25519Identity();
  const recipient = await identityToRecipient(identity);
  return { text: `# created: ${new Date().toISOString()}\n# public key: ${recipient}\n${identity}\n`, recipient };
}
