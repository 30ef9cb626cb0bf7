// QEMU (TCG, q35, OVMF) booting an A/B disk image through the real systemd-boot, for
// test/ab-boot.test.ts. The initramfs (this machine's Debian kernel, busybox, the disk and file system
// modules) runs an AGENT STAND-IN, hearth-ab-agent-standin.sh: a shell script that speaks the real
// agent's A/B protocol (src/agent/ab.ts) and nothing else. It says `hearth-ab: booted <slot>`, then on a
// side whose OS image carries /hearth/never-healthy waits out the health time limit and reboots (what the
// agent does when its side does not come up healthy in time), and on any other side reports the outcome
// and blesses its entry on the ESP exactly as blessBooted does.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { defaultFor, loaderConf } from "../../src/agent/ab.js";
import { MTOOLS_ENV, mtoolsDrive, type AbLayout } from "../../src/node/image/ab-disk.js";
import { kernelImage, modulesWithDeps } from "./vm.js";

export const OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd";
export const OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd";
export const SYSTEMD_BOOT = "/usr/lib/systemd/boot/efi/systemd-bootx64.efi";

/** Why the QEMU scenarios cannot run here, or undefined. */
export function abVmMissing(): string | undefined {
  const missing = [OVMF_CODE, OVMF_VARS, SYSTEMD_BOOT].filter((p) => !existsSync(p));
  return missing.length ? `needs ovmf and systemd-boot-efi (missing ${missing.join(", ")})` : undefined;
}

const sh = (cmd: string, args: string[], opts: { cwd?: string; input?: string | Buffer } = {}) =>
  execFileSync(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env: MTOOLS_ENV, maxBuffer: 512 << 20, ...opts }).toString();

const kernelVersion = () => basename(kernelImage()!).replace(/^vmlinuz-/, "");

// The disk (virtio-blk on virtio-pci), the ESP (vfat with its default code page 437 and iocharset
// ascii, Debian's CONFIG_FAT_DEFAULT_*), the sides (ext4, whose metadata checksums need crc32c).
const MODULES = ["virtio_pci", "virtio_blk", "vfat", "nls_cp437", "nls_ascii", "crc32c_generic", "ext4"];

function moduleBytes(file: string): Buffer {
  if (file.endsWith(".ko")) return readFileSync(file);
  const tool = file.endsWith(".xz") ? "xz" : file.endsWith(".zst") ? "zstd" : "gzip";
  return execFileSync(tool, ["-dc", file], { maxBuffer: 256 << 20 });
}

/** Kernel command line switches only the stand-in reads. */
export const STANDIN = {
  /** After a healthy report, power off (QEMU exits) instead of running on as the agent would. */
  poweroffWhenHealthy: "hearth-test.after-healthy=poweroff",
  /** Seconds a never-healthy side waits before it reboots (the agent's health time limit). */
  healthTimeout: (s: number) => `hearth-test.health-timeout=${s}`,
};

/**
 * The stand-in for hearth's agent (src/agent/agent.ts), as a busybox shell script. Same protocol:
 * the booted side from `hearth.slot=` on /proc/cmdline; the side's OS from the partition labelled
 * hearth-<slot>; health reported by blessing as blessBooted does: the entry renamed without its
 * counter, then loader.conf's default set to this side if it names another (the text blessBooted
 * writes, rendered by src/agent/ab.ts into /etc/hearth-ab/).
 */
