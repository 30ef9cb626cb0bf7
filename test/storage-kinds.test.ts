// Storage as homelab machines have it: XFS, LVM (over LUKS), mdadm RAID, disks by any stable name
// or by kernel name (with a warning), existing filesystems that are only mounted, and the
// initrd's disk modules. Findings point into the files; the generated layout is evaluated by
// the pinned disko's own types (../shared/upstream/disko/lib/types/{filesystem,lvm_vg,lvm_pv,
// mdadm,mdraid,luks}.nix) with the real Nix evaluator; formatting next to mount-only
// filesystems is refused until the host's name is typed back.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { validateFleetDir } from "../src/node/fleet-dir.js";
import { addTestAdmin, FLEET_YAML, hearth, readyExample, tempDir, writeFleet } from "./support/fleet.js";
import { evalHost, evalValue, evalWith, problems, UPSTREAM } from "./support/nixos-eval.js";
import { checkFacts, installDisks, type Facts } from "../src/core/deploy/facts.js";
import { planPrepare } from "../src/core/deploy/prepare.js";
import { hostJobs } from "../src/node/deploy/jobs.js";
import { loadStore } from "../src/cli/secrets.js";
import type { Issue } from "../src/core/validate/issues.js";

const A = "/dev/disk/by-id/ata-A";
const B = "/dev/disk/by-id/ata-B";
const C = "/dev/disk/by-id/ata-C";
const NVME = "/dev/disk/by-id/nvme-N";
const INSTALLED = `ephemeral: false\nboot: { formats: [disk] }\n`;

function findings(host: string): Issue[] {
  const dir = writeFleet({ "fleet.yaml": FLEET_YAML, "hosts/h.yaml": host });
  return validateFleetDir(dir).issues;
}
/** The one finding at `path`, with a line in hosts/h.yaml. */
function at(issues: Issue[], path: string, re: RegExp, severity: Issue["severity"] = "error"): Issue {
  const hits = issues.filter((i) => i.path.join(".") === path && re.test(i.message + " " + (i.hint ?? "")));
  assert.equal(hits.length, 1, `expected one finding at ${path} ~ ${re}, got:\n${issues.map((i) => `${i.path.join(".")}: ${i.message} (${i.hint})`).join("\n")}`);
  const i = hits[0]!;
  assert.equal(i.severity, severity);
  assert.equal(i.file, "hosts/h.yaml");
  assert.ok(i.line && i.line > 0, "located");
  return i;
}
const lineOf = (text: string, needle: string) => text.split("\n").findIndex((l) => l.includes(needle)) + 1;

const LVM_HOST = `${INSTALLED}storage:
  bootDisk: ${NVME}
  volumes:
    system: { type: lvm, devices: [${NVME}], encryption: luks }
    root: { type: xfs, lvm: { vg: system, size: 40G }, mountpoint: / }
    swap: { type: swap, lvm: { vg: system, size: 8G } }
    home: { type: ext4, lvm: { vg: system, size: 100% }, mountpoint: /home }
`;

test("a valid LVM-on-LUKS + XFS host has no findings; kernel names and by-label pass with a warning only where names change", () => {
  assert.deepEqual(findings(LVM_HOST), []);
  const host = `${INSTALLED}storage:
  bootDisk: /dev/nvme0n1
  volumes:
    root: { type: xfs, devices: [/dev/sdb], mountpoint: / }
    media: { type: mount, device: /dev/disk/by-label/media, fsType: xfs, mountpoint: /srv/media }
    old: { type: mount, device: /dev/sdc1, fsType: ext4, mountpoint: /srv/old }
`;
  const issues = findings(host);
  assert.ok(issues.every((i) => i.severity === "warning"), JSON.stringify(issues));
  const w = at(issues, "storage.volumes.root.devices.0", /kernel name.*by-id/, "warning");
  assert.equal(w.line, lineOf(host, "root: { type: xfs"));
  at(issues, "storage.bootDisk", /kernel name/, "warning");
  at(issues, "storage.volumes.old.device", /kernel name.*by-uuid\/by-label/, "warning");
  assert.ok(!issues.some((i) => i.path.includes("media")), "by-label names a filesystem stably");
});

