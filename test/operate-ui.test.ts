/// <reference lib="dom" />
// Running the fleet from the page, in real headless Chromium against a real `hearth serve`:
// hosts are network namespaces running Debian's sshd with the keys hearth generated (the server
// reaches them through the real OpenSSH client run in the admin namespace). Shown: a deploy
// planned, confirmed and followed live to its summary, then rolled back from the page; a bad
// generation rolled back by itself; a real LUKS volume unlocked from the page through the
// initrd-style SSH prompt; a host that goes down shown as down within a polling interval, with
// its alert delivered once to a local webhook receiver. What runs on the hosts is the real
// executor; only the NixOS generations are stand-ins (test/fixtures/generations: no nixpkgs here).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { chromium, type Browser, type Page } from "playwright-core";
import { composeServer, type Composed } from "../src/server/serve.js";
import { listen, type Started } from "../src/server/app.js";
import { TestNet, haveSshd, sshFromNamespace, startSshd } from "./support/netns.js";
import { decrypt, loopDisk, makeUpdateHost, sh } from "./support/test-hosts.js";
import { hearth } from "./support/fleet.js";
import { CHROMIUM, CHROMIUM_ARGS, shows as waitShows, webBuilt } from "./support/browser.js";

const built = webBuilt();
const q = (id: string) => `[data-testid="${id}"]`;
/** Deploys and alerts take longer than the default wait on a loaded machine. */
const shows = (page: Page, selector: string, re: RegExp, timeout = 30_000) => waitShows(page, selector, re, timeout);

/** The page navigated (by hash) to `hash`; fails with the page's error banner when it did not. */
async function atHash(page: Page, hash: string): Promise<void> {
  try {
    await page.waitForFunction((h) => location.hash === h, hash, { timeout: 30_000 });
  } catch {
    assert.fail(`expected ${hash}, at ${await page.evaluate(() => location.hash)}: ${await page.evaluate(() => Array.from(document.querySelectorAll(".banner")).map((b) => (b as HTMLElement).innerText).join(" / "))}`);
  }
}

