// A/B OS updates for RAM-booted pull nodes (src/agent/ab.ts, src/node/image/ab-disk.ts): the entry
// names and rules as pure functions, the executor on a temp directory, and the whole fallback in QEMU
// (TCG, q35, OVMF) through Debian's real systemd-boot 252, with an agent stand-in in the initramfs
// (test/support/ab-vm.ts) that blesses or, on a side that never comes up healthy, reboots.
//
// What the scenarios rely on in systemd-boot, read from systemd's source at tag v252 (commit
// e8dc52766e1f); line numbers at that tag. Debian bookworm's binary is
// systemd-boot-efi 252.39, which the QEMU scenarios run; in v252.31, the newest 252 tag read, the
// functions below differ only in matching `.conf` case-insensitively and in reporting rename errors.
//   src/boot/efi/boot.c:1301 config_entry_parse_tries(): `NAME+LEFT[-DONE].conf`, and its series
//     "foobar+3 → foobar+2-1 → foobar+1-2 → foobar+0-3 → STOP!" (the unit test below walks it).
//   boot.c:1365 config_entry_bump_counters(), called at boot.c:2741 in efi_main() before image_start():
//     the chosen entry is renamed to +(LEFT-1)-(DONE+1) before the kernel starts, so `hearth-b+2.conf`
//     is +1-1 during B's first boot and +0-2 during its second (the stand-in lists the ESP).
//   boot.c:1538 an entry's id is its file name (lower-cased), counter included.
//   boot.c:1681 config_entry_compare(): entries with no tries left sort last.
//   boot.c:1735 config_entry_find() / 1750 config_default_entry_select(): loader.conf `default` (a glob,
//     src/boot/efi/efi-string.c:233 efi_fnmatch(), sets and ranges included) picks the first matching
//     entry whatever its tries (the control scenario shows it), else boot.c:1778 the first ordinary entry
//     in sort order. So `default hearth-b[.+][1-9c]*` (B blessed or with tries left) stops matching at
//     +0-2 and side A (no counter) boots.
//   boot.c:1187 `timeout`: 0 is TIMEOUT_MENU_HIDDEN (boot.c:110), and boot.c:2699 shows the menu only
//     for a timeout > 0 or a key; boot.c:1214 `editor`, src/boot/efi/util.c:12 parse_boolean() ("no").
//   src/boot/bless-boot.c:277 make_good(): a good boot drops the counter from the name (blessBooted, and
//     the stand-in's rename).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  AbError,
  blessBooted,
    bootOutcome,
  bootedSlot,
  currentDefault,
  defaultFor,
  entryName,
  entryText,
  installSide,
  loaderConf,
  otherSlot,
  parseEntryName,
  stageUpdate,
    writeSideImage,
} from "../src/agent/ab.js";
import { buildAbDisk, readAbLayout, type AbLayout } from "../src/node/image/ab-disk.js";
import { abVmMissing, buildSideImage, buildStandInInitramfs, espList, extractEsp, ovmfVars, runAbVm, standInLines, STANDIN, SYSTEMD_BOOT, writeBackEsp } from "./support/ab-vm.js";
import { kernelImage } from "./support/vm.js";
import { tempDir } from "./support/fleet.js";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";

const entries = (esp: string) => readdirSync(join(esp, "loader/entries")).sort();

/** Temp directories of this file, removed when it is done. */
const scratchDirs: string[] = [];
const scratch = (prefix: string) => {
  const dir = tempDir(prefix);
  scratchDirs.push(dir);
  return dir;
};
after(() => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});

