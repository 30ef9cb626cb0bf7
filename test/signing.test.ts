// hearth's minisign formats against the minisign binary (Debian's 0.11; formats from its
// src/minisign.h and src/minisign.c at tag 0.11): minisign verifies what hearth signs with a
// key hearth made, and hearth verifies what minisign signs, with keys made by either.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKey, keyIdHex, parsePublicKey, parseSecretKey, publicKeyFile, publicKeyLine, secretKeyFile, sign, SignatureError, verify } from "../src/core/signing/minisign.js";

const haveMinisign = spawnSync("minisign", ["-v"]).status === 0;
const dir = () => mkdtempSync(join(tmpdir(), "hearth-minisign-"));

test("minisign -V verifies a file signed by hearth, and prints hearth's trusted comment", { skip: !haveMinisign && "minisign missing" }, () => {
  const d = dir();
  try {
    const k = generateKey();
    const data = Buffer.from("a configuration bundle\n".repeat(1000));
    writeFileSync(join(d, "bundle"), data);
    writeFileSync(join(d, "bundle.minisig"), sign(data, k, { trustedComment: "hearth-bundle host=node1 version=7" }));
    writeFileSync(join(d, "hearth.pub"), publicKeyFile(k));
    const out = execFileSync("minisign", ["-V", "-p", join(d, "hearth.pub"), "-m", join(d, "bundle")], { encoding: "utf8" });
    assert.match(out, /Signature and comment signature verified\nTrusted comment: hearth-bundle host=node1 version=7/);
    // -P with the base64 line too, and a changed byte fails there as well.
    execFileSync("minisign", ["-V", "-P", publicKeyLine(k), "-m", join(d, "bundle")]);
    data[100] = data[100]! ^ 1;
    writeFileSync(join(d, "bundle"), data);
    const bad = spawnSync("minisign", ["-V", "-p", join(d, "hearth.pub"), "-m", join(d, "bundle")], { encoding: "utf8" });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /Signature verification failed/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("minisign -S signs with a secret key hearth wrote, and hearth reads minisign's own keys and signatures", { skip: !haveMinisign && "minisign missing" }, () => {
  const d = dir();
  try {
    // hearth's secret key file in minisign's hands.
    const k = generateKey();
    writeFileSync(join(d, "hearth.key"), secretKeyFile(k), { mode: 0o600 });
    writeFileSync(join(d, "msg"), "hello");
    execFileSync("minisign", ["-S", "-s", join(d, "hearth.key"), "-m", join(d, "msg"), "-t", "from minisign"], { stdio: "pipe" });
    const v = verify(readFileSync(join(d, "msg")), readFileSync(join(d, "msg.minisig"), "utf8"), [k]);
    assert.equal(v.trustedComment, "from minisign");

    // minisign's key pair (unencrypted, -W) in hearth's hands.
    execFileSync("minisign", ["-G", "-W", "-p", join(d, "m.pub"), "-s", join(d, "m.key")], { stdio: "pipe" });
    const mpub = parsePublicKey(readFileSync(join(d, "m.pub"), "utf8"));
    const msec = parseSecretKey(readFileSync(join(d, "m.key"), "utf8"));
    assert.deepEqual(msec.key, mpub.key);
    assert.match(readFileSync(join(d, "m.pub"), "utf8"), new RegExp(`minisign public key ${keyIdHex(mpub.keyId)}`), "key id printed as minisign does");
    execFileSync("minisign", ["-S", "-s", join(d, "m.key"), "-m", join(d, "msg")], { stdio: "pipe" });
    const v2 = verify(readFileSync(join(d, "msg")), readFileSync(join(d, "msg.minisig"), "utf8"), [k, mpub]);
    assert.match(v2.trustedComment, /^timestamp:\d+\tfile:msg\thashed$/, "minisign's default trusted comment");
    assert.deepEqual(v2.key.keyId, mpub.keyId);
    // hearth signs with minisign's key; minisign verifies.
    writeFileSync(join(d, "msg.minisig"), sign(readFileSync(join(d, "msg")), msec, { trustedComment: "x" }));
    execFileSync("minisign", ["-V", "-p", join(d, "m.pub"), "-m", join(d, "msg")], { stdio: "pipe" });
    // A legacy (-l, non-prehashed) signature is refused as minisign -V refuses it without -l.
    execFileSync("minisign", ["-S", "-l", "-s", join(d, "m.key"), "-m", join(d, "msg")], { stdio: "pipe" });
    assert.throws(() => verify(readFileSync(join(d, "msg")), readFileSync(join(d, "msg.minisig"), "utf8"), [mpub]), (e: unknown) => e instanceof SignatureError && e.reason === "legacy");
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("hearth's public key file is byte for byte what minisign -R makes from the same secret key, leading zeros of the key id included", { skip: !haveMinisign && "minisign missing" }, () => {
  const d = dir();
  try {
    // Key ids whose printed form starts with a zero nibble and with zero bytes (minisign prints %PRIX64: no padding).
    for (const id of [[0x56, 0x2e, 0x84, 0x85, 0x16, 0xae, 0x0a, 0x03], [1, 0, 0, 0, 0, 0, 0, 0], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]]) {
      const k = generateKey(undefined, new Uint8Array(id));
      writeFileSync(join(d, "k.key"), secretKeyFile(k), { mode: 0o600 });
      rmSync(join(d, "k.pub"), { force: true });
      execFileSync("minisign", ["-R", "-s", join(d, "k.key"), "-p", join(d, "k.pub")], { stdio: "pipe" });
      assert.equal(publicKeyFile(k), readFileSync(join(d, "k.pub"), "utf8"), `key id ${id}`);
    }
    assert.equal(keyIdHex(new Uint8Array([0x56, 0x2e, 0x84, 0x85, 0x16, 0xae, 0x0a, 0x03])), "30AAE1685842E56");
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("every tampering is refused for its own reason", () => {
  const k = generateKey();
  const other = generateKey();
  const data = new TextEncoder().encode("payload");
  const sig = sign(data, k, { trustedComment: "host=a version=2" });
  assert.equal(verify(data, sig, [k]).trustedComment, "host=a version=2");
  const reason = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return e instanceof SignatureError ? e.reason : `other: ${(e as Error).message}`;
    }
    return "accepted";
  };
  assert.equal(reason(() => verify(new TextEncoder().encode("payloae"), sig, [k])), "bad-signature");
  assert.equal(reason(() => verify(data, sig, [other])), "unknown-key");
  // The same key id with another key (a forged id) fails on the signature, not the id.
  assert.equal(reason(() => verify(data, sig, [{ keyId: k.keyId, key: other.key }])), "bad-signature");
  assert.equal(reason(() => verify(data, sig.replace("version=2", "version=9"), [k])), "bad-comment-signature");
  assert.equal(reason(() => verify(data, sig.split("\n").slice(0, 2).join("\n"), [k])), "malformed");
  assert.equal(reason(() => verify(data, "untrusted comment: x\n!!!\ntrusted comment: y\n!!!\n", [k])), "malformed");
  assert.throws(() => sign(data, k, { trustedComment: "two\nlines" }), /one line/);
  assert.throws(() => parseSecretKey(publicKeyFile(k)), /not a minisign Ed25519 secret key/);
  assert.deepEqual(parseSecretKey(secretKeyFile(k)).secret, k.secret);
});