test("findings for what cannot work: XFS subvolumes, a missing VG, too few RAID members, a mount-only filesystem on a formatted disk, a device twice, a mount point twice", () => {
  const xfsSub = `${INSTALLED}storage:\n  bootDisk: ${NVME}\n  volumes:\n    root:\n      type: xfs\n      devices: [${A}]\n      mountpoint: /\n      subvolumes: { nix: { mountpoint: /nix } }\n`;
  const i1 = at(findings(xfsSub), "storage.volumes.root.subvolumes", /XFS has no subvolumes.*btrfs/);
  assert.equal(i1.line, lineOf(xfsSub, "subvolumes:"));

  const missingVg = LVM_HOST.replace("root: { type: xfs, lvm: { vg: system", "root: { type: xfs, lvm: { vg: sytem");
  const i2 = at(findings(missingVg), "storage.volumes.root.lvm.vg", /no volume group 'sytem'.*did you mean 'system'/);
  assert.equal(i2.line, lineOf(missingVg, "sytem"));

  const raid5 = `${LVM_HOST}    arr: { type: raid, level: 5, devices: [${A}, ${B}] }\n    data: { type: xfs, raid: arr, mountpoint: /srv/data }\n`;
  at(findings(raid5), "storage.volumes.arr.devices", /RAID 5 needs at least 3 disks, but 2 given/);
  assert.deepEqual(findings(raid5.replace(`[${A}, ${B}]`, `[${A}, ${B}, ${C}]`)), [], "three members are enough");

  const onFormatted = `${LVM_HOST}    data: { type: xfs, devices: [${A}], mountpoint: /srv/data }\n    media: { type: mount, device: ${A}-part1, fsType: xfs, mountpoint: /srv/media }\n`;
  const i4 = at(findings(onFormatted), "storage.volumes.media.device", /is on \/dev\/disk\/by-id\/ata-A, which hearth formats \(volume 'data'\).*wiped/);
  assert.equal(i4.line, lineOf(onFormatted, "media: { type: mount"));
  at(findings(onFormatted.replace(`${A}-part1`, A)), "storage.volumes.media.device", /which hearth formats/);

  const twice = `${LVM_HOST}    a: { type: xfs, devices: [${A}], mountpoint: /srv/a }\n    b: { type: xfs, devices: [${A}], mountpoint: /srv/b }\n`;
  at(findings(twice), "storage.volumes.b.devices.0", /already used by volume 'a'/);

  const mountTwice = `${LVM_HOST}    media: { type: mount, device: /dev/disk/by-uuid/1234, fsType: xfs, mountpoint: /home }\n`;
  at(findings(mountTwice), "storage.volumes.media.mountpoint", /\/home is already mounted by volume 'home'/);

  const shares = LVM_HOST.replace("size: 40G", "size: 60%").replace("size: 8G", "size: 50%");
  at(findings(shares), "storage.volumes.swap.lvm.size", /gets 50% of group 'system', but the volumes before it already take 60%/);

  const arrayTwice = `${LVM_HOST}    arr: { type: raid, devices: [${A}, ${B}] }\n    d1: { type: xfs, raid: arr, mountpoint: /d1 }\n    d2: { type: xfs, raid: arr, mountpoint: /d2 }\n`;
  at(findings(arrayTwice), "storage.volumes.d2.raid", /array 'arr' already holds volume 'd1'/);

  const nowhere = `${LVM_HOST}    lost: { type: xfs, mountpoint: /lost }\n`;
  at(findings(nowhere), "storage.volumes.lost", /is on nothing/);

  const noOptions = `${LVM_HOST}    media: { type: mount, device: /dev/disk/by-uuid/1234, fsType: xfs, mountpoint: /m, options: [] }\n`;
  at(findings(noOptions), "storage.volumes.media.options", /at least one mount option/);
});

