/// <reference lib="dom" />
// The Nodes view in real headless Chromium (Debian's, driven by playwright-core) against a real
// `hearth serve` with simulated pull nodes (the real agent code, a stand-in only for switching
// a NixOS system) and releases signed with the admin's key. What is asserted is what the page
// shows: the nodes' phases after they check in (healthy, rolled back, up to date, pending), a
// rollout started with "Roll out" followed wave by wave as the agents check in, a failing canary
// pausing it with the reason, the page riding out a server restart, Resume going on from there,
// Abort asking first, no polling while the page is hidden, and nodes not seen for 15 minutes
// marked stale.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { composeServer, type Composed } from "../src/server/serve.js";
import { listen, type Started } from "../src/server/app.js";
import { REPO_ROOT } from "../src/node/fleet-dir.js";
import { tempDir } from "./support/fleet.js";
import { CHROMIUM, CHROMIUM_ARGS, shows } from "./support/browser.js";
import { fakeSystem, fleetOf, identityOf, simNode, type SimNode, type TestFleet } from "./support/pull-nodes.js";
import { generateKey, publicKeyLine, type SecretKey } from "../src/core/signing/minisign.js";
import { publishedVersions, writeRelease } from "../src/node/pull/signing.js";
import type { RolloutPolicy } from "../src/core/pull/rollout.js";
const built = existsSync(join(REPO_ROOT, "web/dist/index.html"));

// ---- small helpers, as in test/pull.test.ts ---------------------------------------------------


/** The admin signs `host`'s next release (what `hearth publish` does with the fleet's key); returns its version. */
const release = (f: TestFleet, key: SecretKey, host: string) => {
  const v = (publishedVersions(f.dir, host).at(-1) ?? 0) + 1;
  return writeRelease(f.dir, key, { host, issued: new Date().toISOString(), expires: new Date(Date.now() + 30 * 86_400_000).toISOString(), system: fakeSystem(host, v), substituters: [], trustedPublicKeys: [], files: {} }).version;
};

/** Let `host` fetch `version` without a rollout (the state a node was in before this test). */
const allow = (s: Composed, host: string, version: number) =>
  s.db.sql.prepare(`INSERT INTO pull_targets (host, version) VALUES (?, ?) ON CONFLICT (host) DO UPDATE SET version = excluded.version`).run(host, version);

// ---- page helpers ------------------------------------------------------------------------------

const q = (testId: string) => `[data-testid="${testId}"]`;

async function gone(page: Page, selector: string, timeout = 15_000): Promise<void> {
  await page.waitForFunction((sel) => !document.querySelector(sel), selector, { timeout });
}

const active = (testId: string) => `${q("active-rollouts")} ${q(testId)}`;

