// Image updates through the agent: `hearth publish-image` signs a class's next image, the server
// rolls it out, and the real agent with the real A/B code (src/agent/ab.ts on an ESP directory,
// side "partitions" as files) writes the side not booted, boots it with boot counting, blesses it
// once it reaches the server, or, when it never does, comes back on the old side and says so.
// Firmware cannot run here: systemdBootStandIn counts and picks boots by systemd-boot's rules,
// which test/ab-boot.test.ts shows the real systemd-boot following in QEMU on the same layout.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { composeServer, type Composed } from "../src/server/serve.js";
import { listen } from "../src/server/app.js";
import { addTestAdmin, FLEET_YAML, hearth, tempDir, writeFleet } from "./support/fleet.js";
import { identityOf, simNode, systemdBootStandIn } from "./support/pull-nodes.js";
import { AbImage, FetchHttp } from "../src/agent/ports.js";
import { installSide } from "../src/agent/ab.js";
import type { Http, Identity } from "../src/agent/agent.js";
import type { RolloutPolicy } from "../src/core/pull/rollout.js";

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const POLICY: RolloutPolicy = { canary: 1, batchSize: 5, pauseAtFailures: 2, healthTimeoutMs: 3_600_000 };

async function classFleet(n: number) {
  const hosts = Array.from({ length: n }, (_, i) => `n${String(i + 1).padStart(2, "0")}`);
  const dir = writeFleet({ "fleet.yaml": FLEET_YAML, ...Object.fromEntries(hosts.map((h) => [`hosts/${h}.yaml`, "ephemeral: true\nimage: k3s-node\n"])) });
  const { identity } = await addTestAdmin(dir);
  writeFileSync(join(dir, "fleet.yaml"), readFileSync(join(dir, "fleet.yaml"), "utf8") + "images:\n  k3s-node:\n    server: http://127.0.0.1:7420\n");
  const before = hearth(["validate", dir]);
  assert.match(before.stderr, /signing/, "a class needs the fleet's signing key: the finding `signing init` fixes");
  const init = hearth(["signing", "init", "-f", dir]);
  assert.equal(init.code, 0, init.stderr);
  const g = hearth(["secrets", "generate", "-f", dir]);
  assert.equal(g.code, 0, g.stderr);
  const v = hearth(["validate", dir]);
  assert.equal(v.code, 0, v.stderr);
  const pub = readFileSync(join(dir, "signing/hearth.pub"), "utf8").split("\n")[1]!;
  return { dir, identity, hosts, pub };
}


/** Image files of version `v`: a kernel, an initrd, and an OS image (bytes that say which). */
function imageFiles(v: number) {
  const d = tempDir();
  const files = { kernel: join(d, "bzImage"), initrd: join(d, "initrd"), os: join(d, "os.img") };
  writeFileSync(files.kernel, `kernel ${v}\n`.repeat(100));
  writeFileSync(files.initrd, `initrd ${v}\n`.repeat(100));
  writeFileSync(files.os, Buffer.alloc(256 * 1024, v));
  return files;
}

/** A machine booted from the class's A/B disk, side A holding image version 1. */
function machine(url: string, pub: string, id: Identity) {
  const esp = tempDir("hearth-esp-");
  const sides = { a: join(tempDir(), "side-a"), b: join(tempDir(), "side-b") };
  for (const s of Object.values(sides)) writeFileSync(s, Buffer.alloc(512 * 1024));
  const v1 = imageFiles(1);
  // The image the disk was made with: not a published release (those count from 1).
  installSide(esp, "a", { kernel: v1.kernel, initrd: v1.initrd, cmdline: "console=ttyS0", version: "0" });
  let slot: "a" | "b" = "a";
  let uptime = 5;
  let reboots = 0;
  let online = true;
  const http = new FetchHttp(url);
  // The network as the node sees it: switched off to play a new side that cannot reach the server.
  const net: Http = {
    request: (...a) => (online ? http.request(...a) : Promise.reject(new Error("connect ECONNREFUSED"))),
    download: (...a) => (online ? http.download(...a) : Promise.reject(new Error("connect ECONNREFUSED"))),
  };
  const image = new AbImage({
    image: "k3s-node",
    espDir: esp,
    sideDevice: (s) => sides[s],
    cmdline: () => `console=ttyS0 hearth.slot=${slot}`,
    uptime: () => uptime,
    scratchDir: join(tempDir(), "scratch"),
    reboot: async () => {
      reboots++;
      slot = systemdBootStandIn(esp);
      uptime = 5;
    },
  });
  const node = simNode(url, [pub], id, undefined, { image, http: net });
  return {
    node,
    esp,
    sides,
    slot: () => slot,
    reboots: () => reboots,
    setOnline: (o: boolean) => (online = o),
    age: (s: number) => (uptime += s),
    entries: () => readdirSync(join(esp, "loader/entries")).sort(),
  };
}

