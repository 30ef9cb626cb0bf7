// Live machine state over SSH: the collector against test hosts (network namespaces running
// Debian's sshd with the host keys hearth generated for pi-cluster), reading this machine's real
// /proc, kernel and a loop-device ext4; a host that is down, one with another key, one that never
// answers; the concurrency bound. Then the parser on recorded outputs, drift and alert thresholds.
// Stand-ins, named so: systemctl (no systemd here) and an `ssh` that runs the real OpenSSH
// client inside the admin namespace (the admin machine on the test network).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { release, tmpdir } from "node:os";
import { join } from "node:path";
import { copyExample, readyExample } from "./support/fleet.js";
import { TestNet, haveSshd, sshFromNamespace, startSshd } from "./support/netns.js";
import { validateFleetDir } from "../src/node/fleet-dir.js";
import { parseManifest } from "../src/core/secrets/manifest.js";
import { collectMachineStates, machineTargets, type MachineTarget } from "../src/node/monitor/machine.js";
import {
  alertsFromMachine,
  driftOf,
  MACHINE_STATE_SCRIPT,
  parseMachineState,
  unreachableState,
  type MachineState,
  type ReachableMachineState,
} from "../src/core/monitor/machine.js";

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"] }).toString();
const decrypt = (identity: string, file: string) => execFileSync("age", ["-d", "-i", identity, file]);

function sshKeyPair(): { file: string; pub: string } {
  const dir = mkdtempSync(join(tmpdir(), "hearth-key-"));
  sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "test-admin", "-f", join(dir, "id")]);
  return { file: join(dir, "id"), pub: readFileSync(join(dir, "id.pub"), "utf8").trim() };
}

function fleetOf(dir: string) {
  const v = validateFleetDir(dir);
  assert.ok(v.fleet, JSON.stringify(v.issues));
  const { manifest } = parseManifest((() => {
    try {
      return readFileSync(join(dir, "secrets/manifest.json"), "utf8");
    } catch {
      return undefined;
    }
  })());
  return { fleet: v.fleet, manifest };
}

/** `df` run here, for the one mount point: what the remote report must agree with. */
function dfHere(mnt: string) {
  const cols = sh("df", ["-P", "-B1", "-T", mnt]).trim().split("\n")[1]!.split(/\s+/);
  return { size: Number(cols[2]), used: Number(cols[3]), avail: Number(cols[4]) };
}

const reachable = (s: MachineState | undefined): ReachableMachineState => {
  assert.ok(s, "a state for the host");
  assert.ok(s.reachable, `reachable: ${!s.reachable ? s.reason : ""}`);
  return s;
};

describe("machine targets from the fleet", () => {
  test("hosts with a static address (or the fleet's domain) and a pinned key; the rest skipped with why", async () => {
    // homestaking has no domain: ponkila-ephemeral-beta has a static IPv4 address, the Hetzner
    // VM only a static IPv6 one (its IPv4 comes by DHCP), which is where it is reached.
    const { dir } = await readyExample("homestaking");
    const { fleet, manifest } = fleetOf(dir);
    const { targets, skipped } = machineTargets(fleet, manifest, { identityFile: "/k" });
    assert.deepEqual(targets.map((t) => t.host), ["hetzner-ephemeral-alpha", "ponkila-ephemeral-beta"]);
    assert.equal(targets[0]!.target.address, "2001:db8:4f8:1234::2");
    const t = targets[1]!.target;
    assert.equal(t.address, "192.168.100.10");
    assert.equal(t.hostKey, manifest.secrets["hosts/ponkila-ephemeral-beta/ssh-host-key"]!.public);
    assert.equal(t.identityFile, "/k");
    assert.deepEqual(skipped.map((s) => s.host).sort(), ["kaakkuri-ephemeral-alpha", "ponkila-ephemeral-sigma"]);
    for (const s of skipped) assert.match(s.reason, new RegExp(`no static address \\(network\\.addresses in hosts/${s.host}\\.yaml\\)`));
    // ram-nodes has a domain: hosts without an address are found by name, as deploy finds them.
    const ram = fleetOf((await readyExample("ram-nodes")).dir);
    const rt = machineTargets(ram.fleet, ram.manifest);
    assert.deepEqual(rt.skipped, []);
    assert.deepEqual(rt.targets.map((x) => x.target.address), ["10.10.0.11", "node2.lab.example.org", "node3.lab.example.org"]);
  });

  test("no secrets generated: nothing to pin, every host skipped", () => {
    const { fleet, manifest } = fleetOf(copyExample("pi-cluster"));
    const { targets, skipped } = machineTargets(fleet, manifest);
    assert.deepEqual(targets, []);
    assert.equal(skipped.length, 3);
    for (const s of skipped) assert.match(s.reason, /no SSH host key yet to pin: run `hearth secrets generate`/);
  });
});

