/// <reference lib="dom" />
// The web UI's figures: the overview's render time for a 1,000-host fleet in headless Chromium
// (target under 1 s), and the initial JS the browser downloads, gzipped (target under 300 KB).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";
import { REPO_ROOT } from "../src/node/fleet-dir.js";
import { startServe } from "../src/server/serve.js";
import { fleetFiles } from "./fleet.js";

const dist = join(REPO_ROOT, "web/dist");
const index = readFileSync(join(dist, "index.html"), "utf8");
const initial = [...index.matchAll(/(?:src|href)="\/?(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
const sizes = initial.map((f) => ({ f, raw: readFileSync(join(dist, f)).length, gz: gzipSync(readFileSync(join(dist, f)), { level: 9 }).length }));
const js = sizes.filter((s) => s.f.endsWith(".js"));
console.log(`ui initial JS: ${(js.reduce((a, s) => a + s.gz, 0) / 1024).toFixed(1)} KB gzipped (${(js.reduce((a, s) => a + s.raw, 0) / 1024).toFixed(0)} KB raw, ${js.length} file(s); CSS ${(sizes.filter((s) => s.f.endsWith(".css")).reduce((a, s) => a + s.gz, 0) / 1024).toFixed(1)} KB gz) (target < 300 KB)`);

const dir = mkdtempSync(join(tmpdir(), "hearth-uibench-"));
for (const [p, t] of Object.entries(fleetFiles(1000))) {
  mkdirSync(dirname(join(dir, p)), { recursive: true });
  writeFileSync(join(dir, p), t);
}
const server = await startServe({ fleetDir: dir, port: 0, bind: "127.0.0.1", stateDir: join(dir, ".state") });
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  const runs: { api: number; render: number; total: number }[] = [];
  for (let i = 0; i < 4; i++) {
    // A full navigation each time, so performance.now() counts from the navigation's start.
    if (i === 0) await page.goto(`${server.url}/#/`);
    else await page.reload();
    await page.waitForSelector("[data-testid^=host-row-]", { timeout: 60_000 });
    // Painted: two frames after the rows are in the DOM.
    const t = await page.evaluate(() => new Promise<number>((ok) => requestAnimationFrame(() => requestAnimationFrame(() => ok(performance.now())))));
    const api = await page.evaluate(() => {
      const e = performance.getEntriesByType("resource").filter((r) => r.name.endsWith("/api/fleet")).pop() as PerformanceResourceTiming;
      return { start: e.requestStart, end: e.responseEnd };
    });
    runs.push({ api: api.end - api.start, render: t - api.end, total: t });
  }
  const warm = runs.slice(1);
  const med = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`ui overview 1000 hosts: render ${med(warm.map((r) => r.render)).toFixed(0)} ms after the data arrived (median of ${warm.length} warm loads; cold ${runs[0]!.render.toFixed(0)} ms) (target < 1000 ms); /api/fleet took ${med(warm.map((r) => r.api)).toFixed(0)} ms (cold ${runs[0]!.api.toFixed(0)} ms); painted ${med(warm.map((r) => r.total)).toFixed(0)} ms after navigation including the API (cold ${runs[0]!.total.toFixed(0)} ms) (target < 1000 ms)`);
} finally {
  await browser.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
