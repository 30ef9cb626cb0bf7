// Identity drives: `hearth identity write` makes the real ext4 volume (checked with blkid and
// debugfs from e2fsprogs), the agent's DriveIdentity mounts it read-only by loop device, and two
// machines running the same agent code with different drives become two hosts; with no drive, a
// pending node.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addTestAdmin, ageDecrypt, FLEET_YAML, hearth, tempDir, writeFleet } from "./support/fleet.js";
import { fakeSystem, simNode } from "./support/pull-nodes.js";
import { composeServer } from "../src/server/serve.js";
import { listen } from "../src/server/app.js";
import { DriveIdentity } from "../src/agent/ports.js";
import { generateKey, publicKeyLine } from "../src/core/signing/minisign.js";
import { writeRelease } from "../src/node/pull/signing.js";

const isRoot = process.getuid?.() === 0;
const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function fleet() {
  const dir = writeFleet({ "fleet.yaml": FLEET_YAML, "hosts/n01.yaml": "ephemeral: true\nnetwork:\n  interface: enp1s0\n  dhcp: false\n  addresses: [10.0.0.11/24]\n  gateway: 10.0.0.1\n", "hosts/n02.yaml": "ephemeral: true\n", "hosts/n03.yaml": "ephemeral: true\n" });
  const { identity } = await addTestAdmin(dir);
  const r = hearth(["secrets", "generate", "-f", dir]);
  assert.equal(r.code, 0, r.stderr);
  return { dir, identity, manifest: JSON.parse(readFileSync(join(dir, "secrets/manifest.json"), "utf8")) as { secrets: Record<string, { public?: string }> } };
}

const debugfs = (image: string, cmd: string) => spawnSync("debugfs", ["-R", cmd, image], { encoding: "utf8" }).stdout;

