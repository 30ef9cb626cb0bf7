// hearth prepare and hearth unlock against test hosts: network namespaces running Debian's
// sshd with the host keys hearth generated, and loop devices as disks. prepare makes a real
// btrfs with the subvolumes and places the host key (checked by mounting it afterwards);
// unlock opens a real LUKS volume through an SSH session whose forced command asks for the
// passphrase the way the initrd does.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { FLEET_YAML, addTestAdmin, hearth, readyExample, writeFleet } from "./support/fleet.js";
import { TestNet, haveSshd, startSshd } from "./support/netns.js";
import { bootVm, buildInitramfs, haveVmTools, kernelImage, kexecTree, type Vm } from "./support/vm.js";
import { evalKexecTree, type KexecTreeEval } from "./support/kexec-tree.js";
import { REPO_ROOT as REPO } from "../src/node/fleet-dir.js";
import { activateScript, bootOnceScript, deployOrder, generationOf, rollbackScript } from "../src/core/deploy/deploy.js";
import { healthScript, parseHealth } from "../src/core/deploy/health.js";
import type { HealthCheck } from "../src/core/services/types.js";
import { planFleetDir } from "../src/node/fleet-plan.js";
import { TerminalProgress } from "../src/cli/progress.js";
import { deployMany, type DeployEvent, type HostJob } from "../src/node/deploy/deploy.js";
import { checkFacts, installDisks } from "../src/core/deploy/facts.js";
import { createServer } from "node:http";

import { addAdminSshKey, decrypt, loopDisk, makeUpdateHost, sh, sshKeyPair } from "./support/test-hosts.js";