test("keystone/nas: LVM on LUKS, XFS on mdadm RAID 1 and a mount-only disk evaluate with the pinned disko; its create script is disko's own", async () => {
  const { dir } = await readyExample("keystone");
  const flake = join(tempDir(), "flake");
  const g = hearth(["generate", dir, "-o", flake]);
  assert.equal(g.code, 0, g.stderr);
  assert.deepEqual(problems(evalHost(flake, "nas")), []);
  const create = evalValue(flake, "nas", "config.disko.devices._create") as string;
  assert.equal(spawnSync("bash", ["-n"], { input: create, encoding: "utf8" }).status, 0, "bash parses the create script");
  // disko lib/types/luks.nix, lvm_pv.nix, lvm_vg.nix, filesystem.nix, mdraid.nix, mdadm.nix as they write it.
  assert.match(create, /cryptsetup -q luksFormat "\/dev\/disk\/by-partlabel\/disk-boot-system"/);
  assert.match(create, /pvcreate "\/dev\/mapper\/crypt-system"/);
  assert.match(create, /vgcreate "system"/);
  assert.match(create, /lvcreate \\\s+--yes \\\s+-L \\\s+64G \\\s+-n "root"/);
  assert.match(create, /-l \\\s+100%FREE \\\s+-n "nix"/, "100% of a group is lvcreate -l 100%FREE");
  assert.match(create, /mkfs\.xfs \\\s+-f \\\s+"\/dev\/system\/root"/);
  assert.match(create, /-L \\\s+16G \\\s+-n "swap"/, "swap's LV (randomEncryption: mkswap runs at each boot, not here)");
  assert.match(create, /echo "\/dev\/disk\/by-partlabel\/disk-mirror0-mirror" >>"\$disko_devices_dir"\/raid_mirror/);
  assert.match(create, /mdadm --create "\/dev\/md\/mirror" \\\s+--level=1/);
  assert.match(create, /mkfs\.xfs \\\s+-f -L data \\\s+"\/dev\/md\/mirror"/);
  // The mount-only filesystem: in fileSystems, nowhere in what disko formats or mounts.
  for (const script of ["_create", "_mount"]) assert.ok(!(evalValue(flake, "nas", `config.disko.devices.${script}`) as string).includes("5d2c8a3e"), script);
  assert.ok(!readFileSync(join(flake, "hosts/nas/disko.nix"), "utf8").includes("5d2c8a3e"));
  assert.deepEqual(evalWith(flake, "nas", `{ inherit (h.config.fileSystems."/srv/media") device fsType options; }`), {
    device: "/dev/disk/by-uuid/5d2c8a3e-7f41-4b7e-9a53-2f6c1e0d9b21",
    fsType: "xfs",
    options: ["nofail", "noatime", "ro"],
  });
  // disko's own _config: the XFS mounts, the LUKS unlock at boot, swraid for the array.
  assert.equal(evalValue(flake, "nas", `config.fileSystems."/".fsType`), "xfs");
  assert.equal(evalValue(flake, "nas", `config.fileSystems."/".device`), "/dev/system/root");
  assert.equal(evalValue(flake, "nas", `config.fileSystems."/srv/data".device`), "/dev/md/mirror");
  assert.equal(evalValue(flake, "nas", `config.boot.initrd.luks.devices.crypt-system.device`), "/dev/disk/by-partlabel/disk-boot-system");
  assert.equal(evalValue(flake, "nas", "config.boot.swraid.enable"), true);
  const modules = evalValue(flake, "nas", "config.boot.initrd.availableKernelModules") as string[];
  assert.ok(modules.includes("mpt3sas") && modules.includes("nvme"), modules.join(" "));
  // The passphrase disko formats LUKS with is one of hearth's secrets, streamed at install.
  assert.ok(existsSync(join(dir, "secrets/hosts/nas/luks-passphrase.age")) || readFileSync(join(dir, "secrets/manifest.json"), "utf8").includes("hosts/nas/luks-passphrase"));
});

