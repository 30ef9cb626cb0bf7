/// <reference lib="dom" />
// Issue 15's polish, end to end: the UI's files served compressed (bytes checked against the
// build), a failed build's one-line reason taken from real Nix output (small offline flakes that
// fail each way hearth recognises), that reason and Retry in the browser, and every main page at
// phone width (390×844) with a 60-character host name shown in full and no sideways scrolling.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { chromium, type Browser, type Page } from "playwright-core";
import { openDb } from "../src/server/db.js";
import { failureSummary, NixProgress } from "../src/server/jobs/nix-log.js";
import { JobRunner } from "../src/server/jobs/runner.js";
import { startServe, type Serving } from "../src/server/serve.js";
import { REPO_ROOT } from "../src/node/fleet-dir.js";
import type { JobSummary } from "../src/server/wire.js";
import { hearth, readyExample, tempDir } from "./support/fleet.js";
import { CHROMIUM, CHROMIUM_ARGS } from "./support/browser.js";

const DIST = join(REPO_ROOT, "web/dist");
const built = existsSync(join(DIST, "index.html"));
const hasNix = spawnSync("nix", ["--version"]).status === 0;
// Flakes are pure: the system is spelled out, not builtins.currentSystem.
const SYSTEM = process.arch === "arm64" ? "aarch64-linux" : "x86_64-linux";

// Offline: no binary cache to ask, no sandbox (Debian's nix-bin), as in test/jobs.test.ts.
process.env.NIX_CONFIG = [process.env.NIX_CONFIG, "substituters =", "sandbox = false"].filter(Boolean).join("\n");

const work = mkdtempSync(join(tmpdir(), "hearth-polish-"));
const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(work, { recursive: true, force: true });
});

/** A 60-character host name: shown in full everywhere, wrapped rather than cut. */
const LONG = "ponkila-ephemeral-validator-with-a-really-long-hostname-0060";
assert.equal(LONG.length, 60);