describe("A/B entry names and slots", () => {
  test("parseEntryName reads names as systemd-boot's config_entry_parse_tries does", () => {
    assert.deepEqual(parseEntryName("hearth-a.conf"), { slot: "a" });
    assert.deepEqual(parseEntryName("hearth-b+3.conf"), { slot: "b", tries: { left: 3, done: 0 } });
    assert.deepEqual(parseEntryName("hearth-b+2-1.conf"), { slot: "b", tries: { left: 2, done: 1 } });
    assert.deepEqual(parseEntryName("hearth-a+0-3.conf"), { slot: "a", tries: { left: 0, done: 3 } });
    assert.deepEqual(parseEntryName("hearth-a+12-0.conf"), { slot: "a", tries: { left: 12, done: 0 } });
    // Not ours, or not a counter systemd-boot reads (the name is then an id with no counter, not ours).
    for (const f of ["hearth-c.conf", "hearth-a+.conf", "hearth-a+1-.conf", "hearth-a+x.conf", "hearth-a+1+2.conf", "hearth-a+1-2.conf.bak", "debian.conf", ".hearth-a.conf.hearth-tmp-1-abcdef012345", "hearth-a+3000000000.conf"])
      assert.equal(parseEntryName(f), undefined, f);
  });

  test("entryName writes them, and reads back through parseEntryName", () => {
    assert.equal(entryName("a"), "hearth-a.conf");
    assert.equal(entryName("b", 3), "hearth-b+3.conf");
    assert.equal(entryName("b", { left: 2, done: 1 }), "hearth-b+2-1.conf");
    assert.equal(entryName("a", { left: 0, done: 3 }), "hearth-a+0-3.conf");
    for (const n of ["hearth-a.conf", "hearth-b+3.conf", "hearth-b+2-1.conf", "hearth-a+0-3.conf", "hearth-a+4-0.conf"]) {
      const p = parseEntryName(n)!;
      const back = !p.tries ? entryName(p.slot) : /\+\d+-\d+\.conf$/.test(n) ? entryName(p.slot, p.tries) : entryName(p.slot, p.tries.left);
      assert.equal(back, n);
    }
    assert.throws(() => entryName("a", -1), AbError);
    assert.throws(() => entryName("a", 1.5), AbError);
  });

  test("boot.c's own series foobar+3 → +2-1 → +1-2 → +0-3 reads as counting down", () => {
    const series = ["hearth-b+3.conf", "hearth-b+2-1.conf", "hearth-b+1-2.conf", "hearth-b+0-3.conf"].map((n) => parseEntryName(n)!.tries!);
    assert.deepEqual(series, [
      { left: 3, done: 0 },
      { left: 2, done: 1 },
      { left: 1, done: 2 },
      { left: 0, done: 3 },
    ]);
  });

  test("defaultFor matches a side's entry blessed or with tries left, never with none left", () => {
    // fnmatch as efi_fnmatch() reads it (efi-string.c:141: `*`, `?`, `[...]` with ranges; no classes).
    const glob = (p: string) =>
      new RegExp(`^${p.replace(/\[([^\]]+)\]|\*|\?|[.+^${}()|\\]/g, (m, set: string | undefined) => (set ? `[${set}]` : m === "*" ? ".*" : m === "?" ? "." : `\\${m}`))}$`);
    const matches = (slot: "a" | "b", id: string) => glob(defaultFor(slot)).test(id);
    assert.equal(defaultFor("b"), "hearth-b[.+][1-9c]*");
    for (const id of ["hearth-b.conf", "hearth-b+3.conf", "hearth-b+2-1.conf", "hearth-b+1-2.conf", "hearth-b+10-0.conf"]) assert.ok(matches("b", id), id);
    for (const id of ["hearth-b+0.conf", "hearth-b+0-2.conf", "hearth-b+0-3.conf", "hearth-a.conf", "hearth-a+2.conf"]) assert.ok(!matches("b", id), id);
  });

  test("bootedSlot reads hearth.slot= from the kernel command line", () => {
    assert.equal(bootedSlot("BOOT_IMAGE=/linux console=ttyS0 hearth.slot=b quiet"), "b");
    assert.equal(bootedSlot("hearth.slot=a\n"), "a");
    assert.equal(bootedSlot("hearth.slot=a hearth.slot=b"), "b", "the last one wins");
    assert.equal(bootedSlot("console=ttyS0"), undefined);
    assert.equal(bootedSlot("hearth.slot=c"), undefined);
    assert.equal(bootedSlot("xhearth.slot=a hearth.slot"), undefined);
    assert.equal(otherSlot("a"), "b");
    assert.equal(otherSlot("b"), "a");
  });
});