async function serve(dir: string): Promise<{ s: Composed; url: string }> {
  const s = composeServer({ fleetDir: dir, bind: "127.0.0.1", stateDir: tempDir("hearth-state-"), rolloutPolicy: POLICY });
  s.pull.stop();
  const started = await listen(s.app, 0, "127.0.0.1");
  cleanups.push(async () => {
    await started.close();
    await s.close();
  });
  return { s, url: started.url };
}

test("a new image is written to the side not booted, boots with counting, and is kept once it reaches the server", async () => {
  const f = await classFleet(2);
  const { s, url } = await serve(f.dir);
  const m = f.hosts.map((h) => machine(url, f.pub, identityOf(f, h)));
  for (const x of m) assert.equal((await x.node.agent.checkIn()).phase, "up-to-date");

  const v2 = imageFiles(2);
  const p = hearth(["publish-image", "k3s-node", "--kernel", v2.kernel, "--initrd", v2.initrd, "--os", v2.os, "--tries", "2", "--healthy-within", "60", "-f", f.dir, "-i", f.identity]);
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, /image k3s-node version 1\b.*for 2 host\(s\): n01, n02/);
  s.pull.tick();
  const r = s.pull.rollouts()[0]!;
  assert.equal(r.kind, "image");
  assert.deepEqual(r.waves, [["n01"], ["n02"]]);

  // The canary: stages side B and reboots into it.
  const first = await m[0]!.node.agent.checkIn();
  assert.equal(first.kind, "image");
  assert.equal(first.phase, "applying", JSON.stringify(first));
  assert.equal(m[0]!.slot(), "b", "systemd-boot took the new side");
  assert.deepEqual(m[0]!.entries(), ["hearth-a.conf", "hearth-b+1-1.conf"], "one of two tries used");
  assert.deepEqual(readFileSync(m[0]!.sides.b).subarray(0, 256 * 1024), Buffer.alloc(256 * 1024, 2), "the OS image is on side B");
  assert.deepEqual(readFileSync(m[0]!.sides.a), Buffer.alloc(512 * 1024), "side A untouched");
  assert.equal(readFileSync(join(m[0]!.esp, "EFI/hearth/b/linux"), "utf8"), readFileSync(v2.kernel, "utf8"));
  assert.equal(m[1]!.node.system.applied.length, 0);
  assert.equal((await m[1]!.node.agent.checkIn()).phase, "up-to-date", "n02 waits for the canary");

  // Back on the network from side B: healthy, blessed, reported; the batch goes on.
  const second = await m[0]!.node.agent.checkIn();
  assert.equal(second.phase, "up-to-date");
  assert.deepEqual(m[0]!.entries(), ["hearth-a.conf", "hearth-b.conf"], "blessed: the counter is gone, A stays as the fallback");
  assert.equal(m[0]!.node.state.s?.imageVersion, 1);
  assert.equal(s.pull.rollouts()[0]!.hosts.n01!.phase, "healthy");
  assert.equal((await m[1]!.node.agent.checkIn()).phase, "applying");
  await m[1]!.node.agent.checkIn();
  assert.equal(s.pull.rollouts()[0]!.status, "done");
  assert.deepEqual(s.pull.nodes().find((n) => n.host === "n02")!.image, { version: 1, phase: "healthy", detail: "image version 1: healthy" });
  // The next boot is B again (the default follows the blessed side).
  systemdBootStandIn(m[0]!.esp);
  assert.deepEqual(m[0]!.entries(), ["hearth-a.conf", "hearth-b.conf"]);
});