describe("running the fleet from the page", { skip: (!haveSshd() && "needs root, ip netns and openssh-server") || (!existsSync(CHROMIUM) && "needs /usr/bin/chromium") || (!built && "needs `npm run build:web`") }, () => {
  let net: TestNet;
  let browser: Browser;
  let page: Page;
  let s: Composed;
  let started: Started;
  let h: Awaited<ReturnType<typeof makeUpdateHost>>;
  let system: string;
  let stopBeta: () => void;
  const hooks: { at: number; body: { text?: string; notification?: { kind?: string; host?: string; key?: string } } }[] = [];
  let receiver: Server;
  const stops: (() => void)[] = [];
  const drops: (() => void)[] = [];
  const work = mkdtempSync(join(tmpdir(), "hearth-operate-"));
  let restorePath = () => {};

  before(async () => {
    net = new TestNet("192.168.1.0/24");
    const admin = net.host("admin", "192.168.1.2");
    // The server runs in this test's process; its ssh (and nix copy's) is the real OpenSSH client
    // run in the admin namespace, so it reaches the test hosts as it would reach real ones.
    restorePath = sshFromNamespace(admin);

    // pi-alpha: a NixOS-like host with stand-in generations, at its own address.
    h = await makeUpdateHost(net, admin, stops, { name: "alpha", address: "192.168.1.50", nonce: "operate" });
    // pi-beta: up, until the test stops it.
    const betaNs = net.host("beta", "192.168.1.51");
    const beta = await startSshd(net, betaNs, { address: "192.168.1.51", port: 22, hostKey: decrypt(h.identity, join(h.dir, "secrets/hosts/pi-beta/ssh-host-key.age")), authorizedKey: h.key.pub });
    stopBeta = beta.stop;
    stops.push(beta.stop);

    // The fleet's alerts go to a webhook receiver on loopback.
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        try {
          hooks.push({ at: Date.now(), body: JSON.parse(Buffer.concat(chunks).toString()) });
        } catch {
          hooks.push({ at: Date.now(), body: {} });
        }
        res.writeHead(200).end("ok");
      });
    });
    await new Promise<void>((ok) => receiver.listen(0, "127.0.0.1", ok));
    const port = (receiver.address() as { port: number }).port;
    const doc = parseDocument(readFileSync(join(h.dir, "fleet.yaml"), "utf8"));
    doc.set("alerts", { webhook: `http://127.0.0.1:${port}/hook` });
    writeFileSync(join(h.dir, "fleet.yaml"), doc.toString());

    // The admin's new SSH key (for logging in) is a recipient too: rekey, as an admin would.
    const rekey = hearth(["secrets", "rekey", "-f", h.dir, "-i", h.identity]);
    assert.equal(rekey.code, 0, rekey.stderr);

    system = h.gens.good2;
    s = composeServer({
      fleetDir: h.dir,
      bind: "127.0.0.1",
      stateDir: join(work, "state"),
      identityFiles: [h.identity],
      sshKey: h.key.file,
      deployRun: { profile: h.profile, bootedSystem: join(h.state, "booted"), confirmTimeout: 8, healthTimeout: 5, waitTimeout: 15 },
      systemStandIn: () => system,
      monitor: { intervalSeconds: 2, timeoutMs: 4000 },
    });
    started = await listen(s.app, 0, "127.0.0.1");
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage();
  });

  after(async () => {
    restorePath();
    await browser?.close();
    await started?.close();
    await s?.close();
    receiver?.close();
    stops.forEach((f) => f());
    net?.destroy();
    drops.forEach((d) => d());
  });

  test("a deploy planned, confirmed and followed live to its summary; rolled back from the page; a bad generation rolls back by itself", async () => {
    assert.equal(h.current(), "good");
    await page.goto(`${started.url}/#/deploys`);
    await page.click(q("pick-pi-alpha"));
    await page.click(q("plan-deploy"));
    await atHash(page, "#/deploys/1");
    await shows(page, q("deploy-status"), /ready/);
    const plan = await shows(page, q("plan-pi-alpha"), /update/);
    assert.match(plan, /192\.168\.1\.50/);
    assert.match(plan, /NixOS|not NixOS/, "the facts gathered over SSH are shown");
    // The package changes, as `nix store diff-closures` reports them for the two real store paths.
    const closure = await shows(page, q("closure-summary-pi-alpha"), /change/);
    assert.doesNotMatch(closure, /not compared/);
    assert.match(await page.innerText(q("closure-pi-alpha")), /hearth-standin-system-good/);
    assert.match(await page.innerText(q("config-summary-pi-alpha")), /files? changed/);
    assert.match(await page.innerText(q("deploy-origin")), /not in git|from [0-9a-f]{10}/);

    // Confirm, and sample the live line while it runs: it must move through the executor's phases.
    await page.click(q("deploy-confirm"));
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const line = await page.innerText(q("line-pi-alpha")).catch(() => "");
      for (const p of ["facts", "copy", "activate", "health"]) if (line.includes(p)) seen.add(p);
      if (/deployed|rolled back|failed/.test(await page.innerText(q("deploy-status")).catch(() => ""))) break;
      if (/done|failed/.test(await page.innerText(q("deploy-status")).catch(() => ""))) break;
      await page.waitForTimeout(100);
    }
    assert.match(await shows(page, q("deploy-summary"), /1 deployed/), /1 deployed/);
    // Copying within one machine's store is instant: the page (polling every second) sees at least the health check live.
    assert.ok(seen.size >= 1, `the line showed a phase while it ran (saw ${[...seen].join(", ") || "none"})`);
    // Every step is on the page too, as `hearth deploy --json` prints the events.
    await page.click(`${q("deploy-lines")} details summary`);
    const log = await shows(page, `${q("deploy-lines")} pre.log`, /health\s+ok/);
    for (const step of [/facts\s+ok/, /copy\s+start/, /copy\s+ok/, /activate\s+ok\s+switched/, /health\s+ok/]) assert.match(log, step);
    assert.equal(h.current(), "good2", "the host runs the new generation");

    // Roll back from the summary: back on exactly the generation before.
    page.once("dialog", (d) => void d.accept());
    await page.click(q("rollback-pi-alpha"));
    await shows(page, q("line-pi-alpha"), /rolled back to generation 1 by local/);
    assert.equal(h.current(), "good");

    // A generation whose health check fails is rolled back by itself, and the page says why.
    system = h.gens.degraded;
    await page.goto(`${started.url}/#/deploys`);
    await page.click(q("pick-pi-alpha"));
    await page.click(q("plan-deploy"));
    await atHash(page, "#/deploys/2");
    await shows(page, q("deploy-status"), /ready/);
    // Its configuration was deployed just before (then rolled back, which drops the record): a full diff again.
    await page.click(q("deploy-confirm"));
    const summary = await shows(page, q("line-pi-alpha"), /rolled back/, 60_000);
    assert.match(summary, /health check failed \(failed units: lighthouse\.service/);
    assert.equal(h.current(), "good", "the host is back on the generation it ran");

    // Every action is in the audit log with who did it.
    const audit = (await (await fetch(`${started.url}/api/audit`)).json()) as { user: string; action: string }[];
    for (const a of ["deploy.plan", "deploy.start", "deploy.rollback"]) assert.ok(audit.some((e) => e.action === a && e.user === "local"), `${a} in the audit log`);
  });

  test("a real LUKS volume unlocked from the page through the initrd's SSH prompt", async () => {
    const disk = loopDisk("operate-luks", 64);
    drops.push(disk.drop);
    const pass = decrypt(h.identity, join(h.dir, "secrets/hosts/pi-alpha/luks-passphrase.age"));
    sh("cryptsetup", ["luksFormat", "--batch-mode", "--type", "luks2", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000", "--key-file=-", disk.dev], pass);
    // As in test/deploy.test.ts: the initrd's password agent reads one line without echo; where
    // the kernel has no device-mapper, cryptsetup checks the passphrase against the real key slot.
    const mapper = `hearth-op${process.pid}`;
    drops.unshift(() => spawnSync("cryptsetup", ["close", mapper]));
    const dm = spawnSync("dmsetup", ["version"]).status === 0;
    const script = join(work, "ask.sh");
    const open = dm ? `cryptsetup open --key-file=- ${disk.dev} ${mapper}` : `cryptsetup open --test-passphrase --key-file=- ${disk.dev}`;
    writeFileSync(script, `#!/bin/bash\nstty -echo 2>/dev/null\nIFS= read -r p\nprintf %s "$p" | ${open} && touch ${work}/unlocked && echo unlocked\n`, { mode: 0o755 });
    const unlocked = () => (dm ? existsSync(`/dev/mapper/${mapper}`) : existsSync(join(work, "unlocked")));
    const initrdKey = decrypt(h.identity, join(h.dir, "secrets/hosts/pi-alpha/initrd-ssh-host-key.age"));
    stops.push((await startSshd(net, h.ns, { address: "192.168.1.50", port: 2222, hostKey: initrdKey, authorizedKey: h.key.pub, forceCommand: script })).stop);

    await page.goto(`${started.url}/#/hosts/pi-alpha`);
    // A wrong passphrase typed on the page opens nothing, and says so.
    await page.fill(q("unlock-typed"), "not the passphrase");
    await page.press(q("unlock-typed"), "Enter");
    await shows(page, q("unlock-result"), /unlock of pi-alpha failed/);
    assert.ok(!unlocked());
    assert.equal(await page.inputValue(q("unlock-typed")), "", "the typed passphrase is cleared at once");
    // hearth's own passphrase, decrypted on the server.
    await page.click(q("unlock-stored"));
    await shows(page, q("unlock-result"), /pi-alpha unlocked/);
    assert.ok(unlocked(), "the LUKS volume accepted the passphrase");
    const audit = JSON.stringify(await (await fetch(`${started.url}/api/audit`)).json());
    assert.match(audit, /"action":"unlock","target":"pi-alpha"/);
    assert.ok(!audit.includes(pass.toString()) && !audit.includes("not the passphrase"), "no passphrase in the audit log");
  });

  test("a host that goes down is shown down within a polling interval, and its alert reaches the webhook once", async () => {
    await page.goto(`${started.url}/#/`);
    await shows(page, q("reach-pi-beta"), /up/);
    const before = hooks.length;
    stopBeta();
    const t0 = Date.now();
    await shows(page, q("reach-pi-beta"), /down/, 20_000);
    const shownAfter = Date.now() - t0;
    // Interval 2 s + SSH timeout 4 s + the page's 5 s poll, with room for a loaded machine.
    assert.ok(shownAfter < 20_000, `shown down after ${shownAfter} ms`);
    assert.match(await page.innerText(q("alerts")), /pi-beta/);
    // Delivered to the webhook: one "raised" for pi-beta's host.down, and no more over further polls.
    const raised = () => hooks.slice(before).filter((x) => x.body.notification?.host === "pi-beta" && x.body.notification?.key === "host.down" && x.body.notification?.kind === "raised");
    for (let i = 0; i < 100 && raised().length === 0; i++) await new Promise((r) => setTimeout(r, 200));
    assert.equal(raised().length, 1, JSON.stringify(hooks.slice(before).map((x) => x.body.text)));
    assert.match(raised()[0]!.body.text ?? "", /pi-beta/);
    await s.monitor.pollNow();
    await s.monitor.pollNow();
    assert.equal(raised().length, 1, "no repeat while it stays down");
  });
});