describe("prepare and unlock over SSH", { skip: !haveSshd() && "needs root, ip netns and openssh-server" }, () => {
  let net: TestNet;
  let admin: string;
  const run = (args: string[], opts: { input?: string; env?: Record<string, string> } = {}) => hearth(args, { ...opts, netns: admin });
  const drops: (() => void)[] = [];
  const stops: (() => void)[] = [];
  before(() => {
    net = new TestNet("192.168.78.0/24");
    admin = net.host("admin", "192.168.78.2");
  });
  after(() => {
    stops.forEach((s) => s());
    net?.destroy();
    drops.forEach((d) => d());
  });

  test("prepare: refuses without the name typed back; makes btrfs, subvolumes and places the host key", async () => {
    const disk = loopDisk("stake", 300);
    drops.push(disk.drop);
    const host = `ephemeral: true
storage:
  volumes:
    data:
      type: btrfs
      format: false
      devices: [${disk.byId}]
      subvolumes:
        secrets: { mountpoint: /var/mnt/secrets }
        lighthouse: { mountpoint: /var/mnt/lighthouse }
network:
  interface: eth0
  dhcp: false
  addresses: [192.168.78.11/24]
`;
    const dir = writeFleet({ "fleet.yaml": FLEET_YAML, "hosts/stake.yaml": host });
    const key = sshKeyPair();
    addAdminSshKey(dir, key.pub);
    const { identity } = await addTestAdmin(dir);
    assert.equal(hearth(["secrets", "generate", "-f", dir]).code, 0);
    const hostKey = decrypt(identity, join(dir, "secrets/hosts/stake/ssh-host-key.age"));
    const ns = net.host("stake", "192.168.78.11");
    stops.push((await startSshd(net, ns, { address: "192.168.78.11", port: 22, hostKey, authorizedKey: key.pub })).stop);
    const args = ["prepare", "stake", "-f", dir, "--ssh-key", key.file, "-i", identity];

    const dry = run([...args, "--dry-run"]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /StrictHostKeyChecking=yes/);
    assert.match(dry.stdout, new RegExp(`mkfs\\.btrfs -f -L data ${disk.byId.replace(/\//g, "\\/")}`));
    assert.match(dry.stdout, /< hosts\/stake\/ssh-host-key \(decrypted in memory, on stdin\)/);

    const refused = run([...args, "--confirm", "stak"]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /not confirmed \(expected 'stake'\); nothing was changed/);
    assert.equal(spawnSync("blkid", [disk.dev]).status, 2, "still no filesystem");

    const r = run([...args, "--confirm", "stake"]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /stake at 192\.168\.78\.11: x86_64/);
    assert.match(r.stdout, /stake is prepared: check, format, subvolumes, secrets/);
    // Mount it here and look.
    const mnt = mkdtempSync(join(tmpdir(), "hearth-mnt-"));
    sh("mount", ["-t", "btrfs", disk.dev, mnt]);
    try {
      const subvols = sh("btrfs", ["subvolume", "list", mnt]);
      assert.match(subvols, /path secrets$/m);
      assert.match(subvols, /path lighthouse$/m);
      const placed = join(mnt, "secrets/ssh_host_ed25519_key");
      assert.equal(statSync(placed).mode & 0o777, 0o600);
      assert.deepEqual(readFileSync(placed), hostKey, "the key hearth generated, as the host will read it");
      assert.equal(sh("blkid", ["-s", "LABEL", "-o", "value", disk.dev]).trim(), "data");
    } finally {
      sh("umount", [mnt]);
    }
    // Only the secrets phase, again: idempotent, nothing formatted.
    assert.equal(run([...args, "--phases", "secrets"]).code, 0);
    assert.equal(run([...args, "--phases", "nope"]).code, 2);
  });

  test("install: nixos-anywhere gets the keys from a tmpfs directory that is wiped; the recovery key opens the LUKS volume; the host is unlocked in its initrd and comes back pinned", async () => {
    const { dir, identity } = await readyExample("keystone");
    const key = sshKeyPair();
    addAdminSshKey(dir, key.pub);
    // This server unlocks by passphrase over its initrd's SSH (seed 003's way) instead of the TPM.
    for (const [path, value] of [["security.unlock.method", "passphrase"], ["security.remoteUnlock.enable", "true"]]) assert.equal(hearth(["set", "server", path!, value!, "-f", dir]).code, 0);
    assert.equal(hearth(["secrets", "generate", "-f", dir]).code, 0);
    // Before: a rescue system with a host key of its own, and an empty disk.
    const rescue = sshKeyPair();
    const ns = net.host("inst", "192.168.78.21");
    const sshd = await startSshd(net, ns, { address: "192.168.78.21", port: 22, hostKey: readFileSync(rescue.file), authorizedKey: key.pub });
    stops.push(sshd.stop);
    const disk = loopDisk("alpha", 64);
    drops.push(disk.drop);
    // keystone's server formats this disk: it must be on the machine, by the id the fleet names.
    const serverDisk = "/dev/disk/by-id/nvme-Samsung_SSD_990_PRO_2TB_S7DNNJ0W111111X";
    drops.push(() => rmSync(serverDisk, { force: true }));
    const root = mkdtempSync(join(tmpdir(), "hearth-installroot-"));
    const log = join(mkdtempSync(join(tmpdir(), "hearth-standin-")), "log");
    const keysDir = "/tmp/hearth-keys"; // the installer's INSTALL_KEYS_DIR; this namespace shares the machine's /tmp
    drops.push(() => rmSync(keysDir, { recursive: true, force: true }));
    const shmBefore = readdirSync("/dev/shm").filter((f) => f.startsWith("hearth-server-"));
    const fast = "--pbkdf pbkdf2 --pbkdf-force-iterations 1000";
    const install = () => run(["deploy", "server", "--install", "-f", dir, "--address", "192.168.78.21", "--ssh-key", key.file, "-i", identity, "--wait-timeout", "30"], {
      env: {
        PATH: `${join(REPO, "test/fixtures/stand-in-nixos-anywhere")}:${process.env.PATH}`,
        HEARTH_STANDIN_LOG: log,
        HEARTH_STANDIN_ROOT: root,
        // What disko does with a luks content's passwordFile and additionalKeyFiles.
        HEARTH_STANDIN_DISKO: `cryptsetup luksFormat --batch-mode ${fast} --key-file ${keysDir}/luks-passphrase ${disk.dev} && cryptsetup luksAddKey ${fast} --key-file ${keysDir}/luks-passphrase ${disk.dev} ${keysDir}/luks-recovery-key`,
      },
    });
    // The installed system stops in its initrd: an SSH server with the initrd key whose prompt
    // takes the passphrase to the LUKS volume; once it opens, the system boots on and the same
    // address presents the host key from the extra files.
    const boots = `cp ${root}/etc/ssh/ssh_host_ed25519_key ${sshd.dir}/host_key && kill -HUP $(cat ${sshd.dir}/sshd.pid)`;
    const ask = join(root, "..", `ask-${process.pid}.sh`);
    writeFileSync(ask, `#!/bin/bash\nstty -echo 2>/dev/null\nIFS= read -r p\nprintf %s "$p" | cryptsetup open --test-passphrase --key-file=- ${disk.dev} && { ${boots}; echo unlocked; }\n`, { mode: 0o755 });
    drops.push(() => rmSync(ask, { force: true }));
    const initrdKey = decrypt(identity, join(dir, "secrets/hosts/server/initrd-ssh-host-key.age"));
    stops.push((await startSshd(net, ns, { address: "192.168.78.21", port: 2222, hostKey: initrdKey, authorizedKey: key.pub, forceCommand: ask })).stop);
    // Facts first: the fleet's disk is not on this machine yet, so nothing runs.
    const refused = install();
    assert.notEqual(refused.code, 0);
    assert.match(refused.stdout, /server\s+install\s+failed\s+.*facts: \/dev\/disk\/by-id\/nvme-Samsung_SSD_990_PRO_2TB_S7DNNJ0W111111X \(in hosts\/server\.yaml storage\) is not on the machine.*Fix the ids in hosts\/server\.yaml/);
    assert.ok(!existsSync(log), "nixos-anywhere did not run");
    symlinkSync(disk.dev, serverDisk);
    const r = install();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /server\s+install\s+deployed .*installed and booted .*presenting its pinned host key/);
    assert.match(r.stdout, /install\s+info\s+### installation finished/, "nixos-anywhere's output is streamed as events");
    assert.match(r.stdout, /unlock\s+ok\s+unlocked server's disks over its initrd SSH \(192\.168\.78\.21:2222\)/);
    const passphrase = decrypt(identity, join(dir, "secrets/hosts/server/luks-passphrase.age")).toString();
    assert.ok(!(r.stdout + r.stderr).includes(passphrase), "the passphrase is never printed");
    // What nixos-anywhere was given: paths only, every file 0600 (public halves 0644) on a tmpfs.
    const lines = readFileSync(log, "utf8").split("\n");
    const argv = lines.filter((l) => !l.startsWith("file "));
    assert.deepEqual(argv.slice(0, 4), ["--flake", `path:${join(dir, "flake")}#server`, "--extra-files", argv[3]!]);
    assert.ok(argv.includes("--target-host") && argv.includes("root@192.168.78.21"));
    const files = lines.filter((l) => l.startsWith("file ")).map((l) => l.split(" "));
    assert.ok(files.length >= 5, lines.join("\n"));
    for (const [, path, mode, fs] of files) {
      assert.equal(fs, "tmpfs", `${path} on a tmpfs`);
      assert.equal(mode, path!.endsWith(".pub") ? "644" : "600", path);
    }
    for (const id of ["ssh-host-key", "luks-passphrase", "luks-recovery-key", "zfs-raw-key"]) {
      const plain = decrypt(identity, join(dir, `secrets/hosts/server/${id}.age`));
      assert.ok(!readFileSync(log, "utf8").includes(plain.toString("utf8").trim().slice(0, 40)), `${id} not in the argv`);
    }
    assert.deepEqual(readFileSync(join(root, "etc/ssh/ssh_host_ed25519_key")), decrypt(identity, join(dir, "secrets/hosts/server/ssh-host-key.age")));
    // The tmpfs directory is gone afterwards.
    const tmpDir = argv[3]!.replace(/\/extra-files$/, "");
    assert.ok(!existsSync(tmpDir), `${tmpDir} wiped`);
    assert.deepEqual(readdirSync("/dev/shm").filter((f) => f.startsWith("hearth-server-")), shmBefore);
    // The recovery key, typed as a passphrase, opens the volume; so does the passphrase; a wrong one does not.
    const recovery = decrypt(identity, join(dir, "secrets/hosts/server/luks-recovery-key.age"));
    const opens = (pass: Buffer) => spawnSync("cryptsetup", ["open", "--test-passphrase", "--key-file", "-", disk.dev], { input: pass }).status === 0;
    assert.ok(opens(recovery), "recovery key");
    assert.ok(opens(decrypt(identity, join(dir, "secrets/hosts/server/luks-passphrase.age"))), "passphrase");
    assert.ok(!opens(Buffer.from("not-the-key")), "a wrong key");
    assert.match(sh("cryptsetup", ["luksDump", disk.dev]), /^\s+1: luks2/m, "two key slots");
  });

  test("the host key is pinned: a machine with another key at the address is refused", async () => {
    const { dir, identity } = await readyExample("homestaking");
    const key = sshKeyPair();
    addAdminSshKey(dir, key.pub);
    const ns = net.host("imposter", "192.168.78.13");
    const other = sshKeyPair();
    stops.push((await startSshd(net, ns, { address: "192.168.78.13", port: 22, hostKey: readFileSync(other.file), authorizedKey: key.pub })).stop);
    const r = run(["prepare", "ponkila-ephemeral-sigma", "-f", dir, "--address", "192.168.78.13", "--ssh-key", key.file, "-i", identity, "--confirm", "ponkila-ephemeral-sigma"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /did not present ponkila-ephemeral-sigma's pinned host key/);
  });

  test("unlock: the passphrase from hearth's secrets opens a real LUKS volume through the initrd-style SSH prompt", async () => {
    const { dir, identity } = await readyExample("pi-cluster");
    const key = sshKeyPair();
    addAdminSshKey(dir, key.pub);
    const disk = loopDisk("luks", 64);
    drops.push(disk.drop);
    const pass = decrypt(identity, join(dir, "secrets/hosts/pi-alpha/luks-passphrase.age"));
    sh("cryptsetup", ["luksFormat", "--batch-mode", "--type", "luks2", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000", "--key-file=-", disk.dev], pass);
    const mapper = `hearth-t${process.pid}`;
    drops.unshift(() => spawnSync("cryptsetup", ["close", mapper]));
    // Like the initrd's password agent: no echo, one line, then the disk opens. Where the kernel
    // has no device-mapper (this sandbox's has none), cryptsetup checks the passphrase against
    // the real LUKS key slot without mapping it, and the script records the unlock.
    const dm = spawnSync("dmsetup", ["version"]).status === 0;
    const work = mkdtempSync(join(tmpdir(), "hearth-unlock-"));
    const script = join(work, "ask.sh");
    const open = dm ? `cryptsetup open --key-file=- ${disk.dev} ${mapper}` : `cryptsetup open --test-passphrase --key-file=- ${disk.dev}`;
    writeFileSync(script, `#!/bin/bash\nstty -echo 2>/dev/null\nIFS= read -r p\nprintf %s "$p" | ${open} && touch ${work}/unlocked && echo unlocked\n`, { mode: 0o755 });
    const unlocked = () => (dm ? existsSync(`/dev/mapper/${mapper}`) : existsSync(join(work, "unlocked")));
    const initrdKey = decrypt(identity, join(dir, "secrets/hosts/pi-alpha/initrd-ssh-host-key.age"));
    const ns = net.host("alpha", "192.168.78.12");
    stops.push((await startSshd(net, ns, { address: "192.168.78.12", port: 2222, hostKey: initrdKey, authorizedKey: key.pub, forceCommand: script })).stop);
    const args = ["unlock", "pi-alpha", "-f", dir, "--address", "192.168.78.12", "--ssh-key", key.file];

    const wrong = run([...args, "--prompt"], { input: "not the passphrase\n" });
    assert.notEqual(wrong.code, 0);
    assert.ok(!unlocked(), "a wrong passphrase opens nothing");
    assert.match(wrong.stderr, /unlock of pi-alpha failed/);
    const r = run([...args, "-i", identity]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /pi-alpha unlocked/);
    assert.ok(unlocked(), "the LUKS volume accepted the passphrase");
    for (const text of [r.stdout, r.stderr, wrong.stdout, wrong.stderr]) assert.ok(!text.includes(pass.toString()), "the passphrase is never printed");
  });
});

describe("deploy: update with automatic rollback", { skip: !haveSshd() && "needs root, ip netns and openssh-server" }, () => {
  let net: TestNet;
  let admin: string;
  const stops: (() => void)[] = [];
  after(() => {
    stops.forEach((s) => s());
    net?.destroy();
  });

  const updateHost = (i: number) => makeUpdateHost(net, admin, stops, { name: `u${i}`, address: `192.168.79.${10 + i}`, nonce: String(i) });

  before(() => {
    net = new TestNet("192.168.79.0/24");
    admin = net.host("admin", "192.168.79.2");
  });

  test("a healthy update is confirmed; a failing health check is rolled back; so is a host that stops answering", async () => {
    const h = await updateHost(1);
    assert.equal(h.current(), "good");
    const ok = h.deploy(h.gens.good2);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /pi-alpha\s+update\s+deployed/);
    assert.equal(h.current(), "good2");
    const gen2 = h.generation();

    const bad = h.deploy(h.gens.degraded);
    assert.notEqual(bad.code, 0, bad.stdout + bad.stderr);
    assert.match(bad.stdout, /pi-alpha\s+update\s+rolled back .*health check failed \(failed units: lighthouse\.service;.*\); rolled back to/);
    assert.equal(h.current(), "good2", "back on the previous generation, which was switched to again");
    assert.equal(h.generation(), gen2);

    // Every unit "active" and systemd running, but headscale's API does not answer.
    const noapi = h.deploy(h.gens.noapi);
    assert.notEqual(noapi.code, 0, noapi.stdout + noapi.stderr);
    assert.match(noapi.stdout, /pi-alpha\s+update\s+rolled back .*health check failed \(headscale API: http:\/\/127\.0\.0\.1:8080\/health did not answer; nginx listening: nothing accepts connections on 127\.0\.0\.1:80\); rolled back to/);
    assert.equal(h.current(), "good2");
    assert.equal(h.generation(), gen2);

    // New SSH logins are dropped while the connection hearth holds still works: not confirmed.
    const lock = h.deploy(h.gens.lockout);
    assert.notEqual(lock.code, 0, lock.stdout + lock.stderr);
    assert.match(lock.stdout, /pi-alpha\s+update\s+rolled back .*health check failed \(system state no answer: 192\.168\.79\.11:22 is not reachable.*\); rolled back to/);
    assert.equal(h.current(), "good2");
    assert.equal(h.generation(), gen2);

    const cut = h.deploy(h.gens.cutoff);
    assert.notEqual(cut.code, 0, cut.stdout + cut.stderr);
    assert.match(cut.stdout, /pi-alpha\s+update\s+rolled back .*stopped answering (during|after) activation;? (and )?the host rolled itself back/);
    assert.equal(h.current(), "good2", "the watchdog switched back, which brought the network up again");
    assert.equal(h.generation(), gen2);
    // And it answers again.
    assert.equal(h.deploy(h.gens.good2, ["--phases", "build,copy"]).code, 0);
  });

  test("a new kernel: booted once with the old generation as fallback; kept when healthy, undone when it does not boot or is unhealthy", async () => {
    const h = await updateHost(2);
    const genOf = (link: string) => link.match(/(\d+)-link$/)![1];
    const ok = h.deploy(h.gens.newkernel);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /reboot\s+start the new kernel, initrd, kernel-modules need a reboot: booting \S+ once; generation 1 stays the default boot entry/);
    assert.match(ok.stdout, /pi-alpha\s+update\s+deployed .*rebooted into .*it is the default boot entry now/);
    assert.equal(h.booted(), h.gens.newkernel);
    assert.equal(h.current(), "newkernel");
    const kept = h.generation();
    assert.equal(h.defaultEntry(), `nixos-generation-${genOf(kept)}.conf`);

    const nb = h.deploy(h.gens.unbootable);
    assert.notEqual(nb.code, 0, nb.stdout + nb.stderr);
    assert.match(nb.stdout, /pi-alpha\s+update\s+rolled back .*the new generation did not boot; the host fell back to/);
    assert.equal(h.booted(), h.gens.newkernel, "the fallback entry booted");
    assert.equal(h.generation(), kept, "and the profile is back on it");
    assert.equal(h.defaultEntry(), `nixos-generation-${genOf(kept)}.conf`);

    const bad = h.deploy(h.gens.newDegraded);
    assert.notEqual(bad.code, 0, bad.stdout + bad.stderr);
    assert.match(bad.stdout, /pi-alpha\s+update\s+rolled back .*health check failed after the reboot \(failed units: lighthouse\.service.*\); rebooted into/);
    assert.equal(h.booted(), h.gens.newkernel);
    assert.equal(h.current(), "newkernel", "the previous generation runs again");
    assert.equal(h.generation(), kept);
    assert.equal(h.defaultEntry(), `nixos-generation-${genOf(kept)}.conf`);

    // --no-reboot: back to kernel A by a plain switch; the new kernel waits for the next reboot.
    const nr = h.deploy(h.gens.good, ["--no-reboot"]);
    assert.equal(nr.code, 0, nr.stdout + nr.stderr);
    assert.match(nr.stdout, /take effect at the next reboot \(--no-reboot\)/);
    assert.equal(h.current(), "good");
    assert.equal(h.booted(), h.gens.newkernel, "not rebooted");
  });
});

describe("deploy plans (no machines needed)", () => {
  test("facts are checked before any change, each problem saying what to do", async () => {
    const { dir } = await readyExample("keystone");
    const server = planFleetDir(dir, { requireSecrets: true }).plan.hosts.find((h) => h.name === "server")!.host;
    const facts = { arch: "x86_64", memKiB: 4 * 1048576, uid: 0, sudo: false, kexec: true, nixos: false, devices: new Set(installDisks(server)) };
    const o = { user: "root", builtFromFleet: true };
    assert.deepEqual(checkFacts("server", server, "install", facts, o), []);
    assert.match(checkFacts("server", server, "update", { ...facts, arch: "aarch64" }, o).join(), /the machine is aarch64, but server is built for x86_64-linux: check the address, or set system: in hosts\/server\.yaml/);
    assert.deepEqual(checkFacts("server", server, "update", { ...facts, arch: "aarch64" }, { ...o, builtFromFleet: false }), [], "a given --system path: its architecture is not the fleet's to know");
    assert.match(checkFacts("server", server, "update", { ...facts, uid: 1000 }, { ...o, user: "ops" }).join(), /ops has no passwordless sudo on the machine/);
    assert.deepEqual(checkFacts("server", server, "update", { ...facts, uid: 1000, sudo: true }, { ...o, user: "ops" }), []);
    assert.match(checkFacts("server", server, "kexec", { ...facts, kexec: false }, o).join(), /kexec is not installed on the machine: install kexec-tools/);
    assert.match(checkFacts("server", server, "kexec", { ...facts, memKiB: 512 * 1024 }, { ...o, kexecBytes: 400 * 1048576 }).join(), /has 512 MiB of RAM; booting this kexec image needs about 1056 MiB/);
    assert.match(checkFacts("server", server, "install", { ...facts, memKiB: 512 * 1024 }, o).join(), /nixos-anywhere's installer needs at least 1024 MiB/);
    assert.match(checkFacts("server", server, "install", { ...facts, devices: new Set(["/dev/disk/by-id/ata-other"]) }, o).join(), /its disks by id: \/dev\/disk\/by-id\/ata-other/);
  });

  test("many hosts: a failed host's dependents are skipped, independent hosts still go, in waves", async () => {
    const { dir } = await readyExample("pi-cluster");
    const hosts = planFleetDir(dir, { requireSecrets: true }).plan.hosts;
    // Nothing listens on these loopback ports: every attempt fails at its facts, quickly.
    const closed = await new Promise<number>((ok) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => ok(p));
      });
    });
    const job = (name: string, dependsOn: string[]): HostJob => ({
      name, host: hosts.find((h) => h.name === name)!.host, kind: "update", dependsOn, checks: [],
      target: { alias: name, address: "127.0.0.1", port: closed, user: "root", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPBDUl7d2rSrgqEFtjTZvkbF0b8RpCsl4hg+NIpZFStA" },
    });
    const events: DeployEvent[] = [];
    const results = await deployMany([job("pi-beta", ["pi-alpha"]), job("pi-alpha", []), job("pi-gamma", [])], {
      flakeDir: "/nonexistent", profile: "/nonexistent", confirmTimeout: 5, waitTimeout: 5, healthTimeout: 3, concurrency: 2, emit: (e) => events.push(e),
    });
    const by = new Map(results.map((r) => [r.host, r]));
    assert.equal(by.get("pi-alpha")!.outcome, "failed");
    assert.match(by.get("pi-alpha")!.detail, /facts: cannot reach pi-alpha: nothing listens on 127\.0\.0\.1/);
    assert.equal(by.get("pi-gamma")!.outcome, "failed", "an independent host is still tried");
    assert.equal(by.get("pi-beta")!.outcome, "skipped");
    assert.match(by.get("pi-beta")!.detail, /depends on pi-alpha, which did not deploy/);
    assert.deepEqual(results.map((r) => r.host), ["pi-beta", "pi-alpha", "pi-gamma"], "results in the order asked");
    assert.ok(!events.some((e) => e.host === "pi-beta"), "nothing was attempted on the skipped host");
  });

  test("terminal progress: one live line per host, bytes of a transfer, finished steps kept above", () => {
    let screen = "";
    const stream = { columns: 120, write: (t: string) => ((screen += t), true) } as unknown as NodeJS.WriteStream;
    const p = new TerminalProgress(["alpha", "beta"], stream);
    const at = new Date().toISOString();
    p.event({ host: "alpha", phase: "copy", status: "start", message: "kexec tree → 10.0.0.1", at });
    p.event({ host: "alpha", phase: "copy", status: "info", message: "", at, progress: { done: 3 * 1048576, total: 12 * 1048576 } });
    assert.match(screen, /alpha\s+copy\s+\d+s\s+3\.0 MiB of 12\.0 MiB \(25%\)/);
    assert.match(screen, /beta\s+queued/);
    p.event({ host: "alpha", phase: "copy", status: "ok", message: "copied", at });
    p.event({ host: "beta", phase: "activate", status: "fail", message: "boom", at });
    p.stop();
    // Redraws move the cursor up over the live lines only; the finished steps stay printed once.
    assert.equal(screen.match(/alpha {2}copy {5}ok {3}copied\n/g)?.length, 1);
    assert.match(screen, /beta {2}activate FAIL boom/);
    assert.match(screen, /\x1b\[2A\x1b\[0J/);
  });

  test("health checks: a beacon API that is syncing passes, a broken one and a closed port fail, each in words", async () => {
    // Real HTTP and TCP on loopback, probed by the rendered script under bash, as on a host.
    const servers = await Promise.all(
      [206, 503].map(
        (status) =>
          new Promise<import("node:http").Server>((ok) => {
            const s = createServer((_q, r) => r.writeHead(status).end());
            s.listen(0, "127.0.0.1", () => ok(s));
          }),
      ),
    );
    const ports = servers.map((s) => (s.address() as { port: number }).port);
    const port = (i: number) => ports[i]!;
    const closed = await new Promise<number>((ok) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => ok(p));
      });
    });
    const checks: HealthCheck[] = [
      { name: "syncing beacon", kind: "http", url: `http://127.0.0.1:${port(0)}/eth/v1/node/health`, okStatus: [200, 206] },
      { name: "broken beacon", kind: "http", url: `http://127.0.0.1:${port(1)}/eth/v1/node/health`, okStatus: [200, 206] },
      { name: "gone beacon", kind: "http", url: `http://127.0.0.1:${closed}/eth/v1/node/health`, okStatus: [200, 206] },
      { name: "engine API", kind: "tcp", host: "127.0.0.1", port: port(0) },
      { name: "mev-boost", kind: "tcp", host: "127.0.0.1", port: closed },
    ];
    // Not spawnSync: the servers answer from this process's event loop.
    const stdout = await new Promise<string>((ok) => {
      const c = spawn("bash", ["-c", healthScript(checks).split("\n").slice(1).join("\n")]);
      let out = "";
      c.stdout.on("data", (d: Buffer) => (out += d));
      c.on("close", () => ok(out));
    });
    servers.forEach((s) => s.close());
    const h = parseHealth(`state=running\n${stdout}`, checks);
    assert.deepEqual(h.problems, [
      `broken beacon: http://127.0.0.1:${port(1)}/eth/v1/node/health answered HTTP 503`,
      `gone beacon: http://127.0.0.1:${closed}/eth/v1/node/health did not answer`,
      `mev-boost: nothing accepts connections on 127.0.0.1:${closed}`,
    ]);
    assert.equal(h.ok, false);
    // systemd's view joins in; a missing line counts as a failure, never as a pass.
    assert.deepEqual(parseHealth("state=degraded\nfailed=lighthouse.service\n"), { ok: false, state: "degraded", failed: ["lighthouse.service"], problems: [], settling: false });
    assert.deepEqual(parseHealth("state=running\ncheck=0 ok\n", checks.slice(0, 2)).problems, ["broken beacon: no result"]);
    assert.equal(parseHealth("state=starting\n").settling, true);
  });

  test("every service and the mesh say how to check them; the example hosts' checks are planned", async () => {
    const { dir } = await readyExample("homestaking");
    const beta = planFleetDir(dir, { requireSecrets: true }).plan.hosts.find((h) => h.name === "ponkila-ephemeral-beta")!;
    const names = beta.health.map((c) => c.name);
    for (const want of [/beacon API/, /engine API/, /mesh handshake/, /unit$/]) assert.ok(names.some((n) => want.test(n)), `${want} in ${names.join(", ")}`);
    const beacon = beta.health.find((c) => /beacon API/.test(c.name))!;
    assert.ok(beacon.kind === "http" && /^http:\/\/[0-9.]+:\d+\/eth\/v1\/node\/health$/.test(beacon.url) && beacon.okStatus.includes(206), JSON.stringify(beacon));
    // Every rendered script is valid shell.
    for (const h of planFleetDir(dir, { requireSecrets: true }).plan.hosts) assert.equal(spawnSync("bash", ["-n", "-c", healthScript(h.health)]).status, 0, h.name);
  });

  test("dependency waves: the Headscale server first; a cycle is reported, not waited on", () => {
    const deps: Record<string, string[]> = { alpha: [], beta: ["alpha"], gamma: ["alpha"], delta: ["beta"] };
    assert.deepEqual(deployOrder(Object.keys(deps), (n) => deps[n]!).waves, [["alpha"], ["beta", "gamma"], ["delta"]]);
    const cyc: Record<string, string[]> = { a: ["b"], b: ["a"], c: [] };
    const r = deployOrder(Object.keys(cyc), (n) => cyc[n]!);
    assert.deepEqual(r.waves, [["c"]]);
    assert.deepEqual(r.cycle, ["a", "b"]);
  });

  test("rollback goes to the exact previous generation, and activation arms a watchdog", () => {
    const o = { flakeDir: "/f", profile: "/nix/var/nix/profiles/system", confirmTimeout: 60 };
    assert.equal(generationOf("system-42-link\n"), 42);
    assert.equal(generationOf("garbage"), undefined);
    assert.match(rollbackScript(o, 41), /--switch-generation 41 && '\/nix\/var\/nix\/profiles\/system'\/bin\/switch-to-configuration switch/);
    const a = activateScript(o, "/nix/store/x-system", "tok", 41);
    assert.match(a, /sleep 60; if \[ -e '\/run\/hearth-confirm-tok' \]; then rm -f '\/run\/hearth-confirm-tok'; else nix-env .* --switch-generation 41/);
    // A new kernel: nothing changes where one-shot boot entries are impossible; the old entry stays the default.
    const b = bootOnceScript(o, "/nix/store/x-system", "tok", 41);
    assert.ok(b.indexOf("bootctl is-installed") < b.indexOf("nix-env"), "refuses before any change without systemd-boot");
    assert.ok(b.indexOf('bootctl set-default "$old"') < b.indexOf('bootctl set-oneshot "$new"'));
    assert.ok(b.indexOf("set-oneshot") < b.indexOf("systemctl reboot"));
    assert.equal(spawnSync("bash", ["-n", "-c", b]).status, 0);
    assert.ok(a.indexOf("setsid") < a.indexOf("'/nix/store/x-system'/bin/switch-to-configuration switch"), "the watchdog is armed before the switch");
  });

  test("every example host can be dry-run end to end", async () => {
    for (const name of ["homestaking", "pi-cluster", "keystone", "ram-nodes"]) {
      const { dir } = await readyExample(name);
      const hosts = readdirSync(join(dir, "hosts")).map((f) => f.replace(/\.ya?ml$/, ""));
      for (const h of hosts) {
        const r = hearth(["deploy", h, "-f", dir, "--dry-run", "--address", "192.0.2.1"]);
        assert.equal(r.code, 0, `${name}/${h}: ${r.stderr}`);
        assert.match(r.stdout, new RegExp(`^${h} \\((kexec|update)\\) via ssh .*StrictHostKeyChecking=yes`, "m"));
      }
      const install = hearth(["deploy", hosts.find((h) => !readFileSync(join(dir, "hosts", `${h}.yaml`), "utf8").includes("ephemeral: true"))! ?? hosts[0]!, "-f", dir, "--dry-run", "--install", "--address", "192.0.2.1"]);
      assert.equal(install.code, 0, install.stderr);
    }
    const { dir } = await readyExample("pi-cluster");
    const waves = hearth(["deploy", "pi-gamma", "pi-beta", "pi-alpha", "-f", dir, "--dry-run"]);
    assert.match(waves.stdout, /wave 1: pi-alpha\nwave 2: pi-beta, pi-gamma/);
    assert.match(waves.stdout, /nixos-anywhere|switch-to-configuration/);
  });
});

