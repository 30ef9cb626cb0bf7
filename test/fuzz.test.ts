// Bounded random and hostile input to the fleet loader, the CLI and every API route: each answer
// is a clear error (a finding with file and line, an exit code, a 4xx), never a stack trace, and
// nothing is written outside the fleet. Seeded, so a failure names the seed that reproduces it.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { validateFleetDir } from "../src/node/fleet-dir.js";
import { composeServer, type Composed } from "../src/server/serve.js";
import { hearth, readyExample, tempDir } from "./support/fleet.js";

const SEED = Number(process.env["HEARTH_FUZZ_SEED"] ?? 20261130);
/** mulberry32: a small seeded PRNG. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const STACK = /\n\s+at [^\n]+\(?[^\n]*:\d+:\d+\)?|internal error/;

const HOSTILE = [
  "", "\0", "null", "~", "[]", "{}", "-1", "1e309", "0x7fffffffffffffff", "'", '"', "\\", "%", "%zz", "../../etc/passwd", "/etc/shadow",
  "a".repeat(70_000), "é".repeat(1000), "\u202e\u0000\uffff", "!!js/function 'x'", "*alias", "&a [*a, *a]", "? [a]\n: b", "{a: [1, {b: ", "\t\tx: y",
  "ssh-ed25519 AAAA", "true", "NaN", "2026-11-30", "- - - -", "`rm -rf /`", "$(id)", "${HOME}",
];

function mutate(text: string, r: () => number): string {
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
  const lines = text.split("\n");
  switch (Math.floor(r() * 6)) {
    case 0: { // replace a value
      const i = Math.floor(r() * lines.length);
      lines[i] = lines[i]!.replace(/:\s.*$/, `: ${pick(HOSTILE)}`);
      return lines.join("\n");
    }
    case 1: return text.slice(0, Math.floor(r() * text.length)); // truncate
    case 2: { // flip bytes
      const b = Buffer.from(text);
      for (let k = 0; k < 8; k++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
      return b.toString("latin1");
    }
    case 3: { // duplicate or move indentation
      const i = Math.floor(r() * lines.length);
      lines.splice(i, 0, "  ".repeat(Math.floor(r() * 4)) + (lines[Math.floor(r() * lines.length)] ?? ""));
      return lines.join("\n");
    }
    case 4: return pick(HOSTILE);
    default: { // a new key with a hostile value
      const i = Math.floor(r() * lines.length);
      lines.splice(i, 0, `${pick(["services", "storage", "network", "x", "boot", "security"])}: ${pick(HOSTILE)}`);
      return lines.join("\n");
    }
  }
}

function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      out.push(relative(dir, p));
      if (e.isDirectory() && !e.isSymbolicLink()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

test(`fleet loader: 300 mutated host files give findings with file and line, never an exception (seed ${SEED})`, async () => {
  const { dir } = await readyExample("pi-cluster");
  const r = rng(SEED);
  const files = readdirSync(join(dir, "hosts")).map((f) => `hosts/${f}`).concat("fleet.yaml");
  for (let i = 0; i < 300; i++) {
    const file = files[Math.floor(r() * files.length)]!;
    const text = mutate(readFileSync(join(dir, file), "utf8"), r);
    let v;
    try {
      v = validateFleetDir(dir, { [file]: text });
    } catch (e) {
      assert.fail(`iteration ${i} (seed ${SEED}): ${file} made the loader throw: ${(e as Error).stack}\n--- input ---\n${text.slice(0, 400)}`);
    }
    for (const issue of v.issues) {
      assert.ok(issue.file, `iteration ${i}: a finding without a file: ${JSON.stringify(issue)}`);
      assert.doesNotMatch(issue.message, STACK, `iteration ${i}: a stack trace in a finding`);
      if (issue.file === file && issue.severity === "error" && v.issues.length) assert.ok(issue.line === undefined || issue.line >= 1);
    }
  }
});

test(`CLI: hostile names, paths and values to set, host add, eval and validate: exit 1 or 2 with a message, no stack trace, nothing written outside the fleet (seed ${SEED})`, async () => {
  const { dir } = await readyExample("keystone");
  const outside = tempDir("hearth-fuzz-outside-");
  writeFileSync(join(outside, "keep.txt"), "x");
  const fleetBefore = listing(dir);
  const r = rng(SEED + 1);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
  const names = ["server", "../server", "../../" + outside.slice(1) + "/x", "/tmp/x", "a/b", "", ".", "..", "x".repeat(80), "Server", "ser ver", "\u0000x"];
  const paths = ["services.consensus.client", "a..b", "[0]", "network.addresses[99]", "__proto__.x", "constructor.prototype.x", "x".repeat(300), "security.remoteUnlock.ip.interface", "storage.volumes"];
  for (let i = 0; i < 24; i++) {
    const argv = pick([
      () => ["set", pick(names), pick(paths), pick(HOSTILE).slice(0, 2000), "-f", dir],
      () => ["host", "add", pick(names), "-f", dir],
      () => ["eval", pick(names), pick(paths), "-f", dir],
      () => ["validate", pick([dir, join(dir, "fleet.yaml"), outside, "/nonexistent"])],
      () => ["generate", dir, "-o", pick([dir, join(dir, "hosts"), outside, join(outside, "keep.txt")])],
    ])().filter((a) => !a.includes("\u0000"));
    const res = hearth(argv);
    assert.ok(res.code !== null && res.code !== 70, `hearth ${argv.join(" ").slice(0, 200)}: exit ${res.code}\n${res.stderr.slice(0, 800)}`);
    assert.doesNotMatch(res.stderr + res.stdout, STACK, `hearth ${argv.join(" ").slice(0, 200)} printed a stack trace`);
  }
  assert.deepEqual(listing(outside), ["keep.txt"], "nothing written outside the fleet");
  const added = listing(dir).filter((f) => !fleetBefore.includes(f));
  assert.ok(added.every((f) => /^hosts\/[a-z0-9-]+\.yaml$|^flake(\/|$)|^mesh(\/|$)/.test(f)), `unexpected files in the fleet: ${added.join(", ")}`);
});

const servers: Composed[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

test(`API: 400 hostile requests over every route answer below 500 with no stack trace, and the fleet files change only through valid saves (seed ${SEED})`, async () => {
  const { dir } = await readyExample("homestaking");
  const s = composeServer({ fleetDir: dir, bind: "127.0.0.1", stateDir: tempDir("hearth-fuzz-state-") });
  servers.push(s);
  const session = await s.app.request("http://localhost/api/session");
  const cookie = session.headers.get("set-cookie")!.split(";")[0]!;
  const csrf = ((await session.json()) as { csrf: string }).csrf;
  const snapshot = () => listing(dir).filter((f) => !f.startsWith("flake") && !f.startsWith("mesh")).map((f) => `${f}:${statSync(join(dir, f)).isFile() ? readFileSync(join(dir, f), "utf8").length : "d"}`);
  const before = snapshot();
  const r = rng(SEED + 2);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
  const routes = ["/api/session", "/api/login", "/api/setup", "/api/logout", "/api/fleet", "/api/schema/host", "/api/templates", "/api/hosts/ponkila-ephemeral-sigma", "/api/hosts/%2e%2e%2fsecrets", "/api/hosts", "/api/secrets/generate", "/api/builds", "/api/jobs", "/api/jobs/1", "/api/jobs/-1/cancel", "/api/jobs/x/events", "/api/jobs/1/artifacts/..%2f..%2fetc%2fpasswd", "/netboot/x/..%2f..%2fetc%2fpasswd", "/api/%zz", "/api/nope", "/%61pi/fleet", "/assets/../../package.json"];
  const bodies = [undefined, "", "null", "[]", "1", '"x"', "{", '{"values": null}', '{"values": []}', '{"values": {"services": "x"}}', '{"name": "../../x", "template": "server"}', '{"name": "ok-name", "template": "../../etc/passwd"}', '{"host": "x", "format": "../../x"}', '{"user": "admin", "password": "x"}', JSON.stringify({ values: { description: "é".repeat(100_000) } }), "{\"__proto__\": {\"polluted\": 1}}"];
  for (let i = 0; i < 400; i++) {
    const method = pick(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);
    const path = pick(routes);
    const body = method === "GET" || method === "OPTIONS" ? undefined : pick(bodies);
    const res = await s.app.request(`http://localhost${path}`, {
      method,
      headers: { cookie, ...(r() < 0.8 ? { "x-csrf-token": csrf } : {}), ...(body !== undefined ? { "content-type": pick(["application/json", "text/plain", "application/x-www-form-urlencoded"]) } : {}) },
      ...(body !== undefined ? { body } : {}),
    });
    const text = await res.text();
    assert.ok(res.status < 500, `${method} ${path} ${String(body).slice(0, 80)} → ${res.status}: ${text.slice(0, 300)}`);
    assert.doesNotMatch(text.slice(0, 20_000), STACK, `${method} ${path} answered a stack trace`);
  }
  assert.equal(({} as Record<string, unknown>)["polluted"], undefined, "no prototype pollution");
  // Only a valid save (the long description, to the one host routed above) may change a file.
  const changed = snapshot().filter((f) => !before.includes(f)).map((f) => f.split(":")[0]);
  assert.ok(changed.every((f) => f === "hosts/ponkila-ephemeral-sigma.yaml"), `changed: ${changed.join(", ")}`);
});

test(`kill -9 loop over set and secrets generate --rotate (the writes server saves share): every file is the old or the new version, and no temp file is left after the next run (seed ${SEED})`, async () => {
  const { spawn } = await import("node:child_process");
  const { dir } = await readyExample("homestaking");
  const r = rng(SEED + 3);
  const file = join(dir, "hosts/ponkila-ephemeral-sigma.yaml");
  const temps = () => listing(dir).filter((f) => /\.hearth-tmp-/.test(f));
  const argvs = [
    (i: number) => ["set", "ponkila-ephemeral-sigma", "description", `run ${i}`, "-f", dir],
    () => ["secrets", "generate", "-f", dir, "--rotate", "hosts/ponkila-ephemeral-beta/ethereum-jwt"],
  ];
  for (let i = 0; i < 16; i++) {
    const before = readFileSync(file, "utf8");
    const argv = argvs[i % argvs.length]!(i);
    const child = spawn(process.execPath, [join(import.meta.dirname, "../bin/hearth.js"), ...argv], { stdio: "ignore", env: { ...process.env, HOME: tempDir("hearth-home-") } });
    // Listened for at once: a run that finishes before the kill has closed already.
    const closed = new Promise((ok) => child.on("close", ok));
    await new Promise((ok) => setTimeout(ok, 150 + Math.floor(r() * 900)));
    child.kill("SIGKILL");
    await closed;
    const after = readFileSync(file, "utf8");
    assert.ok(after === before || after.includes(`description: run ${i}`), `iteration ${i}: ${file} is neither the old nor the new version`);
    for (const f of listing(dir).filter((f) => f.endsWith(".age") || f.endsWith(".json") || f.endsWith(".yaml")))
      if (statSync(join(dir, f)).isFile()) assert.ok(statSync(join(dir, f)).size > 0, `iteration ${i}: ${f} is empty`);
  }
  // The next successful runs clean up what killed writers left.
  assert.equal(hearth(["set", "ponkila-ephemeral-sigma", "description", "final", "-f", dir]).code, 0);
  const gen = hearth(["secrets", "generate", "-f", dir, "--rotate", "hosts/ponkila-ephemeral-beta/ethereum-jwt"]);
  assert.equal(gen.code, 0, gen.stderr);
  assert.deepEqual(temps().filter((t) => /ponkila-ephemeral-sigma\.yaml|ethereum-jwt/.test(t)), []);
  const v = validateFleetDir(dir);
  assert.deepEqual(v.issues.filter((i) => i.severity === "error"), []);
});

test("hearth set: an alias bomb as the value is refused (exit 2), not expanded", async () => {
  const { dir } = await readyExample("keystone");
  let bomb = "&a0 [x,x,x,x,x,x,x,x,x,x]";
  for (let i = 1; i < 6; i++) bomb += `, &a${i} [${Array(10).fill(`*a${i - 1}`).join(",")}]`;
  const before = readFileSync(join(dir, "hosts/server.yaml"), "utf8");
  const r = hearth(["set", "server", "description", `[${bomb}]`, "-f", dir]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /not usable: Excessive alias count/);
  assert.doesNotMatch(r.stderr, STACK);
  assert.equal(readFileSync(join(dir, "hosts/server.yaml"), "utf8"), before);
});

test("the server's overview neither hangs on a FIFO nor follows a link out of the fleet among the secrets", async () => {
  const { execFileSync } = await import("node:child_process");
  const { symlinkSync } = await import("node:fs");
  const { dir } = await readyExample("homestaking");
  const outside = tempDir("hearth-fuzz-outside-");
  writeFileSync(join(outside, "identity.txt"), "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ\n");
  execFileSync("mkfifo", [join(dir, "secrets/hosts/ponkila-ephemeral-sigma/fifo.age")]);
  symlinkSync(join(outside, "identity.txt"), join(dir, "secrets/hosts/ponkila-ephemeral-sigma/link.age"));
  const s = composeServer({ fleetDir: dir, bind: "127.0.0.1", stateDir: tempDir("hearth-fuzz-state-") });
  servers.push(s);
  let timer: NodeJS.Timeout | undefined;
  const res = await Promise.race([s.app.request("http://localhost/api/fleet"), new Promise<"hung">((ok) => (timer = setTimeout(() => ok("hung"), 20_000)))]);
  clearTimeout(timer);
  assert.notEqual(res, "hung", "GET /api/fleet hung on the FIFO");
  const text = await (res as Response).text();
  assert.equal((res as Response).status, 200, text.slice(0, 300));
  assert.doesNotMatch(text, /AGE-SECRET-KEY/);
});
