// Identity drives (seed 004's "USB stick with the node name and a secret key"): a small ext4
// volume labelled HEARTH-ID holding one host's name, SSH host key and network identity, and
// nothing else; every other secret reaches the host encrypted to that key. Made without root
// (mkfs.ext4 -d fills the filesystem from a directory) from a staging directory on a tmpfs that
// is wiped afterwards, so the plaintext key never touches a disk but the drive itself.
import { execFileSync } from "node:child_process";
import { chmodSync, closeSync, existsSync, fstatSync, fsyncSync, mkdtempSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, statfsSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { UserError } from "../errors.js";

export const IDENTITY_LABEL = "HEARTH-ID";
export const IDENTITY_FORMAT = "hearth-identity/1";
export const IDENTITY_FILE = "hearth-identity.json";
export const HOST_KEY_FILE = "ssh_host_ed25519_key";
/** Large enough for ext4's metadata and a few KiB of files; small enough for any stick. */
export const IDENTITY_IMAGE_MIB = 8;

const TMPFS_MAGIC = 0x01021994;

export interface IdentityContent {
  host: string;
  fleet: string;
  sshPrivateKey: Buffer;
  sshPublicKey: string;
  network?: { interfaces: { mac: string; name: string; addresses?: string[] }[]; gateway?: string; dns?: string[] };
}

/** A 0700 staging directory on a tmpfs. */
function stagingDir(): string {
  const runtime = process.env.XDG_RUNTIME_DIR;
  const base = runtime && existsSync(runtime) ? runtime : existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
  const d = mkdtempSync(join(base, "hearth-identity-"));
  chmodSync(d, 0o700);
  if (statfsSync(d).type !== TMPFS_MAGIC) {
    rmSync(d, { recursive: true, force: true });
    throw new UserError(`${base} is not a tmpfs, so the host key would reach a disk while the image is made; set XDG_RUNTIME_DIR to a tmpfs directory`);
  }
  return d;
}

/** Writes the identity image file (0600, atomically); returns its size in bytes. */
export function writeIdentityImage(out: string, c: IdentityContent): number {
  if (!existsSync("/usr/sbin/mkfs.ext4") && !existsSync("/sbin/mkfs.ext4")) throw new UserError("mkfs.ext4 is missing; install e2fsprogs");
  const stage = stagingDir();
  const tmp = join(dirname(out), `.${Date.now().toString(36)}-${process.pid}.hearth-identity.tmp`);
  try {
    const root = join(stage, "root");
    execFileSync("mkdir", ["-m", "0755", root]);
    const doc = { format: IDENTITY_FORMAT, host: c.host, fleet: c.fleet, sshPublicKey: c.sshPublicKey, ...(c.network ? { network: c.network } : {}) };
    writeFileSync(join(root, IDENTITY_FILE), JSON.stringify(doc, null, 2) + "\n", { mode: 0o644 });
    writeFileSync(join(root, HOST_KEY_FILE), c.sshPrivateKey, { mode: 0o600 });
    writeFileSync(join(root, `${HOST_KEY_FILE}.pub`), `${c.sshPublicKey}\n`, { mode: 0o644 });
    writeFileSync(tmp, "", { mode: 0o600 });
    // -d: populate from the directory (e2fsprogs >= 1.43), -E root_owner: files owned by root on the
    // drive whoever makes it; no journal (a drive that is written once and mounted read-only).
    execFileSync("mkfs.ext4", ["-q", "-F", "-L", IDENTITY_LABEL, "-O", "^has_journal", "-E", "root_owner=0:0", "-d", root, tmp, `${IDENTITY_IMAGE_MIB}M`], { stdio: ["ignore", "pipe", "pipe"] });
    const fd = openSync(tmp, "r+");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, out);
    chmodSync(out, 0o600);
    return statSync(out).size;
  } catch (e) {
    rmSync(tmp, { force: true });
    if (e instanceof UserError) throw e;
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
    throw new UserError(`making the identity image failed: ${stderr || (e as Error).message}`);
  } finally {
    // Overwrite the key before unlinking (tmpfs pages are freed, but not zeroed, on unlink).
    const key = join(stage, "root", HOST_KEY_FILE);
    if (existsSync(key)) writeFileSync(key, Buffer.alloc(c.sshPrivateKey.length));
    rmSync(stage, { recursive: true, force: true });
  }
}

/**
 * Copies an identity image onto a whole block device. The caller has checked the typed
 * confirmation; this refuses what is not a block device, a mounted one, and one too small.
 */
export function writeIdentityDevice(image: string, device: string): void {
  let st;
  try {
    st = statSync(device);
  } catch {
    throw new UserError(`${device} does not exist; name the drive by /dev/disk/by-id/…`);
  }
  if (!st.isBlockDevice()) throw new UserError(`${device} is not a block device; use --image FILE to write an image file instead`);
  const real = execFileSync("readlink", ["-f", device]).toString().trim();
  const mounts = readFileSync("/proc/mounts", "utf8");
  if (mounts.split("\n").some((l) => l.split(" ")[0]?.startsWith(real))) throw new UserError(`${device} (${real}) or one of its partitions is mounted; unmount it first`);
  const size = Number(execFileSync("blockdev", ["--getsize64", real]).toString().trim());
  const bytes = readFileSync(image);
  if (size < bytes.length) throw new UserError(`${device} holds ${size} bytes, the identity image needs ${bytes.length}`);
  const fd = openSync(real, "r+");
  try {
    if (!fstatSync(fd).isBlockDevice()) throw new UserError(`${device} changed under us`);
    let at = 0;
    while (at < bytes.length) at += writeSync(fd, bytes, at, Math.min(1 << 20, bytes.length - at), at);
    fsyncSync(fd);
    // Read back what was written: a drive that silently drops writes is caught here, not at boot.
    const back = Buffer.alloc(bytes.length);
    let got = 0;
    while (got < back.length) {
      const n = readSync(fd, back, got, back.length - got, got);
      if (n === 0) break;
      got += n;
    }
    if (!back.equals(bytes)) throw new UserError(`${device} did not keep what was written; try another drive`);
  } finally {
    bytes.fill(0);
    closeSync(fd);
  }
}

/** What an identity drive holds, read from a mounted drive's directory (the agent's side). */
export function readIdentityDir(dir: string): IdentityContent {
  const doc = JSON.parse(readFileSync(join(dir, IDENTITY_FILE), "utf8")) as { format?: string; host?: string; fleet?: string; sshPublicKey?: string; network?: IdentityContent["network"] };
  if (doc.format !== IDENTITY_FORMAT || typeof doc.host !== "string" || typeof doc.sshPublicKey !== "string") throw new Error(`${IDENTITY_FILE} is not a hearth identity (format ${IDENTITY_FORMAT})`);
  return { host: doc.host, fleet: doc.fleet ?? "", sshPublicKey: doc.sshPublicKey, sshPrivateKey: readFileSync(join(dir, HOST_KEY_FILE)), ...(doc.network ? { network: doc.network } : {}) };
}
