// `hearth validator import`: keystores checked, age-encrypted to the host that runs them, listed
// in its file with comments kept; nothing in clear on disk or in argv; refusals change nothing.
// (The same import, end to end with keystores Lodestar's own library made and a real Lodestar
// validator decrypting them, is in test/lodestar.test.ts.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ageDecrypt, hearth, readyExample, tempDir } from "./support/fleet.js";
import { keystore } from "./support/keystore.js";

async function fleetWithValidator() {
  const { dir, identity } = await readyExample("homestaking");
  // sigma gets a Lodestar validator client next to its beacon node.
  const file = join(dir, "hosts/ponkila-ephemeral-sigma.yaml");
  writeFileSync(file, readFileSync(file, "utf8") + "  # keys come from hearth validator import\n  validator:\n    client: lodestar\n    dataDir: /var/mnt/lighthouse/validator\n    feeRecipient: \"0x00000000219ab540356cBB839Cbe05303d7705Fa\"\n");
  const g = hearth(["secrets", "generate", "-f", dir]);
  assert.equal(g.code, 0, g.stderr);
  return { dir, identity, file };
}

const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));

test("import: checked, encrypted to the host and admins only, listed with comments kept; the flake lays them out for the client", async () => {
  const { dir, identity, file } = await fleetWithValidator();
  const ks = [keystore("correct horse battery", "pbkdf2"), keystore("correct horse battery", "scrypt")];
  const kdir = tempDir();
  const files = ks.map((k, i) => {
    const f = join(kdir, `keystore-m_12381_3600_${i}_0_0.json`);
    writeFileSync(f, k.json);
    return f;
  });
  const before = readFileSync(file, "utf8");
  const r = hearth(["validator", "import", ...files, "--host", "ponkila-ephemeral-sigma", "-f", dir], { input: "correct horse battery\n" });
  assert.equal(r.code, 0, r.stderr);
  for (const k of ks) assert.match(r.stdout, new RegExp(`imported ${k.pubkey}`));
  const after = readFileSync(file, "utf8");
  assert.ok(after.startsWith(before.trimEnd().split("\n").slice(0, -3).join("\n")), "the rest of the file is untouched");
  assert.match(after, /# keys come from hearth validator import/);
  for (const k of ks) assert.ok(after.includes(k.pubkey));

  // Encrypted: the keystore and the password, readable by the admin and sigma's host key only.
  for (const k of ks) {
    const ksFile = join(dir, `secrets/validators/${k.pubkey}/keystore.age`);
    const pwFile = join(dir, `secrets/validators/${k.pubkey}/password.age`);
    assert.equal((statSync(pwFile).mode & 0o777).toString(8), "600");
    assert.ok(!readFileSync(pwFile, "utf8").includes("correct horse"));
    assert.equal(ageDecrypt(identity, pwFile).stdout, "correct horse battery");
    assert.equal(JSON.parse(ageDecrypt(identity, ksFile).stdout).pubkey, k.pubkey.slice(2));
  }
  const sigmaKey = join(tempDir(), "k");
  writeFileSync(sigmaKey, ageDecrypt(identity, join(dir, "secrets/hosts/ponkila-ephemeral-sigma/ssh-host-key.age")).stdout, { mode: 0o600 });
  const betaKey = join(tempDir(), "k");
  writeFileSync(betaKey, ageDecrypt(identity, join(dir, "secrets/hosts/ponkila-ephemeral-beta/ssh-host-key.age")).stdout, { mode: 0o600 });
  const pw0 = join(dir, `secrets/validators/${ks[0]!.pubkey}/password.age`);
  assert.equal(ageDecrypt(sigmaKey, pw0).stdout, "correct horse battery");
  assert.notEqual(ageDecrypt(betaKey, pw0).status, 0, "another host cannot read it");

  // Generated: agenix puts each file where Lodestar reads it, owned by its user; nothing in clear.
  const g = hearth(["generate", dir]);
  assert.equal(g.code, 0, g.stderr);
  const nixText = readFileSync(join(dir, "flake/hosts/ponkila-ephemeral-sigma/default.nix"), "utf8");
  assert.match(nixText, new RegExp(`path = "/var/mnt/lighthouse/validator/keystores/${ks[0]!.pubkey}/voting-keystore.json";`));
  assert.match(nixText, new RegExp(`path = "/var/mnt/lighthouse/validator/secrets/${ks[0]!.pubkey}";`));
  assert.match(nixText, /owner = "lodestar-validator";/);
  for (const f of walk(join(dir, "flake"))) assert.ok(!readFileSync(f).includes("correct horse battery"), `${f} holds the password`);

  // Again: nothing changes.
  const again = hearth(["validator", "import", ...files, "--host", "ponkila-ephemeral-sigma", "-f", dir], { input: "correct horse battery\n" });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /unchanged/);
  assert.equal(readFileSync(file, "utf8"), after);
});

