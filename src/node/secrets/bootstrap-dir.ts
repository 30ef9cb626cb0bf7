// What a host needs before its first boot (SSH host keys, initrd key, disk keys), decrypted into
// a fresh directory on a tmpfs for nixos-anywhere: extra-files/ mirrors the target's root,
// disk-keys/ holds what disko reads while formatting. Plaintext never reaches a disk unless the
// caller allows it, and `wipeBootstrapDir` overwrites every file before removing it.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statfsSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { LoadedIdentity } from "./age.js";
import { UserError } from "../errors.js";
import { bootstrapFiles, type SecretsStore } from "./store.js";
import { writeFileAtomic } from "../fs-atomic.js";

const TMPFS_MAGIC = 0x01021994;

export interface BootstrapDir {
  dir: string;
  /** nixos-anywhere --extra-files */
  extraFiles: string;
  /** nixos-anywhere --disk-encryption-keys <remote> <local>, one per disk key */
  diskKeys: { remote: string; local: string }[];
  count: number;
}

/** A fresh 0700 directory on a tmpfs ($XDG_RUNTIME_DIR, else /dev/shm). */
function freshDir(host: string, out: string | undefined, allowDisk: boolean): string {
  const runtime = process.env.XDG_RUNTIME_DIR;
  const base = runtime && existsSync(runtime) ? runtime : existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
  const dir = out ? resolve(out) : mkdtempSync(join(base, `hearth-${host}-`));
  const created = !out || !existsSync(dir);
  if (out) {
    if (existsSync(dir) && readdirSync(dir).length) throw new UserError(`${dir} is not empty; give a new directory`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  chmodSync(dir, 0o700);
  if (!allowDisk && statfsSync(dir).type !== TMPFS_MAGIC) {
    if (created) rmSync(dir, { recursive: true, force: true });
    throw new UserError(`${dir} is not on a tmpfs, so the plaintext keys would reach a disk; use a directory under /dev/shm or pass --allow-disk`);
  }
  return dir;
}

export async function writeBootstrapDir(
  store: SecretsStore,
  host: string,
  identities: LoadedIdentity[],
  o: { out?: string; allowDisk?: boolean } = {},
): Promise<BootstrapDir> {
  const files = await bootstrapFiles(store, host, identities);
  const dir = freshDir(host, o.out, !!o.allowDisk);
  const diskKeys: BootstrapDir["diskKeys"] = [];
  try {
    // extra-files exists even when empty: nixos-anywhere copies it as the target's root.
    mkdirSync(join(dir, "extra-files"), { mode: 0o700 });
    for (const f of files) {
      const rel = f.target === "root" ? join("extra-files", f.path) : join("disk-keys", f.path.split("/").pop()!);
      mkdirSync(dirname(join(dir, rel)), { recursive: true, mode: 0o700 });
      writeFileAtomic(join(dir, rel), f.content, f.mode);
      if (f.target === "disk-key") diskKeys.push({ remote: f.path, local: join(dir, rel) });
      f.content.fill(0);
    }
  } catch (e) {
    wipeBootstrapDir(dir);
    throw e;
  }
  return { dir, extraFiles: join(dir, "extra-files"), diskKeys, count: files.length };
}

/** Overwrite every file with zeros (tmpfs pages may be reused), then remove the tree. */
export function wipeBootstrapDir(dir: string): void {
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) writeFileSync(p, Buffer.alloc(statSync(p).size));
    }
  };
  if (existsSync(dir)) walk(dir);
  rmSync(dir, { recursive: true, force: true });
}