const STANDIN_SCRIPT = `#!/bin/sh
# hearth-ab AGENT STAND-IN for test/ab-boot.test.ts. Not the agent: it only speaks the agent's A/B
# protocol (src/agent/ab.ts) so the real systemd-boot can be tested against it in QEMU.
say() { echo "hearth-ab: $*" > /dev/console; }
fail() { say "FAILED $*"; sleep 1; poweroff -f; exit 1; }

slot=; limit=2; after=
for w in $(cat /proc/cmdline); do
  case "$w" in
    hearth.slot=*) slot="\${w#hearth.slot=}" ;;
    hearth-test.health-timeout=*) limit="\${w#hearth-test.health-timeout=}" ;;
    hearth-test.after-healthy=*) after="\${w#hearth-test.after-healthy=}" ;;
  esac
done
case "$slot" in a) other=b ;; b) other=a ;; *) fail "no hearth.slot=a|b on the kernel command line" ;; esac
say "booted $slot"

# /dev/disk/by-partlabel as udev would make it (no udev here): the kernel names GPT partitions in
# each block device's uevent (PARTNAME=).
mkdir -p /dev/disk/by-partlabel
i=0
while [ ! -e /dev/disk/by-partlabel/hearth-boot ] || [ ! -e /dev/disk/by-partlabel/hearth-$slot ]; do
  for u in /sys/class/block/*/uevent; do
    name=$(sed -n 's/^PARTNAME=//p' "$u"); dev=$(sed -n 's/^DEVNAME=//p' "$u")
    [ -n "$name" ] && [ -e "/dev/$dev" ] && ln -sf "/dev/$dev" "/dev/disk/by-partlabel/$name"
  done
  i=$((i+1)); [ $i -le 100 ] || fail "no partitions hearth-boot and hearth-$slot: $(ls /sys/class/block | tr '\\n' ' ')"
  sleep 0.1
done

mkdir -p /side /esp
mount -t ext4 -o ro /dev/disk/by-partlabel/hearth-$slot /side || fail "mount side $slot"
say "side $slot runs version $(cat /side/hearth/version)"
mount -t vfat /dev/disk/by-partlabel/hearth-boot /esp || fail "mount ESP"
ent=/esp/loader/entries
# What systemd-boot left on the ESP for this boot (it renames the counted entry before starting it).
say "entries $(ls "$ent" | tr '\n' ' ')"
if [ -e /side/hearth/never-healthy ]; then
  # The agent gives its side this long to report healthy, then reboots without blessing: systemd-boot
  # has already counted this boot, and falls back once the tries are used up.
  sleep "$limit"
  say "side $slot not healthy after \${limit}s: rebooting"
  umount /esp; umount /side
  reboot -f
  exit 0
fi

mine=$(ls "$ent" | grep -E "^hearth-$slot(\\+[0-9]+(-[0-9]+)?)?\\.conf$")
[ "$(echo "$mine" | grep -c .)" = 1 ] || fail "side $slot has not exactly one boot entry: $mine"
# bootOutcome: trial while this side counts boots; rolled-back when the other side's entry has no tries left.
failed=$(ls "$ent" | grep -E "^hearth-$other\\+0(-[0-9]+)?\\.conf$" | head -n 1)
case "$mine" in
  *+*) say "outcome trial ($mine)" ;;
  *) if [ -n "$failed" ]; then say "outcome rolled-back from $other version $(sed -n 's/^version[ \t]*//p' "$ent/$failed")"; else say "outcome healthy"; fi ;;
esac
# blessBooted: drop the counter (systemd-bless-boot's "good"), then make this side the default if
# loader.conf names the other one (after a rollback), through a temp file and a rename.
[ "$mine" = "hearth-$slot.conf" ] || mv "$ent/$mine" "$ent/hearth-$slot.conf" || fail "rename $mine"
sync
conf=unchanged
if ! cmp -s /etc/hearth-ab/loader.conf.$slot /esp/loader/loader.conf; then
  cp /etc/hearth-ab/loader.conf.$slot /esp/loader/.loader.conf.hearth-tmp && sync && mv /esp/loader/.loader.conf.hearth-tmp /esp/loader/loader.conf || fail "write loader.conf"
  sync; conf=written
fi
umount /esp
say "blessed $slot (was $mine, loader.conf $conf)"
umount /side
if [ "$after" = poweroff ]; then poweroff -f; fi
while true; do sleep 3600; done
`;

