// Compiles the CLI (and the server it starts) to dist/cli with esbuild: one bundle split at the
// dynamic imports, so `hearth --help` loads no server, deploy or age code. bin/hearth.js runs it
// while it is newer than every file under src/, and the TypeScript through tsx otherwise.
import { build } from "esbuild";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = join(root, "dist/cli");
rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
await build({
  // The fleet worker is a thread of its own (src/server/fleet.ts starts it from beside main.js).
  entryPoints: { main: join(root, "src/cli/main.ts"), "fleet-worker": join(root, "src/server/fleet-worker.ts") },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // Native addon: loaded from node_modules at run time.
  external: ["better-sqlite3"],
  // CommonJS dependencies inside an ES module bundle still call require() for Node's built-ins.
  banner: { js: "import { createRequire as __hearthRequire } from 'node:module'; const require = __hearthRequire(import.meta.url);" },
  // Chunks sit beside main.js: src/node/fleet-dir.ts finds the repository two levels up from its own file.
  chunkNames: "[name]-[hash]",
  logLevel: "warning",
});
// Written last: a build that failed half-way is never taken for a fresh one.
writeFileSync(join(outdir, ".built"), new Date().toISOString() + "\n");
