// Vite build of hearth's web UI: sources in web/, output in web/dist, which `hearth serve`
// serves (index.html for every non-API path, hashed files under /assets).
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

const root = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root,
  base: "/",
  plugins: [react()],
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