describe("collecting machine state over SSH", { skip: !haveSshd() && "needs root, ip netns and openssh-server" }, () => {
  let net: TestNet;
  let targets: MachineTarget[];
  let alphaTarget: MachineTarget;
  let mnt: string;
  let loop: string;
  let counter: string;
  const work = mkdtempSync(join(tmpdir(), "hearth-machine-"));
  const stops: (() => void)[] = [];
  const drops: (() => void)[] = [];
  let restorePath = () => {};

  before(async () => {
    net = new TestNet("192.168.1.0/24");
    const admin = net.host("admin", "192.168.1.2");
    restorePath = sshFromNamespace(admin);

    const { dir, identity } = await readyExample("pi-cluster");
    const { fleet, manifest } = fleetOf(dir);
    const key = sshKeyPair();
    const built = machineTargets(fleet, manifest, { identityFile: key.file });
    assert.deepEqual(built.skipped, []);
    targets = built.targets;
    alphaTarget = targets.find((t) => t.host === "pi-alpha")!;
    assert.equal(alphaTarget.target.address, "192.168.1.50");

    // pi-alpha: a 64 MiB ext4 on a loop device, mounted before its sshd starts so the
    // namespace's mount table has it.
    const img = join(work, "disk.img");
    sh("truncate", ["-s", "64M", img]);
    loop = sh("losetup", ["-f", "--show", img]).trim();
    drops.push(() => spawnSync("losetup", ["-d", loop]));
    sh("mkfs.ext4", ["-q", "-F", loop]);
    mnt = join(work, "mnt");
    mkdirSync(mnt);
    sh("mount", [loop, mnt]);
    drops.unshift(() => spawnSync("umount", [mnt]));

    // Stand-in systemctl (no systemd here): lighthouse has failed, so the system is degraded.
    mkdirSync(join(work, "alpha-bin"));
    writeFileSync(
      join(work, "alpha-bin/systemctl"),
      `#!/bin/sh\n# stand-in for systemctl on a test host\ncase "$1" in\n  is-system-running) echo degraded; exit 1;;\n  --failed) echo "lighthouse.service loaded failed failed Lighthouse beacon node";;\nesac\n`,
      { mode: 0o755 },
    );
    const alphaNs = net.host("alpha", "192.168.1.50");
    const alphaKey = decrypt(identity, join(dir, "secrets/hosts/pi-alpha/ssh-host-key.age"));
    stops.push((await startSshd(net, alphaNs, { address: "192.168.1.50", port: 22, hostKey: alphaKey, authorizedKey: key.pub, path: `${join(work, "alpha-bin")}:/usr/bin:/bin:/usr/sbin:/sbin` })).stop);

    // A second server on pi-alpha for the concurrency bound: its stand-in systemctl counts the
    // state scripts running at once (one per SSH session) and holds each for a second.
    counter = join(work, "counter");
    mkdirSync(counter);
    mkdirSync(join(work, "count-bin"));
    writeFileSync(
      join(work, "count-bin/systemctl"),
      `#!/bin/sh\n# stand-in for systemctl that counts concurrent sessions\ncase "$1" in\n  is-system-running)\n    exec 9>>${counter}/lock\n    flock 9; n=$(( $(cat ${counter}/now 2>/dev/null || echo 0) + 1 )); echo $n > ${counter}/now; echo $n >> ${counter}/seen; flock -u 9\n    sleep 1\n    flock 9; echo $(( $(cat ${counter}/now) - 1 )) > ${counter}/now; flock -u 9\n    echo running;;\nesac\n`,
      { mode: 0o755 },
    );
    stops.push((await startSshd(net, alphaNs, { address: "192.168.1.50", port: 2200, hostKey: alphaKey, authorizedKey: key.pub, path: `${join(work, "count-bin")}:/usr/bin:/bin:/usr/sbin:/sbin` })).stop);

    // pi-beta: its sshd was up once and is stopped now.
    const betaNs = net.host("beta", "192.168.1.51");
    const beta = await startSshd(net, betaNs, { address: "192.168.1.51", port: 22, hostKey: decrypt(identity, join(dir, "secrets/hosts/pi-beta/ssh-host-key.age")), authorizedKey: key.pub });
    beta.stop();
    for (let i = 0; i < 100 && net.exec(betaNs, "bash", ["-c", "exec 3<>/dev/tcp/192.168.1.51/22"]).ok; i++) await new Promise((r) => setTimeout(r, 50));

    // pi-gamma: some other machine at its address, with a key of its own.
    const gammaNs = net.host("gamma", "192.168.1.52");
    stops.push((await startSshd(net, gammaNs, { address: "192.168.1.52", port: 22, hostKey: readFileSync(sshKeyPair().file), authorizedKey: key.pub })).stop);
  });

  after(() => {
    restorePath();
    stops.forEach((s) => s());
    net?.destroy();
    drops.forEach((d) => d());
    rmSync(work, { recursive: true, force: true });
  });

  test("the namespace machine's real uptime, memory, kernel and loop-device filesystem; a failed unit becomes alerts", async () => {
    const upBefore = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
    const states = await collectMachineStates([alphaTarget], { concurrency: 1, timeoutMs: 20_000 });
    const upAfter = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
    const s = reachable(states.get("pi-alpha"));
    assert.ok(s.complete);
    assert.equal(s.kernel, release());
    assert.equal(s.bootId, readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim());
    assert.ok(s.uptimeSeconds! >= upBefore && s.uptimeSeconds! <= upAfter, `${s.uptimeSeconds} within [${upBefore}, ${upAfter}]`);
    const memTotal = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"))![1]) * 1024;
    assert.equal(s.memory?.totalBytes, memTotal);
    assert.ok(s.memory!.availableBytes! > 0 && s.memory!.availableBytes! <= memTotal);
    assert.equal(s.load?.length, 3);
    assert.equal(s.nixos, false, "Debian, not NixOS");
    assert.deepEqual(s.system, {}, "no /run/current-system here");

    const vol = s.volumes.find((v) => v.mountpoint === mnt);
    assert.ok(vol, `the loop device's ext4 among ${JSON.stringify(s.volumes.map((v) => v.mountpoint))}`);
    assert.equal(vol.device, loop);
    assert.equal(vol.fsType, "ext4");
    const here = dfHere(mnt);
    assert.equal(vol.sizeBytes, here.size);
    assert.equal(vol.usedBytes, here.used);
    assert.ok(vol.sizeBytes > 40 * 2 ** 20 && vol.sizeBytes <= 64 * 2 ** 20, String(vol.sizeBytes));
    assert.ok(!s.volumes.some((v) => ["tmpfs", "devtmpfs", "proc", "sysfs"].includes(v.fsType)), "no pseudo filesystems");

    // Fill 24 MiB into it: the used bytes grow by as much, as df here also says.
    writeFileSync(join(mnt, "fill"), Buffer.alloc(24 * 2 ** 20, 1));
    sh("sync", ["-f", join(mnt, "fill")]);
    const again = reachable((await collectMachineStates([alphaTarget], { concurrency: 1, timeoutMs: 20_000 })).get("pi-alpha"));
    const vol2 = again.volumes.find((v) => v.mountpoint === mnt)!;
    assert.ok(vol2.usedBytes - vol.usedBytes >= 24 * 2 ** 20, `${vol.usedBytes} → ${vol2.usedBytes}`);
    assert.equal(vol2.usedBytes, dfHere(mnt).used);
    assert.ok(vol2.usedPercent > vol.usedPercent);
    assert.equal(again.bootId, s.bootId, "same boot");

    // systemd's view (from the stand-in): the failed unit and the degraded state, as alerts.
    assert.deepEqual(s.failedUnits, ["lighthouse.service"]);
    assert.equal(s.systemState, "degraded");
    const alerts = alertsFromMachine("pi-alpha", s);
    assert.deepEqual(
      alerts.map((a) => [a.key, a.severity]),
      [
        ["unit.lighthouse.service.failed", "warning"],
        ["system.degraded", "warning"],
      ],
    );
    assert.match(alerts[0]!.summary, /lighthouse\.service failed on pi-alpha/);
    // The fill took it from nearly empty to over 40% of its 55 MiB: with a 40% threshold, that
    // is an alert about this mount after the fill and none before.
    const diskAlert = (st: MachineState) => alertsFromMachine("pi-alpha", st, { volumeWarningPercent: 40 }).find((a) => a.key === `disk.${mnt}`);
    assert.equal(diskAlert(s), undefined, JSON.stringify(vol));
    assert.equal(diskAlert(again)?.severity, "warning", JSON.stringify(vol2));
    // And the state survives the trip to the server's store and the browser.
    assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
  });

  test("a host that is down, one presenting another key, one that never answers: unreachable, with why, within the timeout", async () => {
    const silent: MachineTarget = { host: "silent", target: { ...alphaTarget.target, alias: "silent", address: "192.168.1.99" } };
    const started = Date.now();
    const states = await collectMachineStates([...targets, silent], { concurrency: 4, timeoutMs: 1500 });
    const took = Date.now() - started;
    assert.deepEqual([...states.keys()], ["pi-alpha", "pi-beta", "pi-gamma", "silent"]);
    reachable(states.get("pi-alpha"));
    const beta = states.get("pi-beta")!;
    assert.ok(!beta.reachable);
    assert.match(beta.reason, /nothing listens on 192\.168\.1\.51:22/);
    const gamma = states.get("pi-gamma")!;
    assert.ok(!gamma.reachable, "another key is not trusted");
    assert.match(gamma.reason, /192\.168\.1\.52:22 did not present pi-gamma's pinned host key/);
    const quiet = states.get("silent")!;
    assert.ok(!quiet.reachable);
    assert.match(quiet.reason, /192\.168\.1\.99:22 did not answer within 1\.5 s/);
    // Bounded by the per-host timeout (plus process start-up), not ssh's own ConnectTimeout of 10 s.
    assert.ok(took < 8000, `${took} ms`);
    assert.deepEqual(alertsFromMachine("pi-beta", beta).map((a) => [a.key, a.severity]), [["host.down", "critical"]]);
    assert.match(alertsFromMachine("pi-gamma", gamma)[0]!.summary, /pi-gamma is unreachable: .*pinned host key/);
  });

  test("at most `concurrency` SSH sessions at once", async () => {
    const five = (n: number) => Array.from({ length: 5 }, (_, i) => ({ host: `c${n}-${i}`, target: { ...alphaTarget.target, port: 2200 } }));
    const seen = () => readFileSync(join(counter, "seen"), "utf8").trim().split("\n").map(Number);

    const two = await collectMachineStates(five(2), { concurrency: 2, timeoutMs: 30_000 });
    assert.equal([...two.values()].filter((s) => s.reachable).length, 5);
    assert.equal(seen().length, 5, "each session ran the script once");
    assert.equal(Math.max(...seen()), 2, `two at a time: ${seen()}`);

    // The counter does see overlap beyond two when the collector allows it.
    rmSync(join(counter, "seen"));
    await collectMachineStates(five(5), { concurrency: 5, timeoutMs: 30_000 });
    assert.ok(Math.max(...seen()) > 2, `more than two at a time: ${seen()}`);
  });
});

// Recorded from a RAM-booted NixOS host (tmpfs root, btrfs subvolumes, ZFS) behind a login banner.
const NIXOS_OUTPUT = `Last login: Tue Mar  4 09:12:55 2025 from 192.168.1.2
Welcome to ponkila-ephemeral-beta
@@hearth-machine-state@@ kernel
6.12.17
@@hearth-machine-state@@ hostname
ponkila-ephemeral-beta
@@hearth-machine-state@@ boot-id
5d1b3a58-9c1e-4c3e-8d0e-6f7a4b2c1d09
@@hearth-machine-state@@ uptime
352811.42 1379102.11
@@hearth-machine-state@@ loadavg
0.52 0.61 0.58 2/913 120344
@@hearth-machine-state@@ meminfo
MemTotal:       65536000 kB
MemAvailable:    2048000 kB
@@hearth-machine-state@@ nixos
yes
@@hearth-machine-state@@ current-system
/nix/store/9q5m0s5m6r3g7b4n1p2c8d7f6e5a4b3c-nixos-system-ponkila-ephemeral-beta-25.05.20250301.abcdef0
@@hearth-machine-state@@ booted-system
/nix/store/1a2b3c4d5e6f7g8h9i0jklmnpqrsvwxy-nixos-system-ponkila-ephemeral-beta-25.05.20250201.1234567
@@hearth-machine-state@@ profile
system-42-link
@@hearth-machine-state@@ system-state
degraded
@@hearth-machine-state@@ failed-units
● lighthouse-beacon.service loaded failed failed Lighthouse Ethereum consensus client
  nix-gc.service            loaded failed failed Nix Garbage Collector
@@hearth-machine-state@@ df-bytes
Filesystem     Type         1-blocks         Used    Available Capacity Mounted on
devtmpfs       devtmpfs   3276800000            0   3276800000       0% /dev
tmpfs          tmpfs     32768000000     16384000  32751616000       1% /dev/shm
none           tmpfs     32768000000  30998528000   1769472000      95% /
tmpfs          tmpfs      1000000000       512000    999488000       1% /run
/dev/nvme0n1p1 btrfs   2000398934016 1960390955520 20003989340     99% /mnt/eth
/dev/nvme0n1p1 btrfs   2000398934016 1960390955520 20003989340     99% /var/lib/lighthouse
/dev/nvme0n1p1 btrfs   2000398934016 1960390955520 20003989340     99% /var/lib/geth
/dev/sda1      vfat        535805952     73728000    462077952      14% /boot
rpool/safe/home zfs     107374182400  96636764160  10737418240      91% /home
/dev/loop0     squashfs   1073741824   1073741824            0     100% /nix/.ro-store
overlay        overlay   32768000000  30998528000   1769472000      95% /nix/store
@@hearth-machine-state@@ end
`;

// Recorded from Debian 12 with Docker and snap: no Nix, systemd running.
const DEBIAN_OUTPUT = `@@hearth-machine-state@@ kernel
6.1.0-31-amd64
@@hearth-machine-state@@ hostname
stake-box
@@hearth-machine-state@@ boot-id
0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9
@@hearth-machine-state@@ uptime
1204.07 9312.55
@@hearth-machine-state@@ loadavg
0.08 0.03 0.01 1/301 5123
@@hearth-machine-state@@ meminfo
MemTotal:       16314532 kB
MemAvailable:   14201888 kB
@@hearth-machine-state@@ nixos
@@hearth-machine-state@@ current-system
@@hearth-machine-state@@ booted-system
@@hearth-machine-state@@ profile
@@hearth-machine-state@@ system-state
running
@@hearth-machine-state@@ failed-units
@@hearth-machine-state@@ df-bytes
Filesystem     Type     1-blocks        Used    Available Capacity Mounted on
udev           devtmpfs 8127995904           0 8127995904       0% /dev
tmpfs          tmpfs    1670610944     1122304 1669488640       1% /run
/dev/sda2      ext4     490577010688 98115402137 367487569551  22% /
tmpfs          tmpfs    8353050624           0 8353050624       0% /dev/shm
/dev/sda1      vfat        535805952     6172672  529633280       2% /boot/efi
/dev/sdb1      ext4    3936818814976 3542137102336 197840060416  95% /mnt/My Data
overlay        overlay  490577010688 98115402137 367487569551  22% /var/lib/docker/overlay2/3f1e/merged
/dev/loop3     squashfs     58327040    58327040            0     100% /snap/core20/2318
@@hearth-machine-state@@ end
`;

describe("parsing recorded machine state", () => {
  test("NixOS, RAM-booted: generation, systems, failed units, real volumes only (tmpfs root kept, subvolumes once)", () => {
    const s = parseMachineState(NIXOS_OUTPUT);
    assert.equal(s.reachable, true);
    assert.equal(s.complete, true);
    assert.equal(s.nixos, true);
    assert.equal(s.kernel, "6.12.17");
    assert.equal(s.hostname, "ponkila-ephemeral-beta");
    assert.equal(s.uptimeSeconds, 352811.42);
    assert.deepEqual(s.load, [0.52, 0.61, 0.58]);
    assert.deepEqual(s.memory, { totalBytes: 65536000 * 1024, availableBytes: 2048000 * 1024 });
    assert.equal(s.system.generation, 42);
    assert.match(s.system.current!, /-nixos-system-ponkila-ephemeral-beta-25\.05\.20250301/);
    assert.match(s.system.booted!, /20250201/);
    assert.equal(s.systemState, "degraded");
    assert.deepEqual(s.failedUnits, ["lighthouse-beacon.service", "nix-gc.service"]);
    assert.deepEqual(
      s.volumes.map((v) => [v.mountpoint, v.fsType, v.usedPercent]),
      [
        ["/", "tmpfs", 94.6],
        ["/mnt/eth", "btrfs", 99],
        ["/boot", "vfat", 13.8],
        ["/home", "zfs", 90],
      ],
    );
    assert.deepEqual(s.volumes[1]!.alsoMountedAt, ["/var/lib/lighthouse", "/var/lib/geth"]);
    assert.equal(s.volumes[1]!.sizeBytes, 2000398934016);
    assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
  });

  test("Debian: no Nix, a mount point with a space, docker and snap layers skipped", () => {
    const s = parseMachineState(DEBIAN_OUTPUT);
    assert.equal(s.nixos, false);
    assert.deepEqual(s.system, {});
    assert.equal(s.systemState, "running");
    assert.deepEqual(s.failedUnits, []);
    assert.deepEqual(s.volumes.map((v) => v.mountpoint), ["/", "/boot/efi", "/mnt/My Data"]);
    assert.equal(s.volumes[2]!.usedBytes, 3542137102336);
    assert.equal(s.volumes[2]!.usedPercent, 94.7);
    assert.equal(driftOf(s), "unknown");
    assert.deepEqual(alertsFromMachine("stake-box", s).map((a) => [a.key, a.severity]), [["disk./mnt/My Data", "warning"]]);
  });

  test("busybox without systemd or df -B1, a cut connection, and shell noise inside nothing", () => {
    const busybox = `noise from .profile\n@@hearth-machine-state@@ kernel\n5.15.0\n@@hearth-machine-state@@ meminfo\nMemTotal:         512000 kB\n@@hearth-machine-state@@ df-kib\nFilesystem Type 1024-blocks Used Available Capacity Mounted on\n/dev/mmcblk0p2 ext4 1000 970 10 99% /\n@@hearth-machine-state@@ end\n`;
    const s = parseMachineState(busybox);
    assert.equal(s.systemState, undefined, "no systemd: no state, not a failure");
    assert.deepEqual(s.failedUnits, []);
    assert.deepEqual(s.memory, { totalBytes: 512000 * 1024 });
    assert.deepEqual(s.volumes, [{ mountpoint: "/", device: "/dev/mmcblk0p2", fsType: "ext4", sizeBytes: 1024000, usedBytes: 993280, availableBytes: 10240, usedPercent: 99 }]);
    const cut = parseMachineState(NIXOS_OUTPUT.slice(0, NIXOS_OUTPUT.indexOf("@@hearth-machine-state@@ system-state")));
    assert.equal(cut.complete, false);
    assert.equal(cut.system.generation, 42);
    assert.deepEqual(parseMachineState("Permission denied\n"), { reachable: true, nixos: false, system: {}, failedUnits: [], volumes: [], complete: false });
  });

  test("the script is the one this machine's sh runs, read-only: its report parses", () => {
    const s = parseMachineState(execFileSync("sh", ["-c", MACHINE_STATE_SCRIPT]).toString());
    assert.ok(s.complete);
    assert.equal(s.kernel, release());
    assert.ok(s.memory && s.memory.totalBytes > 0);
    assert.ok(!/\b(rm|mv|tee|dd|mkfs|>\s*\/)/.test(MACHINE_STATE_SCRIPT.replace(/>\s*\/dev\/null/g, "").replace(/2>&1/g, "")), "writes nothing");
  });
});

describe("drift", () => {
  const at = (current?: string, booted?: string): MachineState => ({ reachable: true, nixos: true, system: { ...(current ? { current } : {}), ...(booted ? { booted } : {}) }, failedUnits: [], volumes: [], complete: true });
  const A = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nixos-system-h";
  const B = "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-nixos-system-h";
  test("in sync, drifted, reboot pending, unknown", () => {
    assert.equal(driftOf(at(A, A), A), "in sync");
    assert.equal(driftOf(at(A, A), `${A}/`), "in sync");
    assert.equal(driftOf(at(A, A), B), "drifted", "hearth would deploy another system");
    assert.equal(driftOf(at(B, A), A), "drifted", "switched to something else since boot");
    assert.equal(driftOf(at(A, B), A), "reboot pending", "activated, but booted the old one");
    assert.equal(driftOf(at(A, B)), "reboot pending", "no expectation needed to see that");
    assert.equal(driftOf(at(A, A)), "unknown", "nothing to compare with");
    assert.equal(driftOf(at(undefined, undefined), A), "unknown", "not NixOS");
    assert.equal(driftOf(at(A), A), "in sync", "no /run/booted-system (container)");
    assert.equal(driftOf(unreachableState("down"), A), "unknown");
  });
});

describe("alerts from machine state", () => {
  const vol = (mountpoint: string, usedPercent: number) => ({ mountpoint, device: "/dev/x", fsType: "ext4", sizeBytes: 1000 * 2 ** 20, usedBytes: usedPercent * 10 * 2 ** 20, availableBytes: (100 - usedPercent) * 10 * 2 ** 20, usedPercent });
  const base = (o: Partial<ReachableMachineState>): MachineState => ({ reachable: true, nixos: true, system: {}, failedUnits: [], volumes: [], complete: true, systemState: "running", memory: { totalBytes: 1000, availableBytes: 500 }, ...o });
  const keys = (s: MachineState, t = {}) => alertsFromMachine("h", s, t).map((a) => `${a.key} ${a.severity}`);

  test("volume thresholds: below 90% nothing, from 90% a warning, from 97% critical; configurable", () => {
    assert.deepEqual(keys(base({ volumes: [vol("/a", 89.9), vol("/b", 90), vol("/c", 96.9), vol("/d", 97)] })), ["disk./b warning", "disk./c warning", "disk./d critical"]);
    assert.deepEqual(keys(base({ volumes: [vol("/a", 80)] }), { volumeWarningPercent: 75, volumeCriticalPercent: 79 }), ["disk./a critical"]);
    const [a] = alertsFromMachine("h", base({ volumes: [vol("/var/lib", 97)] }));
    assert.equal(a!.summary, "/var/lib on h is 97% full (30 MiB free of 1000 MiB)");
    assert.ok(a!.hint);
  });

  test("memory under 5% available, failed units one key each, degraded, down", () => {
    assert.deepEqual(keys(base({ memory: { totalBytes: 1000, availableBytes: 50 } })), []);
    assert.deepEqual(keys(base({ memory: { totalBytes: 1000, availableBytes: 49 } })), ["memory.low warning"]);
    assert.deepEqual(keys(base({ memory: { totalBytes: 1000 } })), [], "no MemAvailable: nothing to say");
    assert.deepEqual(keys(base({ failedUnits: ["a.service", "b.timer"], systemState: "degraded" })), ["unit.a.service.failed warning", "unit.b.timer.failed warning", "system.degraded warning"]);
    assert.deepEqual(keys(base({ systemState: "starting" })), []);
    const down = alertsFromMachine("h", unreachableState("nothing listens on 10.0.0.1:22"));
    assert.deepEqual(down.map((a) => [a.key, a.severity, a.summary]), [["host.down", "critical", "h is unreachable: nothing listens on 10.0.0.1:22"]]);
  });
});
