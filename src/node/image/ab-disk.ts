// Builds an A/B disk image file for RAM-booted pull nodes without root or loop devices: a GPT
// (sfdisk on the file) with the ESP `hearth-boot` (FAT32 made in its own file by mkfs.vfat, filled by
// mtools' mcopy, then copied in), and the two OS sides `hearth-a` and `hearth-b`. The ESP carries
// systemd-boot at the removable-media path and side A installed and blessed by src/agent/ab.ts, so the
// image boots side A on firmware with empty NVRAM.
import { execFileSync } from "node:child_process";
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, rmSync, ftruncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ESP_PATHS, PARTLABEL, installSide, writeSideImage, type SideSpec } from "../../agent/ab.js";

const MiB = 1 << 20;
const SECTOR = 512;
/** GPT partition type GUIDs (UEFI spec: EFI System; the Discoverable Partitions Specification: Linux data). */
const TYPE_ESP = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
const TYPE_LINUX = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";

/** mtools without a user's ~/.mtoolsrc, and without its geometry check (our FAT lives at an offset). */
export const MTOOLS_ENV = { ...process.env, MTOOLSRC: "/dev/null", MTOOLS_SKIP_CHECK: "1" };

const run = (cmd: string, args: string[], input?: string) =>
  execFileSync(cmd, args, { input, stdio: ["pipe", "pipe", "pipe"], env: MTOOLS_ENV, maxBuffer: 64 * MiB }).toString();

export interface Extent {
  /** Bytes from the start of the image. */
  offset: number;
  size: number;
}

export interface AbLayout {
  boot: Extent;
  a: Extent;
  b: Extent;
}

/** Where the ESP and the sides are in an image file (or on a disk), by their GPT names. */
export function readAbLayout(image: string): AbLayout {
  let table: { partitiontable: { sectorsize?: number; partitions?: { start: number; size: number; name?: string }[] } };
  try {
    table = JSON.parse(run("sfdisk", ["--json", image]));
  } catch (e) {
    throw new Error(`${image} has no partition table sfdisk can read: ${(e as Error).message}`);
  }
  const sector = table.partitiontable.sectorsize ?? SECTOR;
  const find = (name: string): Extent => {
    const p = table.partitiontable.partitions?.find((x) => x.name === name);
    if (!p) throw new Error(`${image} has no partition named ${name}`);
    return { offset: p.start * sector, size: p.size * sector };
  };
  return { boot: find(PARTLABEL.boot), a: find(PARTLABEL.a), b: find(PARTLABEL.b) };
}

/** The mtools drive for a FAT inside an image file: `file@@offset`. */
export const mtoolsDrive = (image: string, offset: number) => `${image}@@${offset}`;

export interface AbDiskOptions {
  out: string;
  /** Whole image; at least 2 MiB (GPT and its backup) more than the partitions. Default: just that. */
  sizeMiB?: number;
  /** FAT32 needs 33 MiB or more; both sides' kernels and initrds live here. */
  espMiB: number;
  sideMiB: number;
  /** systemd-boot's EFI binary, e.g. /usr/lib/systemd/boot/efi/systemd-bootx64.efi. */
  systemdBoot: string;
  sides: { a: SideSpec & { osImage?: string } };
}

/**
 * Make the image. Side A is installed blessed and is the default; side B's partition is empty and has
 * no entry until an update stages it.
 *
 *     await buildAbDisk({ out: "node.img", espMiB: 64, sideMiB: 512, systemdBoot: SYSTEMD_BOOT,
 *       sides: { a: { kernel: "bzImage", initrd: "initrd", cmdline: "console=ttyS0", version: "1", osImage: "root.ext4" } } })
 */
export async function buildAbDisk(o: AbDiskOptions): Promise<AbLayout> {
  if (o.espMiB < 33) throw new Error(`espMiB ${o.espMiB}: a FAT32 ESP needs at least 33 MiB`);
  if (o.sideMiB < 1) throw new Error(`sideMiB ${o.sideMiB}: a side needs at least 1 MiB`);
  const needMiB = 2 + o.espMiB + 2 * o.sideMiB;
  const sizeMiB = o.sizeMiB ?? needMiB;
  if (sizeMiB < needMiB) throw new Error(`sizeMiB ${sizeMiB}: the ESP (${o.espMiB}), two sides (${o.sideMiB} each) and the GPT need ${needMiB}`);

  const work = mkdtempSync(join(tmpdir(), "hearth-ab-disk-"));
  try {
    // A sparse file: sfdisk writes the protective MBR, the GPT and its backup at the end.
    const fd = openSync(o.out, "w");
    ftruncateSync(fd, sizeMiB * MiB);
    closeSync(fd);
    const sectors = (mib: number) => (mib * MiB) / SECTOR;
    run(
      "sfdisk",
      ["--no-reread", "--no-tell-kernel", "--quiet", o.out],
      [
        "label: gpt",
        `start=${sectors(1)}, size=${sectors(o.espMiB)}, type=${TYPE_ESP}, name="${PARTLABEL.boot}"`,
        `size=${sectors(o.sideMiB)}, type=${TYPE_LINUX}, name="${PARTLABEL.a}"`,
        `size=${sectors(o.sideMiB)}, type=${TYPE_LINUX}, name="${PARTLABEL.b}"`,
        "",
      ].join("\n"),
    );
    const layout = readAbLayout(o.out);

    // The ESP's files, staged in a directory by the agent's own functions.
    const esp = join(work, "esp");
    mkdirSync(join(esp, "EFI/BOOT"), { recursive: true });
    copyFileSync(o.systemdBoot, join(esp, ESP_PATHS.bootloader));
    const { osImage, ...a } = o.sides.a;
    installSide(esp, "a", a);

    const fat = join(work, "esp.fat");
    const ffd = openSync(fat, "w");
    ftruncateSync(ffd, layout.boot.size);
    closeSync(ffd);
    run("mkfs.vfat", ["-F", "32", "-n", "HEARTHBOOT", fat]);
    run("mcopy", ["-s", "-Q", "-i", fat, join(esp, "EFI"), join(esp, "loader"), "::/"]);
    await writeSideImage(o.out, fat, { offset: layout.boot.offset, size: layout.boot.size });
    if (osImage) await writeSideImage(o.out, osImage, { offset: layout.a.offset, size: layout.a.size });
    return layout;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