test("hearth identity write --image makes a labelled ext4 volume with the host's name, key and network, and nothing else", async () => {
  const f = await fleet();
  const img = join(tempDir(), "n01.img");
  const r = hearth(["identity", "write", "n01", "--image", img, "-f", f.dir, "-i", f.identity]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(statSync(img).mode & 0o777, 0o600, "the image holds a private key: owner only");
  const blk = execFileSync("blkid", ["-o", "export", img], { encoding: "utf8" });
  assert.match(blk, /^LABEL=HEARTH-ID$/m);
  assert.match(blk, /^TYPE=ext4$/m);
  const files = debugfs(img, "ls /").split(/\s+/).filter((x) => x && !/^\d+$/.test(x) && !/^\(\d+\)$/.test(x));
  assert.deepEqual(files.filter((x) => !x.startsWith(".") && x !== "lost+found").sort(), ["hearth-identity.json", "ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"]);
  const doc = JSON.parse(debugfs(img, "cat /hearth-identity.json"));
  assert.equal(doc.format, "hearth-identity/1");
  assert.equal(doc.host, "n01");
  assert.equal(doc.sshPublicKey, f.manifest.secrets["hosts/n01/ssh-host-key"]!.public);
  assert.deepEqual(doc.network.interfaces[0], { name: "enp1s0", mac: "", addresses: ["10.0.0.11/24"] });
  const key = debugfs(img, "cat /ssh_host_ed25519_key");
  assert.equal(key, ageDecrypt(f.identity, join(f.dir, "secrets/hosts/n01/ssh-host-key.age")).stdout, "the host's own key, as hearth generated it");
  assert.match(debugfs(img, "stat /ssh_host_ed25519_key"), /Mode:\s+0600/);
  // No other secret of the fleet is on the drive.
  const raw = readFileSync(img).toString("latin1");
  for (const h of ["n02", "n03"]) {
    const other = ageDecrypt(f.identity, join(f.dir, `secrets/hosts/${h}/ssh-host-key.age`)).stdout;
    // Line 4 of an OpenSSH key file carries key bytes (the first lines are the same for every ed25519 key).
    assert.ok(!raw.includes(other.split("\n")[4]!), `${h}'s key is not on n01's drive`);
  }
  assert.ok(raw.includes(key.split("\n")[4]!), "control: n01's own key bytes are found this way");
  assert.ok(!r.stdout.includes(key.split("\n")[4]!) && !r.stderr.includes(key.split("\n")[4]!), "the key is never printed");
});

test("identity write refuses what it must not do, and writes nothing", async () => {
  const f = await fleet();
  const d = tempDir();
  const existing = join(d, "exists.img");
  writeFileSync(existing, "keep me");
  const cases: [string[], RegExp][] = [
    [["--image", existing], /exists; hearth does not overwrite an identity image/],
    [["--device", "/dev/null"], /type the host name again with --confirm n01/],
    [["--device", "/dev/null", "--confirm", "n01"], /is not a block device/],
    [[], /exactly one of --image FILE or --device/],
    [["--image", join(d, "a.img"), "--device", "/dev/null"], /exactly one of/],
  ];
  for (const [args, message] of cases) {
    const r = hearth(["identity", "write", "n01", ...args, "-f", f.dir, "-i", f.identity]);
    assert.notEqual(r.code, 0, args.join(" "));
    assert.match(r.stderr, message, args.join(" "));
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
  assert.equal(readFileSync(existing, "utf8"), "keep me");
  assert.ok(!existsSync(join(d, "a.img")));
  const ghost = hearth(["identity", "write", "ghost", "--image", join(d, "g.img"), "-f", f.dir, "-i", f.identity]);
  assert.match(ghost.stderr, /no host 'ghost'/);
  assert.ok(!existsSync(join(d, "g.img")));
});

test("two machines, one agent, two identity drives: two hosts with their own configuration and keys; no drive: a pending node", { skip: !isRoot && "loop-mounting needs root" }, async () => {
  const f = await fleet();
  const d = tempDir();
  for (const h of ["n01", "n02"]) assert.equal(hearth(["identity", "write", h, "--image", join(d, `${h}.img`), "-f", f.dir, "-i", f.identity]).code, 0);
  const admin = generateKey();
  const s = composeServer({ fleetDir: f.dir, bind: "127.0.0.1", stateDir: tempDir("hearth-state-") });
  s.pull.stop();
  const started = await listen(s.app, 0, "127.0.0.1");
  cleanups.push(async () => {
    await started.close();
    await s.close();
  });
  for (const h of ["n01", "n02"]) {
    writeRelease(f.dir, admin, { host: h, issued: new Date().toISOString(), expires: new Date(Date.now() + 86_400_000).toISOString(), system: fakeSystem(h, 1), substituters: [], trustedPublicKeys: [], files: {} });
    s.db.sql.prepare(`INSERT INTO pull_targets (host, version) VALUES (?, 1)`).run(h);
  }
  const machine = (device: string) => {
    const runDir = mkdtempSync(join(tmpdir(), "hearth-run-"));
    const drive = new DriveIdentity({ device, runDir });
    return { runDir, node: simNode(started.url, [publicKeyLine(admin)], () => drive.read()) };
  };
  const one = machine(join(d, "n01.img"));
  const two = machine(join(d, "n02.img"));
  const none = machine(join(d, "no-drive-plugged-in"));
  assert.equal((await one.node.agent.checkIn()).phase, "healthy");
  assert.equal((await two.node.agent.checkIn()).phase, "healthy");
  assert.equal((await none.node.agent.checkIn()).phase, "pending");
  assert.equal(one.node.system.system, fakeSystem("n01", 1), "machine one runs n01's configuration");
  assert.equal(two.node.system.system, fakeSystem("n02", 1), "machine two runs n02's");
  const nodes = s.pull.nodes();
  assert.deepEqual(nodes.filter((n) => n.host).map((n) => [n.host, n.key]), [
    ["n01", f.manifest.secrets["hosts/n01/ssh-host-key"]!.public],
    ["n02", f.manifest.secrets["hosts/n02/ssh-host-key"]!.public],
  ]);
  assert.equal(nodes.filter((n) => n.phase === "pending").length, 1);
  // The host key went to the run directory (a tmpfs on the node) for sshd and agenix, owner-only; the drive is unmounted again.
  assert.equal(statSync(join(one.runDir, "ssh_host_ed25519_key")).mode & 0o777, 0o600);
  assert.ok(!readFileSync("/proc/mounts", "utf8").includes(one.runDir), "nothing left mounted");
});

test("identity write --device writes a real block device and reads it back; a mounted one is refused", { skip: !isRoot && "loop devices need root" }, async () => {
  const f = await fleet();
  const backing = join(tempDir(), "stick.raw");
  execFileSync("truncate", ["-s", "16M", backing]);
  const loop = execFileSync("losetup", ["-f", "--show", backing], { encoding: "utf8" }).trim();
  cleanups.push(() => void spawnSync("losetup", ["-d", loop]));
  const r = hearth(["identity", "write", "n02", "--device", loop, "--confirm", "n02", "-f", f.dir, "-i", f.identity]);
  assert.equal(r.code, 0, r.stderr);
  const blk = execFileSync("blkid", ["-p", "-o", "export", loop], { encoding: "utf8" });
  assert.match(blk, /^LABEL=HEARTH-ID$/m);
  assert.equal(JSON.parse(debugfs(loop, "cat /hearth-identity.json")).host, "n02");
  const mnt = mkdtempSync(join(tmpdir(), "hearth-mnt-"));
  execFileSync("mount", ["-o", "ro", loop, mnt]);
  try {
    const busy = hearth(["identity", "write", "n03", "--device", loop, "--confirm", "n03", "-f", f.dir, "-i", f.identity]);
    assert.notEqual(busy.code, 0);
    assert.match(busy.stderr, /is mounted; unmount it first/);
  } finally {
    execFileSync("umount", [mnt]);
  }
  assert.equal(JSON.parse(debugfs(loop, "cat /hearth-identity.json")).host, "n02", "the mounted drive was left alone");
});