test("LVM over a LUKS-encrypted mdadm RAID 1 and btrfs on a logical volume evaluate with the pinned disko", async () => {
  const { dir } = await readyExample("keystone");
  const file = join(dir, "hosts/nas.yaml");
  writeFileSync(file, readFileSync(file, "utf8")
    .replace(/    mirror:\n      type: raid\n      level: 1\n/, "    mirror:\n      type: raid\n      level: 1\n      encryption: luks\n")
    .replace(/    data:\n      type: xfs\n      raid: mirror\n      label: data\n      mountpoint: \/srv\/data\n/,
      "    tank:\n      type: lvm\n      raid: mirror\n    data:\n      type: xfs\n      lvm: { vg: tank, size: 2T }\n      mountpoint: /srv/data\n    backup:\n      type: btrfs\n      lvm: { vg: tank, size: 100% }\n      subvolumes: { snapshots: { mountpoint: /srv/backup } }\n"));
  assert.deepEqual(validateFleetDir(dir).issues.map((i) => i.message), []);
  const flake = join(tempDir(), "flake");
  assert.equal(hearth(["generate", dir, "-o", flake]).code, 0);
  assert.deepEqual(problems(evalHost(flake, "nas")), []);
  const create = evalValue(flake, "nas", "config.disko.devices._create") as string;
  const order = [/mdadm --create "\/dev\/md\/mirror"/, /luksFormat "\/dev\/md\/mirror"/, /pvcreate "\/dev\/mapper\/crypt-mirror"/, /vgcreate "tank"/, /-n "data"/, /mkfs\.btrfs/].map((re) => create.search(re));
  assert.ok(order.every((p) => p >= 0), JSON.stringify(order));
  assert.deepEqual([...order].sort((a, b) => a - b), order, "disko creates array, LUKS, PV, group, LVs in dependency order");
  assert.equal(evalValue(flake, "nas", `config.fileSystems."/srv/backup".device`), "/dev/tank/backup");
});

