// Atomic file writes: a temp file in the same directory, fsync, then rename over the target,
// so a crash leaves the old content or the new, never half of either. Temp files are named
// `.<name>.hearth-tmp-<pid>-<random>`, so a later run can tell whose they were and remove
// those of writers that died (removeStaleTemps).
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname, basename, join } from "node:path";
import { randomBytes } from "node:crypto";

const TEMP = /^\..+\.hearth-tmp-(\d+)-[0-9a-f]+$/;

/** The temp name for `path` in this process, e.g. `.flake.nix.hearth-tmp-4711-9f2c01ab33de`. */
export const tempPathFor = (path: string): string =>
  join(dirname(path), `.${basename(path)}.hearth-tmp-${process.pid}-${randomBytes(6).toString("hex")}`);

export const isTempName = (name: string): boolean => TEMP.test(name);

export function writeFileAtomic(path: string, content: string | Uint8Array, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  const fd = openSync(tmp, "wx", mode);
  try {
    if (typeof content === "string") writeSync(fd, content);
    else writeSync(fd, content);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  // A writer of this file that was killed before its rename left its temp file: gone now.
  removeStaleTemps(dirname(path), basename(path));
}

/** Is a process with this id running? (EPERM: it runs as another user.) */
function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Remove the temp files that writers which no longer run left in `dir` (not recursive), or only
 * those of the file named `onlyFor`; a live writer's temp file stays. Returns the names removed.
 */
export function removeStaleTemps(dir: string, onlyFor?: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP.exec(name);
    if (!m || alive(Number(m[1])) || (onlyFor !== undefined && !name.startsWith(`.${onlyFor}.hearth-tmp-`))) continue;
    rmSync(join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}
