// Pull nodes end to end: the real agent code against a real `hearth serve` over HTTP, releases
// signed by the admin's key into the fleet, and a stand-in only for switching a NixOS system.
// Each refusal is its own case; an attacker who owns the server cannot make a node apply
// anything; rollouts stop at a failed canary and go on under the failure threshold.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { composeServer, type Composed } from "../src/server/serve.js";
import { listen, type Started } from "../src/server/app.js";
import { hearth, tempDir } from "./support/fleet.js";
import { fakeSystem, fleetOf, identityOf, simNode, type SimNode, type TestFleet } from "./support/pull-nodes.js";
import { generateKey, publicKeyLine, keyIdHex, type SecretKey } from "../src/core/signing/minisign.js";
import { signBundle, signKeyring } from "../src/core/pull/release.js";
import { rotateSigningKey, writeRelease } from "../src/node/pull/signing.js";
import { signRequest } from "../src/core/pull/agent-auth.js";
import { readEd25519Key } from "../src/node/secrets/openssh.js";
import type { Identity } from "../src/agent/agent.js";
import type { RolloutPolicy } from "../src/core/pull/rollout.js";

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});


async function serve(dir: string, policy?: RolloutPolicy): Promise<{ s: Composed; url: string }> {
  const s = composeServer({ fleetDir: dir, bind: "127.0.0.1", stateDir: tempDir("hearth-state-"), ...(policy ? { rolloutPolicy: policy } : {}) });
  s.pull.stop(); // the tests step rollouts themselves
  const started: Started = await listen(s.app, 0, "127.0.0.1");
  cleanups.push(async () => {
    await started.close();
    await s.close();
  });
  return { s, url: started.url };
}

/** Let `host` fetch `version` (what a rollout does when it offers it). */
const allow = (s: Composed, host: string, version: number) =>
  s.db.sql.prepare(`INSERT INTO pull_targets (host, version) VALUES (?, ?) ON CONFLICT (host) DO UPDATE SET version = excluded.version`).run(host, version);

const release = (f: TestFleet, key: SecretKey, host: string, v: number, days = 30) =>
  writeRelease(f.dir, key, { host, issued: new Date().toISOString(), expires: new Date(Date.now() + days * 86_400_000).toISOString(), system: fakeSystem(host, v), substituters: [], trustedPublicKeys: [], files: {} });