test("deploy --install and prepare refuse to format a host with mount-only filesystems until --confirm-existing names it", async () => {
  const { dir, identity } = await readyExample("keystone");
  const store = loadStore(dir);
  const nas = store.fleet.hosts.get("nas")!;
  assert.deepEqual(installDisks(nas).sort(), ["/dev/disk/by-id/ata-WDC_WD80EFZZ-68BTXN0_WD-CA0AAAA1", "/dev/disk/by-id/ata-WDC_WD80EFZZ-68BTXN0_WD-CA0AAAA2", "/dev/disk/by-id/nvme-WD_BLACK_SN770_1TB_22331K800111"]);
  const facts: Facts = { arch: "x86_64", memKiB: 8 << 20, uid: 0, sudo: true, kexec: true, nixos: false, devices: new Set([...installDisks(nas), "/dev/disk/by-uuid/5d2c8a3e-7f41-4b7e-9a53-2f6c1e0d9b21"]) };
  const o = { user: "root", builtFromFleet: true };
  const refused = checkFacts("nas", nas, "install", facts, o);
  assert.equal(refused.length, 1);
  assert.match(refused[0]!, /nas has filesystems that hearth must only mount, never format: \/srv\/media \(\/dev\/disk\/by-uuid\/5d2c8a3e-[0-9a-f-]+, xfs; volume media\)\. nixos-anywhere runs disko, which wipes .*nvme-WD_BLACK.*--confirm-existing nas$/);
  assert.deepEqual(checkFacts("nas", nas, "install", facts, { ...o, confirmExisting: "nas" }), []);
  assert.equal(checkFacts("nas", nas, "install", facts, { ...o, confirmExisting: "server" }).length, 1, "another host's name confirms nothing");
  assert.deepEqual(checkFacts("nas", nas, "update", facts, o), [], "an update formats nothing");
  // The CLI's --confirm-existing reaches the job the executor checks.
  const ids = async () => [];
  assert.equal(hostJobs(store, dir, ["nas"], { install: true, target: { address: "192.0.2.10" }, identities: ids }).jobs[0]!.confirmExisting, undefined);
  assert.equal(hostJobs(store, dir, ["nas"], { install: true, target: { address: "192.0.2.10" }, identities: ids, confirmExisting: new Set(["nas"]) }).jobs[0]!.confirmExisting, "nas");
  assert.ok(identity);

  // hearth prepare: a RAM-booted host whose btrfs it formats, beside an existing disk.
  const fleet = writeFleet({
    "fleet.yaml": FLEET_YAML,
    "hosts/eth.yaml": `ephemeral: true\nnetwork: { dhcp: false, addresses: [192.168.1.9/24] }\nstorage:\n  volumes:\n    secrets: { type: btrfs, format: false, devices: [${A}], subvolumes: { secrets: { mountpoint: /var/mnt/secrets } } }\n    archive: { type: mount, device: /dev/disk/by-uuid/77aa, fsType: xfs, mountpoint: /var/mnt/archive }\n`,
  });
  const v = validateFleetDir(fleet);
  assert.deepEqual(v.issues, []);
  const eth = v.fleet!.hosts.get("eth")!;
  const p = planPrepare("eth", eth, []);
  assert.match(p.problems.join("\n"), /eth has filesystems that hearth must only mount, never format: \/var\/mnt\/archive \(\/dev\/disk\/by-uuid\/77aa, xfs; volume archive\)\. hearth prepare's format phase wipes \/dev\/disk\/by-id\/ata-A;.*--confirm-existing eth/);
  assert.deepEqual(planPrepare("eth", eth, [], undefined, { confirmExisting: "eth" }).problems, []);
  assert.deepEqual(planPrepare("eth", eth, [], undefined, { formats: false }).problems, [], "without the format phase nothing is wiped");
  assert.ok(!planPrepare("eth", eth, [], undefined, { confirmExisting: "eth" }).phases.flatMap((ph) => ph.steps).some((s) => s.argv.join(" ").includes("77aa")), "no step touches the mount-only device");
  // Through the CLI: --dry-run already refuses, and --confirm-existing lets the plan print.
  await addTestAdmin(fleet);
  assert.equal(hearth(["secrets", "generate", "-f", fleet]).code, 0);
  const r = hearth(["prepare", "eth", "-f", fleet, "--dry-run"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--confirm-existing eth/);
  const ok = hearth(["prepare", "eth", "-f", fleet, "--dry-run", "--confirm-existing", "eth"]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /mkfs\.btrfs -f -L secrets \/dev\/disk\/by-id\/ata-A/);
  assert.ok(!ok.stdout.includes("77aa"));
});

test("as root: disko's create script for hearth's LVM + XFS layout makes the group and filesystems on loop devices, and they mount", async (t) => {
  if (process.getuid?.() !== 0) return t.skip("needs root for loop devices and device-mapper");
  const missing = ["losetup", "pvcreate", "vgcreate", "lvcreate", "mkfs.xfs", "xfs_info", "nix-instantiate"].filter((c) => spawnSync("sh", ["-c", `command -v ${c}`]).status !== 0);
  if (missing.length) return t.skip(`missing ${missing.join(", ")}`);
  if (spawnSync("dmsetup", ["version"]).status !== 0) return t.skip("no device-mapper in this kernel or container");
  // hearth's logical volumes (root: xfs 64G → scaled, nix: xfs 100%) from the generated disko.nix
  // of keystone/nas, on PVs that are whole loop devices (no partition table: that step needs
  // sgdisk and udev's by-partlabel links, which a container lacks; the LVM and XFS steps are disko's own).
  const { dir } = await readyExample("keystone");
  const file = join(dir, "hosts/nas.yaml");
  writeFileSync(file, readFileSync(file, "utf8").replace("size: 64G", "size: 300M").replace("size: 16G", "size: 64M"));
  const flake = join(tempDir(), "flake");
  assert.equal(hearth(["generate", dir, "-o", flake]).code, 0);
  const work = mkdtempSync(join(tmpdir(), "hearth-loop-"));
  const loops: string[] = [];
  const vg = `hearth${process.pid}`;
  try {
    for (const i of [0, 1]) {
      const img = join(work, `pv${i}.img`);
      spawnSync("truncate", ["-s", "400M", img]);
      const l = spawnSync("losetup", ["--find", "--show", img], { encoding: "utf8" });
      if (l.status !== 0) return t.skip(`losetup: ${l.stderr.trim()}`);
      loops.push(l.stdout.trim());
    }
    const expr = `let
      lib = import ${JSON.stringify(join(UPSTREAM, "nixpkgs-lib/lib"))};
      disko = import ${JSON.stringify(join(UPSTREAM, "disko/lib"))} { inherit lib; };
      generated = (import ${JSON.stringify(join(flake, "hosts/nas/disko.nix"))} { inherit lib; }).disko.devices.lvm_vg.system;
      devices = {
        disk = lib.listToAttrs (lib.imap0 (i: d: lib.nameValuePair "pv\${toString i}" { type = "disk"; device = d; content = { type = "lvm_pv"; vg = "${vg}"; }; }) ${JSON.stringify(loops).replace(/,/g, " ")});
        lvm_vg.${vg} = generated // { lvs = lib.mapAttrs (n: lv: lv // { content = lv.content // lib.optionalAttrs (lv.content ? mountpoint) { mountpoint = "${work}/mnt\${lv.content.mountpoint}"; }; }) generated.lvs; };
      };
      top = (lib.evalModules { modules = [ { options.d = lib.mkOption { type = disko.toplevel; }; config.d = devices; } ]; }).config.d;
    in { create = top._create; mount = top._mount; }`;
    const ev = spawnSync("nix-instantiate", ["--eval", "--strict", "--json", "-E", expr], { encoding: "utf8" });
    assert.equal(ev.status, 0, ev.stderr);
    const { create, mount } = JSON.parse(ev.stdout) as { create: string; mount: string };
    assert.match(create, /lvcreate/);
    assert.match(create, /mkfs\.xfs/);
    // No udev here: device-mapper makes its own nodes; modprobe may be absent (built-in dm).
    const bin = join(work, "bin");
    spawnSync("mkdir", ["-p", bin]);
    writeFileSync(join(bin, "modprobe"), "#!/bin/sh\n/sbin/modprobe \"$@\" 2>/dev/null || true\n", { mode: 0o755 });
    const env = { ...process.env, PATH: `${bin}:${process.env["PATH"]}`, DM_DISABLE_UDEV: "1", LVM_SUPPRESS_FD_WARNINGS: "1" };
    const c = spawnSync("bash", ["-c", create], { encoding: "utf8", env, timeout: 120_000 });
    assert.equal(c.status, 0, `create failed:\n${c.stderr.slice(-3000)}`);
    const m = spawnSync("bash", ["-c", mount], { encoding: "utf8", env, timeout: 60_000 });
    assert.equal(m.status, 0, `mount failed:\n${m.stderr.slice(-3000)}`);
    const fs = spawnSync("findmnt", ["-n", "-o", "FSTYPE,SOURCE", `${work}/mnt/nix`], { encoding: "utf8" });
    assert.match(fs.stdout, /^xfs /, fs.stdout + fs.stderr);
    assert.match(spawnSync("findmnt", ["-n", "-o", "FSTYPE", `${work}/mnt`], { encoding: "utf8" }).stdout, /xfs/);
    writeFileSync(`${work}/mnt/nix/probe`, "ok");
    const lvs = spawnSync("lvs", ["--noheadings", "-o", "lv_name,lv_size", "--units", "m", vg], { encoding: "utf8", env }).stdout;
    assert.match(lvs, /root\s+300\.00m/);
    assert.match(lvs, /swap\s+64\.00m/);
    assert.match(lvs, /nix\s+/, "100% takes what is left");
  } finally {
    spawnSync("sh", ["-c", `umount -R ${work}/mnt 2>/dev/null; swapoff /dev/${vg}/swap 2>/dev/null; vgchange -an ${vg} >/dev/null 2>&1; true`], { env: { ...process.env, DM_DISABLE_UDEV: "1" } });
    for (const l of loops) spawnSync("losetup", ["-d", l]);
    rmSync(work, { recursive: true, force: true });
  }
});
