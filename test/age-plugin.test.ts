// Admins on hardware tokens: age plugin recipients (`age1yubikey1…`) in fleet.yaml, encryption
// to them through the plugin protocol, and decryption with plugin identities through the age CLI.
//
// The protocol facts come from C2SP age-plugin.md (github.com/C2SP/C2SP at 5ba5ee83, "Wrapping
// with recipient-v1", "Unwrapping with identity-v1") and from the client Debian's age 1.1.1
// runs: FiloSottile/age v1.1.1 (c6dcfa1e), internal/plugin/client.go (Recipient.Wrap,
// Identity.Unwrap, ClientUI.handle) and internal/format/format.go (stanza encoding). No real
// plugin runs here, so the plugin is a stand-in written by the test (test/support/
// age-plugin-standin.ts): `age-plugin-hearthtest`, speaking both state machines and wrapping with
// X25519 under its own stanza type. The decisive check is that the REAL age CLI, running that
// plugin's identity-v1 side, opens what hearth encrypted through its recipient-v1 side.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { bech32 } from "@scure/base";
import { armor } from "age-encryption";
import { decrypt, encrypt, loadIdentityFile, newAgeIdentity } from "../src/node/secrets/age.js";
import { parseRecipient } from "../src/core/secrets/recipients.js";
import { ADMIN_KEY, hearth, tempDir, writeFleet, K3S_HOST } from "./support/fleet.js";
import { installStandin, standinKey } from "./support/age-plugin-standin.js";

const dir = tempDir("hearth-age-plugin-");
const { bin, log } = installStandin(dir, { hearthtest: "ok", hearthfail: "error", hearthpq: "labels", hearthask: "ask" });
// A plugin that dies at once, saying why on stderr, and one that answers garbage.
writeFileSync(join(bin, "age-plugin-hearthcrash"), "#!/bin/sh\necho 'no token found: plug in your key' >&2\nexit 3\n", { mode: 0o755 });
writeFileSync(join(bin, "age-plugin-hearthjunk"), "#!/bin/sh\necho 'hello, I am not a plugin'\n", { mode: 0o755 });
const AGE_DIR = dirname(execFileSync("sh", ["-c", "command -v age"], { encoding: "utf8" }).trim());
const PATH = `${bin}:${process.env.PATH}`;
process.env.PATH = PATH;

interface PluginRun {
  name: string;
  argv: string[];
  self: string[];
  parent: string[];
  cwd: string;
  extensionLabels?: boolean;
  recipients?: number;
  answers: Record<string, string>;
}
const runs = (): PluginRun[] => readFileSync(log, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
const clearRuns = () => writeFileSync(log, "");

function identityFile(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text, { mode: 0o600 });
  return f;
}
const ageKey = async () => {
  const id = await newAgeIdentity();
  return { recipient: id.recipient, file: identityFile(`x25519-${Math.random().toString(36).slice(2)}.txt`, id.text) };
};
const payload = () => Buffer.from(`token secret ${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`);
const ageDecrypt = (identity: string, input: string | Buffer, env: NodeJS.ProcessEnv = process.env) => spawnSync("age", ["-d", "-i", identity], { input, env });

test("the stand-in is a real age plugin: Debian's age 1.1.1 encrypts and decrypts through it", () => {
  const k = standinKey();
  const id = identityFile("standin-self.txt", k.fileText);
  const plain = payload();
  const sealed = execFileSync("age", ["-e", "-a", "-r", k.recipient], { input: plain, stdio: ["pipe", "pipe", "pipe"] });
  assert.match(Buffer.from(armor.decode(sealed.toString())).subarray(0, 200).toString("latin1"), /-> hearthtest /);
  const r = ageDecrypt(id, sealed);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.deepEqual(r.stdout, plain);
  // Another stand-in key cannot open it (the check could fail).
  assert.notEqual(ageDecrypt(identityFile("standin-other.txt", standinKey().fileText), sealed).status, 0);
});