describe("a node refuses what it must not apply, and keeps running what it had", async () => {
  const f = await fleetOf(2);
  const admin = generateKey();
  const { s, url } = await serve(f.dir);
  const n1 = identityOf(f, "n01");

  /** A node that applied version 1 of n01, ready for the next check-in. */
  async function appliedOne(): Promise<SimNode> {
    const node = simNode(url, [publicKeyLine(admin)], n1);
    const first = await node.agent.checkIn();
    assert.equal(first.phase, "healthy", JSON.stringify(first));
    assert.equal(node.system.system, fakeSystem("n01", 1));
    return node;
  }
  /** Serve `body`/`signature` as n01's version 2 and check in once. */
  async function offerTwo(node: SimNode, body: string, signature: string) {
    const d = join(f.dir, "releases/n01");
    writeFileSync(join(d, "2.json.minisig"), signature);
    writeFileSync(join(d, "2.json"), body);
    allow(s, "n01", 2);
    const r = await node.agent.checkIn();
    rmSync(join(d, "2.json"));
    rmSync(join(d, "2.json.minisig"));
    allow(s, "n01", 1);
    return r;
  }
  release(f, admin, "n01", 1);
  allow(s, "n01", 1);
  const expires = () => new Date(Date.now() + 86_400_000).toISOString();
  const base = () => ({ host: "n01", version: 2, issued: new Date().toISOString(), expires: expires(), system: fakeSystem("n01", 2), substituters: [], trustedPublicKeys: [], files: {} });

  test("one byte changed", async () => {
    const node = await appliedOne();
    const good = signBundle(base(), admin);
    const r = await offerTwo(node, good.body.replace(fakeSystem("n01", 2), fakeSystem("n01", 3)), good.signature);
    assert.equal(r.phase, "refused");
    assert.equal(r.refusal, "bad-signature");
    assert.equal(node.system.system, fakeSystem("n01", 1), "still running version 1");
    assert.deepEqual(node.system.applied, [fakeSystem("n01", 1)], "nothing else was even tried");
    const seen = s.pull.nodes().find((n) => n.host === "n01")!;
    assert.equal(seen.phase, "refused", "the server shows the refusal");
    assert.equal(seen.booted?.system, fakeSystem("n01", 1), "with what it runs");
    assert.ok(seen.log?.includes("boot: stand-in: kernel: booted"), "and this boot's log");
    assert.match(seen.detail ?? "", /does not match/);
  });

  test("signed by another key", async () => {
    const node = await appliedOne();
    const forged = signBundle(base(), generateKey());
    const r = await offerTwo(node, forged.body, forged.signature);
    assert.equal(r.refusal, "unknown-key");
    assert.equal(node.system.system, fakeSystem("n01", 1));
  });

  test("addressed to another host", async () => {
    const node = await appliedOne();
    const other = signBundle({ ...base(), host: "n02", system: fakeSystem("n02", 2) }, admin);
    const r = await offerTwo(node, other.body, other.signature);
    assert.equal(r.refusal, "wrong-host");
    assert.equal(node.system.system, fakeSystem("n01", 1));
  });

  test("older than the applied one (a replay)", async () => {
    const node = await appliedOne();
    // Apply version 3, then be offered a genuine, unexpired version 2.
    const three = signBundle({ ...base(), version: 3, system: fakeSystem("n01", 3) }, admin);
    assert.equal((await offerTwo(node, three.body, three.signature)).phase, "healthy");
    assert.equal(node.system.system, fakeSystem("n01", 3));
    const two = signBundle(base(), admin);
    const r = await offerTwo(node, two.body, two.signature);
    assert.equal(r.refusal, "not-newer");
    assert.equal(node.system.system, fakeSystem("n01", 3));
  });

  test("expired", async () => {
    const node = await appliedOne();
    const old = signBundle({ ...base(), expires: new Date(Date.now() - 1000).toISOString() }, admin);
    const r = await offerTwo(node, old.body, old.signature);
    assert.equal(r.refusal, "expired");
    assert.equal(node.system.system, fakeSystem("n01", 1));
  });

  test("a system that failed to activate is not retried until a newer one is published", async () => {
    const node = simNode(url, [publicKeyLine(admin)], n1, new Set([fakeSystem("n01", 2)]));
    assert.equal((await node.agent.checkIn()).phase, "healthy");
    const two = signBundle(base(), admin);
    assert.equal((await offerTwo(node, two.body, two.signature)).phase, "rolled-back");
    const again = signBundle({ ...base(), version: 3 }, admin); // newer version, same failed system
    const r = await offerTwo(node, again.body, again.signature);
    assert.equal(r.refusal, "failed-before");
    assert.equal(r.phase, "rolled-back", "still rolled back from that system, not a new alarm");
    assert.deepEqual(node.system.applied, [fakeSystem("n01", 1), fakeSystem("n01", 2)], "the failed system was tried once");
    const fixed = signBundle({ ...base(), version: 4, system: fakeSystem("n01", 4) }, admin);
    assert.equal((await offerTwo(node, fixed.body, fixed.signature)).phase, "healthy");
  });
});

