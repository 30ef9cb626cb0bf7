// hearth's age layer against Debian's age CLI, both ways, for X25519 and ssh-ed25519 recipients;
// the generated keys against ssh-keygen and wg; and every bad input as a clear, named error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decrypt, encrypt, loadIdentityFile, SecretError } from "../src/node/secrets/age.js";
import { makeSecret } from "../src/node/secrets/generate.js";
import { newEd25519Key, readEd25519Key } from "../src/node/secrets/openssh.js";
import { tempDir } from "./support/fleet.js";

const dir = tempDir("hearth-age-");
const run = (cmd: string, args: string[], input?: string | Buffer) => execFileSync(cmd, args, { input, stdio: ["pipe", "pipe", "pipe"] });

function ageKey(name: string): { file: string; recipient: string } {
  const file = join(dir, name);
  run("age-keygen", ["-o", file]);
  return { file, recipient: run("age-keygen", ["-y", file]).toString().trim() };
}

function sshKey(name: string): { file: string; pub: string } {
  const file = join(dir, name);
  run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", file]);
  return { file, pub: readFileSync(`${file}.pub`, "utf8").trim() };
}

const payload = () => Buffer.from(`secret ${Math.random()} \u00e9\n\0binary\xff`, "latin1");

test("files hearth writes decrypt with `age -d` (X25519 and ssh-ed25519 recipients at once)", async () => {
  const a = ageKey("x25519.key");
  const s = sshKey("ssh_a");
  const plain = payload();
  const f = join(dir, "hearth.age");
  writeFileSync(f, await encrypt(plain, [a.recipient, s.pub]));
  assert.match(readFileSync(f, "utf8"), /^-----BEGIN AGE ENCRYPTED FILE-----/);
  assert.deepEqual(run("age", ["-d", "-i", a.file, f]), plain);
  assert.deepEqual(run("age", ["-d", "-i", s.file, f]), plain);
  // A key that is not a recipient cannot open it (the test could fail).
  const other = sshKey("ssh_other");
  assert.notEqual(spawnSync("age", ["-d", "-i", other.file, f]).status, 0);
});

test("files `age -e` writes (binary and armored) decrypt with hearth", async () => {
  const a = ageKey("x25519-b.key");
  const s = sshKey("ssh_b");
  for (const armor of [[], ["-a"]]) {
    const plain = payload();
    const f1 = join(dir, `cli-x-${armor.length}.age`);
    run("age", ["-e", ...armor, "-r", a.recipient, "-o", f1], plain);
    assert.deepEqual(Buffer.from(await decrypt(f1, readFileSync(f1), await loadIdentityFile(a.file))), plain);
    const f2 = join(dir, `cli-s-${armor.length}.age`);
    run("age", ["-e", ...armor, "-R", `${s.file}.pub`, "-o", f2], plain);
    assert.deepEqual(Buffer.from(await decrypt(f2, readFileSync(f2), await loadIdentityFile(s.file))), plain);
  }
});

test("generated keys are what the real tools expect", async () => {
  // SSH host key: OpenSSH reads it, its public half matches, and age accepts it as an identity.
  const host = await makeSecret("ssh-host-key", "beta");
  const keyFile = join(dir, "gen_host_key");
  writeFileSync(keyFile, host.value, { mode: 0o600 });
  assert.equal(run("ssh-keygen", ["-y", "-f", keyFile]).toString().trim().split(" ").slice(0, 2).join(" "), host.public);
  const f = join(dir, "to-host.age");
  writeFileSync(f, await encrypt(Buffer.from("jwt"), [host.public!]));
  assert.equal(run("age", ["-d", "-i", keyFile, f]).toString(), "jwt");
  // WireGuard: `wg pubkey` derives the same public key.
  const wg = await makeSecret("wireguard-key", "beta");
  assert.equal(run("wg", ["pubkey"], wg.value).toString().trim(), wg.public);
  // An age identity: age-keygen -y agrees on its recipient.
  const id = await makeSecret("age-identity", "x");
  writeFileSync(join(dir, "gen-id.txt"), id.value, { mode: 0o600 });
  assert.equal(run("age-keygen", ["-y", join(dir, "gen-id.txt")]).toString().trim(), id.public);
  // Random material has the documented shape.
  assert.match((await makeSecret("jwt-hex", "x")).value.toString(), /^[0-9a-f]{64}$/);
  assert.equal((await makeSecret("zfs-raw-key", "x")).value.length, 32);
  assert.match((await makeSecret("luks-recovery-key", "x")).value.toString(), /^([cbdefghijklnrtuv]{8}-){7}[cbdefghijklnrtuv]{8}$/);
  assert.notEqual((await makeSecret("k3s-token", "x")).value.toString(), (await makeSecret("k3s-token", "x")).value.toString());
});

