#!/usr/bin/env node
// Entry point. Runs the compiled CLI (dist/cli, `npm run build:cli`, done by `npm ci`) while it is
// newer than every source file, and the TypeScript through tsx otherwise, so a checkout being
// edited never runs stale code.
import { existsSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Script } from "node:vm";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist/cli");
const stamp = join(dist, ".built");

function newestSource(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Loads dist/cli/hearth.cjs through a V8 code cache kept beside it: Node 20 has no compile cache,
 * and compiling the 2 MB bundle afresh was a third of every command's start. A cache from another
 * Node version is rejected by V8 and replaced; one that cannot be written (a read-only install)
 * only costs speed.
 */
function loadCompiled() {
  const file = join(dist, "hearth.cjs");
  const cacheFile = join(dist, "hearth.cjs.v8cache");
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {}
  const require = createRequire(file);
  // No dynamic import() may be left in the bundle (Node 20's vm cannot resolve one without a flag);
  // scripts/build-cli.mjs refuses a build that has one.
  const script = new Script(require("node:module").wrap(readFileSync(file, "utf8")), { filename: file, cachedData });
  const module = { exports: {} };
  script.runInThisContext().call(module.exports, module.exports, require, module, file, dist);
  const refresh = process.env.HEARTH_CODE_CACHE === "write" || !cachedData || script.cachedDataRejected;
  if (process.env.HEARTH_CODE_CACHE === "debug") process.stderr.write(`hearth: code cache ${!cachedData ? "missing" : script.cachedDataRejected ? "rejected" : "accepted"}\n`);
  return { main: module.exports.main, saveCache: refresh ? () => writeCache(cacheFile, script) : () => {} };
}

function writeCache(cacheFile, script) {
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, script.createCachedData());
    renameSync(tmp, cacheFile);
  } catch {
    try {
      unlinkSync(tmp);
    } catch {}
  }
}

if (existsSync(stamp) && statSync(stamp).mtimeMs >= newestSource(join(root, "src"))) {
  const { main, saveCache } = loadCompiled();
  await main(process.argv);
  // After the command, so the cache holds what it compiled too.
  saveCache();
} else {
  const { register } = await import("tsx/esm/api");
  register();
  const { main } = await import("../src/cli/main.ts");
  await main(process.argv);
}