test("hearth encrypts through the plugin protocol; the real age CLI decrypts with the plugin identity", async () => {
  const token = standinKey();
  const tokenFile = identityFile("token.txt", token.fileText);
  const other = await ageKey();
  const host = execFileSync("sh", ["-c", `ssh-keygen -q -t ed25519 -N '' -f '${join(dir, "host_key")}' && cat '${join(dir, "host_key")}.pub'`], { encoding: "utf8" }).trim();
  clearRuns();
  const plain = payload();
  const armored = await encrypt(plain, [token.recipient, other.recipient, host]);
  // One header, three kinds of stanza: the plugin's next to typage's X25519 and the ssh-ed25519 one.
  const header = Buffer.from(armor.decode(armored)).toString("latin1").split("\n---")[0]!;
  assert.match(header, /^-> hearthtest /m);
  assert.match(header, /^-> X25519 /m);
  assert.match(header, /^-> ssh-ed25519 /m);

  const r = ageDecrypt(tokenFile, armored);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.deepEqual(r.stdout, plain, "age -d -i <plugin identity> opens the file hearth wrote");
  // The other recipients still open it, with hearth and with age.
  assert.deepEqual(Buffer.from(await decrypt("f.age", Buffer.from(armored), await loadIdentityFile(other.file))), plain);
  assert.deepEqual(ageDecrypt(join(dir, "host_key"), armored).stdout, plain);

  const [wrap, unwrap] = runs();
  // hearth's side of recipient-v1: the plugin saw one recipient, the labels extension, and
  // hearth answered grease with `unsupported` and a msg with `ok`.
  assert.equal(wrap!.recipients, 1);
  assert.equal(wrap!.extensionLabels, true);
  assert.deepEqual(wrap!.answers, { grease: "unsupported", msg: "ok", stanza: "ok" });
  // No secret on a command line: the plugin's argv is the flag only, and its parent (this test
  // process, running hearth's encrypt) and age (decrypting) carry no value either.
  assert.deepEqual(wrap!.argv, ["--age-plugin=recipient-v1"]);
  assert.deepEqual(wrap!.self.slice(-1), ["--age-plugin=recipient-v1"]);
  assert.equal(wrap!.cwd, (await import("node:os")).tmpdir(), "started outside the working directory, as age does");
  assert.deepEqual(unwrap!.argv, ["--age-plugin=identity-v1"]);
  assert.deepEqual(unwrap!.parent.slice(1), ["-d", "-i", tokenFile]);
  for (const r of [wrap!, unwrap!]) assert.ok(![...r.self, ...r.parent].join(" ").includes(plain.toString()), "plaintext in argv");
});