test("bad input: truncated, corrupted, not age, wrong identity, bad recipient, bad identity file", async () => {
  const a = ageKey("bad.key");
  const good = await encrypt(Buffer.from("value"), [a.recipient]);
  const ids = await loadIdentityFile(a.file);
  const expectError = async (label: string, data: string | Buffer, re: RegExp, identities = ids) => {
    await assert.rejects(decrypt(`secrets/${label}.age`, Buffer.from(data), identities), (e: Error) => {
      assert.ok(e instanceof SecretError, `${label}: ${e.stack}`);
      assert.match(e.message, new RegExp(`^secrets/${label}\\.age: `));
      assert.match(e.message, re);
      return true;
    });
  };
  await expectError("truncated", good.slice(0, good.length - 60) + "\n-----END AGE ENCRYPTED FILE-----\n", /restore it from version control|damaged armor/);
  const bin = Buffer.from(run("age", ["-e", "-r", a.recipient], "value"));
  await expectError("short", bin.subarray(0, bin.length - 5), /corrupted or truncated/);
  const flipped = Buffer.from(bin);
  flipped[flipped.length - 3]! ^= 1;
  await expectError("flipped", flipped, /corrupted or truncated/);
  await expectError("plain", "just text\n", /not an age file/);
  await expectError("wrong-identity", good, /none of your identities .* can decrypt it/, await loadIdentityFile(ageKey("other.key").file));
  await expectError("no-identity", good, /no identity to decrypt with/, []);
  await assert.rejects(encrypt(Buffer.from("x"), ["age1notakey"]), /recipient 'age1notakey' is not a valid age recipient/);
  await assert.rejects(encrypt(Buffer.from("x"), ["ssh-rsa AAAAB3NzaC1yc2E= me"]), /hearth encrypts to ssh-ed25519 and age1… keys only/);
  writeFileSync(join(dir, "junk-identity"), "# comment\nnot a key\n");
  await assert.rejects(loadIdentityFile(join(dir, "junk-identity")), /junk-identity, line 2: not an age identity/);
  await assert.rejects(loadIdentityFile(join(dir, "missing-identity")), /missing-identity: does not exist/);
});

test("OpenSSH key files: round trip, and ssh-keygen agrees even when the public key starts with a zero byte", async () => {
  let zeroLead: ReturnType<typeof newEd25519Key> | undefined;
  for (let i = 0; i < 20000 && !zeroLead; i++) {
    const k = newEd25519Key(`k${i}`);
    const { pub } = readEd25519Key(k.privateFile.toString());
    assert.equal(`ssh-ed25519 ${Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from("ssh-ed25519"), Buffer.from([0, 0, 0, 32]), pub]).toString("base64")}`, k.publicLine);
    if (pub[0] === 0) zeroLead = k;
  }
  assert.ok(zeroLead, "a key with a leading zero byte turns up within 20000 tries");
  const f = join(dir, "zero_lead_key");
  writeFileSync(f, zeroLead.privateFile, { mode: 0o600 });
  assert.equal(run("ssh-keygen", ["-y", "-f", f]).toString().trim().split(" ").slice(0, 2).join(" "), zeroLead.publicLine);
  const enc = join(dir, "zero.age");
  writeFileSync(enc, await encrypt(Buffer.from("z"), [zeroLead.publicLine]));
  assert.equal(run("age", ["-d", "-i", f, enc]).toString(), "z");
  // A key ssh-keygen made reads back to the public key it printed.
  const s = sshKey("ssh_read");
  const { pub } = readEd25519Key(readFileSync(s.file, "utf8"));
  assert.equal(pub.toString("base64"), Buffer.from(s.pub.split(" ")[1]!, "base64").subarray(19).toString("base64"));
  run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "a passphrase", "-f", join(dir, "locked")]);
  assert.throws(() => readEd25519Key(readFileSync(join(dir, "locked"), "utf8")), /passphrase-protected/);
});
