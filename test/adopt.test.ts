// `hearth adopt HOST --address` / `--facter-report`: a running machine described as hosts/HOST.yaml.
// Over SSH: Debian's sshd in a network namespace (the "machine"), hearth run from an admin
// namespace, loop devices carrying real filesystems made here (btrfs, ext4, XFS, LUKS, LVM),
// each with a /dev/disk/by-id name. A ForceCommand wrapper records every command the machine
// runs; the disks' checksums before and after show nothing was written. Then a recorded
// nixos-facter report (test/fixtures/adopt/facter-nuc.json, shaped as numtide/nixos-facter v0.3.0
// writes it: pkg/facter/facter.go, pkg/facter/hardware.go, pkg/hwinfo/hardware.go,
// pkg/hwinfo/resource_size.go, pkg/hwinfo/smbios_sys_info.go at tag v0.3.0) → the expected host document.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { FLEET_YAML, hearth, writeFleet } from "./support/fleet.js";
import { TestNet, haveSshd, startSshd } from "./support/netns.js";
import { loopDisk, sshKeyPair } from "./support/test-hosts.js";
import { validateFleetDir } from "../src/node/fleet-dir.js";
import { REPO_ROOT } from "../src/node/fleet-dir.js";
import { ADOPT_SCRIPT, adoptRemoteCommand, parseAdoptOutput, parseHardwareConfiguration } from "../src/core/adopt/facts.js";
import { factsFromFacter, parseFacterReport } from "../src/core/adopt/facter.js";
import { mapFacts } from "../src/core/adopt/mapping.js";