test("with the server's state and files replaced by an attacker (no admin key), no node applies anything new", async () => {
  const f = await fleetOf(2);
  const admin = generateKey();
  const { s, url } = await serve(f.dir);
  release(f, admin, "n01", 1);
  release(f, admin, "n02", 1);
  allow(s, "n01", 1);
  allow(s, "n02", 1);
  const nodes = ["n01", "n02"].map((h) => ({ h, node: simNode(url, [publicKeyLine(admin)], identityOf(f, h)) }));
  for (const { node } of nodes) assert.equal((await node.agent.checkIn()).phase, "healthy");

  // The attacker: own signing key, their public key in fleet.yaml, a keyring trusting it signed by
  // it, releases for every host signed by it, the genuine v1 of n02 offered to n01, targets
  // raised in the database.
  const evil = generateKey();
  writeFileSync(join(f.dir, "fleet.yaml"), readFileSync(join(f.dir, "fleet.yaml"), "utf8") + `# signing:\n#   publicKeys: ["${publicKeyLine(evil)}"]\n`);
  const keyring = signKeyring({ version: 5, issued: new Date().toISOString(), keys: [publicKeyLine(evil)], revoked: [keyIdHex(admin.keyId)] }, evil);
  writeFileSync(join(f.dir, "releases/keyring.json.minisig"), keyring.signature);
  writeFileSync(join(f.dir, "releases/keyring.json"), keyring.body);
  for (const h of ["n01", "n02"]) {
    const b = signBundle({ host: h, version: 99, issued: new Date().toISOString(), expires: new Date(Date.now() + 86_400_000).toISOString(), system: fakeSystem(`${h}-evil`, 99), substituters: ["http://evil.example"], trustedPublicKeys: [], files: {} }, evil);
    writeFileSync(join(f.dir, `releases/${h}/99.json.minisig`), b.signature);
    writeFileSync(join(f.dir, `releases/${h}/99.json`), b.body);
    allow(s, h, 99);
  }
  for (const { h, node } of nodes) {
    const r = await node.agent.checkIn();
    assert.equal(r.phase, "refused", `${h}: ${JSON.stringify(r)}`);
    assert.equal(r.refusal, "unknown-key");
    assert.equal(node.system.system, fakeSystem(h, 1), `${h} still runs the admin's version 1`);
    assert.equal(node.state.s?.trust.keyringVersion, 0, `${h} took no keyring from the attacker`);
  }
  // A genuine release for another host, served to n01, and a genuine old one: refused too.
  writeFileSync(join(f.dir, "releases/n01/98.json.minisig"), readFileSync(join(f.dir, "releases/n02/1.json.minisig")));
  writeFileSync(join(f.dir, "releases/n01/98.json"), readFileSync(join(f.dir, "releases/n02/1.json")));
  allow(s, "n01", 98);
  assert.equal((await nodes[0]!.node.agent.checkIn()).refusal, "wrong-host");
  assert.deepEqual(nodes[0]!.node.system.applied, [fakeSystem("n01", 1)], "n01 applied only the admin's release for n01");
});