test("hearth decrypts with a plugin identity through `age -d`; missing age or plugin are clear errors", async () => {
  const token = standinKey();
  const tokenFile = identityFile("token-dec.txt", token.fileText);
  const ids = await loadIdentityFile(tokenFile);
  assert.deepEqual(ids, [{ source: tokenFile, recipient: token.recipient, plugin: "hearthtest" }]);
  const plain = payload();
  const armored = Buffer.from(await encrypt(plain, [token.recipient]));
  clearRuns();
  assert.deepEqual(Buffer.from(await decrypt("secrets/x.age", armored, ids)), plain);
  const [unwrap] = runs();
  // It was age that ran the plugin, with nothing but the identity file's path on its command line.
  assert.equal(dirname(unwrap!.parent[0]!), AGE_DIR);
  assert.deepEqual(unwrap!.parent.slice(1), ["-d", "-i", tokenFile]);

  // A native identity beside it is tried first; the plugin is used only when it cannot open the file.
  const mine = await ageKey();
  clearRuns();
  const both = Buffer.from(await encrypt(plain, [token.recipient, mine.recipient]));
  assert.deepEqual(Buffer.from(await decrypt("f.age", both, [...ids, ...(await loadIdentityFile(mine.file))])), plain);
  assert.equal(runs().filter((r) => r.argv[0] === "--age-plugin=identity-v1").length, 0, "no token asked when a key on disk opens the file");

  // Not encrypted to the token: the same message as for any identity that does not match.
  await assert.rejects(decrypt("secrets/y.age", Buffer.from(await encrypt(plain, [mine.recipient])), ids), /secrets\/y\.age: none of your identities \(.*token-dec\.txt\) can decrypt it/);

  // No plugin, no age: say what to install.
  process.env.PATH = `${AGE_DIR}`;
  try {
    await assert.rejects(decrypt("secrets/x.age", armored, ids), (e: Error) => {
      assert.match(e.message, /secrets\/x\.age: your identity .*token-dec\.txt needs age-plugin-hearthtest, which is not on PATH; install age-plugin-hearthtest/);
      return true;
    });
    process.env.PATH = bin;
    await assert.rejects(decrypt("secrets/x.age", armored, ids), /age plugin identity \(age-plugin-hearthtest\); hearth decrypts with it through the age CLI, which is not on PATH; install age \(Debian\/Ubuntu: `apt install age`/);
  } finally {
    process.env.PATH = PATH;
  }
  // A damaged identity line is named.
  const bad = identityFile("token-bad.txt", token.fileText.replace(/AGE-PLUGIN-HEARTHTEST-1(.)/, (_m, c) => `AGE-PLUGIN-HEARTHTEST-1${c === "Q" ? "P" : "Q"}`));
  await assert.rejects(loadIdentityFile(bad), /token-bad\.txt, line 3: damaged age plugin identity/);
});

test("a missing plugin is a clear error: names the recipient, the binary and how to install it", async () => {
  const yubikey = bech32.encode("age1yubikey", bech32.toWords(new Uint8Array(33).fill(2)), false);
  assert.equal(parseRecipient(yubikey).ok, true);
  // age 1.3's native hybrid recipients share the shape but are no plugin: no "install age-plugin-pq".
  const pq = parseRecipient(bech32.encode("age1pq", bech32.toWords(new Uint8Array(40)), false));
  assert.ok(!pq.ok && /native age age1pq1… recipient/.test(pq.reason));
  const other = await ageKey();
  await assert.rejects(encrypt(payload(), [other.recipient, yubikey]), (e: Error) => {
    assert.match(e.message, /cannot encrypt to age1yubikey1.*: it needs age-plugin-yubikey, which is not on PATH/);
    assert.match(e.message, /`cargo install age-plugin-yubikey`, your distribution's age-plugin-yubikey package/);
    return true;
  });
});

test("the plugin's own errors, and broken plugins, are errors naming the plugin and recipient", async () => {
  const ok = await ageKey();
  const fail = standinKey("hearthfail");
  clearRuns();
  await assert.rejects(encrypt(payload(), [ok.recipient, fail.recipient]), (e: Error) => {
    assert.match(e.message, /^age-plugin-hearthfail \(for age1hearthfail1.*\) refused: recipient age1hearthfail1\S+: no token with this recipient is plugged in/);
    return true;
  });
  assert.deepEqual(runs()[0]!.answers, { error: "ok" }, "hearth acknowledges the error with `ok`, as the spec asks");

  await assert.rejects(encrypt(payload(), [standinKey("hearthcrash").recipient]), /age-plugin-hearthcrash .* stopped before finishing \(exited with status 3: no token found: plug in your key\)/);
  await assert.rejects(encrypt(payload(), [standinKey("hearthjunk").recipient]), /age-plugin-hearthjunk .* broke the age plugin protocol: malformed stanza line 'hello, I am not a plugin'/);

  // Interactive requests: encrypting to a public key needs no PIN; without a UI the answer is `fail`.
  clearRuns();
  const ask = standinKey("hearthask");
  const plain = payload();
  const sealed = await encrypt(plain, [ask.recipient]);
  assert.deepEqual(runs()[0]!.answers, { requestSecret: "fail", requestPublic: "fail", confirm: "fail", grease: "unsupported", msg: "ok", stanza: "ok" });
  // (the ask stand-in wraps like the others: its stanzas open with a hearthtest identity of the same key)
  assert.match(Buffer.from(armor.decode(sealed)).toString("latin1"), /-> hearthtest /);
});

test("labels (extension-labels): a labelled plugin cannot share a file with X25519 recipients", async () => {
  const pq = standinKey("hearthpq");
  const ok = await ageKey();
  await assert.rejects(encrypt(payload(), [ok.recipient, pq.recipient]), /age-plugin-hearthpq labels its stanzas \[postquantum\] and the X25519 \/ ssh-ed25519 recipients \[\]: age forbids mixing them/);
  // Alone, its stanzas are fine.
  assert.match(await encrypt(payload(), [pq.recipient]), /BEGIN AGE ENCRYPTED FILE/);
});

test("fleet.yaml: plugin recipients validate; a malformed one is a finding with a hint", () => {
  const host = K3S_HOST;
  const yubikey = bech32.encode("age1yubikey", bech32.toWords(new Uint8Array(33).fill(7)), false);
  const fleet = (keys: string[]) => `name: t\nadmins:\n  ops:\n    ageKeys: ${JSON.stringify(keys)}\n    sshKeys: ["${ADMIN_KEY}"]\n`;
  const good = hearth(["validate", writeFleet({ "fleet.yaml": fleet([yubikey, standinKey().recipient]), "hosts/a.yaml": host })]);
  assert.equal(good.code, 0, good.stderr + good.stdout);

  const typo = yubikey.slice(0, -3) + (yubikey.endsWith("q") ? "pqq" : "qqq");
  const r = hearth(["validate", writeFleet({ "fleet.yaml": fleet([typo, "AGE-PLUGIN-YUBIKEY-1QQQQQQ", "age1Yubi!key1qqq"]), "hosts/a.yaml": host })]);
  const out = r.stdout + r.stderr;
  assert.notEqual(r.code, 0);
  assert.match(out, /fleet.yaml:\d+:\d+: error: admins\.ops\.ageKeys\[0\]: is not a valid age plugin recipient for age-plugin-yubikey \(bad bech32 checksum.*\n\s+hint: paste it again from the Recipient line `age-plugin-yubikey --list` prints/);
  assert.match(out, /admins\.ops\.ageKeys\[1\]: is an age plugin identity \(age-plugin-yubikey\), not a recipient\n\s+hint: put the age1yubikey1… recipient there/);
  assert.match(out, /admins\.ops\.ageKeys\[2\]: is not an age recipient: 'Yubi!key' is not a plugin name/);
});

test("hearth secrets generate / show / rekey with an admin whose only key is on the (stand-in) token", async () => {
  const token = standinKey();
  const tokenFile = identityFile("alice-token.txt", token.fileText);
  const host = K3S_HOST;
  const fleetYaml = `name: t\nadmins:\n  alice:\n    ageKeys: ["${token.recipient}"]\n    sshKeys: []\n`;
  const env = { PATH };

  // Without the plugin: nothing is written, and the message says who, which key and what to install.
  const bare = writeFleet({ "fleet.yaml": fleetYaml, "hosts/a.yaml": host });
  const missing = hearth(["secrets", "generate", "-f", bare], { env: { PATH: AGE_DIR } });
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /fleet\.yaml: admins\.alice\.ageKeys\[0\]: admin alice's key age1hearthtest1\S* is an age plugin recipient \(a hardware token\): encrypting to it runs age-plugin-hearthtest, which is not on PATH, so nothing was written; install age-plugin-hearthtest/);
  assert.ok(!existsSync(join(bare, "secrets")), "nothing written");

  const d = writeFleet({ "fleet.yaml": fleetYaml, "hosts/a.yaml": host });
  const gen = hearth(["secrets", "generate", "-f", d], { env });
  assert.equal(gen.code, 0, gen.stderr);
  const manifest = () => JSON.parse(readFileSync(join(d, "secrets/manifest.json"), "utf8")) as { secrets: Record<string, { recipients: string[] }> };
  const keys = Object.keys(manifest().secrets);
  assert.ok(keys.includes("fleet/k3s-token"), keys.join(", "));
  for (const k of keys) assert.ok(manifest().secrets[k]!.recipients.includes(token.recipient));

  // show through the age CLI and the plugin; the same value the real age CLI reads.
  const shown = hearth(["secrets", "show", "k3s-token", "-f", d, "-i", tokenFile], { env });
  assert.equal(shown.code, 0, shown.stderr);
  const viaAge = ageDecrypt(tokenFile, readFileSync(join(d, "secrets/fleet/k3s-token.age")));
  assert.equal(viaAge.status, 0, viaAge.stderr.toString());
  assert.equal(shown.stdout.trim(), viaAge.stdout.toString().trim());
  assert.ok(shown.stdout.trim().length >= 16);

  // A second admin joins with a key on disk: alice rekeys with her token, each file decrypted once.
  const bob = await ageKey();
  writeFileSync(join(d, "fleet.yaml"), `${fleetYaml}  bob:\n    ageKeys: ["${bob.recipient}"]\n    sshKeys: []\n`);
  clearRuns();
  const rk = hearth(["secrets", "rekey", "-f", d, "-i", tokenFile], { env });
  assert.equal(rk.code, 0, rk.stderr);
  const unwraps = runs().filter((r) => r.argv[0] === "--age-plugin=identity-v1");
  const wraps = runs().filter((r) => r.argv[0] === "--age-plugin=recipient-v1");
  assert.equal(unwraps.length, keys.length, "one token use per file (not one to check and one to re-encrypt)");
  assert.equal(wraps.length, keys.length);
  for (const k of keys) assert.ok(manifest().secrets[k]!.recipients.includes(bob.recipient), k);
  // Bob reads with his key on disk (typage, no plugin); alice still through her token.
  const bobShow = hearth(["secrets", "show", "k3s-token", "-f", d, "-i", bob.file], { env });
  assert.equal(bobShow.stdout, shown.stdout);
  assert.deepEqual(ageDecrypt(tokenFile, readFileSync(join(d, "secrets/fleet/k3s-token.age"))).stdout.toString(), viaAge.stdout.toString());
  // deploy's bootstrap (nixos-anywhere's --extra-files) decrypts the host key with the token too.
  const xf = hearth(["secrets", "extra-files", "a", "-f", d, "-i", tokenFile], { env });
  assert.equal(xf.code, 0, xf.stderr);
  const out = /to (\S+) \(plaintext on tmpfs/.exec(xf.stdout)![1]!;
  try {
    const hostKey = execFileSync("sh", ["-c", `find '${out}' -name ssh_host_ed25519_key`], { encoding: "utf8" }).trim();
    assert.match(readFileSync(hostKey, "utf8"), /^-----BEGIN OPENSSH PRIVATE KEY-----/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  // Nothing hearth printed or spawned carried the value.
  const value = shown.stdout.trim();
  for (const r of runs()) assert.ok(![...r.self, ...r.parent].join(" ").includes(value), "value in a process's argv");
  assert.ok(!rk.stdout.includes(value) && !rk.stderr.includes(value));
});