describe("deploy: kexec into the new system (QEMU)", { skip: (!haveVmTools() && "needs qemu-system-x86, a kernel in /boot, busybox-static, dropbear-bin, kexec-tools, cpio, bash") }, () => {
  let vm: Vm | undefined;
  after(() => vm?.stop());
  const host = "ponkila-ephemeral-sigma";
  // Kernel parameters the test VM needs; they reach the kexec'd kernel through kexec-boot's --command-line.
  const kernelParams = ["console=ttyS0", "panic=-1", "random.trust_cpu=on"];
  let fleet: { dir: string; identity: string; tree: KexecTreeEval } | undefined;
  const generated = async () => {
    if (fleet) return fleet;
    const { dir, identity } = await readyExample("homestaking");
    const out = join(mkdtempSync(join(tmpdir(), "hearth-gen-")), "flake");
    const g = hearth(["generate", dir, "-o", out]);
    assert.equal(g.code, 0, g.stderr);
    return (fleet = { dir, identity, tree: evalKexecTree(out, { hostName: host, kernelParams }) });
  };

  test("the generated kexec tree carries every file its kexec-boot and netboot.ipxe load", async () => {
    const names = (t: KexecTreeEval) => t.entries.map((e) => e.name).sort();
    const loaded = (t: KexecTreeEval) => [
      ...[...t.kexecScript.matchAll(/\$\{SCRIPT_DIR\}\/(\S+)/g)].map((m) => m[1]!),
      /^kernel (\S+)/m.exec(t.ipxeScript)![1]!,
      /^initrd (\S+)/m.exec(t.ipxeScript)![1]!,
    ];
    const { tree } = await generated();
    assert.deepEqual(loaded(tree).sort(), ["bzImage", "bzImage", "initrd", "initrd.gz"]);
    assert.deepEqual(names(tree), ["bzImage", "initrd", "initrd.gz", "kexec-boot", "netboot.ipxe"]);
    // aarch64: iPXE's kernel is `Image`, kexec-boot's still `bzImage`.
    const arm = evalKexecTree(join(REPO, "nix"), { system: "aarch64-linux" });
    for (const n of loaded(arm)) assert.ok(names(arm).includes(n), `aarch64 tree lacks ${n}: ${names(arm).join(" ")}`);
    assert.ok(names(arm).includes("Image"));
  });

  test("a machine running something else is kexec'd into the host's system, which comes back with the pinned key", async () => {
    const { dir, identity, tree } = await generated();
    const key = sshKeyPair();
    const work = mkdtempSync(join(tmpdir(), "hearth-kexec-"));
    // Before: a "rescue system" with a host key of its own.
    const rescueKey = sshKeyPair();
    buildInitramfs({ hostKey: readFileSync(rescueKey.file), authorizedKey: key.pub, generation: "rescue", out: join(work, "rescue.gz") });
    // After: the host's system, presenting the key hearth made, in a tree with the generated
    // format's file names and nixpkgs' kexec-boot script as is.
    const hostKey = decrypt(identity, join(dir, `secrets/hosts/${host}/ssh-host-key.age`));
    buildInitramfs({ hostKey, authorizedKey: key.pub, generation: "hearth", out: join(work, "hearth.gz") });
    kexecTree(join(work, "tree"), tree, join(work, "hearth.gz"));
    vm = await bootVm(join(work, "rescue.gz"));
    const base = ["deploy", host, "-f", dir, "--address", "127.0.0.1", "--port", String(vm.port), "--ssh-key", key.file, "--system", join(work, "tree"), "--wait-timeout", "180"];
    const rescueSsh = (cmd: string) =>
      spawnSync("ssh", ["-i", key.file, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=3", "-o", "LogLevel=ERROR", "-p", String(vm!.port), "root@127.0.0.1", cmd], { encoding: "utf8" });
    // Wait for the rescue system, using plain ssh as its key is not ours to pin; a VM that
    // cannot come up says so on its console (or QEMU exits), and that ends the wait.
    const deadline = Date.now() + 240_000;
    let up = false;
    while (!up && !vm.failure() && Date.now() < deadline) {
      if (vm.console().includes("hearth-vm: network up")) up = rescueSsh("true").status === 0;
      if (!up) await new Promise((r) => setTimeout(r, 1000));
    }
    assert.ok(up, `the rescue system did not come up (${vm.failure() ?? "timed out"}): ${vm.console().slice(-1500)}`);

    const pinnedOnly = hearth(base);
    assert.notEqual(pinnedOnly.code, 0);
    assert.match(pinnedOnly.stdout + pinnedOnly.stderr, new RegExp(`did not present ${host}'s pinned host key`));

    const r = hearth([...base, "--accept-first-key"]);
    // A kexec that fails leaves the rescue system up, with kexec-boot's output beside the tree.
    const why = () => (vm!.console().includes("hearth-vm: hearth booted") ? "" : `\nkexec.log: ${rescueSsh("cat /root/hearth-kexec/kexec.log").stdout}`);
    assert.equal(r.code, 0, r.stdout + r.stderr + why() + "\nconsole: " + vm.console().slice(-800));
    assert.match(r.stdout, new RegExp(`${host}\\s+kexec\\s+deployed\\s+.*kexec.d into the new system \\(kernel ${basename(kernelImage()!).replace(/^vmlinuz-/, "").replace(/[.+]/g, "\\$&")}, hostname .*\\), presenting its pinned host key`));
    // The new kernel got kexec-boot's command line (init=<toplevel>/init and the params) and,
    // that init being absent, ran the initramfs's /init all the same.
    const second = /^hearth-vm: hearth booted, cmdline: (.*)$/m.exec(vm.console())?.[1];
    assert.ok(second, vm.console().slice(-800));
    assert.match(second, new RegExp(`init=/nix/store/[0-9a-z]{32}-nixos-system-host/init ${kernelParams.join(" ")}`));
    // Independently: the machine now runs the new system and presents hearth's key.
    const kh = join(work, "known_hosts");
    const manifest = JSON.parse(readFileSync(join(dir, "secrets/manifest.json"), "utf8"));
    writeFileSync(kh, `[127.0.0.1]:${vm.port} ${manifest.secrets[`hosts/${host}/ssh-host-key`].public}\n`);
    const gen = sh("ssh", ["-i", key.file, "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${kh}`, "-o", "LogLevel=ERROR", "-p", String(vm.port), "root@127.0.0.1", "cat /etc/generation"]);
    assert.equal(gen.trim(), "hearth");
  });
});