test("a rotated key is trusted through a keyring the old key signed; a revoked key is not", async () => {
  const f = await fleetOf(1);
  const { s, url } = await serve(f.dir);
  // The real signing-key files, encrypted to the test admin.
  const recipient = readFileSync(f.identity, "utf8").match(/^# public key: (age1\S+)/m)?.[1] ?? readFileSync(f.identity, "utf8").match(/age1[0-9a-z]+/)?.[0];
  const first = generateKey();
  const node = simNode(url, [publicKeyLine(first)], identityOf(f, "n01"));
  release(f, first, "n01", 1);
  allow(s, "n01", 1);
  assert.equal((await node.agent.checkIn()).phase, "healthy");

  const r = await rotateSigningKey(f.dir, first, [publicKeyLine(first)], [recipient!], [keyIdHex(first.keyId)]);
  const { loadSigningKey } = await import("../src/node/pull/signing.js");
  const { loadIdentityFile } = await import("../src/node/secrets/age.js");
  const second = await loadSigningKey(f.dir, await loadIdentityFile(f.identity));
  assert.equal(keyIdHex(second.keyId), r.keyId);
  release(f, second, "n01", 2);
  allow(s, "n01", 2);
  const c = await node.agent.checkIn();
  assert.equal(c.phase, "healthy", JSON.stringify(c));
  assert.equal(node.state.s?.trust.keyringVersion, 1);
  // The first key was revoked in that keyring: its signature no longer counts, even though the image carries it.
  release(f, first, "n01", 3);
  allow(s, "n01", 3);
  const refused = await node.agent.checkIn();
  assert.equal(refused.refusal, "revoked-key", JSON.stringify(refused));
  assert.equal(node.system.system, fakeSystem("n01", 2));
});

test("agents are known by their host keys: another key, a replayed or stale request is refused", async () => {
  const f = await fleetOf(2);
  const { url } = await serve(f.dir);
  const id1 = identityOf(f, "n01");
  const id2 = identityOf(f, "n02");
  const get = async (h: Record<string, string>) => (await fetch(`${url}/api/agent/v1/release`, { headers: h })).status;
  const sign = (id: Identity, host: string, extra: { now?: number; nonce?: string } = {}) =>
    signRequest({ method: "GET", path: "/api/agent/v1/release", host, publicKey: id.sshPublicKey, seed: readEd25519Key(id.sshPrivateKey).seed, body: new Uint8Array(), ...extra }) as unknown as Record<string, string>;
  assert.equal(await get(sign(id1, "n01")), 204, "n01 with its own key: nothing to fetch yet");
  assert.equal(await get(sign(id2, "n01")), 401, "n02's key claiming to be n01");
  assert.equal(await get({}), 401, "no signature");
  const once = sign(id1, "n01", { nonce: "00112233445566778899aabbccddeeff" });
  assert.equal(await get(once), 204);
  assert.equal(await get(once), 401, "the same request again");
  assert.equal(await get(sign(id1, "n01", { now: Date.now() - 3_600_000 })), 401, "an hour old");
  assert.equal(await get(sign(id1, "ghost")), 401, "a host the fleet does not have");
  const r = await fetch(`${url}/api/agent/v1/release`, { headers: sign(id2, "n01") });
  assert.match((await r.json()).message, /does not match the host's SSH host key/);
});

test("a rollout over 20 nodes stops at a failed canary; one with 1 failure in 5 under a threshold of 2 goes on", async () => {
  const f = await fleetOf(20);
  const admin = generateKey();
  const policy: RolloutPolicy = { canary: 1, batchSize: 5, pauseAtFailures: 2, healthTimeoutMs: 60_000 };
  const { s, url } = await serve(f.dir, policy);
  // Version 1 fails on the canary (n01); version 2 fails on n03 only (in the first batch).
  const bad = new Set([fakeSystem("n01", 1), fakeSystem("n03", 2)]);
  const nodes = f.hosts.map((h) => ({ h, node: simNode(url, [publicKeyLine(admin)], identityOf(f, h), bad) }));
  const round = async () => {
    for (const { node } of nodes) await node.agent.checkIn();
  };

  for (const h of f.hosts) release(f, admin, h, 1);
  const r1 = s.pull.startRollout();
  assert.deepEqual(r1.waves.map((w) => w.length), [1, 5, 5, 5, 4], "canary, then batches of 5");
  for (let i = 0; i < 4; i++) await round();
  const after1 = s.pull.rollouts()[0]!;
  assert.equal(after1.status, "paused");
  assert.match(after1.pausedBecause ?? "", /canary/);
  assert.equal(nodes.filter(({ node }) => node.system.applied.length > 0).length, 1, "only the canary was offered version 1");
  assert.equal(nodes[0]!.node.system.system, undefined, "the canary rolled back");
  assert.equal(s.pull.nodes().find((n) => n.host === "n01")?.phase, "rolled-back");
  s.pull.control(after1.id, "abort");

  for (const h of f.hosts) release(f, admin, h, 2);
  const r2 = s.pull.startRollout();
  for (let i = 0; i < 8 && s.pull.rollouts()[0]!.status === "running"; i++) await round();
  const after2 = s.pull.rollouts()[0]!;
  assert.equal(after2.id, r2.id);
  assert.equal(after2.status, "done", after2.pausedBecause);
  assert.equal(after2.counts.healthy, 19);
  assert.equal(after2.counts["rolled-back"], 1);
  assert.equal(after2.hosts.n03!.phase, "rolled-back");
  for (const { h, node } of nodes) assert.equal(node.system.system, h === "n03" ? undefined : fakeSystem(h, 2), h);
});

test("two batches failing at the threshold pause the rollout until an admin resumes it", async () => {
  const f = await fleetOf(8);
  const admin = generateKey();
  const policy: RolloutPolicy = { canary: 1, batchSize: 3, pauseAtFailures: 2, healthTimeoutMs: 60_000 };
  const { s, url } = await serve(f.dir, policy);
  const bad = new Set([fakeSystem("n02", 1), fakeSystem("n03", 1)]);
  const nodes = f.hosts.map((h) => simNode(url, [publicKeyLine(admin)], identityOf(f, h), bad));
  for (const h of f.hosts) release(f, admin, h, 1);
  s.pull.startRollout();
  for (let i = 0; i < 5; i++) for (const n of nodes) await n.agent.checkIn();
  const paused = s.pull.rollouts()[0]!;
  assert.equal(paused.status, "paused");
  assert.match(paused.pausedBecause ?? "", /2 of 3 host\(s\) in wave 2 failed/);
  assert.equal(nodes.slice(4).filter((n) => n.system.applied.length).length, 0, "later waves were not offered");
  s.pull.control(paused.id, "resume");
  for (let i = 0; i < 5; i++) for (const n of nodes) await n.agent.checkIn();
  assert.equal(s.pull.rollouts()[0]!.status, "done");
  assert.equal(nodes.filter((n) => n.system.system === undefined).length, 2);
});

test("a node that stays silent after the offer counts as failed once the health timeout passes", async () => {
  const f = await fleetOf(3);
  const admin = generateKey();
  let now = Date.now();
  const s = composeServer({ fleetDir: f.dir, bind: "127.0.0.1", stateDir: tempDir("hearth-state-"), rolloutPolicy: { canary: 1, batchSize: 5, pauseAtFailures: 1, healthTimeoutMs: 1000 } });
  s.pull.stop();
  cleanups.push(() => s.close());
  for (const h of f.hosts) release(f, admin, h, 1);
  const { PullService } = await import("../src/server/pull.js");
  const pull = new PullService({ fleetDir: f.dir, db: s.db, now: () => now, policy: { canary: 1, batchSize: 5, pauseAtFailures: 1, healthTimeoutMs: 1000 }, autoRollout: false });
  const r = pull.startRollout();
  assert.deepEqual(Object.entries(r.hosts).filter(([, h]) => h.phase === "offered").map(([n]) => n), ["n01"]);
  now += 1500;
  pull.tick();
  const t = pull.rollouts()[0]!;
  assert.equal(t.hosts.n01!.phase, "failed");
  assert.match(t.hosts.n01!.detail ?? "", /no healthy report within 1 s/);
  assert.equal(t.status, "paused");
});

test("an agent with no identity drive is listed as a pending node with its hardware", async () => {
  const f = await fleetOf(1);
  const { s, url } = await serve(f.dir);
  const node = simNode(url, [publicKeyLine(generateKey())], undefined);
  const r = await node.agent.checkIn();
  assert.equal(r.phase, "pending", JSON.stringify(r));
  const again = await node.agent.checkIn();
  assert.equal(again.phase, "pending");
  const pending = s.pull.nodes().filter((n) => n.phase === "pending");
  assert.equal(pending.length, 1, "one node, known by the key it made at first check-in");
  assert.match(pending[0]!.id, /^pending:SHA256:/);
  assert.equal((pending[0]!.inventory as { product: string }).product, "stand-in machine");
  assert.equal(pending[0]!.host, undefined);
});

// Keep a directory for fixtures some tests create and remove.
mkdirSync(tempDir(), { recursive: true });

test("the CLI signs: signing init, publish (minisign -V verifies it), and a node applies exactly what was published", async () => {
  const f = await fleetOf(2);
  const init = hearth(["signing", "init", "-f", f.dir]);
  assert.equal(init.code, 0, init.stderr);
  const pubLine = /public key .*: (RW\S+)/.exec(init.stdout)?.[1];
  assert.ok(pubLine, init.stdout);
  assert.match(readFileSync(join(f.dir, "fleet.yaml"), "utf8"), new RegExp(`publicKeys:\\n\\s+- ${pubLine!.replace(/[+/]/g, "\\$&")}`), "listed in fleet.yaml for the images");
  assert.match(readFileSync(join(f.dir, "signing/key.age"), "utf8"), /^-----BEGIN AGE ENCRYPTED FILE-----/, "the secret key only age-encrypted");
  assert.equal(hearth(["signing", "init", "-f", f.dir]).code, 1, "never replaced silently");
  assert.equal(hearth(["validate", f.dir]).code, 0, "the fleet stays valid");

  const dry = hearth(["publish", "n01", "--dry-run", "-f", f.dir, "-i", f.identity]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /would run: nix build path:.*#nixosConfigurations\.n01\.config\.system\.build\.toplevel/);
  assert.ok(!existsSync(join(f.dir, "releases")), "a dry run signs nothing");

  const sys = fakeSystem("n01", 1);
  const pub = hearth(["publish", "n01", "--system", `n01=${sys}`, "--substituter", "http://10.0.0.1:5000", "--expires", "2d", "-f", f.dir, "-i", f.identity]);
  assert.equal(pub.code, 0, pub.stderr);
  assert.match(pub.stdout, /signed releases\/n01\/1\.json \(version 1/);
  // minisign itself verifies the release with the fleet's public key file, and shows the signed words.
  const v = spawnSync("minisign", ["-V", "-p", join(f.dir, "signing/hearth.pub"), "-m", join(f.dir, "releases/n01/1.json")], { encoding: "utf8" });
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, /Trusted comment: hearth-bundle host=n01 version=1 expires=\S+ sha256=[0-9a-f]{64}/);
  const body = JSON.parse(readFileSync(join(f.dir, "releases/n01/1.json"), "utf8"));
  assert.equal(body.system, sys);
  assert.deepEqual(body.substituters, ["http://10.0.0.1:5000"]);
  assert.ok(Date.parse(body.expires) - Date.now() > 1.9 * 86_400_000 && Date.parse(body.expires) - Date.now() < 2.1 * 86_400_000);

  // The server rolls it out by itself (no canary failure, one host); the node applies it.
  const { s, url } = await serve(f.dir, { canary: 1, batchSize: 5, pauseAtFailures: 2, healthTimeoutMs: 60_000 });
  assert.deepEqual(s.pull.unreleased(), { n01: 1 });
  s.pull.tick();
  const node = simNode(url, [pubLine!], identityOf(f, "n01"));
  assert.equal((await node.agent.checkIn()).phase, "healthy");
  assert.equal(node.system.system, sys);
  assert.equal(s.pull.rollouts()[0]!.status, "done");

  // Rotation through the CLI: the node learns the new key from the keyring and applies a release it signed.
  const rot = hearth(["signing", "rotate", "-f", f.dir, "-i", f.identity]);
  assert.equal(rot.code, 0, rot.stderr);
  assert.equal(hearth(["publish", "n01", "--system", `n01=${fakeSystem("n01", 2)}`, "-f", f.dir, "-i", f.identity]).code, 0);
  s.pull.tick();
  assert.equal((await node.agent.checkIn()).phase, "healthy");
  assert.equal(node.system.system, fakeSystem("n01", 2));
  assert.equal(node.state.s?.trust.keyringVersion, 1);
  assert.equal((readFileSync(join(f.dir, "fleet.yaml"), "utf8").match(/- RW/g) ?? []).length, 2, "both keys listed for the next image");
});

test("a pending node is adopted remotely: its identity arrives encrypted to its own key, signed; a forged adoption is refused", async () => {
  const f = await fleetOf(2);
  assert.equal(hearth(["signing", "init", "-f", f.dir]).code, 0);
  const pubLine = readFileSync(join(f.dir, "signing/hearth.pub"), "utf8").split("\n")[1]!;
  const { s, url } = await serve(f.dir);
  const node = simNode(url, [pubLine], undefined);
  assert.equal((await node.agent.checkIn()).phase, "pending");
  const pending = s.pull.nodes().find((n) => n.phase === "pending")!;

  // A forged adoption (another key signed it) sits where the server would hand it over: refused.
  const { signAdoption, keyHash } = await import("../src/core/pull/release.js");
  const forged = signAdoption({ host: "n02", key: pending.key, issued: new Date().toISOString(), expires: new Date(Date.now() + 86_400_000).toISOString(), identity: "not even encrypted" }, generateKey());
  mkdirSync(join(f.dir, "releases/adoptions"), { recursive: true });
  writeFileSync(join(f.dir, `releases/adoptions/${keyHash(pending.key)}.json.minisig`), forged.signature);
  writeFileSync(join(f.dir, `releases/adoptions/${keyHash(pending.key)}.json`), forged.body);
  const refused = await node.agent.checkIn();
  assert.equal(refused.phase, "pending");
  assert.equal(refused.refusal, "unknown-key");
  assert.equal(node.state.s?.adopted, undefined);

  // The admin adopts it with the CLI (signing key and host key decrypted on the admin's side only).
  const r = hearth(["adopt", "n01", "--key", pending.key, "-f", f.dir, "-i", f.identity]);
  assert.equal(r.code, 0, r.stderr);
  const file = readFileSync(join(f.dir, `releases/adoptions/${keyHash(pending.key)}.json`), "utf8");
  const hostKey = identityOf(f, "n01").sshPrivateKey;
  assert.ok(!file.includes(hostKey.split("\n")[4]!), "the host key is not in the file in clear");
  assert.match(JSON.parse(file).identity, /^-----BEGIN AGE ENCRYPTED FILE-----/);
  assert.equal(hearth(["publish", "n01", "--system", `n01=${fakeSystem("n01", 1)}`, "-f", f.dir, "-i", f.identity]).code, 0);
  s.pull.tick();
  const adopted = await node.agent.checkIn();
  assert.equal(adopted.phase, "healthy", JSON.stringify(adopted));
  assert.equal(adopted.host, "n01");
  assert.equal(node.system.system, fakeSystem("n01", 1));
  assert.equal((node.state.s as { adopted?: { sshPrivateKey: string } } | undefined)?.adopted?.sshPrivateKey, hostKey, "the node holds n01's own host key");
  const nodes = s.pull.nodes();
  assert.deepEqual(nodes.map((n) => n.id), ["n01"], "the pending entry is gone, the host is listed");
  // Another pending node cannot use that adoption: it is addressed to the first node's key.
  const other = simNode(url, [pubLine], undefined);
  await other.agent.checkIn();
  const otherKey = s.pull.nodes().find((n) => n.phase === "pending")!.key;
  writeFileSync(join(f.dir, `releases/adoptions/${keyHash(otherKey)}.json.minisig`), readFileSync(join(f.dir, `releases/adoptions/${keyHash(pending.key)}.json.minisig`)));
  writeFileSync(join(f.dir, `releases/adoptions/${keyHash(otherKey)}.json`), file);
  const stolen = await other.agent.checkIn();
  assert.equal(stolen.refusal, "wrong-host");
  assert.equal(other.state.s?.adopted, undefined);
});

test("a node whose healthy report was lost is counted healthy when it next reports it is up to date at that version", async () => {
  const f = await fleetOf(2);
  const admin = generateKey();
  const { s, url } = await serve(f.dir, { canary: 1, batchSize: 5, pauseAtFailures: 1, healthTimeoutMs: 3_600_000 });
  const { FetchHttp } = await import("../src/agent/ports.js");
  const real = new FetchHttp(url);
  let dropHealthy = true;
  // The network loses exactly the "healthy" report of n01's first update.
  const lossy = {
    request: async (method: "GET" | "POST", path: string, body: Uint8Array | undefined, headers: Record<string, string>) => {
      if (dropHealthy && path.endsWith("/report") && body && JSON.parse(new TextDecoder().decode(body)).phase === "healthy") {
        dropHealthy = false;
        throw new Error("connection reset");
      }
      return real.request(method, path, body, headers);
    },
  };
  const n1 = simNode(url, [publicKeyLine(admin)], identityOf(f, "n01"), undefined, { http: lossy });
  for (const h of f.hosts) release(f, admin, h, 1);
  s.pull.startRollout();
  assert.equal((await n1.agent.checkIn()).phase, "healthy");
  assert.equal(dropHealthy, false, "the report was dropped");
  assert.equal(s.pull.rollouts()[0]!.hosts.n01!.phase, "applying", "the server saw only 'applying'");
  assert.equal((await n1.agent.checkIn()).phase, "up-to-date");
  const r = s.pull.rollouts()[0]!;
  assert.equal(r.hosts.n01!.phase, "healthy");
  assert.equal(r.hosts.n02!.phase, "offered", "and the rollout went on");
});
