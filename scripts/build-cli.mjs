// Compiles the CLI (and the server it starts) to dist/cli with esbuild. bin/hearth.js runs it
// while it is newer than every file under src/, and the TypeScript through tsx otherwise.
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

// zod's namespace export re-exports every locale (60-odd languages) that hearth never selects;
// its messages come from `en`, which zod's schemas import directly. Only `en` stays.
const zodEnglishOnly = {
  name: "zod-english-only",
  setup(b) {
    b.onLoad({ filter: /node_modules[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, () => ({ contents: 'export { default as en } from "./en.js";', loader: "js", resolveDir: undefined }));
  },
};

// The client flag lists (data/client-flags/*.json) carry their provenance per flag (declared
// at, Java type, env var, notes); the CLI needs only what its parser reads. Keeping the rest out
// of the bundle keeps `hearth validate` from parsing half a megabyte it never uses.
const KEEP = ["value", "values", "aliases", "multiple", "hidden"];
const compactFlagData = {
  name: "compact-flag-data",
  setup(b) {
    b.onLoad({ filter: /data[\\/]client-flags[\\/][^\\/]+\.json$/ }, async (args) => {
      const d = JSON.parse(await readFile(args.path, "utf8"));
      const commands = Object.fromEntries(
        Object.entries(d.commands).map(([k, c]) => [k, { flags: Object.fromEntries(Object.entries(c.flags).map(([n, f]) => [n, Object.fromEntries(KEEP.filter((x) => f[x] !== undefined).map((x) => [x, f[x]]))])) }]),
      );
      const compact = { client: d.client, version: d.version, source: { repo: d.source.repo, tag: d.source.tag, commit: d.source.commit }, commands, ...(d.flagPatterns ? { flagPatterns: d.flagPatterns.map((p) => ({ pattern: p.pattern, value: p.value })) } : {}) };
      // A JSON.parse of a string is faster to load than the same object as a JavaScript literal.
      return { contents: `export default JSON.parse(${JSON.stringify(JSON.stringify(compact))});`, loader: "js" };
    });
  },
};
const outdir = join(root, "dist/cli");
rmSync(outdir, { recursive: true, force: true });
rmSync(join(root, "dist/agent"), { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  // Native addon: loaded from node_modules at run time.
  external: ["better-sqlite3"],
  plugins: [compactFlagData, zodEnglishOnly],
  logLevel: "warning",
};
// The CLI (and the server it starts) as one CommonJS script. bin/hearth.js compiles it with a V8
// code cache (Node 20 has no compile cache of its own): the 2 MB are parsed once per machine, not
// once per command. Code behind a dynamic import stays unevaluated until a command needs it.
const cli = await build({
  ...common,
  metafile: true,
  stdin: { contents: 'export { main } from "./src/cli/main.ts";', resolveDir: root, loader: "ts", sourcefile: "hearth-cli.ts" },
  outfile: join(outdir, "hearth.cjs"),
  format: "cjs",
  // src/node/fleet-dir.ts finds the repository two levels up from its own file, src/server/fleet.ts
  // its worker beside it: both are dist/cli here.
  define: { "import.meta.url": "__hearthFileUrl" },
  banner: { js: 'var __hearthFileUrl = require("node:url").pathToFileURL(__filename).href;' },
});
// bin/hearth.js runs the bundle through vm.Script, which on Node 20 cannot resolve an import()
// that esbuild left alone (a Node built-in, an external package): import those statically.
const dynamic = Object.values(cli.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.kind === "dynamic-import" && i.external).map((i) => i.path));
if (dynamic.length) throw new Error(`dynamic import() of ${dynamic.join(", ")} in the CLI bundle; import them statically`);
// The fleet worker is a thread of its own (src/server/fleet.ts starts it from beside hearth.cjs).
await build({
  ...common,
  entryPoints: { "fleet-worker": join(root, "src/server/fleet-worker.ts") },
  outdir,
  format: "esm",
  // CommonJS dependencies inside an ES module bundle still call require() for Node's built-ins.
  banner: { js: "import { createRequire as __hearthRequire } from 'node:module'; const require = __hearthRequire(import.meta.url);" },
});
// The node agent, one file with no dependencies but Node: the class image runs it with its own
// nodejs (src/core generates the hearth-agent service that starts it).
await build({
  ...common,
  entryPoints: { "hearth-agent": join(root, "src/agent/main.ts") },
  outdir: join(root, "dist/agent"),
  outExtension: { ".js": ".mjs" },
  format: "esm",
  external: [],
  banner: { js: "import { createRequire as __hearthRequire } from 'node:module'; const require = __hearthRequire(import.meta.url);" },
});
// The stamp that makes bin/hearth.js run this build; taken back if warming it fails.
const stamp = join(outdir, ".built");
writeFileSync(stamp, new Date().toISOString() + "\n");
// The code cache for the commands people run most, made now so the first run is fast too. It
// holds what V8 compiled while running them; a Node upgrade rejects it and bin/hearth.js makes a
// new one.
for (const args of [["--help"], ["validate", join(root, "examples/homestaking")]]) {
  const warm = spawnSync(process.execPath, [join(root, "bin/hearth.js"), ...args], { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, HEARTH_CODE_CACHE: "write" } });
  if (warm.status !== 0) {
    rmSync(stamp, { force: true });
    throw new Error(`warming the CLI's code cache with \`hearth ${args[0]}\` failed (exit ${warm.status})`);
  }
}
