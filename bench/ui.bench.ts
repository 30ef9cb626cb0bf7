/// <reference lib="dom" />
// The web UI's figures: the overview's render time for a 1,000-host fleet in headless Chromium
// (target under 1 s), and the initial JS the browser downloads, gzipped (target under 300 KB).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";
import { REPO_ROOT } from "../src/node/fleet-dir.js";
import { spawn } from "node:child_process";
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
// The server as users run it: the compiled CLI in a process of its own (npm ci builds dist/cli);
// the page is opened as soon as it prints its address, as a user would.
const child = spawn(process.execPath, [join(REPO_ROOT, "bin/hearth.js"), "serve", dir, "--port", "0", "--state-dir", join(dir, ".state")], { stdio: ["ignore", "pipe", "inherit"] });
const url = await new Promise<string>((ok, fail) => {
  let text = "";
  child.stdout!.on("data", (b: Buffer) => {
    text += b.toString();
    const m = / at (http:\/\/\S+)/.exec(text);
    if (m) ok(m[1]!);
  });
  child.on("exit", (code) => fail(new Error(`hearth serve exited with ${code}: ${text}`)));
});
const server = {
  url,
  close: () => new Promise<void>((ok) => {
    child.once("exit", () => ok());
    child.kill("SIGTERM");
  }),
};
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"],
});
/** One full navigation to the overview: when the data arrived and when the rows were painted. */
async function load(page: import("playwright-core").Page, first: boolean) {
  if (first) await page.goto(`${server.url}/#/`);
  else await page.reload();
  await page.waitForSelector("[data-testid^=host-row-]", { timeout: 60_000 });
  // Painted: two frames after the rows are in the DOM; performance.now() counts from navigation.
  const t = await page.evaluate(() => new Promise<number>((ok) => requestAnimationFrame(() => requestAnimationFrame(() => ok(performance.now())))));
  const api = await page.evaluate(() => {
    const e = performance.getEntriesByType("resource").filter((r) => r.name.endsWith("/api/fleet")).pop() as PerformanceResourceTiming;
    return { start: e.requestStart, end: e.responseEnd };
  });
  return { api: api.end - api.start, render: t - api.end, total: t };
}
const ms = (x: number) => `${x.toFixed(0)} ms`;
try {
  // 1. Opened the moment the server prints its address: the fleet worker is still validating.
  const startup = await load(await (await browser.newContext()).newPage(), true);
  // 2. A browser that has never seen the app (new context: no cache), on a running server.
  const fresh = await (await browser.newContext()).newPage();
  const runs = [await load(fresh, true)];
  // 3. Reloads.
  for (let i = 0; i < 3; i++) runs.push(await load(fresh, false));
  const warm = runs.slice(1);
  const med = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`ui overview 1000 hosts, painted after navigation including the API (target < 1000 ms): reload ${ms(med(warm.map((r) => r.total)))} (median of ${warm.length}; API ${ms(med(warm.map((r) => r.api)))}, render ${ms(med(warm.map((r) => r.render)))}); first visit ${ms(runs[0]!.total)} (API ${ms(runs[0]!.api)}, render ${ms(runs[0]!.render)}); opened during server start ${ms(startup.total)} (API ${ms(startup.api)}, render ${ms(startup.render)})`);
} finally {
  await browser.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
