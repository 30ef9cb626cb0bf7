// The HTTP API in-process (Hono's app.request): auth on loopback and beyond, CSRF on every
// write, validation errors with file/path/line/hint, edits that keep comments, the audit log,
// body limits, and a build whose job fails for real (no nixpkgs here) and says why.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { composeServer, type Composed } from "../src/server/serve.js";
import { Client } from "./support/api-client.js";
import { readyExample, tempDir } from "./support/fleet.js";
import type { ApiError, FleetOverview, HostDetail, HostUpdateResult, JobSummary, Session } from "../src/server/wire.js";


const servers: Composed[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function server(bind = "127.0.0.1", extra: Partial<Parameters<typeof composeServer>[0]> = {}) {
  const { dir } = await readyExample("homestaking");
  const s = composeServer({ fleetDir: dir, bind, stateDir: tempDir("hearth-state-"), ...extra });
  servers.push(s);
  return { s, dir };
}

describe("loopback", () => {
  test("a local session without login; every write needs its CSRF token; foreign Host names are refused", async () => {
    const { s, dir } = await server();
    const c = new Client(s);
    const r = await c.session();
    assert.equal(r.status, 200);
    assert.equal(r.json.authRequired, false);
    assert.match(r.headers.get("set-cookie")!, /HttpOnly/i);
    assert.match(r.headers.get("set-cookie")!, /SameSite=Strict/i);
    const file = join(dir, "hosts/ponkila-ephemeral-sigma.yaml");
    const before = readFileSync(file, "utf8");
    const detail = (await c.req("GET", "/api/hosts/ponkila-ephemeral-sigma")).json as HostDetail;
    const values = { ...(detail.values as object), description: "edited" };
    const noToken = await c.req("PUT", "/api/hosts/ponkila-ephemeral-sigma", { values }, { "x-csrf-token": "" });
    assert.equal(noToken.status, 403);
    assert.equal((noToken.json as ApiError).error, "csrf");
    const wrong = await c.req("PUT", "/api/hosts/ponkila-ephemeral-sigma", { values }, { "x-csrf-token": "x".repeat(32) });
    assert.equal(wrong.status, 403);
    assert.equal(readFileSync(file, "utf8"), before, "refused writes change nothing");
    const evil = await new Client(s, "http://evil.example:7420").req("GET", "/api/fleet");
    assert.equal(evil.status, 403);
    assert.equal(evil.json.error, "bad_host");
  });

  test("editing a host: dry run shows the diff and inline findings; saving keeps comments and is audited", async () => {
    const { s, dir } = await server();
    const c = new Client(s);
    await c.session();
    const file = join(dir, "hosts/ponkila-ephemeral-beta.yaml");
    const original = readFileSync(file, "utf8");
    const detail = (await c.req("GET", "/api/hosts/ponkila-ephemeral-beta")).json as HostDetail;
    const values = structuredClone(detail.values) as any;
    values.services.consensus.client = "lighthous";
    const dry = await c.req("PUT", "/api/hosts/ponkila-ephemeral-beta", { values, dryRun: true });
    assert.equal(dry.status, 200);
    const r = dry.json as HostUpdateResult;
    assert.equal(r.written, false);
    const issue = r.issues.find((i) => /unknown client 'lighthous'/.test(i.message))!;
    assert.deepEqual(issue.path, ["services", "consensus", "client"]);
    assert.equal(issue.file, "hosts/ponkila-ephemeral-beta.yaml");
    assert.ok(issue.line! > 1);
    assert.equal(issue.hint, "did you mean 'lighthouse'?");
    assert.match(r.diff, /-\s+client: lighthouse\n\+\s+client: lighthous/);
    assert.equal(readFileSync(file, "utf8"), original);
    // A write without the version it started from is refused: it could undo a change on disk.
    const blind = await c.req("PUT", "/api/hosts/ponkila-ephemeral-beta", { values: detail.values });
    assert.equal(blind.status, 428, JSON.stringify(blind.json));
    assert.match((blind.json as ApiError).message, /version.*If-Match/);
    assert.equal(readFileSync(file, "utf8"), original);
    const refused = await c.req("PUT", "/api/hosts/ponkila-ephemeral-beta", { values, version: detail.version });
    assert.equal(refused.status, 422);
    assert.equal((refused.json as ApiError).issues![0]!.file, "hosts/ponkila-ephemeral-beta.yaml");
    assert.equal(readFileSync(file, "utf8"), original);

    values.services.consensus.client = "lighthouse";
    values.services.consensus.ports = { ...(values.services.consensus.ports ?? {}), http: 5053 };
    const saved = await c.req("PUT", "/api/hosts/ponkila-ephemeral-beta", { values, version: detail.version });
    assert.equal(saved.status, 200, JSON.stringify(saved.json));
    assert.equal(saved.json.written, true);
    const after = readFileSync(file, "utf8");
    for (const line of original.split("\n").filter((l) => l.trim().startsWith("#"))) assert.ok(after.includes(line), `comment kept: ${line}`);
    assert.match(after, /http: 5053/);
    const audit = s.db.auditLog(10);
    assert.ok(audit.some((a) => a.action === "host.update" && a.target === "ponkila-ephemeral-beta" && a.user === "local"));
  });

  test("overview, schema, templates, new host, limits and errors", async () => {
    const { s } = await server();
    const c = new Client(s);
    await c.session();
    const o = (await c.req("GET", "/api/fleet")).json as FleetOverview;
    assert.equal(o.name, "homestaking");
    assert.equal(o.hosts.length, 4);
    const beta = o.hosts.find((h) => h.name === "ponkila-ephemeral-beta")!;
    assert.deepEqual(beta.services, { execution: "besu", consensus: "lighthouse", mevBoost: "mevBoost" });
    assert.equal(beta.meshAddress, "10.100.0.3");
    assert.equal(beta.status, "ok");
    assert.equal(o.mesh!.links.length, 3);
    const schema = (await c.req("GET", "/api/schema/host")).json;
    assert.ok(Object.keys(schema.properties).indexOf("storage") < Object.keys(schema.properties).indexOf("services"), "schema order");
    assert.ok(((await c.req("GET", "/api/templates")).json as string[]).includes("ethereum-node"));
    const created = await c.req("POST", "/api/hosts", { name: "new-box", template: "server" });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    assert.equal((await c.req("POST", "/api/hosts", { name: "new-box", template: "server" })).status, 409);
    assert.equal((await c.req("GET", "/api/hosts/nope")).status, 404);
    const big = await c.req("PUT", "/api/hosts/new-box", JSON.stringify({ values: { description: "x".repeat(2 * 1024 * 1024) } }));
    assert.equal(big.status, 413);
    assert.equal((big.json as ApiError).error, "too_large");
    const bad = await c.req("PUT", "/api/hosts/new-box", "{not json");
    assert.equal(bad.status, 400);
  });
});

describe("bound beyond loopback", () => {
  test("setup token, then login; a wrong password and an unknown user get the same answer", async () => {
    const { s } = await server("0.0.0.0");
    assert.ok(s.setupToken, "a one-time setup token at first start");
    const c = new Client(s, "http://hearth.lan:7420");
    assert.equal((await c.req("GET", "/api/fleet")).status, 401);
    assert.equal((await c.session()).json.error, "setup_required");
    assert.equal((await c.req("POST", "/api/setup", { token: "guess", user: "admin", password: "a long enough password" })).status, 403);
    const set = await c.req("POST", "/api/setup", { token: s.setupToken, user: "admin", password: "a long enough password" });
    assert.equal(set.status, 200);
    assert.equal((await c.req("POST", "/api/setup", { token: s.setupToken, user: "admin", password: "another long password" })).status, 403, "the token works once");

    const stranger = new Client(s, "http://hearth.lan:7420");
    const wrongPw = await stranger.req("POST", "/api/login", { user: "admin", password: "wrong password!!" });
    const noUser = await stranger.req("POST", "/api/login", { user: "nobody", password: "wrong password!!" });
    assert.equal(wrongPw.status, 401);
    assert.deepEqual(wrongPw.json, noUser.json, "no hint whether the user exists");
    assert.equal(wrongPw.json.message, "wrong user name or password");
    assert.equal((await stranger.req("PUT", "/api/hosts/ponkila-ephemeral-beta", { values: {} })).status, 401, "no write without a session");

    const admin = new Client(s, "http://hearth.lan:7420");
    const login = await admin.req("POST", "/api/login", { user: "admin", password: "a long enough password" });
    assert.equal(login.status, 200);
    admin.csrf = (login.json as Session).csrf;
    assert.equal((await admin.req("GET", "/api/fleet")).status, 200);
    assert.equal((await admin.req("POST", "/api/secrets/generate", {}, { "x-csrf-token": "" })).status, 403, "session but no CSRF token");
    assert.equal((await admin.req("POST", "/api/secrets/generate", {})).status, 200);
    assert.ok(s.db.auditLog(20).some((a) => a.action === "secrets.generate" && a.user === "admin"));
    await admin.req("POST", "/api/logout", {});
    assert.equal((await admin.req("GET", "/api/fleet")).status, 401);
  });
});

describe("builds", () => {
  test("without Nix the API says so and how to install it", async () => {
    const { s } = await server("127.0.0.1", { nixBin: "/nonexistent/nix" });
    const c = new Client(s);
    await c.session();
    const o = (await c.req("GET", "/api/fleet")).json as FleetOverview;
    assert.equal(o.nix.available, false);
    assert.match(o.nix.installHint!, /nix-bin|nixos\.org/);
    const r = await c.req("POST", "/api/builds", { hosts: ["ponkila-ephemeral-beta"] });
    assert.equal(r.status, 503);
    assert.match(r.json.message, /Nix is not installed/);
  });

  test("a NixOS build cannot run here: the job fails on its own and says why", async () => {
    const { s, dir } = await server();
    const c = new Client(s);
    await c.session();
    const r = await c.req("POST", "/api/builds", { hosts: ["ponkila-ephemeral-beta"], format: "kexec" });
    assert.equal(r.status, 202, JSON.stringify(r.json));
    const job = (r.json as JobSummary[])[0]!;
    assert.equal(job.format, "kexec");
    assert.match(readFileSync(join(dir, "flake/flake.nix"), "utf8"), /Generated by hearth/, "the flake was regenerated first");
    let state: JobSummary = job;
    for (let i = 0; i < 300 && !["failed", "succeeded", "cancelled"].includes(state.state); i++) {
      await new Promise((ok) => setTimeout(ok, 200));
      state = (await c.req("GET", `/api/jobs/${job.id}`)).json;
    }
    assert.equal(state.state, "failed");
    assert.ok(state.reason && state.reason.length > 0, "a reason");
    assert.ok(((await c.req("GET", `/api/jobs/${job.id}`)).json.logs as string[]).length > 0, "logs were kept");
  });
});
