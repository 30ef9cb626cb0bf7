/// <reference lib="dom" />
// The web UI in real headless Chromium (Debian's, driven by playwright-core) against a real
// `hearth serve`: overview, search, the host editor's inline error from the validator, the diff,
// saving with comments intact, and a build whose live progress reaches done. The build is the
// small offline test flake standing in for a NixOS system, which cannot be built here.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { startServe, type Serving } from "../src/server/serve.js";
import { REPO_ROOT } from "../src/node/fleet-dir.js";
import { readyExample, tempDir } from "./support/fleet.js";

import { CHROMIUM, CHROMIUM_ARGS } from "./support/browser.js";
const built = existsSync(join(REPO_ROOT, "web/dist/index.html"));

/** The tiny offline flake (test/fixtures/tiny-flake) in a fresh directory with a fresh nonce. */
export function standInFlake(): { flakeDir: string; attr: string } {
  const dir = mkdtempSync(join(tmpdir(), "hearth-standin-"));
  cpSync(join(REPO_ROOT, "test/fixtures/tiny-flake/flake.nix"), join(dir, "flake.nix"));
  writeFileSync(join(dir, "params.nix"), `{ nonce = "${Date.now()}-${Math.random().toString(36).slice(2)}"; pidDir = "${dir}"; }\n`);
  return { flakeDir: dir, attr: "ok" };
}

describe("web UI in Chromium", { skip: (!existsSync(CHROMIUM) && "needs /usr/bin/chromium") || (!built && "needs `npm run build:web`") }, () => {
  let browser: Browser;
  let server: Serving;
  let page: Page;
  let dir: string;

  before(async () => {
    dir = (await readyExample("homestaking")).dir;
    server = await startServe({ fleetDir: dir, port: 0, bind: "127.0.0.1", stateDir: tempDir("hearth-ui-state-"), buildStandIn: standInFlake() });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage();
    page.setDefaultTimeout(20_000);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test("overview lists the fleet's hosts and search filters them", async () => {
    await page.goto(server.url);
    await page.getByTestId("host-row-ponkila-ephemeral-beta").waitFor();
    assert.equal(await page.locator("[data-testid^=host-row-]").count(), 4);
    await page.getByTestId("search").fill("sigma");
    await page.waitForFunction(() => document.querySelectorAll("[data-testid^=host-row-]").length === 1);
    assert.equal(await page.getByTestId("host-row-ponkila-ephemeral-sigma").count(), 1);
    await page.getByTestId("search").fill("");
  });

  test("editor: an invalid value shows the validator's inline error; fixed, the diff shows; saving keeps comments", async () => {
    const file = join(dir, "hosts/ponkila-ephemeral-beta.yaml");
    const original = readFileSync(file, "utf8");
    await page.goto(`${server.url}/#/hosts/ponkila-ephemeral-beta`);
    await openSection(page, "services");
    const port = page.getByTestId("field-services.consensus.ports.http");
    await port.fill("70000");
    // The error comes from the server's validator (the CLI's), shown at the field.
    const portError = page.getByTestId("error-services.consensus.ports.http");
    await portError.waitFor();
    assert.match(await portError.innerText(), /65535|too big|less than/i);
    await port.fill("5053");
    await portError.waitFor({ state: "detached" });
    await page.getByTestId("review").click();
    const diff = page.getByTestId("diff");
    await diff.waitFor();
    // The review shows "computing the diff…" until the server's dry run answers.
    await page.waitForFunction(() => /\+\s*http: 5053/.test(document.querySelector("[data-testid=diff]")?.textContent ?? ""), undefined, { timeout: 30_000 }).catch(() => {});
    assert.match(await diff.innerText(), /\+\s*http: 5053/);
    assert.equal(readFileSync(file, "utf8"), original, "nothing written before Save");
    await page.getByTestId("save").click();
    for (let i = 0; i < 100 && !readFileSync(file, "utf8").includes("http: 5053"); i++) await page.waitForTimeout(100);
    const saved = readFileSync(file, "utf8");
    assert.match(saved, /http: 5053/);
    for (const line of original.split("\n").filter((l) => l.trim().startsWith("#"))) assert.ok(saved.includes(line), `comment kept: ${line}`);
  });

  test("a build is queued and its live progress reaches done", async () => {
    await page.goto(`${server.url}/#/hosts/ponkila-ephemeral-beta`);
    await page.getByTestId("build").click();
    const state = page.getByTestId("job-state").first();
    await page.waitForFunction(() => /succeeded|failed|cancelled/.test(document.querySelector("[data-testid=job-state]")?.textContent ?? ""), undefined, { timeout: 120_000 });
    assert.match(await state.innerText(), /succeeded/);
    assert.match(await page.getByTestId("job-progress").first().innerText(), /3\s*\/\s*3/);
    // Its artifacts download with the recorded sha256, and netboot serves the latest kexec build.
    const jobs = (await (await fetch(`${server.url}/api/jobs?host=ponkila-ephemeral-beta`)).json()) as { id: number; state: string; artifacts: { name: string; sha256: string; url: string }[] }[];
    const job = jobs.find((j) => j.state === "succeeded")!;
    const hello = job.artifacts.find((a) => a.name === "hello.txt")!;
    const body = Buffer.from(await (await fetch(`${server.url}${hello.url}`)).arrayBuffer());
    assert.equal(createHash("sha256").update(body).digest("hex"), hello.sha256);
    assert.equal(await (await fetch(`${server.url}/netboot/ponkila-ephemeral-beta/hello.txt`)).text(), "hello from hearth\n");
    assert.equal((await fetch(`${server.url}/netboot/ponkila-ephemeral-sigma/netboot.ipxe`)).status, 404, "no build, no netboot");
  });
});

async function openSection(page: Page, name: string) {
  const section = page.getByTestId(`section-${name}`);
  await section.waitFor();
  if (!(await section.evaluate((el) => (el as HTMLDetailsElement).open))) await section.locator(":scope > summary").click();
}