interface Raw {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One request with node:http: the body exactly as sent (fetch would decode it). */
function raw(base: string, path: string, headers: Record<string, string> = {}, method = "GET"): Promise<Raw> {
  return new Promise((ok, fail) => {
    const req = httpRequest(new URL(path, base), { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => ok({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", fail);
    });
    req.on("error", fail);
    req.end();
  });
}

/** A flake directory with this flake.nix, each run's derivations new (Nix rebuilds them). */
function flake(name: string, text: string): string {
  const dir = join(work, `${name}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "flake.nix"), text.replaceAll("NONCE", `${Date.now()}-${Math.random().toString(36).slice(2)}`));
  return dir;
}

/** A derivation whose builder is /bin/sh running `script`, in Nix syntax. */
const shDrv = (name: string, script: string) =>
  `builtins.derivation { name = "${name}"; system = "${SYSTEM}"; builder = "/bin/sh"; nonce = "NONCE"; PATH = "/usr/bin:/bin"; args = [ "-c" ${JSON.stringify(script)} ]; }`;

const pkgs = (value: string) => `{ outputs = { self }: { packages.${SYSTEM}.x = ${value}; }; }`;

/** The failing builder the browser tests build in place of a NixOS system. */
const FAILING = pkgs(shDrv("hearth-widget-1.0", "echo checking the widget; echo 'error: the widget is broken' >&2; exit 1"));

/** Runs `nix build` as the job runner does (same flags), returns what NixProgress makes of its stderr. */
function nixBuild(flakeDir: string, attr = "x", opts: { env?: Record<string, string>; memoryKiB?: number } = {}): Promise<{ code: number | null; reason?: string; summary?: string; stderr: string }> {
  const args = ["build", `path:${flakeDir}#${attr}`, "-L", "--log-format", "internal-json", "--no-link", "--json", "--extra-experimental-features", "nix-command flakes"];
  const [cmd, argv] = opts.memoryKiB ? ["sh", ["-c", `ulimit -v ${opts.memoryKiB}; exec nix "$@"`, "nix", ...args]] : ["nix", args];
  return new Promise((ok) => {
    const child = spawn(cmd as string, argv as string[], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...opts.env } });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("close", (code) => {
      const nix = new NixProgress();
      for (const line of stderr.split("\n")) nix.feed(line);
      const reason = nix.failureReason();
      const summary = failureSummary({ state: "failed", ...(reason !== undefined ? { reason } : {}) });
      ok({ code, stderr, ...(reason !== undefined ? { reason } : {}), ...(summary !== undefined ? { summary } : {}) });
    });
  });
}

// ---- compressed static files -------------------------------------------------------------------

describe("the UI's files", { skip: !built && "needs `npm run build:web`" }, () => {
  let server: Serving;
  before(async () => {
    const { dir } = await readyExample("homestaking");
    server = await startServe({ fleetDir: dir, port: 0, bind: "127.0.0.1", stateDir: tempDir("hearth-polish-state-") });
  });
  after(async () => server?.close());

  /** Every file of the build (not the compressed copies), as URL paths. */
  const files = () => {
    const out: string[] = [];
    const walk = (d: string, prefix: string) => {
      for (const name of readdirSync(d)) {
        if (statSync(join(d, name)).isDirectory()) walk(join(d, name), `${prefix}${name}/`);
        else if (!/\.(br|gz)$/.test(name)) out.push(`${prefix}${name}`);
      }
    };
    walk(DIST, "/");
    return out;
  };

  test("the build wrote Brotli and gzip copies of its HTML, JS and CSS", () => {
    const all = files();
    const mustCompress = all.filter((f) => /^\/index\.html$|^\/assets\/.*\.(js|css)$/.test(f));
    assert.ok(mustCompress.some((f) => f.endsWith(".js")) && mustCompress.some((f) => f.endsWith(".css")), JSON.stringify(all));
    for (const f of mustCompress) for (const ext of [".br", ".gz"]) assert.ok(existsSync(join(DIST, f + ext)), `${f}${ext}`);
  });

  test("compressed answers decode to exactly the built file; Content-Length and Vary are right; identity without Accept-Encoding", async () => {
    let compressed = 0;
    for (const f of files().filter((p) => /\.(html|js|css|svg)$/.test(p))) {
      const plain = readFileSync(join(DIST, f));
      for (const [accept, coding, decode] of [
        ["gzip, deflate, br", "br", brotliDecompressSync],
        ["br;q=0, gzip", "gzip", gunzipSync],
        ["gzip;q=0.5, *;q=0.1", "gzip", gunzipSync],
      ] as const) {
        const r = await raw(server.url, f, { "accept-encoding": accept });
        assert.equal(r.status, 200, f);
        assert.equal(r.headers.vary, "Accept-Encoding", `${f}: Vary`);
        assert.equal(Number(r.headers["content-length"]), r.body.length, `${f}: Content-Length is the length sent`);
        if (existsSync(join(DIST, f + (coding === "br" ? ".br" : ".gz")))) {
          assert.equal(r.headers["content-encoding"], coding, `${f} with ${accept}`);
          assert.ok(r.body.length < plain.length, `${f}: smaller compressed`);
          assert.ok(decode(r.body).equals(plain), `${f}: ${coding} decodes to the built file`);
          compressed++;
        } else {
          assert.equal(r.headers["content-encoding"], undefined, f);
          assert.ok(r.body.equals(plain), f);
        }
      }
      const identity: Record<string, string>[] = [{}, { "accept-encoding": "identity" }, { "accept-encoding": "br;q=0, gzip;q=0" }];
      for (const headers of identity) {
        const r = await raw(server.url, f, headers);
        assert.equal(r.headers["content-encoding"], undefined, `${f} ${JSON.stringify(headers)}: identity`);
        assert.equal(r.headers.vary, "Accept-Encoding");
        assert.equal(Number(r.headers["content-length"]), plain.length);
        assert.ok(r.body.equals(plain), `${f}: the plain file`);
      }
    }
    assert.ok(compressed >= 9, `index.html, JS and CSS each sent as br and gzip (${compressed})`);
  });

  test("hashed assets are cached for good, index.html (also for app routes) is revalidated; HEAD and ranges work", async () => {
    const asset = files().find((f) => f.startsWith("/assets/") && f.endsWith(".js"))!;
    const a = await raw(server.url, asset, { "accept-encoding": "br" });
    assert.equal(a.headers["cache-control"], "public, max-age=31536000, immutable");
    for (const path of ["/", "/index.html", "/some/app/route"]) {
      const r = await raw(server.url, path, { "accept-encoding": "gzip" });
      assert.equal(r.headers["cache-control"], "no-cache", path);
      assert.equal(r.headers["content-type"], "text/html; charset=utf-8", path);
      assert.ok(gunzipSync(r.body).equals(readFileSync(join(DIST, "index.html"))), path);
    }
    // HEAD: the GET's headers (Content-Length of the encoding chosen), no body.
    const head = await raw(server.url, asset, { "accept-encoding": "br" }, "HEAD");
    assert.equal(head.status, 200);
    assert.equal(head.headers["content-encoding"], "br");
    assert.equal(head.headers["content-length"], String(statSync(join(DIST, asset + ".br")).size));
    assert.equal(head.body.length, 0);
    // A revalidation with the ETag is a 304.
    const etag = (await raw(server.url, "/", { "accept-encoding": "gzip" })).headers.etag!;
    const again = await raw(server.url, "/", { "accept-encoding": "gzip", "if-none-match": etag });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    // A range is of the plain bytes.
    const plain = readFileSync(join(DIST, asset));
    const part = await raw(server.url, asset, { "accept-encoding": "br", range: "bytes=10-29" });
    assert.equal(part.status, 206);
    assert.equal(part.headers["content-encoding"], undefined);
    assert.equal(part.headers["content-range"], `bytes 10-29/${plain.length}`);
    assert.ok(part.body.equals(plain.subarray(10, 30)));
    assert.equal((await raw(server.url, asset, { range: `bytes=${plain.length}-` })).status, 416);
    // Outside the build: the app's page, never a file elsewhere.
    const escape = await raw(server.url, "/..%2f..%2fpackage.json");
    assert.equal(escape.headers["content-type"], "text/html; charset=utf-8");
  });
});

// ---- why a build failed, from real Nix ----------------------------------------------------------

describe("a failed build's one-line reason from real Nix output", { skip: !hasNix && "needs nix (apt-get install nix-bin)" }, () => {
  test("flake inputs that cannot be fetched (tarball and git, no network)", async () => {
    const [tarball, git] = await Promise.all([
      nixBuild(flake("fetch-tarball", `{ inputs.src = { url = "https://hearth-test.invalid/src.tar.gz"; flake = false; }; outputs = { self, src }: { packages.${SYSTEM}.x = src; }; }`)),
      nixBuild(flake("fetch-git", `{ inputs.src = { url = "git+https://hearth-test.invalid/src.git"; flake = false; }; outputs = { self, src }: { packages.${SYSTEM}.x = src; }; }`)),
    ]);
    assert.notEqual(tarball.code, 0);
    assert.match(tarball.summary!, /^Flake inputs could not be fetched: https:\/\/hearth-test\.invalid\/src\.tar\.gz: Couldn't resolve host name/, tarball.stderr);
    assert.notEqual(git.code, 0);
    assert.match(git.summary!, /^Flake inputs could not be fetched: https:\/\/hearth-test\.invalid\/src\.git: Could not resolve host: hearth-test\.invalid$/, git.stderr);
  });

  test("an attribute the flake does not have", async () => {
    const r = await nixBuild(flake("attr", pkgs(shDrv("fine", "echo > $out"))), "nope");
    assert.match(r.summary!, new RegExp(`^Attribute missing: flake 'path:/.*' has no 'packages\\.${SYSTEM}\\.nope'$`), r.stderr);
  });

  test("evaluation errors: the error line, with where it is when Nix says", async () => {
    const [thrown, undef] = await Promise.all([
      nixBuild(flake("throw", pkgs(`throw "hearth: the host has no disk"`))),
      nixBuild(flake("undef", pkgs(`builtins.derivation { name = "x"; system = "x"; builder = undefinedThing; }`))),
    ]);
    assert.equal(thrown.summary, "Evaluation failed: hearth: the host has no disk", thrown.stderr);
    assert.match(undef.summary!, /^Evaluation failed: undefined variable 'undefinedThing' at flake\.nix:1:\d+$/, undef.stderr);
  });

  test("a builder that fails: the derivation's name and its telling log line", async () => {
    const r = await nixBuild(flake("builder", FAILING));
    assert.equal(r.summary, "hearth-widget-1.0 failed to build (exit code 1): error: the widget is broken", r.stderr);
  });

  test("disk full while building", async () => {
    // A 1 MiB tmpfs as Nix's build directory (TMPDIR) when this runs as root; else /dev/full.
    const tiny = join(work, "tiny");
    mkdirSync(tiny);
    const mounted = process.getuid?.() === 0 && spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", tiny]).status === 0;
    if (mounted) cleanups.push(() => void spawnSync("umount", [tiny]));
    const r = mounted
      ? await nixBuild(flake("disk", pkgs(shDrv("hearth-disk-image", "echo writing the image; head -c 3000000 /dev/zero > image.raw || exit 1; cp image.raw $out"))), "x", { env: { TMPDIR: tiny } })
      : await nixBuild(flake("disk", pkgs(shDrv("hearth-disk-image", "echo writing the image; head -c 3000000 /dev/zero > /dev/full || exit 1"))));
    assert.match(r.summary!, /^Out of disk space while building hearth-disk-image: head: error writing .*No space left on device$/, r.stderr);
  });

  test("out of memory: Nix's evaluator, and a builder the kernel kills", async () => {
    const [evaluator, killed] = await Promise.all([
      // Nix under a 600 MB address-space limit, evaluating a list that needs more.
      nixBuild(flake("oom", pkgs(`builtins.deepSeq (builtins.genList (i: "s\${toString i}") 100000000) (throw "unreachable")`)), "x", { memoryKiB: 600_000 }),
      // What the OOM killer does to a builder: SIGKILL.
      nixBuild(flake("killed", pkgs(shDrv("hearth-hungry", "echo allocating; kill -9 $$")))),
    ]);
    assert.equal(evaluator.summary, "Out of memory: Nix itself ran out of memory", evaluator.stderr.slice(-2000));
    assert.match(killed.summary!, /^Out of memory\? hearth-hungry's builder was killed by signal 9/, killed.stderr);
  });

  test("cancelled, through the job runner and the stored job's summary", async () => {
    const db = openDb(join(work, "cancel.sqlite"));
    const runner = new JobRunner({ db, concurrency: 1, artifactsDir: join(work, "cancel-artifacts"), cancelGraceMs: 500 });
    cleanups.push(async () => {
      await runner.close();
      db.close();
    });
    const dir = flake("slow", pkgs(shDrv("hearth-slow", "echo sleeping; sleep 60")));
    const id = runner.enqueue({ host: "h", format: "kexec", flakeDir: dir, attr: "x" });
    for (let i = 0; i < 200 && !db.logs(id).some((l) => l.line.includes("sleeping")); i++) await new Promise((r) => setTimeout(r, 50));
    runner.cancel(id);
    const job = await runner.wait(id);
    assert.equal(job.state, "cancelled");
    assert.equal(job.failureSummary, "Cancelled: cancelled by a user");
    assert.equal(db.summary(id)!.failureSummary, "Cancelled: cancelled by a user");
  });
});

// ---- the browser: reason, Retry, phone width ----------------------------------------------------

describe("in Chromium at phone width", { skip: (!existsSync(CHROMIUM) && "needs /usr/bin/chromium") || (!built && "needs `npm run build:web`") || (!hasNix && "needs nix") }, () => {
  let browser: Browser;
  let server: Serving;
  let page: Page;

  before(async () => {
    const { dir } = await readyExample("homestaking");
    for (const args of [["host", "add", LONG, "--template", "ethereum-node", "-f", dir], ["secrets", "generate", "-f", dir]]) {
      const r = hearth(args);
      assert.equal(r.code, 0, r.stderr);
    }
    server = await startServe({
      fleetDir: dir,
      port: 0,
      bind: "127.0.0.1",
      stateDir: tempDir("hearth-polish-ui-"),
      // Every build is this failing derivation in place of a NixOS system.
      buildStandIn: { flakeDir: flake("standin", FAILING), attr: "x" },
    });
    // A pull node of the long-named host, as its check-in would record it (the Nodes page lists it).
    const db = openDb(join(server.stateDir, "hearth.sqlite"));
    db.sql
      .prepare(`INSERT INTO pull_nodes (id, host, key, phase, version, last_seen, detail) VALUES (?, ?, ?, ?, ?, ?, ?)`)
      .run(`host:${LONG}`, LONG, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ0v1JpZgZ2cm3X8D6u6m0Fq0m0m0m0m0m0m0m0m0m0m", "healthy", 1, Date.now(), "switched to release 1");
    db.close();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    page.setDefaultTimeout(30_000);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  const jobsOf = async (host: string) => (await (await fetch(`${server.url}/api/jobs?host=${encodeURIComponent(host)}`)).json()) as JobSummary[];

  test("a failed build shows why in one line on the host page and the job page; Retry builds it again", async () => {
    await page.goto(`${server.url}/#/hosts/${LONG}`);
    await page.getByTestId("build").click();
    const first = page.locator("[data-testid=builds] [data-testid=failure-summary]").first();
    await first.waitFor();
    await page.waitForFunction(() => /failed to build/.test(document.querySelector("[data-testid=builds] [data-testid=failure-summary]")?.textContent ?? ""));
    assert.equal(await first.innerText(), "hearth-widget-1.0 failed to build (exit code 1): error: the widget is broken");
    const [job] = await jobsOf(LONG);
    assert.equal(job!.failureSummary, "hearth-widget-1.0 failed to build (exit code 1): error: the widget is broken");

    // Retry on the host page: a second job of the same host and format appears.
    await page.locator(`[data-testid=job-${job!.id}] [data-testid=retry]`).click();
    await page.waitForFunction((n) => document.querySelectorAll("[data-testid=builds] .job-card").length === n, 2);
    const afterRetry = await jobsOf(LONG);
    assert.equal(afterRetry.length, 2);
    assert.ok(afterRetry.every((j) => j.format === job!.format && j.host === LONG));

    // The job page says the same, and its Retry opens the new job.
    await page.goto(`${server.url}/#/jobs/${job!.id}`);
    const summary = page.getByTestId("failure-summary");
    await summary.waitFor();
    assert.equal(await summary.innerText(), "hearth-widget-1.0 failed to build (exit code 1): error: the widget is broken");
    await page.getByTestId("retry").click();
    await page.waitForFunction((old) => /^#\/jobs\/\d+$/.test(location.hash) && location.hash !== `#/jobs/${old}`, job!.id);
    const newId = Number((await page.evaluate(() => location.hash)).split("/").pop());
    assert.ok(newId > job!.id);
    const retried = (await jobsOf(LONG)).find((j) => j.id === newId)!;
    assert.equal(retried.format, job!.format);
    await page.waitForFunction(() => /failed to build/.test(document.querySelector("[data-testid=failure-summary]")?.textContent ?? ""));
  });

  test("at 390 px no page scrolls sideways and the 60-character host name is shown in full", async () => {
    const [job] = await jobsOf(LONG);
    const pages: [string, string][] = [
      ["fleet overview", "#/"],
      ["host page", `#/hosts/${LONG}`],
      ["job page", `#/jobs/${job!.id}`],
      ["deploys", "#/deploys"],
      ["nodes", "#/nodes"],
    ];
    for (const [what, hash] of pages) {
      await page.goto(`${server.url}/${hash}`);
      await page.waitForFunction((name) => document.body.innerText.includes(name), LONG);
      await page.waitForTimeout(300); // late layout: fonts, polled data
      const r = await page.evaluate((name) => {
        const problems: string[] = [];
        let shown = 0;
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
          if (!n.textContent?.includes(name)) continue;
          const range = document.createRange();
          range.selectNodeContents(n);
          const rects = Array.from(range.getClientRects()).filter((r) => r.width > 0);
          if (rects.length === 0) continue; // not rendered (a closed <details>, an <option>)
          const el = n.parentElement!;
          const where = `${el.tagName.toLowerCase()}.${el.className}`;
          // Cut with an ellipsis: an ancestor that clips with text-overflow and is too narrow.
          for (let e: HTMLElement | null = el; e && e !== document.body; e = e.parentElement) {
            const s = getComputedStyle(e);
            if (s.textOverflow === "ellipsis" && s.overflowX !== "visible" && e.scrollWidth > e.clientWidth + 1) problems.push(`${where}: cut by ${e.tagName.toLowerCase()}.${e.className}`);
          }
          // Code and logs keep their lines (they scroll in their box); names elsewhere wrap.
          if (!el.closest("pre, code, textarea") && rects.some((r) => r.width > innerWidth)) problems.push(`${where}: one line wider than the screen`);
          shown++;
        }
        return { scrollWidth: document.documentElement.scrollWidth, innerWidth, shown, problems };
      }, LONG);
      assert.ok(r.scrollWidth <= r.innerWidth, `${what}: page is ${r.scrollWidth} px wide at ${r.innerWidth} px`);
      assert.ok(r.shown > 0, `${what}: shows ${LONG}`);
      assert.deepEqual(r.problems, [], `${what}: ${LONG} is read in full`);
    }
  });
});