test("refusals change nothing: a wrong password, a corrupt keystore, a key running elsewhere, a host without a validator", async () => {
  const { dir, file } = await fleetWithValidator();
  const snapshot = () => [readFileSync(file, "utf8"), walk(join(dir, "secrets")).sort().join("\n")].join("\0");
  const start = snapshot();
  const kdir = tempDir();
  const good = keystore("pw-one");
  const goodFile = join(kdir, "good.json");
  writeFileSync(goodFile, good.json);

  const wrong = hearth(["validator", "import", goodFile, "--host", "ponkila-ephemeral-sigma", "-f", dir], { input: "not-it\n" });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /good\.json: the password does not open this keystore/);
  assert.doesNotMatch(wrong.stderr, /not-it|at .*\.ts:/, "no password and no stack trace in the message");

  // The pubkey field names another key than the one inside.
  const other = keystore("pw-one");
  const forged = JSON.parse(good.json);
  forged.pubkey = other.pubkey.slice(2);
  const forgedFile = join(kdir, "forged.json");
  writeFileSync(forgedFile, JSON.stringify(forged));
  const f = hearth(["validator", "import", goodFile, forgedFile, "--host", "ponkila-ephemeral-sigma", "-f", dir], { input: "pw-one\n" });
  assert.equal(f.code, 1);
  assert.match(f.stderr, /forged\.json: the key inside is .*not the .*corrupt/);

  const notKs = join(kdir, "deposit_data.json");
  writeFileSync(notKs, "[{}]");
  assert.match(hearth(["validator", "import", notKs, "--host", "ponkila-ephemeral-sigma", "-f", dir], { input: "pw-one\n" }).stderr, /deposit_data\.json is not an EIP-2335 keystore/);
  assert.match(hearth(["validator", "import", goodFile, "--host", "ponkila-ephemeral-beta", "-f", dir], { input: "pw-one\n" }).stderr, /runs no validator client; add services\.validator/);
  assert.equal(snapshot(), start, "nothing was written");

  // Imported on sigma, then offered to beta: that would be a slashing.
  assert.equal(hearth(["validator", "import", goodFile, "--host", "ponkila-ephemeral-sigma", "-f", dir], { input: "pw-one\n" }).code, 0);
  const betaFile = join(dir, "hosts/ponkila-ephemeral-beta.yaml");
  writeFileSync(betaFile, readFileSync(betaFile, "utf8").replace(/^services:\n/m, "services:\n  validator:\n    client: teku\n    dataDir: /var/mnt/lighthouse/teku-validator\n    feeRecipient: \"0x00000000219ab540356cBB839Cbe05303d7705Fa\"\n"));
  const twice = hearth(["validator", "import", goodFile, "--host", "ponkila-ephemeral-beta", "-f", dir], { input: "pw-one\n" });
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /already runs on ponkila-ephemeral-sigma.*slashed/);
});

test("a validator key no host lists any more is re-encrypted to the admins only, never pruned", async () => {
  const { dir, identity, file } = await fleetWithValidator();
  const k = keystore("pw");
  const f = join(tempDir(), "k.json");
  writeFileSync(f, k.json);
  assert.equal(hearth(["validator", "import", f, "--host", "ponkila-ephemeral-sigma", "-f", dir], { input: "pw\n" }).code, 0);
  writeFileSync(file, readFileSync(file, "utf8").replace(/\n\s+keys:\n\s+- "?0x[0-9a-f]+"?/, ""));
  assert.ok(!readFileSync(file, "utf8").includes(k.pubkey), "the key is no longer listed");
  const r = hearth(["secrets", "rekey", "-f", dir, "-i", identity, "--prune"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /kept secrets\/validators\/0x[0-9a-f]+\/keystore\.age: validator keys are never pruned/);
  const ks = join(dir, `secrets/validators/${k.pubkey}/keystore.age`);
  assert.equal(JSON.parse(ageDecrypt(identity, ks).stdout).pubkey, k.pubkey.slice(2), "still there, and the admin opens it");
  const sigmaKey = join(tempDir(), "k");
  writeFileSync(sigmaKey, ageDecrypt(identity, join(dir, "secrets/hosts/ponkila-ephemeral-sigma/ssh-host-key.age")).stdout, { mode: 0o600 });
  assert.notEqual(ageDecrypt(sigmaKey, ks).status, 0, "the host that no longer runs it cannot read it");
});
