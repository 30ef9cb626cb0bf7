// Decryption with an age plugin identity (`AGE-PLUGIN-YUBIKEY-1…`) through the age CLI: `age -d
// -i FILE` speaks the identity-v1 protocol with the plugin and asks for a PIN or touch on the
// terminal (/dev/tty) itself, which hearth could not do from a server or a pipe. The ciphertext
// goes in on age's stdin and the plaintext comes back on its stdout: neither touches the disk
// or argv (argv holds only `-d` and the identity files' paths).
import { spawn } from "node:child_process";
import { SecretError, findOnPath, type LoadedIdentity } from "./age.js";
import { pluginBinary, pluginInstallHint } from "../../core/secrets/recipients.js";

type PluginIdentity = Extract<LoadedIdentity, { plugin: string }>;

/** Everything `age -d` needs is installed, or an error saying what to install. */
function preflight(file: string, ids: PluginIdentity[]): string {
  const age = findOnPath("age");
  const names = [...new Set(ids.map((i) => i.plugin))];
  const who = names.map(pluginBinary).join(", ");
  if (!age)
    throw new SecretError(
      `${file}: your identity ${ids[0]!.source} is an age plugin identity (${who}); hearth decrypts with it through the age CLI, which is not on PATH; ` +
        "install age (Debian/Ubuntu: `apt install age`; others: https://age-encryption.org)",
    );
  for (const name of names)
    if (!findOnPath(pluginBinary(name)))
      throw new SecretError(`${file}: your identity ${ids.find((i) => i.plugin === name)!.source} needs ${pluginBinary(name)}, which is not on PATH; ${pluginInstallHint(name)}`);
  return age;
}

/**
 * Decrypt `binary` (a binary age file) with the plugin identities' files through `age -d`.
 * @param allSources every identity file tried, for the "none of your identities" message.
 */
export async function decryptWithAgeCli(file: string, binary: Uint8Array, ids: PluginIdentity[], allSources: string[]): Promise<Uint8Array> {
  const age = preflight(file, ids);
  const sources = [...new Set(ids.map((i) => i.source))];
  const env = { ...process.env };
  // AGEDEBUG=plugin would make age echo the plugin protocol, the unwrapped file key included, to stderr.
  delete env.AGEDEBUG;
  const child = spawn(age, ["-d", ...sources.flatMap((s) => ["-i", s])], { env, stdio: ["pipe", "pipe", "pipe"] });
  const chunks: Buffer[] = [];
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => chunks.push(c));
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d: string) => {
    if (stderr.length < 8192) stderr += d;
  });
  child.stdin.on("error", () => {});
  child.stdin.end(binary);
  const { code, error } = await new Promise<{ code: number | null; error?: Error }>((res) => {
    child.on("error", (e) => res({ code: null, error: e }));
    child.on("close", (c) => res({ code: c }));
  });
  const plain = Buffer.concat(chunks);
  for (const c of chunks) c.fill(0);
  if (code === 0 && !error) return plain;
  plain.fill(0);
  if (error) throw new SecretError(`${file}: could not run ${age}: ${error.message}`);
  // age's own lines: "age: error: …", "age: hint: …" (cmd/age/tui.go), without its report-a-bug line.
  const said = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.includes("filippo.io/age/report"));
  if (said.some((l) => /no identity matched any of the recipients/i.test(l)))
    throw new SecretError(
      `${file}: none of your identities (${allSources.join(", ")}) can decrypt it; ` +
        "use an admin's identity, or have an admin who can run `hearth secrets rekey` after adding your key to fleet.yaml",
    );
  throw new SecretError(`${file}: \`age -d -i ${sources.join(" -i ")}\` failed (status ${code}): ${said.slice(-4).join(" / ") || "no message"}`);
}