describe("A/B executor on an ESP directory", () => {
  const side = (version: string, extra: Partial<Parameters<typeof stageUpdate>[2]> = {}) => ({
    kernel: Buffer.from(`kernel ${version}`),
    initrd: Buffer.from(`initrd ${version}`),
    cmdline: "console=ttyS0",
    version,
    ...extra,
  });
  const fresh = () => {
    const esp = scratch("hearth-ab-esp-");
    installSide(esp, "a", side("1.0"));
    return esp;
  };
  // What systemd-boot does to the chosen entry before starting it (config_entry_bump_counters).
  const bump = (esp: string, from: string) => {
    const t = parseEntryName(from)!.tries!;
    const to = entryName(parseEntryName(from)!.slot, { left: Math.max(t.left - 1, 0), done: t.done + 1 });
    renameSync(join(esp, "loader/entries", from), join(esp, "loader/entries", to));
    return to;
  };

  test("installSide: a blessed side, the default, its kernel and initrd", () => {
    const esp = fresh();
    assert.deepEqual(entries(esp), ["hearth-a.conf"]);
    assert.equal(currentDefault(esp), "hearth-a[.+][1-9c]*");
    assert.equal(readFileSync(join(esp, "loader/loader.conf"), "utf8"), loaderConf(defaultFor("a")));
    assert.match(readFileSync(join(esp, "loader/loader.conf"), "utf8"), /^timeout 0$/m);
    assert.equal(readFileSync(join(esp, "EFI/hearth/a/linux"), "utf8"), "kernel 1.0");
    assert.equal(
      readFileSync(join(esp, "loader/entries/hearth-a.conf"), "utf8"),
      "title hearth 1.0 (side a)\nversion 1.0\nlinux /EFI/hearth/a/linux\ninitrd /EFI/hearth/a/initrd\noptions console=ttyS0 hearth.slot=a\n",
    );
    assert.deepEqual(bootOutcome(esp, "a"), { booted: "a", state: "healthy" });
  });

  test("stageUpdate → boot → bless: trial while counting, healthy once blessed, the old side stays", () => {
    const esp = fresh();
    const staged = stageUpdate(esp, "b", side("2.0", { tries: 2 }));
    assert.deepEqual(staged, { slot: "b", entry: "hearth-b+2.conf", default: "hearth-b[.+][1-9c]*" });
    assert.deepEqual(entries(esp), ["hearth-a.conf", "hearth-b+2.conf"]);
    assert.equal(currentDefault(esp), defaultFor("b"));
    assert.equal(readFileSync(join(esp, "EFI/hearth/b/initrd"), "utf8"), "initrd 2.0");
    assert.match(readFileSync(join(esp, "loader/entries/hearth-b+2.conf"), "utf8"), /^options console=ttyS0 hearth\.slot=b$/m);
    assert.deepEqual(bootOutcome(esp, "a"), { booted: "a", state: "healthy" }, "staged, not booted yet");

    bump(esp, "hearth-b+2.conf");
    assert.deepEqual(bootOutcome(esp, "b"), { booted: "b", state: "trial" });
    assert.deepEqual(blessBooted(esp, "b"), { entry: "hearth-b.conf", default: "hearth-b[.+][1-9c]*" });
    assert.deepEqual(entries(esp), ["hearth-a.conf", "hearth-b.conf"]);
    assert.equal(currentDefault(esp), "hearth-b[.+][1-9c]*");
    assert.deepEqual(bootOutcome(esp, "b"), { booted: "b", state: "healthy" });
    assert.deepEqual(blessBooted(esp, "b"), { entry: "hearth-b.conf", default: "hearth-b[.+][1-9c]*" }, "idempotent");
    assert.equal(readFileSync(join(esp, "EFI/hearth/a/linux"), "utf8"), "kernel 1.0", "the fallback side is untouched");
    assert.deepEqual(readdirSync(join(esp, "loader")).filter((n) => n.startsWith(".")), [], "no temp files left");
    assert.deepEqual(readdirSync(join(esp, "loader/entries")).filter((n) => n.startsWith(".")), []);

    // The next update goes the other way, onto A, with B as the fallback.
    stageUpdate(esp, "a", side("3.0"));
    assert.deepEqual(entries(esp), ["hearth-a+3.conf", "hearth-b.conf"]);
    assert.equal(currentDefault(esp), "hearth-a[.+][1-9c]*");
  });

  test("a trial that uses up its tries: rolled-back, with the failed side and version", () => {
    const esp = fresh();
    stageUpdate(esp, "b", side("2.0", { tries: 2 }));
    bump(esp, bump(esp, "hearth-b+2.conf"));
    assert.deepEqual(entries(esp), ["hearth-a.conf", "hearth-b+0-2.conf"]);
    assert.deepEqual(bootOutcome(esp, "a"), { booted: "a", state: "rolled-back", failedSlot: "b", failedVersion: "2.0" });
    blessBooted(esp, "a");
    assert.equal(currentDefault(esp), "hearth-a[.+][1-9c]*", "the old side takes the default back");
    assert.equal(bootOutcome(esp, "a").state, "rolled-back", "still reported until the next update");
    // The next update replaces the failed entry.
    stageUpdate(esp, "b", side("2.1"));
    assert.deepEqual(entries(esp), ["hearth-a.conf", "hearth-b+3.conf"]);
    assert.equal(bootOutcome(esp, "a").state, "healthy");
  });

  test("an ESP from another image build: the fallback's own linux/initrd lines are checked, old files go", () => {
    // As nix/formats/ab-disk.nix lays it out: the kernel under its own name, a sort-key, timeout 3.
    const esp = scratch("hearth-ab-esp-");
    mkdirSync(join(esp, "EFI/hearth/a"), { recursive: true });
    mkdirSync(join(esp, "loader/entries"), { recursive: true });
    writeFileSync(join(esp, "EFI/hearth/a/bzImage"), "kernel 1");
    writeFileSync(join(esp, "EFI/hearth/a/initrd"), "initrd 1");
    writeFileSync(join(esp, "loader/entries/hearth-a.conf"), "title n (hearth-a)\nsort-key hearth\nversion 1\nlinux /EFI/hearth/a/bzImage\ninitrd /EFI/hearth/a/initrd\noptions hearth.slot=a\n");
    writeFileSync(join(esp, "loader/loader.conf"), "timeout 3\ndefault hearth-*\neditor no\n");
    stageUpdate(esp, "b", side("2"));
    assert.equal(currentDefault(esp), "hearth-b[.+][1-9c]*");
    bump(esp, "hearth-b+3.conf");
    blessBooted(esp, "b");
    stageUpdate(esp, "a", side("3"));
    assert.deepEqual(readdirSync(join(esp, "EFI/hearth/a")).sort(), ["initrd", "linux"], "side A's old bzImage is gone with its entry");
    // A fallback entry whose kernel is not there (backslash paths, as systemd-boot also reads them).
    const other = scratch("hearth-ab-esp-");
    mkdirSync(join(other, "loader/entries"), { recursive: true });
    writeFileSync(join(other, "loader/entries/hearth-a.conf"), "linux \\EFI\\hearth\\a\\bzImage\ninitrd /EFI/hearth/a/initrd\n");
    assert.throws(() => stageUpdate(other, "b", side("2")), /side a's \\EFI\\hearth\\a\\bzImage is missing/);
  });

  test("stageUpdate refuses without a blessed side to fall back to, and bad input", () => {
    const esp = fresh();
    stageUpdate(esp, "b", side("2.0"));
    bump(esp, "hearth-b+3.conf");
    assert.throws(() => stageUpdate(esp, "a", side("3.0")), /side b is not blessed \(hearth-b\+2-1\.conf\)/);
    const empty = scratch("hearth-ab-esp-");
    assert.throws(() => stageUpdate(empty, "b", side("2.0")), /side a has no boot entry to fall back to/);
    const ok = fresh();
    assert.throws(() => stageUpdate(ok, "b", side("2.0", { tries: 0 })), /tries must be/);
    assert.throws(() => stageUpdate(ok, "b", side("2.0\ninitrd /evil")), /must be one line/);
    assert.throws(() => stageUpdate(ok, "b", side("2.0", { cmdline: "hearth.slot=a" })), /names another side/);
    assert.deepEqual(entries(ok), ["hearth-a.conf"], "nothing written by a refused update");
    assert.equal(entryText("b", { cmdline: "quiet hearth.slot=b", version: "2" }).match(/hearth\.slot=/g)?.length, 1);
    rmSync(join(ok, "EFI/hearth/a/linux"));
    assert.throws(() => stageUpdate(ok, "b", side("2.0")), /EFI\/hearth\/a\/linux is missing/);
  });

  test("writeSideImage: streamed into a partition of an image file, read back by sha256", async () => {
    const d = scratch("hearth-ab-side-");
    const disk = join(d, "disk.img");
    writeFileSync(disk, Buffer.alloc(3 << 20, 0xee));
    const image = join(d, "side.img");
    const bytes = Buffer.from(Array.from({ length: (1 << 20) + 12345 }, (_, i) => (i * 7) & 0xff));
    writeFileSync(image, bytes);
    const r = await writeSideImage(disk, image, { offset: 1 << 20, size: 2 << 20 });
    assert.deepEqual(r, { bytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") });
    const back = readFileSync(disk);
    assert.ok(back.subarray(1 << 20, (1 << 20) + bytes.length).equals(bytes));
    assert.equal(back[(1 << 20) - 1], 0xee, "nothing before the partition touched");
    assert.equal(back[(1 << 20) + bytes.length], 0xee, "nothing after the image touched");
    await assert.rejects(writeSideImage(disk, image, { offset: 0, size: 1 << 20 }), /the side holds 1048576/);
  });
});

const VM_SKIP = abVmMissing();

describe("A/B disk image (no root, no loop devices)", { skip: VM_SKIP ?? false }, () => {
  test("buildAbDisk: GPT with hearth-boot/a/b, systemd-boot at the removable path, side A blessed", async () => {
    const d = scratch("hearth-ab-disk-");
    const osImage = join(d, "a.img");
    writeFileSync(osImage, Buffer.from("side A os image"));
    const kernel = join(d, "bzImage");
    writeFileSync(kernel, "a kernel");
    const layout = await buildAbDisk({ out: join(d, "disk.img"), espMiB: 40, sideMiB: 4, systemdBoot: SYSTEMD_BOOT, sides: { a: { kernel, initrd: Buffer.from("an initrd"), cmdline: "console=ttyS0", version: "1.0", osImage } } });
    assert.deepEqual(readAbLayout(join(d, "disk.img")), layout);
    assert.deepEqual(layout, { boot: { offset: 1 << 20, size: 40 << 20 }, a: { offset: 41 << 20, size: 4 << 20 }, b: { offset: 45 << 20, size: 4 << 20 } });
    const types = JSON.parse(execFileSync("sfdisk", ["--json", join(d, "disk.img")], { encoding: "utf8" })).partitiontable.partitions.map((p: { type: string }) => p.type);
    assert.equal(types[0], "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "the ESP has the EFI System type");
    assert.deepEqual(espList(join(d, "disk.img"), layout, "/loader/entries"), ["hearth-a.conf"]);
    const esp = join(d, "esp");
    extractEsp(join(d, "disk.img"), layout, esp, { all: true });
    assert.ok(readFileSync(join(esp, "EFI/BOOT/BOOTX64.EFI")).equals(readFileSync(SYSTEMD_BOOT)));
    assert.equal(readFileSync(join(esp, "EFI/hearth/a/linux"), "utf8"), "a kernel");
    assert.equal(readFileSync(join(esp, "loader/loader.conf"), "utf8"), loaderConf("hearth-a[.+][1-9c]*"));
    assert.equal(readFileSync(join(d, "disk.img")).subarray(layout.a.offset, layout.a.offset + 15).toString(), "side A os image");
    // The FAT32 boot sector's file system type field (offset 82, 8 bytes).
    const bootSector = readFileSync(join(d, "disk.img")).subarray(layout.boot.offset, layout.boot.offset + 512);
    assert.equal(bootSector.subarray(82, 90).toString("latin1"), "FAT32   ");
  });
});

// ---- QEMU: the real firmware boot loader counting, falling back and staying on a blessed side ----

const CMDLINE = `console=ttyS0 panic=5 quiet ${STANDIN.poweroffWhenHealthy} ${STANDIN.healthTimeout(2)}`;
const RUN_TIMEOUT = 6 * 60_000;
const timings: string[] = [];

describe("A/B updates in QEMU through systemd-boot's boot counting", { skip: VM_SKIP ?? false }, () => {
  let d: string;
  let initrd: string;
  let disk: string;
  let vars: string;
  let layout: AbLayout;
  const sideImage: Record<string, string> = {};

  /** Boot until the stand-in powers off; the stand-in's lines and how many times the firmware started systemd-boot. */
  async function boot(name: string, diskFile: string, varsFile: string, until?: RegExp) {
    const r = await runAbVm({ disk: diskFile, vars: varsFile, timeoutMs: RUN_TIMEOUT, log: join(d, `${name}.console.log`), ...(until ? { until } : {}) });
    const lines = standInLines(r.console);
    const firmwareBoots = r.console.match(/BdsDxe: starting Boot/g)?.length ?? 0;
    timings.push(`${name}: ${firmwareBoots} boot(s) in ${(r.ms / 1000).toFixed(1)} s`);
    return { lines, firmwareBoots, ms: r.ms };
  }

  /** The agent's functions on the ESP of the image, as the agent runs them on its mounted ESP. */
  function onEsp<T>(diskFile: string, fn: (esp: string) => T): T {
    const esp = scratch("hearth-ab-vm-esp-");
    try {
      extractEsp(diskFile, layout, esp, { all: true });
      const r = fn(esp);
      writeBackEsp(diskFile, layout, esp);
      return r;
    } finally {
      rmSync(esp, { recursive: true, force: true });
    }
  }

  function espState(diskFile: string) {
    const esp = scratch("hearth-ab-vm-esp-");
    try {
      extractEsp(diskFile, layout, esp);
      const outcome: Record<"a" | "b", ReturnType<typeof bootOutcome> | string> = { a: "", b: "" };
      for (const slot of ["a", "b"] as const)
        try {
          outcome[slot] = bootOutcome(esp, slot);
        } catch (e) {
          outcome[slot] = (e as Error).message;
        }
      return { entries: entries(esp), default: currentDefault(esp), loaderConf: readFileSync(join(esp, "loader/loader.conf"), "utf8"), outcome };
    } finally {
      rmSync(esp, { recursive: true, force: true });
    }
  }

  const stage = async (diskFile: string, version: string, tries: number, neverHealthy: boolean) => {
    const img = join(d, `side-${version}.ext4`);
    buildSideImage(img, { version, neverHealthy });
    sideImage[version] = img;
    await writeSideImage(diskFile, img, { offset: layout.b.offset, size: layout.b.size });
    return onEsp(diskFile, (esp) => stageUpdate(esp, "b", { kernel: kernelImage()!, initrd, cmdline: CMDLINE, version, tries }));
  };

  before(async () => {
    d = tempDir("hearth-ab-vm-");
    initrd = join(d, "initrd");
    buildStandInInitramfs(initrd);
    buildSideImage(join(d, "side-1.0.ext4"), { version: "1.0" });
    disk = join(d, "disk.img");
    layout = await buildAbDisk({ out: disk, espMiB: 64, sideMiB: 16, systemdBoot: SYSTEMD_BOOT, sides: { a: { kernel: kernelImage()!, initrd, cmdline: CMDLINE, version: "1.0", osImage: join(d, "side-1.0.ext4") } } });
    vars = ovmfVars(d);
  });

  after(() => {
    if (timings.length) console.log(`# A/B QEMU timings (TCG): ${timings.join("; ")}`);
    if (d && !process.env["HEARTH_KEEP_VM"]) rmSync(d, { recursive: true, force: true });
  });

  test("a fresh disk boots side A, which reports healthy", async () => {
    const r = await boot("fresh", disk, vars);
    // The healthy-update scenario and the control start from this machine, disk and NVRAM.
    for (const copy of ["healthy", "control"]) {
      copyFileSync(disk, join(d, `disk-${copy}.img`));
      copyFileSync(vars, join(d, `vars-${copy}.fd`));
    }
    assert.deepEqual(r.lines, ["hearth-ab: booted a", "hearth-ab: side a runs version 1.0", "hearth-ab: entries hearth-a.conf ", "hearth-ab: outcome healthy", "hearth-ab: blessed a (was hearth-a.conf, loader.conf unchanged)"]);
    assert.equal(r.firmwareBoots, 1);
    const s = espState(disk);
    assert.deepEqual(s.entries, ["hearth-a.conf"]);
    assert.equal(s.loaderConf, loaderConf(defaultFor("a")), "the stand-in blessed exactly as blessBooted writes");
    assert.deepEqual(s.outcome.a, { booted: "a", state: "healthy" });
  });

  test("B never reports healthy: systemd-boot tries it twice (+1-1, +0-2), then boots A by itself: rolled back", async () => {
    const staged = await stage(disk, "2.0", 2, true);
    assert.equal(staged.entry, "hearth-b+2.conf");
    assert.deepEqual(espState(disk).entries, ["hearth-a.conf", "hearth-b+2.conf"]);
    assert.equal(espState(disk).default, "hearth-b[.+][1-9c]*");

    const r = await boot("rollback", disk, vars);
    assert.deepEqual(r.lines, [
      "hearth-ab: booted b",
      "hearth-ab: side b runs version 2.0",
      "hearth-ab: entries hearth-a.conf hearth-b+1-1.conf ",
      "hearth-ab: side b not healthy after 2s: rebooting",
      "hearth-ab: booted b",
      "hearth-ab: side b runs version 2.0",
      "hearth-ab: entries hearth-a.conf hearth-b+0-2.conf ",
      "hearth-ab: side b not healthy after 2s: rebooting",
      "hearth-ab: booted a",
      "hearth-ab: side a runs version 1.0",
      "hearth-ab: entries hearth-a.conf hearth-b+0-2.conf ",
      "hearth-ab: outcome rolled-back from b version 2.0",
      "hearth-ab: blessed a (was hearth-a.conf, loader.conf written)",
    ]);
    assert.equal(r.firmwareBoots, 3, "three boots in one power-on: B, B, A");

    const s = espState(disk);
    assert.deepEqual(s.entries, ["hearth-a.conf", "hearth-b+0-2.conf"]);
    assert.deepEqual(s.outcome.a, { booted: "a", state: "rolled-back", failedSlot: "b", failedVersion: "2.0" });
    assert.equal(s.loaderConf, loaderConf(defaultFor("a")));
  });

  test("a healthy update: B boots, blesses itself, stays the default; A remains as the fallback", async () => {
    const hdisk = join(d, "disk-healthy.img");
    const hvars = join(d, "vars-healthy.fd");
    await stage(hdisk, "2.1", 2, false);

    const first = await boot("update", hdisk, hvars);
    assert.deepEqual(first.lines, [
      "hearth-ab: booted b",
      "hearth-ab: side b runs version 2.1",
      "hearth-ab: entries hearth-a.conf hearth-b+1-1.conf ",
      "hearth-ab: outcome trial (hearth-b+1-1.conf)",
      "hearth-ab: blessed b (was hearth-b+1-1.conf, loader.conf unchanged)",
    ]);
    let s = espState(hdisk);
    assert.deepEqual(s.entries, ["hearth-a.conf", "hearth-b.conf"]);
    assert.deepEqual(s.outcome.b, { booted: "b", state: "healthy" });
    assert.equal(s.loaderConf, loaderConf(defaultFor("b")));

    const second = await boot("update-next-boot", hdisk, hvars);
    assert.deepEqual(second.lines, [
      "hearth-ab: booted b",
      "hearth-ab: side b runs version 2.1",
      "hearth-ab: entries hearth-a.conf hearth-b.conf ",
      "hearth-ab: outcome healthy",
      "hearth-ab: blessed b (was hearth-b.conf, loader.conf unchanged)",
    ]);
    s = espState(hdisk);
    assert.deepEqual(s.entries, ["hearth-a.conf", "hearth-b.conf"], "A's entry is still there");
    // A is still bootable as it was: its kernel, initrd and OS partition untouched by the update.
    const esp = join(d, "esp-after-update");
    extractEsp(hdisk, layout, esp, { all: true });
    assert.ok(readFileSync(join(esp, "EFI/hearth/a/initrd")).equals(readFileSync(initrd)));
    assert.ok(existsSync(join(esp, "EFI/hearth/a/linux")));
    const a = readFileSync(hdisk).subarray(layout.a.offset, layout.a.offset + readFileSync(join(d, "side-1.0.ext4")).length);
    assert.ok(a.equals(readFileSync(join(d, "side-1.0.ext4"))));
  });

  test("control: a `default` that still matches the exhausted entry keeps booting it (why it is hearth-b[.+][1-9c]*)", async () => {
    // boot.c config_entry_find() matches ids without looking at tries, so `default hearth-b*` picks
    // hearth-b+0-1.conf again (and bumps it to +0-2) instead of falling back to A. One try is enough.
    const cdisk = join(d, "disk-control.img");
    await stage(cdisk, "2.0", 1, true);
    onEsp(cdisk, (esp) => writeFileSync(join(esp, "loader/loader.conf"), loaderConf("hearth-b*")));
    const r = await boot("control", cdisk, join(d, "vars-control.fd"), /hearth-ab: entries hearth-a\.conf hearth-b\+0-2\.conf/);
    assert.deepEqual(
      r.lines.filter((l) => /booted|entries/.test(l)),
      ["hearth-ab: booted b", "hearth-ab: entries hearth-a.conf hearth-b+0-1.conf ", "hearth-ab: booted b", "hearth-ab: entries hearth-a.conf hearth-b+0-2.conf "],
    );
  });
});