describe("the Nodes view in Chromium", { skip: (!existsSync(CHROMIUM) && "needs /usr/bin/chromium") || (!built && "needs `npm run build:web`") }, () => {
  let browser: Browser;
  let page: Page;
  let f: TestFleet;
  let admin: SecretKey;
  let stateDir: string;
  let s: Composed;
  let started: Started;
  let url: string;
  let port: number;
  const nodes = new Map<string, SimNode>();
  // n02's first system and n01's third fail their health check and roll back.
  const bad = new Set<string>();
  const policy: RolloutPolicy = { canary: 1, batchSize: 2, pauseAtFailures: 2, healthTimeoutMs: 10 * 60_000 };

  async function startServer(): Promise<void> {
    s = composeServer({ fleetDir: f.dir, bind: "127.0.0.1", stateDir, rolloutPolicy: policy });
    // Rollouts start from the button only (the server's timer would start them by itself).
    s.pull.stop();
    started = await listen(s.app, port, "127.0.0.1");
    url = started.url;
  }
  async function stopServer(): Promise<void> {
    await started.close();
    await s.close();
  }
  const checkIn = async (...hosts: string[]) => {
    for (const h of hosts) await nodes.get(h)!.agent.checkIn();
  };

  before(async () => {
    f = await fleetOf(3);
    admin = generateKey();
    stateDir = tempDir("hearth-pull-ui-state-");
    port = 0;
    await startServer();
    port = Number(new URL(url).port);
    bad.add(fakeSystem("n02", 1));
    bad.add(fakeSystem("n01", 3));
    for (const h of f.hosts) nodes.set(h, simNode(url, [publicKeyLine(admin)], identityOf(f, h), bad));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage();
    page.setDefaultTimeout(20_000);
  });
  after(async () => {
    await browser?.close();
    await stopServer().catch(() => {});
  });

  test("nodes appear with their phases, versions and check-ins; a pending machine says how to adopt it", async () => {
    // Version 1 for n01 (healthy) and n02 (its system fails: rolled back); n03 has nothing yet.
    assert.equal(release(f, admin, "n01"), 1);
    assert.equal(release(f, admin, "n02"), 1);
    allow(s, "n01", 1);
    allow(s, "n02", 1);
    await checkIn("n01", "n02", "n03");
    await simNode(url, [publicKeyLine(generateKey())], undefined).agent.checkIn();

    await page.goto(url);
    await page.getByTestId("nav-nodes").click();
    assert.match(await shows(page, q("node-phase-n01"), /^healthy$/), /healthy/);
    await shows(page, q("node-version-n01"), /^v1$/);
    await shows(page, q("node-phase-n02"), /^rolled back$/);
    await shows(page, q("node-version-n02"), /^v1 \(rolled back\)$/);
    await shows(page, q("node-phase-n03"), /^up to date$/);
    await shows(page, q("node-version-n03"), /—/);
    await shows(page, q("node-seen-n01"), /^\d+ s ago$/);
    assert.match((await page.getByTestId("node-seen-n01").getAttribute("title")) ?? "", /\d{1,2}:\d\d:\d\d/, "the absolute time in the title");
    assert.match(await page.getByTestId("node-n02").innerText(), /health check failed/, "n02's row says why");

    // A row opens to the node's inventory and log.
    await page.getByTestId("node-expand-n02").click();
    const details = await shows(page, q("node-details-n02"), /stand-in machine/);
    assert.match(details, /x86_64/);
    assert.match(details, /3\.8 GiB/);
    assert.match(details, /UEFI\s+unknown/);
    assert.match(await page.locator(`${q("node-details-n02")} ${q("node-log")}`).innerText(), /version 1 failed: stand-in: health check failed/);

    // The pending machine: its own section, its key's fingerprint and how to adopt it.
    const pending = page.getByTestId("pending-nodes");
    assert.equal(await pending.getByTestId("pending-node").count(), 1);
    assert.match(await pending.getByTestId("pending-fingerprint").innerText(), /^SHA256:\S+$/);
    assert.match(await pending.getByTestId("adopt-help").innerText(), /hearth identity write HOST --device/);
    assert.match(await pending.getByTestId("pending-node").innerText(), /pending/);
    assert.match(await pending.getByTestId("pending-node").innerText(), /stand-in machine/);
    assert.match(await page.getByTestId("nothing-to-roll-out").innerText(), /hearth publish/);
  });

  test("“Roll out” starts a rollout of the signed releases that the page follows as the agents check in", async () => {
    assert.equal(release(f, admin, "n01"), 2);
    assert.equal(release(f, admin, "n02"), 2);
    assert.equal(release(f, admin, "n03"), 1);
    // The page picks up the new releases by itself and says which host gets which version.
    await shows(page, q("unreleased"), /Signed by the admin's CLI/);
    await shows(page, q("unreleased-version-n01"), /^version 2$/);
    await shows(page, q("unreleased-version-n03"), /^version 1$/);
    await shows(page, q("unreleased"), /batches of 2/);
    await shows(page, q("roll-out-plan"), /canary n01, then 1 batch of up to 2/);
    await shows(page, q("roll-out"), /Roll out to 3 hosts/);

    await page.getByTestId("roll-out").click();
    await shows(page, active("rollout-status"), /^running$/);
    await shows(page, active("rollout-host-n01"), /n01 offered v2/);
    await shows(page, active("rollout-host-n02"), /waiting/);
    await shows(page, active("rollout-counts"), /0 of 3 healthy · 1 offered · 2 waiting/);
    await shows(page, q("node-version-n01"), /v1 → v2 \(offered\)/);
    await gone(page, q("unreleased"));

    // The others check in first: not offered anything new, they stay as they are.
    await checkIn("n02", "n03");
    await shows(page, active("rollout-counts"), /0 of 3 healthy · 1 offered · 2 waiting/);
    // The canary applies and is healthy: the batch is offered.
    await checkIn("n01");
    await shows(page, active("rollout-host-n01"), /healthy/);
    await shows(page, active("rollout-host-n02"), /offered/);
    await shows(page, active("rollout-host-n03"), /offered/);
    await shows(page, q("node-phase-n01"), /^healthy$/);
    await shows(page, q("node-version-n01"), /^v2$/);
    await shows(page, active("rollout-counts"), /1 of 3 healthy · 2 offered/);

    await checkIn("n02", "n03");
    await gone(page, q("active-rollouts"));
    await shows(page, q("past-rollouts"), /Past rollouts \(1\)/);
    await page.locator(`${q("past-rollouts")} > summary`).click();
    await shows(page, `${q("past-rollout")} ${q("rollout-status")}`, /^done$/);
    await shows(page, `${q("past-rollout")}`, /3 of 3 healthy/);
    await shows(page, q("node-phase-n02"), /^healthy$/);
    await shows(page, q("node-version-n02"), /^v2$/);
    await shows(page, q("node-version-n03"), /^v1$/);
  });

  test("a failing canary pauses the rollout with the reason; the page rides out a server restart; Resume goes on", async () => {
    release(f, admin, "n01"); // version 3: its system fails on n01
    release(f, admin, "n02");
    release(f, admin, "n03");
    await shows(page, q("roll-out"), /Roll out to 3 hosts/);
    await page.getByTestId("roll-out").click();
    await shows(page, active("rollout-host-n01"), /offered v3/);

    await checkIn("n01", "n02", "n03");
    await shows(page, active("rollout-status"), /^paused$/);
    const reason = await shows(page, active("rollout-paused"), /1 of 1 host\(s\) in the canary failed/);
    assert.match(reason, /Resume/);
    await shows(page, active("rollout-host-n01"), /rolled back/);
    await shows(page, active("rollout-host-n02"), /waiting/);
    await shows(page, q("node-phase-n01"), /^rolled back$/);
    await shows(page, q("node-version-n01"), /^v3 \(rolled back\)$/);
    assert.equal(nodes.get("n02")!.system.system, fakeSystem("n02", 2), "n02 was not offered version 3");

    // The server goes away and comes back (same state, same port): the page says so and recovers.
    await stopServer();
    await shows(page, q("pull-connection"), /Lost contact with the server/);
    assert.equal(await page.locator(active("rollout-status")).innerText(), "paused", "what the server said last stays on the page");
    await startServer();
    await gone(page, q("pull-connection"), 20_000);
    await shows(page, active("rollout-status"), /^paused$/);

    await page.locator(active("rollout-resume")).click();
    await shows(page, active("rollout-status"), /^running$/);
    await shows(page, active("rollout-host-n02"), /offered/);
    await checkIn("n01", "n02", "n03");
    await gone(page, q("active-rollouts"));
    await shows(page, q("past-rollouts"), /Past rollouts \(2\)/);
    await shows(page, q("node-version-n02"), /^v3$/);
    await shows(page, q("node-version-n03"), /^v2$/);
    await shows(page, q("node-phase-n01"), /^rolled back$/);
    assert.equal(nodes.get("n01")!.system.system, fakeSystem("n01", 2), "n01 kept version 2");
  });

  test("Abort asks first, then stops the rollout", async () => {
    release(f, admin, "n01");
    release(f, admin, "n02");
    await shows(page, q("roll-out"), /Roll out to 2 hosts/);
    await page.getByTestId("roll-out").click();
    await shows(page, active("rollout-status"), /^running$/);
    await page.locator(active("rollout-abort")).click();
    await shows(page, active("rollout-abort-confirm"), /Abort rollout .*\?/);
    await page.locator(active("rollout-abort-no")).click();
    await gone(page, active("rollout-abort-confirm"));
    await shows(page, active("rollout-status"), /^running$/);
    await page.locator(active("rollout-abort")).click();
    await page.locator(active("rollout-abort-yes")).click();
    await gone(page, q("active-rollouts"));
    await shows(page, q("past-rollouts"), /Past rollouts \(3\)/);
    assert.match(await page.locator(`${q("past-rollout")} ${q("rollout-status")}`).first().innerText(), /^aborted$/);
  });

  test("polling stops while the page is hidden and resumes at once when it is shown", async () => {
    let polls = 0;
    const count = (r: { url(): string }) => void (r.url().endsWith("/api/pull") && polls++);
    page.on("request", count);
    try {
      // As when the tab goes to the background (a string: tsx would wrap a function's closures in a helper the page lacks).
      const setHidden = (hidden: boolean) =>
        page.evaluate(`
          Object.defineProperty(document, "hidden", { configurable: true, value: ${hidden} });
          Object.defineProperty(document, "visibilityState", { configurable: true, value: "${hidden ? "hidden" : "visible"}" });
          document.dispatchEvent(new Event("visibilitychange"));
        `);
      await page.waitForTimeout(3500);
      assert.ok(polls >= 1, `polled while visible (${polls})`);
      await setHidden(true);
      polls = 0;
      await page.waitForTimeout(7000);
      assert.equal(polls, 0, "no request while hidden");
      await setHidden(false);
      await page.waitForTimeout(500);
      assert.equal(polls, 1, "one request as soon as it is shown again");
    } finally {
      page.off("request", count);
    }
  });

  test("nodes not seen for 15 minutes are shown as stale", async () => {
    const later = await browser.newPage();
    try {
      // The browser's clock 20 minutes ahead: every node was last seen 20 minutes ago.
      await later.clock.setFixedTime(new Date(Date.now() + 20 * 60_000));
      await later.goto(`${url}/#/nodes`);
      await shows(later, q("node-seen-n01"), /^2\d min ago stale$/);
      await shows(later, `${q("pending-nodes")} ${q("stale")}`, /stale/);
      // Seen just now on the page with the real clock: not stale.
      await shows(page, q("node-seen-n01"), /^\d+ s ago$/);
    } finally {
      await later.close();
    }
  });
});
