// Vite build of hearth's web UI: sources in web/, output in web/dist, which `hearth serve`
// serves (index.html for every non-API path, hashed files under /assets).
import { readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { defineConfig, type Plugin } from "vite";
import react from "@vitejs/plugin-react";

const root = fileURLToPath(new URL(".", import.meta.url));

/** Text files the server sends compressed (src/server/app.ts picks `.br`, then `.gz`, by Accept-Encoding). */
const COMPRESS = /\.(html|js|mjs|css|svg|json|webmanifest|txt)$/;

/**
 * Writes `<file>.br` (Brotli, best) and `<file>.gz` (gzip -9) next to every text file of the
 * build, once at build time, so the server compresses nothing per request. A variant that would
 * not be smaller is not written; the server then sends the plain file.
 */
function precompress(): Plugin {
  let outDir = "";
  return {
    name: "hearth-precompress",
    apply: "build",
    configResolved(config) {
      outDir = config.build.outDir.startsWith("/") ? config.build.outDir : join(config.root, config.build.outDir);
    },
    closeBundle() {
      for (const file of walk(outDir)) {
        if (!COMPRESS.test(file)) continue;
        const plain = readFileSync(file);
        const variants: [string, Buffer][] = [
          [".br", brotliCompressSync(plain, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: plain.length } })],
          [".gz", gzipSync(plain, { level: 9 })],
        ];
        for (const [suffix, bytes] of variants) {
          if (bytes.length < plain.length) writeFileSync(file + suffix, bytes);
          else rmIfThere(file + suffix);
        }
      }
    },
  };
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

function rmIfThere(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Not there: nothing to remove.
  }
}

export default defineConfig({
  root,
  base: "/",
  plugins: [react(), precompress()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2022",
  },
  server: {
    // `npx vite --config web/vite.config.ts` with `hearth serve` running: the API is proxied.
    proxy: { "/api": { target: process.env.HEARTH_API ?? "http://127.0.0.1:7420", changeOrigin: false } },
  },
});