const sh = (cmd: string, args: string[], input?: string) => execFileSync(cmd, args, { stdio: ["pipe", "pipe", "pipe"], ...(input !== undefined ? { input } : {}) }).toString();
const FACTER = join(REPO_ROOT, "test/fixtures/adopt/facter-nuc.json");
const todoLines = (text: string) => text.split("\n").filter((l) => /^\s*# TODO\(adopt\): /.test(l));

/**
 * The fleet with the adopted file: its schema holds, and the only findings are the two an
 * installed host without an expressible root filesystem and boot disk must have, each also a
 * TODO in the file.
 */
function onlyExpectedFindings(dir: string, host: string, text: string) {
  const v = validateFleetDir(dir);
  assert.ok(v.fleet?.hosts.has(host), JSON.stringify(v.issues));
  assert.deepEqual(
    v.issues.map((i) => `${i.file} ${i.path.join(".")}: ${i.message}`).sort(),
    [`hosts/${host}.yaml storage: an installed host needs storage.bootDisk for its EFI system partition`, `hosts/${host}.yaml storage.volumes: an installed host needs a volume mounted at /`].sort(),
  );
  for (const i of v.issues) assert.ok(todoLines(text).some((l) => l.includes(`hearth validate: ${i.message}`)), `TODO for ${i.message}`);
  return v;
}

describe("adopt: command modes", () => {
  test("--key and --address together, or neither, are refused with what to give", () => {
    const dir = writeFleet({ "fleet.yaml": FLEET_YAML });
    const both = hearth(["adopt", "m", "-f", dir, "--key", "ssh-ed25519 AAAA", "--address", "10.0.0.1"]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /give --key \(adopt a pending pull node\) or --address \/ --facter-report \(adopt a running machine\), not both/);
    const neither = hearth(["adopt", "m", "-f", dir]);
    assert.equal(neither.code, 2);
    assert.match(neither.stderr, /say what to adopt: --key KEY .* --address ADDRESS .* --facter-report FILE/);
    const firstContact = hearth(["adopt", "m", "-f", dir, "--address", "10.0.0.1"]);
    assert.equal(firstContact.code, 1);
    assert.match(firstContact.stderr, /first contact with 10\.0\.0\.1: hearth does not know its host key yet\. Pass --host-key .* or --accept-new-key/);
    assert.ok(!existsSync(join(dir, "hosts/m.yaml")));
  });
});

describe("adopt from a saved nixos-facter report (v0.3.0 format)", () => {
  test("the report → the expected host document, valid in the fleet, with TODOs for what it does not tell", () => {
    const dir = writeFleet({ "fleet.yaml": FLEET_YAML });
    const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILeL0yNt4ihLjfN2C/jhnpl4w/LYBEHFCGTG8+jYyIrw";
    const r = hearth(["adopt", "nuc", "-f", dir, "--facter-report", FACTER, "--host-key", `${key} root@nuc`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /read .*facter-nuc\.json \(nixos-facter report version 1, x86_64-linux\)/);
    assert.match(r.stdout, /disk \/dev\/disk\/by-id\/nvme-Samsung_SSD_980_PRO_1TB_S5GXNX0T123456A: 931\.5 GiB Samsung SSD 980 PRO 1TB/);
    const text = readFileSync(join(dir, "hosts/nuc.yaml"), "utf8");
    const doc = parseDocument(text);
    assert.deepEqual(doc.errors, []);
    assert.deepEqual(doc.toJSON(), {
      name: "nuc",
      description: "Adopted: nuc (Intel(R) Client Systems NUC11TNHi5)",
      system: "x86_64-linux",
      hardware: "generic-x86-uefi",
      sshHostKey: key,
      boot: {},
      storage: { volumes: {} },
      security: {},
      network: { interface: "enp87s0", dhcp: true },
    });
    // What the report tells beyond the fields, as comments; what it cannot, as TODOs.
    assert.match(text, /# MAC unknown, driver igc \(security\.remoteUnlock\.networkModule if the initrd needs it\)\./);
    assert.match(text, /# \/dev\/disk\/by-id\/nvme-Samsung_SSD_980_PRO_1TB_S5GXNX0T123456A-part2: filesystem unknown/);
    const todos = todoLines(text).join("\n");
    for (const t of [/check the hardware profile \(a guess from DMI "Intel\(R\) Client Systems NUC11TNHi5"/, /the boot mode \(UEFI or BIOS\) is unknown/, /TPM presence unknown/, /the report names no filesystems/, /no usable MAC \(nixos-facter 0\.3\.0 records one byte of it\)/])
      assert.match(todos, t);
    const v = onlyExpectedFindings(dir, "nuc", text);
    assert.equal(v.fleet!.hosts.get("nuc")!.sshHostKey, key);
    assert.match(r.stdout, /the fleet is not valid until hosts\/nuc\.yaml's findings above are resolved/);
  });

  test("the report's facts: RAM from phys_mem, disk size from sectors × sector size, partitions by attached_to", () => {
    const f = factsFromFacter(parseFacterReport(readFileSync(FACTER, "utf8")));
    assert.equal(f.arch, "x86_64");
    assert.equal(f.memKiB, 34359738368 / 1024);
    assert.equal(f.disks.length, 1);
    assert.equal(f.disks[0]!.size, 1953525168 * 512);
    assert.deepEqual(f.disks[0]!.byId, ["/dev/disk/by-id/nvme-Samsung_SSD_980_PRO_1TB_S5GXNX0T123456A", "/dev/disk/by-id/nvme-eui.002538b111b22c33"]);
    assert.deepEqual(f.disks[0]!.children.map((c) => c.path), ["/dev/nvme0n1p1", "/dev/nvme0n1p2"]);
    assert.deepEqual(f.interfaces.map((i) => [i.name, i.loopback, i.driverModule]), [["lo", true, undefined], ["enp87s0", false, "igc"]]);
    assert.throws(() => parseFacterReport('{"hardware": {}}'), /not a nixos-facter report/);
  });

  test("an existing host file is not overwritten without --force", () => {
    const dir = writeFleet({ "fleet.yaml": FLEET_YAML, "hosts/nuc.yaml": "# mine\nname: nuc\n" });
    const r = hearth(["adopt", "nuc", "-f", dir, "--facter-report", FACTER]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /hosts\/nuc\.yaml exists already; hearth adopt does not overwrite it \(pass --force/);
    assert.equal(readFileSync(join(dir, "hosts/nuc.yaml"), "utf8"), "# mine\nname: nuc\n");
    const f = hearth(["adopt", "nuc", "-f", dir, "--facter-report", FACTER, "--force"]);
    assert.equal(f.code, 0, f.stderr);
    assert.match(readFileSync(join(dir, "hosts/nuc.yaml"), "utf8"), /interface: enp87s0/);
  });
});

describe("facts script output → host fields (pure)", () => {
  test("hardware-configuration.nix, NixOS stateVersion, a Pi board, DHCP and a LUKS layer", () => {
    const hc = parseHardwareConfiguration(`{ boot.initrd.availableKernelModules = [ "xhci_pci" "ahci" "nvme" ];\n boot.kernelModules = [ "kvm-intel" ];\n fileSystems."/" = { device = "/dev/disk/by-uuid/abc"; fsType = "ext4"; };\n}`);
    assert.deepEqual(hc, { availableKernelModules: ["xhci_pci", "ahci", "nvme"], kernelModules: ["kvm-intel"], fileSystems: [{ mountpoint: "/", device: "/dev/disk/by-uuid/abc", fsType: "ext4" }] });
    const out = [
      ["arch", "aarch64"], ["hostname", "pi"], ["model", "Raspberry Pi 4 Model B Rev 1.5"], ["efi", "bios"], ["tpm", ""],
      ["lsblk", JSON.stringify({ blockdevices: [{ name: "sda", path: "/dev/sda", size: 1e9, type: "disk", children: [{ name: "sda1", path: "/dev/sda1", size: 9e8, type: "part", fstype: "crypto_LUKS", children: [{ name: "cr", path: "/dev/mapper/cr", size: 8e8, type: "crypt", fstype: "ext4", mountpoints: ["/"] }] }] }] })],
      ["by-id", "/dev/disk/by-id/usb-SSD-0:0 /dev/sda\n/dev/disk/by-id/usb-SSD-0:0-part1 /dev/sda1"],
      ["ip-addr", JSON.stringify([{ ifname: "end0", flags: ["UP"], link_type: "ether", address: "dc:a6:32:01:02:03", addr_info: [{ family: "inet", local: "192.168.1.9", prefixlen: 24, scope: "global", dynamic: true }] }])],
      ["ip-route", JSON.stringify([{ dst: "default", gateway: "192.168.1.1", dev: "end0" }])],
      ["nixos", "yes"], ["nixos-version", "24.05.1234 (Uakari)"], ["state-version", '  system.stateVersion = "23.11"; # Did you read the comment?'],
    ].map(([k, v]) => `@@hearth-adopt:${k}\n${v}`).join("\n");
    const { facts } = parseAdoptOutput(out + "\n@@hearth-adopt:end\n");
    const d = mapFacts(facts, { name: "pi" });
    assert.equal(d.doc["system"], "aarch64-linux");
    assert.equal(d.doc["hardware"], "raspberry-pi-4");
    assert.equal(d.doc["stateVersion"], "23.11");
    assert.deepEqual(d.doc["network"], { interface: "end0", mac: "dc:a6:32:01:02:03", dhcp: true });
    assert.ok(d.todos.some((t) => /LUKS container on \/dev\/disk\/by-id\/usb-SSD-0:0-part1/.test(t)));
    assert.ok(d.notes.some((n) => n.lines.some((l) => /crypt cr → ext4 mounted at \//.test(l))));
  });

  test("the script only reads: every command word is one of the read-only tools", () => {
    // Words in command position: after start of line, ;, &&, ||, |, then, do, $( .
    const words = new Set<string>();
    for (const m of ADOPT_SCRIPT.matchAll(/(?:^|;|&&|\|\||\||\bthen\b|\bdo\b|\belse\b|\$\()\s*([A-Za-z][\w.-]*)/gm)) words.add(m[1]!);
    const readOnly = ["echo", "uname", "cat", "tr", "grep", "ls", "sed", "readlink", "lsblk", "blkid", "findmnt", "ip", "systemd-detect-virt", "nixos-version", "nixos-facter", "command", "printf", "true", "if", "then", "else", "fi", "for", "do", "done", "m"];
    assert.deepEqual([...words].filter((w) => !readOnly.includes(w)), []);
    // ip only shows; blkid keeps no cache file.
    for (const m of ADOPT_SCRIPT.matchAll(/\bip (-j (?:-6 )?)(\w+) (\w+)/g)) assert.equal(m[3], "show");
    assert.match(ADOPT_SCRIPT, /blkid -c \/dev\/null/);
  });
});

describe("adopt over SSH: a machine with real filesystems", { skip: !haveSshd() && "needs root, ip netns and openssh-server" }, () => {
  let net: TestNet;
  let admin: string;
  let machineNs: string;
  const addr = "192.168.79.20";
  const work = mkdtempSync(join(tmpdir(), "hearth-adopt-"));
  const log = join(work, "commands.log");
  const drops: (() => void)[] = [];
  let key: { file: string; pub: string };
  let hostPub: string;
  let disks: Record<"btrfs" | "ext4" | "xfs" | "luks" | "lvm", { dev: string; byId: string }>;
  let lvmSkip: string | undefined;
  let mnt: string;
  let mac: string;
  const vg = `hearthadopt${process.pid}`;

  const checksums = () => Object.fromEntries(Object.entries(disks).map(([k, d]) => [k, sh("sha256sum", [d.dev]).split(" ")[0]]));
  const commands = () => (existsSync(log) ? readFileSync(log, "utf8").split("\n@@end-of-command@@\n").filter(Boolean) : []);

  before(async () => {
    const mk = (tag: string, mb: number) => {
      const d = loopDisk(`adopt-${tag}`, mb);
      drops.unshift(d.drop);
      return d;
    };
    disks = { btrfs: mk("btrfs", 128), ext4: mk("ext4", 64), xfs: mk("xfs", 320), luks: mk("luks", 64), lvm: mk("lvm", 64) };
    sh("mkfs.btrfs", ["-q", "-f", "-L", "hbtrfs", disks.btrfs.dev]);
    sh("mkfs.ext4", ["-q", "-F", "-L", "hext4", disks.ext4.dev]);
    sh("mkfs.xfs", ["-q", "-f", "-L", "hxfs", disks.xfs.dev]);
    sh("cryptsetup", ["luksFormat", "--batch-mode", "--type", "luks2", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000", "--key-file", "-", disks.luks.dev], "test passphrase");
    // LVM needs device-mapper for its logical volumes; without it only the PV signature is checked.
    const lvm = (args: string[]) => spawnSync(args[0]!, [...args.slice(1)], { encoding: "utf8", env: { ...process.env, DM_DISABLE_UDEV: "1" } });
    const noUdev = ["--config", "activation { udev_sync = 0 udev_rules = 0 } devices { use_devicesfile = 0 }"];
    const pv = lvm(["pvcreate", "-q", ...noUdev, disks.lvm.dev]);
    assert.equal(pv.status, 0, pv.stderr);
    const vgc = lvm(["vgcreate", "-q", ...noUdev, vg, disks.lvm.dev]);
    const lv = vgc.status === 0 ? lvm(["lvcreate", "-q", ...noUdev, "-y", "-L", "16M", "-n", "data", vg]) : vgc;
    if (lv.status !== 0 || !existsSync(`/dev/mapper/${vg}-data`)) lvmSkip = `no device-mapper in this kernel (${(lv.stderr.split("\n").find((l) => /device-mapper/.test(l)) ?? lv.stderr.trim().split("\n").pop() ?? "no /dev/mapper node").trim()})`;
    else {
      sh("mkfs.ext4", ["-q", "-F", "-L", "hlv", `/dev/mapper/${vg}-data`]);
      drops.unshift(() => {
        lvm(["vgchange", "-q", ...noUdev, "-an", vg]);
        lvm(["vgremove", "-q", ...noUdev, "-f", vg]);
      });
    }
    // The ext4 is mounted read-only (noload: no journal replay), so mounting writes nothing.
    mnt = join(work, "srv");
    mkdirSync(mnt);
    sh("mount", ["-o", "ro,noload", disks.ext4.dev, mnt]);
    drops.unshift(() => spawnSync("umount", [mnt]));

    net = new TestNet("192.168.79.0/24");
    admin = net.host("admin", "192.168.79.2");
    machineNs = net.host("machine", addr);
    sh("ip", ["-n", machineNs, "route", "add", "default", "via", "192.168.79.1"]);
    mac = (JSON.parse(sh("ip", ["-n", machineNs, "-j", "link", "show", "eth0"])) as { address: string }[])[0]!.address;
    key = sshKeyPair();
    sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "machine", "-f", join(work, "host_key")]);
    hostPub = readFileSync(join(work, "host_key.pub"), "utf8").trim().split(" ").slice(0, 2).join(" ");
    // Every command the machine is asked to run is recorded, then run as sshd would.
    writeFileSync(join(work, "record"), `#!/bin/sh\n# stand-in login shell wrapper: records each command\nprintf '%s\\n@@end-of-command@@\\n' "$SSH_ORIGINAL_COMMAND" >> ${log}\nexec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n`, { mode: 0o755 });
    const sshd = await startSshd(net, machineNs, { address: addr, port: 22, hostKey: readFileSync(join(work, "host_key")), authorizedKey: key.pub, forceCommand: join(work, "record") });
    drops.unshift(() => sshd.stop());
  });

  after(() => {
    net?.destroy();
    for (const d of drops) d();
    rmSync(work, { recursive: true, force: true });
  });

  const adopt = (dir: string, extra: string[]) => hearth(["adopt", "machine", "-f", dir, "--address", addr, "--ssh-key", key.file, ...extra], { netns: admin });

  test("first contact with --accept-new-key: facts read in one read-only command, the host file written and valid", (t) => {
    const dir = writeFleet({ "fleet.yaml": FLEET_YAML });
    const before = checksums();
    const r = adopt(dir, ["--accept-new-key"]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const fp = sh("ssh-keygen", ["-lf", join(work, "host_key.pub")]).split(" ")[1]!;
    assert.match(r.stdout, new RegExp(`first contact: ${addr.replace(/\./g, "\\.")}:22 presented ED25519 key ${fp.replace(/[+/]/g, "\\$&")}; trusted on first use and pinned as sshHostKey`));

    // The machine ran exactly the one read-only script, and its disks are byte for byte the same.
    assert.deepEqual(commands(), [adoptRemoteCommand("root")]);
    assert.deepEqual(checksums(), before);

    const text = readFileSync(join(dir, "hosts/machine.yaml"), "utf8");
    if (process.env.HEARTH_ADOPT_SAMPLE) writeFileSync(process.env.HEARTH_ADOPT_SAMPLE, text);
    const doc = parseDocument(text);
    assert.deepEqual(doc.errors, []);
    const h = doc.toJSON();
    assert.equal(h.sshHostKey, hostPub);
    assert.equal(h.system, "x86_64-linux");
    const vols = Object.values(h.storage.volumes) as { type: string; devices: string[]; format: boolean; label?: string; mountpoint?: string }[];
    const ext4 = vols.find((v) => v.devices[0] === disks.ext4.byId);
    assert.deepEqual(ext4, { type: "ext4", format: false, devices: [disks.ext4.byId], label: "hext4", mountpoint: mnt });
    const btrfs = vols.find((v) => v.devices[0] === disks.btrfs.byId);
    assert.deepEqual(btrfs, { type: "btrfs", format: false, devices: [disks.btrfs.byId], label: "hbtrfs", subvolumes: {} });
    // What the schema cannot hold yet is named by id with its type, as comments and TODOs.
    const todos = todoLines(text).join("\n");
    const xfs = vols.find((v) => v.devices[0] === disks.xfs.byId);
    assert.deepEqual(xfs, { type: "xfs", format: false, devices: [disks.xfs.byId], label: "hxfs", mountpoint: "/mnt/hxfs" });
    assert.match(todos, /not mounted on the machine now: \/mnt\/hxfs is a placeholder mount point/);
    assert.match(text, new RegExp(`# ${disks.luks.byId}: crypto_LUKS \\(LUKS, not open now\\)`));
    assert.match(todos, new RegExp(`LUKS container on ${disks.luks.byId}`));
    assert.match(text, new RegExp(`# ${disks.lvm.byId}: LVM2_member`));
    assert.match(todos, new RegExp(`LVM on ${disks.lvm.byId}`));
    assert.match(todos, /hearth mounts btrfs by subvolume; it is not mounted now/);
    if (!lvmSkip) assert.match(text, new RegExp(`#\\s+lvm ${vg}-data → ext4 label hlv`));
    else t.diagnostic(`LVM logical volume part skipped: ${lvmSkip}`);
    // The interface with its MAC and address, the gateway of its default route.
    assert.deepEqual({ interface: h.network.interface, mac: h.network.mac, dhcp: h.network.dhcp, addresses: h.network.addresses, gateway: h.network.gateway }, { interface: "eth0", mac, dhcp: false, addresses: [`${addr}/24`], gateway: "192.168.79.1" });
    assert.match(text, new RegExp(`# MAC ${mac}`));
    assert.match(r.stdout, new RegExp(`interface eth0 ${mac} ${addr.replace(/\./g, "\\.")}/24 via 192\\.168\\.79\\.1`));
    assert.match(todos, /installed \(boot\.formats: \[disk\]\) or RAM-only/);
    assert.match(r.stdout, /to decide \(\d+, marked TODO\(adopt\) in the file\):/);

    const v = onlyExpectedFindings(dir, "machine", text);
    assert.equal(v.fleet!.hosts.get("machine")!.sshHostKey, hostPub);
  });

  test("an existing host file: refused before the machine is contacted; --force replaces it", () => {
    const dir = writeFleet({ "fleet.yaml": FLEET_YAML, "hosts/machine.yaml": "# hand-written\nname: machine\n" });
    const n = commands().length;
    const r = adopt(dir, ["--host-key", hostPub]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /hosts\/machine\.yaml exists already; hearth adopt does not overwrite it/);
    assert.equal(commands().length, n, "no connection was made");
    assert.equal(readFileSync(join(dir, "hosts/machine.yaml"), "utf8"), "# hand-written\nname: machine\n");
    const f = adopt(dir, ["--host-key", `${hostPub} machine`, "--force"]);
    assert.equal(f.code, 0, f.stderr);
    assert.match(f.stdout, /presented the given host key SHA256:/);
    assert.equal(parseDocument(readFileSync(join(dir, "hosts/machine.yaml"), "utf8")).toJSON().sshHostKey, hostPub);
  });

  test("a wrong --host-key is refused and nothing is written", () => {
    const dir = writeFleet({ "fleet.yaml": FLEET_YAML });
    const other = sshKeyPair().pub;
    const r = adopt(dir, ["--host-key", other]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${addr.replace(/\./g, "\\.")}:22 did not present the host key given with --host-key \\(SHA256:.*\\).*nothing was written`));
    assert.ok(!existsSync(join(dir, "hosts/machine.yaml")));
    const bad = adopt(dir, ["--host-key", "ssh-rsa AAAAB3NzaC1yc2E"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--host-key must be the machine's ssh-ed25519 public key/);
  });
});