/** The initramfs both sides boot: /init loads the modules and runs the stand-in. */
export function buildStandInInitramfs(out: string): void {
  const root = mkdtempSync(join(tmpdir(), "hearth-ab-initramfs-"));
  try {
    for (const d of ["bin", "proc", "sys", "dev", "tmp", "etc/hearth-ab", "lib/modules-hearth"]) mkdirSync(join(root, d), { recursive: true });
    copyFileSync("/usr/bin/busybox", join(root, "bin/busybox"));
    for (const applet of sh("/usr/bin/busybox", ["--list"]).split("\n").filter(Boolean))
      if (!existsSync(join(root, "bin", applet))) symlinkSync("busybox", join(root, "bin", applet));
    const order: string[] = [];
    for (const file of modulesWithDeps(kernelVersion(), MODULES)) {
      const name = basename(file).replace(/\.ko(\.xz|\.zst|\.gz)?$/, "");
      writeFileSync(join(root, "lib/modules-hearth", `${name}.ko`), moduleBytes(file));
      order.push(name);
    }
    for (const slot of ["a", "b"] as const) writeFileSync(join(root, `etc/hearth-ab/loader.conf.${slot}`), loaderConf(defaultFor(slot)));
    writeFileSync(join(root, "hearth-ab-agent-standin.sh"), STANDIN_SCRIPT, { mode: 0o755 });
    writeFileSync(
      join(root, "init"),
      `#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in ${order.join(" ")}; do
  insmod /lib/modules-hearth/$m.ko 2>/tmp/insmod.err || grep -q 'File exists' /tmp/insmod.err || { echo "hearth-ab: FAILED insmod $m: $(cat /tmp/insmod.err)" > /dev/console; poweroff -f; }
done
exec /hearth-ab-agent-standin.sh
`,
      { mode: 0o755 },
    );
    const list = sh("find", [".", "-print0"], { cwd: root });
    const cpio = execFileSync("cpio", ["--null", "-o", "-H", "newc", "--quiet"], { cwd: root, input: list, maxBuffer: 512 << 20 });
    writeFileSync(out, execFileSync("gzip", ["-1"], { input: cpio, maxBuffer: 512 << 20 }));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** A side's OS image: ext4 with /hearth/version, and /hearth/never-healthy on a side that never comes up. */
export function buildSideImage(out: string, o: { version: string; neverHealthy?: boolean; sizeMiB?: number }): void {
  const dir = mkdtempSync(join(tmpdir(), "hearth-ab-side-"));
  try {
    mkdirSync(join(dir, "hearth"));
    writeFileSync(join(dir, "hearth/version"), o.version + "\n");
    if (o.neverHealthy) writeFileSync(join(dir, "hearth/never-healthy"), "this side never reports healthy\n");
    rmSync(out, { force: true });
    sh("mkfs.ext4", ["-q", "-F", "-L", "hearth-os", "-d", dir, out, `${o.sizeMiB ?? 8}M`]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The ESP's /loader (and with `all`, /EFI) copied out of the image file with mtools into `dir`. */
export function extractEsp(image: string, layout: AbLayout, dir: string, o: { all?: boolean } = {}): void {
  mkdirSync(dir, { recursive: true });
  sh("mcopy", ["-s", "-n", "-Q", "-i", mtoolsDrive(image, layout.boot.offset), "::/loader", ...(o.all ? ["::/EFI"] : []), dir]);
}

/** Names in an ESP directory of the image, e.g. /loader/entries. */
export function espList(image: string, layout: AbLayout, path: string): string[] {
  return sh("mdir", ["-b", "-i", mtoolsDrive(image, layout.boot.offset), `::${path}`])
    .split("\n")
    .filter(Boolean)
    .map((p) => p.replace(/^::/, "").replace(/\/$/, "").split("/").pop()!)
    .filter((n) => n !== "." && n !== "..")
    .sort();
}

/**
 * Put an ESP directory changed by the agent's functions back into the image: /loader and /EFI/hearth
 * are replaced as a whole (so removed entries are gone), /EFI/BOOT (systemd-boot) is left alone.
 */
export function writeBackEsp(image: string, layout: AbLayout, dir: string): void {
  const drive = mtoolsDrive(image, layout.boot.offset);
  sh("mdeltree", ["-i", drive, "::/loader", "::/EFI/hearth"]);
  sh("mcopy", ["-s", "-Q", "-i", drive, join(dir, "loader"), "::/"]);
  sh("mcopy", ["-s", "-Q", "-i", drive, join(dir, "EFI/hearth"), "::/EFI/"]);
}

export interface AbRun {
  console: string;
  ms: number;
}

/** Fresh NVRAM for one machine: a copy of OVMF's variable store template, kept across its runs. */
export function ovmfVars(dir: string): string {
  const vars = join(dir, "OVMF_VARS.fd");
  copyFileSync(OVMF_VARS, vars);
  return vars;
}

/**
 * Power the machine on and wait until it powers itself off (the stand-in does after a healthy boot), or
 * until the console matches `until` (then QEMU is killed); reboots in between stay in the same QEMU.
 * Killed, with the console in the error, after `timeoutMs`.
 */
export async function runAbVm(o: { disk: string; vars: string; timeoutMs: number; log: string; until?: RegExp }): Promise<AbRun> {
  const start = Date.now();
  const q: ChildProcess = spawn(
    "qemu-system-x86_64",
    [
      "-nodefaults", "-machine", "q35", "-accel", "tcg", "-cpu", "max", "-m", "512", "-smp", "1",
      "-display", "none", "-monitor", "none", "-nic", "none", "-serial", `file:${o.log}`,
      "-drive", `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`,
      "-drive", `if=pflash,format=raw,unit=1,file=${o.vars}`,
      "-drive", `file=${o.disk},format=raw,if=none,id=disk0`,
      "-device", "virtio-blk-pci,drive=disk0",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  q.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const consoleText = () => (existsSync(o.log) ? readFileSync(o.log, "latin1") : "");
  try {
    await new Promise<void>((ok, fail) => {
      let seen = false;
      const poll = o.until
        ? setInterval(() => {
            if (!o.until!.test(consoleText())) return;
            seen = true;
            q.kill("SIGKILL");
          }, 250)
        : undefined;
      const timer = setTimeout(() => fail(new Error(`QEMU still running after ${o.timeoutMs} ms; console:\n${tail(consoleText())}`)), o.timeoutMs);
      const stop = () => (clearTimeout(timer), clearInterval(poll));
      q.on("error", (e) => (stop(), fail(new Error(`QEMU did not run: ${e.message}`))));
      q.on("exit", (code, signal) => {
        stop();
        if (code === 0 || seen) ok();
        else fail(new Error(`QEMU exited (${signal ?? `code ${code}`}): ${stderr}\nconsole:\n${tail(consoleText())}`));
      });
    });
  } finally {
    if (q.exitCode === null && q.signalCode === null) q.kill("SIGKILL");
  }
  const text = consoleText();
  const failed = /^hearth-ab: FAILED .*$/m.exec(text)?.[0];
  if (failed) throw new Error(`${failed}\nconsole:\n${tail(text)}`);
  return { console: text, ms: Date.now() - start };
}

const tail = (s: string) => s.split("\n").slice(-60).join("\n");

/** The stand-in's own lines, in order, without the firmware's and the kernel's. */
export const standInLines = (console: string): string[] =>
  console
    .split(/\r?\n/)
    .map((l) => /hearth-ab: .*$/.exec(l)?.[0])
    .filter((l): l is string => !!l);
