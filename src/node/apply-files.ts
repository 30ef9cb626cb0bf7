// The one executor for generated files: writes what changed (atomically), leaves identical
// files untouched, and removes stale files that carry hearth's marker (never the user's).
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { createTwoFilesPatch } from "diff";
import { GENERATED_MARKER } from "../core/plan/plan.js";
import { writeFileAtomic } from "./fs-atomic.js";

export interface FileChange {
  path: string;
  action: "create" | "update" | "delete" | "unchanged";
  before?: string;
  after?: string;
}

// age armor allows no comment line, so the copies of encrypted secrets are recognised by place.
const isGenerated = (path: string, text: string) =>
  text.slice(0, 200).includes(GENERATED_MARKER) || (path.startsWith("secrets/") && path.endsWith(".age"));

/** Compare the planned files with the output directory. */
export function compareFiles(outDir: string, files: Map<string, string>): FileChange[] {
  const changes: FileChange[] = [];
  for (const [path, after] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    const abs = join(outDir, path);
    const before = existsSync(abs) ? readFileSync(abs, "utf8") : undefined;
    changes.push({ path, action: before === undefined ? "create" : before === after ? "unchanged" : "update", before, after });
  }
  for (const path of listFiles(outDir)) {
    if (files.has(path)) continue;
    const text = readFileSync(join(outDir, path), "utf8");
    if (isGenerated(path, text)) changes.push({ path, action: "delete", before: text });
  }
  return changes;
}

export function applyChanges(outDir: string, changes: FileChange[]): void {
  for (const c of changes) {
    if (c.action === "create" || c.action === "update") writeFileAtomic(join(outDir, c.path), c.after!);
    if (c.action === "delete") rmSync(join(outDir, c.path));
  }
  pruneEmptyDirs(outDir);
}

export function unifiedDiff(changes: FileChange[]): string {
  return changes
    .filter((c) => c.action !== "unchanged")
    .map((c) => createTwoFilesPatch(c.before === undefined ? "/dev/null" : `a/${c.path}`, c.after === undefined ? "/dev/null" : `b/${c.path}`, c.before ?? "", c.after ?? ""))
    .join("");
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name === ".git" || e.name === "result") continue;
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

function pruneEmptyDirs(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name === ".git") continue;
    const p = join(dir, e.name);
    pruneEmptyDirs(p);
    if (readdirSync(p).length === 0) rmdirSync(p);
  }
}