test("a new side that never reports healthy is left by systemd-boot; the old side says so and the image is not retried", async () => {
  const f = await classFleet(3);
  const { s, url } = await serve(f.dir);
  const m = f.hosts.map((h) => machine(url, f.pub, identityOf(f, h)));
  const v2 = imageFiles(2);
  assert.equal(hearth(["publish-image", "k3s-node", "--kernel", v2.kernel, "--initrd", v2.initrd, "--os", v2.os, "--tries", "2", "--healthy-within", "60", "-f", f.dir, "-i", f.identity]).code, 0);
  s.pull.tick();
  const canary = m[0]!;
  assert.equal((await canary.node.agent.checkIn()).phase, "applying");
  assert.equal(canary.slot(), "b");
  // Side B cannot reach the server. Within its time limit the agent waits; past it, it reboots.
  canary.setOnline(false);
  assert.equal((await canary.node.agent.checkIn()).phase, "unreachable");
  assert.equal(canary.reboots(), 1, "no reboot before the time limit");
  canary.age(61);
  const gaveUp = await canary.node.agent.checkIn();
  assert.equal(gaveUp.phase, "rolled-back");
  assert.equal(canary.slot(), "b", "systemd-boot's second try of B");
  assert.deepEqual(canary.entries(), ["hearth-a.conf", "hearth-b+0-2.conf"]);
  canary.age(61);
  await canary.node.agent.checkIn();
  assert.equal(canary.slot(), "a", "tries used up: systemd-boot boots the old side by itself");
  // On A, back online: it reports the rollback, takes the default back, and does not retry version 1.
  canary.setOnline(true);
  const back = await canary.node.agent.checkIn();
  assert.equal(back.phase, "up-to-date");
  const node = s.pull.nodes().find((n) => n.host === "n01")!;
  assert.match(node.image?.detail ?? "", /image version 1: rolled-back \(systemd-boot fell back to side a\)/);
  assert.equal(node.phase, "up-to-date", "its configuration is fine");
  assert.deepEqual(canary.node.state.s?.failedImages, [1]);
  assert.equal(s.pull.rollouts()[0]!.status, "paused", "a failed canary stops the image rollout");
  assert.match(s.pull.rollouts()[0]!.pausedBecause ?? "", /canary/);
  assert.equal((await m[1]!.node.agent.checkIn()).phase, "up-to-date", "the others were not offered it");
  assert.equal(m[1]!.reboots(), 0);
  const reboots = canary.reboots();
  await canary.node.agent.checkIn();
  assert.equal(canary.reboots(), reboots, "the failed image is not staged again");
  systemdBootStandIn(canary.esp);
  assert.deepEqual(canary.entries(), ["hearth-a.conf", "hearth-b+0-2.conf"]);
});

test("an image file that does not match its signed hash, or a release signed by another key, is never written", async () => {
  const f = await classFleet(1);
  const { s, url } = await serve(f.dir);
  const m = machine(url, f.pub, identityOf(f, "n01"));
  const v2 = imageFiles(2);
  assert.equal(hearth(["publish-image", "k3s-node", "--kernel", v2.kernel, "--initrd", v2.initrd, "--os", v2.os, "-f", f.dir, "-i", f.identity]).code, 0);
  // The server's copy of the OS image is swapped (same name, other bytes).
  const release = JSON.parse(readFileSync(join(f.dir, "releases/images/k3s-node/1.json"), "utf8"));
  const os = release.files.find((x: { name: string }) => x.name === "os");
  writeFileSync(join(f.dir, "releases/images/k3s-node/files", os.sha256), Buffer.alloc(256 * 1024, 9));
  s.pull.tick();
  const r = await m.node.agent.checkIn();
  assert.equal(r.phase, "refused", JSON.stringify(r));
  assert.match(r.detail ?? "", /os file does not match the signed SHA-256/);
  assert.equal(m.slot(), "a");
  assert.deepEqual(m.entries(), ["hearth-a.conf"], "nothing staged");
  assert.deepEqual(readFileSync(m.sides.b), Buffer.alloc(512 * 1024), "side B untouched");

  // A release signed by someone else, with files that match it.
  const { generateKey } = await import("../src/core/signing/minisign.js");
  const { writeImageRelease } = await import("../src/node/pull/signing.js");
  writeImageRelease(f.dir, generateKey(), { image: "k3s-node", issued: new Date().toISOString(), expires: new Date(Date.now() + 86_400_000).toISOString(), cmdline: "", tries: 2, healthyWithinSeconds: 60, hosts: ["n01"] }, imageFiles(3));
  s.db.sql.prepare(`UPDATE pull_targets SET version = 2 WHERE host = 'n01#image'`).run();
  const forged = await m.node.agent.checkIn();
  assert.equal(forged.refusal, "unknown-key");
  assert.deepEqual(m.entries(), ["hearth-a.conf"]);
  const sha = createHash("sha256").update(readFileSync(m.sides.b)).digest("hex");
  assert.equal(sha, createHash("sha256").update(Buffer.alloc(512 * 1024)).digest("hex"));
  mkdirSync(tempDir(), { recursive: true });
});
