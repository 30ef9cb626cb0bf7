// A/B OS updates on a RAM-booted node's boot partition (ESP), with systemd-boot's boot counting doing
// the fallback: the pure rules (entry names, which side is booted, what the last update came to) and
// one small executor that stages, blesses and writes sides on a mounted ESP with node:fs only.
//
// Every systemd-boot behaviour relied on here is read from systemd's source at tag v252 (commit
// e8dc52766e1f; Debian bookworm ships systemd-boot-efi 252.39, and up to v252.31 these functions only
// gained case-insensitive `.conf` matching and rename error reports). Lines at v252:
//   src/boot/efi/boot.c:1301 config_entry_parse_tries(): an entry file `NAME+LEFT[-DONE].conf` counts
//     boots; a missing `-DONE` means 0; the LAST `+` starts the counter, and anything but
//     digits[-digits] before `.conf` means "no counter".
//   boot.c:1365 config_entry_bump_counters(), called in efi_main() (:2741) on the entry about to boot,
//     BEFORE it starts: renamed to `NAME+(LEFT-1)-(DONE+1).conf` (LEFT stays 0 at 0).
//   boot.c:1414 config_entry_add_type1(): an entry's id is its whole file name, lower-cased, counter and
//     `.conf` included (:1538); an entry whose `linux` file is missing is skipped (:1533).
//   boot.c:1637 config_load_entries(): only `*.conf` in /loader/entries, none starting with `.` or
//     `auto-` (so our `.NAME.hearth-tmp-…` temp files are never entries).
//   boot.c:1681 config_entry_compare(): entries with no tries left (`+0…`) sort after all others;
//     without `sort-key` the rest sort by id, descending.
//   boot.c:1750 config_default_entry_select(): the default is the first entry (in that order) whose id
//     matches the one-shot EFI variable, else the LoaderEntryDefault EFI variable, else loader.conf
//     `default`; else the first entry that is not an auto entry or a firmware action. boot.c:1735
//     config_entry_find() does NOT look at tries: a `default` that matches an exhausted entry boots it
//     forever (test/ab-boot.test.ts shows it). Hence the default pattern below.
//   boot.c:1177 config_defaults_load_from_file(): loader.conf keys `timeout` (0 = menu hidden),
//     `default` (a glob), `editor` (boolean; src/boot/efi/util.c:12 parse_boolean(): "no" is false);
//     `#` lines are comments (boot.c:1151, line_get_key_value()).
//   src/boot/efi/efi-string.c:233 efi_fnmatch(): `*`, `?`, `[a-z]` sets and ranges, `\` escapes.
//   src/boot/bless-boot.c:277 make_good(): a good boot drops the `+LEFT-DONE` part from the name.
//
// So a side is the default through `default hearth-<slot>[.+][1-9c]*`, which matches its entry while it
// is blessed (`hearth-b.conf`: `.` then `c`) or has tries left (`hearth-b+2.conf`, `hearth-b+1-1.conf`),
// and not once systemd-boot has counted it down to `+0-N`: then nothing matches, and systemd-boot takes
// the first entry in its order, where `+0` entries come last: the old side, whose entry has no counter.
// Blessing is then only the rename, so systemd-bless-boot.service alone blesses correctly too; loader.conf
// changes only when an update is staged (and when the old side blesses itself after a rollback).
// Nothing here sets LoaderEntryDefault/LoaderEntryOneShot: either would override loader.conf.
import { createHash } from "node:crypto";
import { closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { dirname, join } from "node:path";
import { tempPathFor, writeFileAtomic } from "../node/fs-atomic.js";

export type Slot = "a" | "b";
export const SLOTS: readonly Slot[] = ["a", "b"];

/** GPT partition names of the A/B disk: the ESP and the two OS sides. */
export const PARTLABEL = { boot: "hearth-boot", a: "hearth-a", b: "hearth-b" } as const;

/** Paths on the ESP, relative to its root. */
export const ESP_PATHS = {
  loaderConf: "loader/loader.conf",
  entries: "loader/entries",
  kernel: (s: Slot) => `EFI/hearth/${s}/linux`,
  initrd: (s: Slot) => `EFI/hearth/${s}/initrd`,
  /** Where systemd-boot goes so the firmware boots it with empty NVRAM (the removable-media path). */
  bootloader: "EFI/BOOT/BOOTX64.EFI",
} as const;

/** The kernel parameter that names the side a kernel belongs to. */
export const SLOT_PARAM = "hearth.slot";

/** Why an A/B operation refused, in words for the operator. */
export class AbError extends Error {}

export const otherSlot = (s: Slot): Slot => (s === "a" ? "b" : "a");

/** The side this system booted from: `hearth.slot=a|b` on the kernel command line (the last one wins). */
export function bootedSlot(cmdline: string): Slot | undefined {
  let slot: Slot | undefined;
  for (const word of cmdline.trim().split(/\s+/)) {
    if (!word.startsWith(`${SLOT_PARAM}=`)) continue;
    const v = word.slice(SLOT_PARAM.length + 1);
    slot = v === "a" || v === "b" ? v : undefined;
  }
  return slot;
}

/** A boot entry file of ours, read as systemd-boot reads it. `tries` is absent on a blessed entry. */
export interface EntryName {
  slot: Slot;
  tries?: { left: number; done: number };
}

/**
 * `hearth-b+2-1.conf` → `{ slot: "b", tries: { left: 2, done: 1 } }`; `hearth-a.conf` → `{ slot: "a" }`;
 * anything else (another entry, a temp file, a counter systemd-boot would not read) → undefined.
 */
export function parseEntryName(file: string): EntryName | undefined {
  const m = /^hearth-([ab])(?:\+(\d+)(?:-(\d+))?)?\.conf$/.exec(file);
  if (!m) return undefined;
  const slot = m[1] as Slot;
  if (m[2] === undefined) return { slot };
  const left = Number(m[2]);
  const done = m[3] === undefined ? 0 : Number(m[3]);
  // boot.c rejects counters above INT_MAX and then reads the name as one without a counter, whose
  // id is not ours.
  if (left > 0x7fffffff || done > 0x7fffffff) return undefined;
  return { slot, tries: { left, done } };
}

/** `entryName("b", 3)` → `hearth-b+3.conf`; `entryName("b", { left: 0, done: 3 })` → `hearth-b+0-3.conf`. */
export function entryName(slot: Slot, tries?: number | { left: number; done: number }): string {
  if (tries === undefined) return `hearth-${slot}.conf`;
  const t = typeof tries === "number" ? { left: tries, done: 0 } : tries;
  for (const n of [t.left, t.done]) if (!Number.isInteger(n) || n < 0) throw new AbError(`boot counter ${n} is not a whole number ≥ 0`);
  return typeof tries === "number" ? `hearth-${slot}+${t.left}.conf` : `hearth-${slot}+${t.left}-${t.done}.conf`;
}

/**
 * loader.conf `default` that makes `slot` the default: its entry blessed or with tries left, never
 * with none left (see the top of this file). `defaultFor("b")` → `hearth-b[.+][1-9c]*`.
 */
export const defaultFor = (slot: Slot): string => `hearth-${slot}[.+][1-9c]*`;

/** The whole loader.conf hearth writes: no menu, no editing the kernel command line at the console. */
export function loaderConf(defaultPattern: string): string {
  return [
    "# Written by hearth's agent (src/agent/ab.ts); rewritten on every update and bless.",
    "timeout 0",
    "editor no",
    `default ${defaultPattern}`,
    "",
  ].join("\n");
}

export interface SideSpec {
  /** The side's kernel and initrd: a file to copy, or the bytes. */
  kernel: string | Uint8Array;
  initrd: string | Uint8Array;
  /** Kernel command line without `hearth.slot=` (added here). */
  cmdline: string;
  /** What the entry calls this system, e.g. `2026.09.1`; reported back on a rollback. */
  version: string;
}

/** The entry file's text for `slot`. */
export function entryText(slot: Slot, spec: Pick<SideSpec, "cmdline" | "version">): string {
  for (const [what, v] of [["version", spec.version], ["cmdline", spec.cmdline]] as const)
    if (/[\r\n\0]/.test(v)) throw new AbError(`the ${what} of side ${slot} must be one line: ${JSON.stringify(v)}`);
  if (!spec.version.trim()) throw new AbError(`side ${slot} needs a version`);
  const named = /(^|\s)hearth\.slot=/.test(spec.cmdline);
  if (named && bootedSlot(spec.cmdline) !== slot) throw new AbError(`the command line of side ${slot} names another side: ${spec.cmdline}`);
  const options = named ? spec.cmdline.trim() : `${spec.cmdline.trim()} ${SLOT_PARAM}=${slot}`.trim();
  return [
    `title hearth ${spec.version} (side ${slot})`,
    `version ${spec.version}`,
    `linux /${ESP_PATHS.kernel(slot)}`,
    `initrd /${ESP_PATHS.initrd(slot)}`,
    `options ${options}`,
    "",
  ].join("\n");
}

/** The entry files of ours in an ESP, by slot (normally one each). */
export function readEntries(espDir: string): { file: string; name: EntryName }[] {
  const dir = join(espDir, ESP_PATHS.entries);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .flatMap((file) => {
      const name = parseEntryName(file);
      return name ? [{ file, name }] : [];
    });
}

const entriesOf = (espDir: string, slot: Slot) => readEntries(espDir).filter((e) => e.name.slot === slot);

/** The values of `key` in an entry file (`initrd` may repeat). */
function entryValues(espDir: string, file: string, key: string): string[] {
  const text = readFileSync(join(espDir, ESP_PATHS.entries, file), "utf8");
  return [...text.matchAll(new RegExp(`^[ \\t]*${key}[ \\t]+(.*?)[ \\t]*$`, "gm"))].map((m) => m[1]!);
}

/** An entry's `linux`/`initrd` path (`/EFI/x`, or `\EFI\x` as systemd-boot also reads it) on the ESP. */
const espFile = (espDir: string, p: string) => join(espDir, ...p.split(/[\\/]+/).filter(Boolean));

/** fsync a directory so a rename in it is on disk; FAT may refuse, and the rename's own write then has to do. */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // EINVAL/EISDIR on file systems that cannot sync a directory: nothing more to do.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** `content` (bytes, or a file to copy) to `path` through a temp file in the same directory and a rename. */
function putFileAtomic(path: string, content: string | Uint8Array): void {
  if (typeof content !== "string") return writeFileAtomic(path, content);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    copyFileSync(content, tmp);
    const fd = openSync(tmp, "r+");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  syncDir(dirname(path));
}

/** loader.conf with `default pattern`, written only when it differs (every write is a FAT update). */
function setDefault(espDir: string, pattern: string): void {
  const path = join(espDir, ESP_PATHS.loaderConf);
  const text = loaderConf(pattern);
  if (existsSync(path) && readFileSync(path, "utf8") === text) return;
  writeFileAtomic(path, text);
  syncDir(join(espDir, "loader"));
}

/** The loader.conf `default` in force now. */
export function currentDefault(espDir: string): string | undefined {
  const path = join(espDir, ESP_PATHS.loaderConf);
  if (!existsSync(path)) return undefined;
  return /^[ \t]*default[ \t]+(.*?)[ \t]*$/m.exec(readFileSync(path, "utf8"))?.[1];
}

/**
 * Install `slot` as a blessed side (no boot counter) and make it the default: the first side of a new
 * disk. Updates go through stageUpdate.
 */
export function installSide(espDir: string, slot: Slot, spec: SideSpec): void {
  const text = entryText(slot, spec);
  clearSide(espDir, slot);
  putFileAtomic(join(espDir, ESP_PATHS.kernel(slot)), spec.kernel);
  putFileAtomic(join(espDir, ESP_PATHS.initrd(slot)), spec.initrd);
  writeFileAtomic(join(espDir, ESP_PATHS.entries, entryName(slot)), text);
  syncDir(join(espDir, ESP_PATHS.entries));
  setDefault(espDir, defaultFor(slot));
}

/** A side's entries, then its files (whatever names an earlier image gave them): nothing boots it after. */
function clearSide(espDir: string, slot: Slot): void {
  for (const e of entriesOf(espDir, slot)) rmSync(join(espDir, ESP_PATHS.entries, e.file));
  syncDir(join(espDir, ESP_PATHS.entries));
  rmSync(join(espDir, dirname(ESP_PATHS.kernel(slot))), { recursive: true, force: true });
}

export interface StagedUpdate {
  slot: Slot;
  entry: string;
  default: string;
}

/**
 * Stage an update on the side that is NOT booted: its kernel, initrd and an entry with `tries` boot
 * attempts (`hearth-<slot>+<tries>.conf`), made the default while it has tries left; the booted side's
 * blessed entry stays as the fallback. The side's OS image goes to its partition first (writeSideImage).
 * Refuses unless the other side is blessed: without a good side to fall back to, boot counting only
 * decides which broken side boots.
 *
 * Order, so that a crash at any point boots the old side or the complete new one: default → the old
 * side; the new side's old entries and files removed (nothing boots a half-written side); kernel and
 * initrd; its entry; default → the new side.
 *
 *     stageUpdate("/boot", otherSlot(bootedSlot(cmdline)!), { kernel, initrd, cmdline, version: "2026.09.1", tries: 2 })
 */
export function stageUpdate(espDir: string, slot: Slot, o: SideSpec & { tries?: number }): StagedUpdate {
  const tries = o.tries ?? 3;
  if (!Number.isInteger(tries) || tries < 1 || tries > 1000) throw new AbError(`tries must be a whole number from 1 to 1000, not ${tries}`);
  const text = entryText(slot, o);
  const fallback = otherSlot(slot);
  const theirs = entriesOf(espDir, fallback);
  if (theirs.length !== 1 || theirs[0]!.name.tries)
    throw new AbError(
      theirs.length === 0
        ? `side ${fallback} has no boot entry to fall back to; install it before updating side ${slot}`
        : `side ${fallback} is not blessed (${theirs.map((e) => e.file).join(", ")}): bless the booted side before staging an update on side ${slot}`,
    );
  // systemd-boot skips an entry whose `linux` is missing (boot.c:1533); its initrds must be there too.
  const linux = entryValues(espDir, theirs[0]!.file, "linux");
  if (!linux.length) throw new AbError(`side ${fallback}'s entry ${theirs[0]!.file} has no linux line: it could not boot as the fallback`);
  for (const f of [...linux, ...entryValues(espDir, theirs[0]!.file, "initrd")])
    if (!existsSync(espFile(espDir, f))) throw new AbError(`side ${fallback}'s ${f} is missing from the ESP: it could not boot as the fallback`);
  setDefault(espDir, defaultFor(fallback));
  clearSide(espDir, slot);
  putFileAtomic(join(espDir, ESP_PATHS.kernel(slot)), o.kernel);
  putFileAtomic(join(espDir, ESP_PATHS.initrd(slot)), o.initrd);
  const entry = entryName(slot, tries);
  writeFileAtomic(join(espDir, ESP_PATHS.entries, entry), text);
  syncDir(join(espDir, ESP_PATHS.entries));
  setDefault(espDir, defaultFor(slot));
  return { slot, entry, default: defaultFor(slot) };
}

/**
 * The booted side reported healthy: its entry loses its counter (systemd-bless-boot's "good") and it
 * is the default. Idempotent. After an update the default already names this side and only the
 * rename happens; after a rollback the old side blessing itself takes the default back from the
 * failed one.
 */
export function blessBooted(espDir: string, slot: Slot): { entry: string; default: string } {
  const mine = entriesOf(espDir, slot);
  if (mine.length === 0) throw new AbError(`side ${slot} has no boot entry in ${join(espDir, ESP_PATHS.entries)}`);
  const good = entryName(slot);
  if (mine.length > 1) throw new AbError(`side ${slot} has ${mine.length} boot entries (${mine.map((e) => e.file).join(", ")}); expected one`);
  const e = mine[0]!;
  if (e.name.tries) {
    renameSync(join(espDir, ESP_PATHS.entries, e.file), join(espDir, ESP_PATHS.entries, good));
    syncDir(join(espDir, ESP_PATHS.entries));
  }
  setDefault(espDir, defaultFor(slot));
  return { entry: good, default: defaultFor(slot) };
}

export interface BootOutcome {
  booted: Slot;
  /**
   * healthy: this side is blessed. trial: this side still counts boots (check health, then bless).
   * rolled-back: this side is blessed and the other side's update used up its tries.
   */
  state: "healthy" | "trial" | "rolled-back";
  failedSlot?: Slot;
  failedVersion?: string;
}

/** What the last update came to, seen from the side that booted. */
export function bootOutcome(espDir: string, booted: Slot): BootOutcome {
  const mine = entriesOf(espDir, booted);
  if (mine.length === 0) throw new AbError(`side ${booted} is booted but has no boot entry in ${join(espDir, ESP_PATHS.entries)}`);
  if (mine.some((e) => e.name.tries)) return { booted, state: "trial" };
  const failed = entriesOf(espDir, otherSlot(booted)).find((e) => e.name.tries?.left === 0);
  if (!failed) return { booted, state: "healthy" };
  const failedVersion = entryValues(espDir, failed.file, "version")[0];
  return { booted, state: "rolled-back", failedSlot: failed.name.slot, ...(failedVersion !== undefined ? { failedVersion } : {}) };
}

/**
 * Write an OS image to the inactive side's partition (a block device, or an image file with `offset`):
 * streamed, fsync'd, then read back and compared by sha256. Refuses an image larger than `size`.
 * (Read back goes through the page cache of the device; fsync has put the written pages on the disk.)
 */
export async function writeSideImage(
  device: string,
  imageFile: string,
  o: { offset?: number; size?: number } = {},
): Promise<{ bytes: number; sha256: string }> {
  const offset = o.offset ?? 0;
  const CHUNK = 4 << 20;
  const src = await open(imageFile, "r");
  let dst: Awaited<ReturnType<typeof open>> | undefined;
  try {
    dst = await open(device, "r+");
    const bytes = (await src.stat()).size;
    if (o.size !== undefined && bytes > o.size) throw new AbError(`${imageFile} is ${bytes} bytes, the side holds ${o.size}`);
    const want = createHash("sha256");
    const buf = Buffer.allocUnsafe(CHUNK);
    for (let pos = 0; pos < bytes; ) {
      const { bytesRead } = await src.read(buf, 0, Math.min(CHUNK, bytes - pos), pos);
      if (bytesRead === 0) throw new AbError(`${imageFile} ended at ${pos} of ${bytes} bytes`);
      want.update(buf.subarray(0, bytesRead));
      for (let w = 0; w < bytesRead; ) w += (await dst.write(buf, w, bytesRead - w, offset + pos + w)).bytesWritten;
      pos += bytesRead;
    }
    await dst.sync();
    const got = createHash("sha256");
    for (let pos = 0; pos < bytes; ) {
      const { bytesRead } = await dst.read(buf, 0, Math.min(CHUNK, bytes - pos), offset + pos);
      if (bytesRead === 0) throw new AbError(`${device} ended at ${offset + pos} while reading back`);
      got.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    const sha256 = want.digest("hex");
    const back = got.digest("hex");
    if (back !== sha256) throw new AbError(`${device} reads back sha256 ${back} after writing ${imageFile} (${sha256})`);
    return { bytes, sha256 };
  } finally {
    await src.close();
    await dst?.close();
  }
}
