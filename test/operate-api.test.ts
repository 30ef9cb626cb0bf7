// Running the fleet through the API, without machines: roles (an admin changes things, a viewer
// only reads), canary-first batches that pause by themselves (the executor with hosts that do not
// answer, so each fails fast), deploy requests checked before anything runs, and the CLI's
// rollout flags.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { composeServer, type Composed } from "../src/server/serve.js";
import { Client } from "./support/api-client.js";
import { copyExample, hearth, readyExample, tempDir } from "./support/fleet.js";
import { batchVerdict, planDeployBatches } from "../src/core/deploy/deploy.js";
import { deployInBatches, type DeployEvent, type HostJob } from "../src/node/deploy/deploy.js";
import type { Host } from "../src/core/schema/fleet.js";

async function withAdmin(s: Composed, password = "a long enough password") {
  const c = new Client(s, "http://hearth.lan:7420");
  const r = await c.req("POST", "/api/setup", { token: s.setupToken, user: "admin", password });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  await c.session();
  return c;
}

describe("roles", () => {
  test("a viewer reads every page's data and changes nothing; an admin adds and removes people, every change audited", async () => {
    const dir = copyExample("pi-cluster");
    const s = composeServer({ fleetDir: dir, bind: "0.0.0.0", stateDir: tempDir("hearth-roles-"), monitor: { manual: true } });
    try {
      const admin = await withAdmin(s);
      assert.equal((await admin.req("GET", "/api/session")).json.role, "admin");
      assert.equal((await admin.req("POST", "/api/users", { name: "viewer1", password: "short", role: "viewer" })).status, 422, "passwords need 12 characters");
      assert.equal((await admin.req("POST", "/api/users", { name: "viewer1", password: "a long viewer password", role: "root" })).status, 422, "only known roles");
      const added = await admin.req("POST", "/api/users", { name: "viewer1", password: "a long viewer password", role: "viewer" });
      assert.equal(added.status, 201, JSON.stringify(added.json));
      assert.deepEqual(
        (added.json as { name: string; role: string }[]).map((u) => `${u.name}:${u.role}`),
        ["admin:admin", "viewer1:viewer"],
      );

      const viewer = new Client(s, "http://hearth.lan:7420");
      const login = await viewer.req("POST", "/api/login", { user: "viewer1", password: "a long viewer password" });
      assert.equal(login.status, 200, JSON.stringify(login.json));
      assert.equal(login.json.role, "viewer");
      viewer.csrf = login.json.csrf;
      for (const path of ["/api/fleet", "/api/deploys", "/api/monitor", "/api/users", "/api/audit", "/api/pull"]) assert.equal((await viewer.req("GET", path)).status, 200, path);
      for (const [method, path, body] of [
        ["POST", "/api/deploys", { hosts: ["pi-alpha"] }],
        ["POST", "/api/hosts/pi-alpha/unlock", {}],
        ["POST", "/api/hosts/pi-alpha/prepare", { confirm: "pi-alpha" }],
        ["POST", "/api/secrets/generate", {}],
        ["POST", "/api/users", { name: "x", password: "a long enough password", role: "admin" }],
        ["POST", "/api/builds", { hosts: ["pi-alpha"] }],
      ] as const) {
        const r = await viewer.req(method, path, body);
        assert.equal(r.status, 403, `${method} ${path}: ${r.text}`);
        assert.equal(r.json.error, "read_only");
        assert.match(r.json.message, /viewer1 has read-only access/);
      }
      assert.equal((await viewer.req("POST", "/api/logout", {})).status, 200, "a viewer may end its own session");

      // Removing a person ends their sessions.
      const again = new Client(s, "http://hearth.lan:7420");
      assert.equal((await again.req("POST", "/api/login", { user: "viewer1", password: "a long viewer password" })).status, 200);
      assert.equal((await admin.req("DELETE", "/api/users/viewer1")).status, 200);
      assert.equal((await again.req("GET", "/api/fleet")).status, 401);
      const audit = (await admin.req("GET", "/api/audit")).json as { user: string; action: string; detail?: string }[];
      assert.ok(audit.some((e) => e.action === "user.put" && e.user === "admin" && /viewer1 as viewer/.test(e.detail ?? "")));
      assert.ok(audit.some((e) => e.action === "user.delete" && e.user === "admin"));
    } finally {
      await s.close();
    }
  });
});

/** A port on loopback that nothing listens on: SSH to it fails at once ("connection refused"). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((ok) => srv.listen(0, "127.0.0.1", ok));
  const port = (srv.address() as { port: number }).port;
  await new Promise((ok) => srv.close(ok));
  return port;
}

describe("canary-first batches", () => {
  test("the plan: dependencies first, then the canary, then batches; a batch's failures decide whether it pauses", () => {
    const deps: Record<string, string[]> = { b: ["hub"], c: ["hub"], d: [], e: [] };
    assert.deepEqual(planDeployBatches(["e", "d", "c", "b", "hub"], (n) => deps[n] ?? [], { canary: 1, batchSize: 2 }), [["d"], ["e", "hub"], ["b", "c"]]);
    assert.deepEqual(planDeployBatches(["a", "b", "c"], () => [], { canary: 0, batchSize: 1_000_000 }), [["a", "b", "c"]]);
    assert.deepEqual(batchVerdict(0, ["failed"], { canary: 1, pauseAtFailures: 5 }), { pause: true, reason: "the canary failed (1 of 1)" });
    assert.deepEqual(batchVerdict(1, ["deployed", "rolled back", "deployed"], { canary: 1, pauseAtFailures: 2 }), { pause: false });
    assert.match(JSON.stringify(batchVerdict(1, ["failed", "rolled back", "deployed"], { canary: 1, pauseAtFailures: 2 })), /2 of 3 hosts in batch 2 failed/);
  });

  test("the executor: a failed canary pauses the rest; abort skips them, resume goes on and stops at the threshold", async () => {
    const port = await closedPort();
    const job = (name: string): HostJob => ({
      name,
      host: {} as Host,
      kind: "update",
      target: { alias: name, address: "127.0.0.1", port, user: "root", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILeL0yNt4ihLjfN2C/jhnpl4w/LYBEHFCGTG8+jYyIrw" },
      systemPath: "/nix/store/00000000000000000000000000000000-none",
      dependsOn: [],
      checks: [],
    });
    const events: DeployEvent[] = [];
    const o = { flakeDir: "/nonexistent", profile: "/nix/var/nix/profiles/system", confirmTimeout: 10, waitTimeout: 5, healthTimeout: 5, concurrency: 4, emit: (e: DeployEvent) => events.push(e) };
    const hosts = ["n1", "n2", "n3", "n4", "n5"].map(job);
    const gates: string[] = [];
    const aborted = await deployInBatches(hosts, o, { policy: { canary: 1, batchSize: 2, pauseAtFailures: 1 }, gate: async ({ reason }) => (gates.push(reason), "abort") });
    assert.deepEqual(gates, ["the canary failed (1 of 1)"]);
    assert.deepEqual(aborted.map((r) => r.outcome), ["failed", "skipped", "skipped", "skipped", "skipped"]);
    assert.match(aborted[1]!.detail, /the rollout stopped after batch 1 \(the canary failed/);
    assert.match(aborted[0]!.detail, /nothing listens on 127\.0\.0\.1/);
    assert.ok(events.some((e) => e.phase === "rollout" && /paused: the canary failed/.test(e.message)));

    gates.length = 0;
    const resumed = await deployInBatches(hosts, o, { policy: { canary: 1, batchSize: 2, pauseAtFailures: 2 }, gate: async ({ reason }) => (gates.push(reason), gates.length === 1 ? "resume" : "abort") });
    assert.deepEqual(gates, ["the canary failed (1 of 1)", "2 of 2 hosts in batch 2 failed (pause at 2)"]);
    assert.deepEqual(resumed.map((r) => r.outcome), ["failed", "failed", "failed", "skipped", "skipped"]);
  });

  test("the CLI: --canary and --batch-size in the dry run; bad values refused", async () => {
    const { dir } = await readyExample("pi-cluster");
    const dry = hearth(["deploy", "pi-alpha", "pi-beta", "pi-gamma", "-f", dir, "--dry-run", "--canary", "1", "--batch-size", "1"]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^canary: pi-alpha\n  wave 1: pi-alpha\nbatch 2: pi-beta\n  wave 1: pi-beta\nbatch 3: pi-gamma/m);
    const plain = hearth(["deploy", "pi-alpha", "pi-beta", "pi-gamma", "-f", dir, "--dry-run"]);
    assert.match(plain.stdout, /^wave 1: pi-alpha\nwave 2: pi-beta, pi-gamma/m);
    const bad = hearth(["deploy", "pi-alpha", "-f", dir, "--dry-run", "--batch-size", "0"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--batch-size takes a whole number ≥ 1, got '0'/);
  });
});

describe("deploy requests", () => {
  test("refused before anything runs: no hosts, an unknown host, a bad policy, secrets not ready; a deploy records the fleet's commit", async () => {
    const bare = copyExample("pi-cluster");
    const s1 = composeServer({ fleetDir: bare, bind: "127.0.0.1", stateDir: tempDir("hearth-dreq-"), monitor: { manual: true } });
    try {
      const c = new Client(s1);
      await c.session();
      assert.equal((await c.req("POST", "/api/deploys", { hosts: [] })).status, 422);
      const noSecrets = await c.req("POST", "/api/deploys", { hosts: ["pi-alpha"] });
      assert.equal(noSecrets.status, 422);
      assert.match(noSecrets.json.message, /secrets are not ready/);
      assert.equal((await c.req("GET", "/api/deploys")).json.length, 0, "nothing recorded");
    } finally {
      await s1.close();
    }
    const { dir } = await readyExample("pi-cluster");
    const git = (...args: string[]) => hearthGit(dir, args);
    git("init", "-q");
    git("add", ".");
    git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "fleet");
    const s = composeServer({ fleetDir: dir, bind: "127.0.0.1", stateDir: tempDir("hearth-dreq-"), monitor: { manual: true }, identityFiles: [join(dir, "..", "nonexistent")] });
    try {
      const c = new Client(s);
      await c.session();
      const unknown = await c.req("POST", "/api/deploys", { hosts: ["pi-omega"] });
      assert.equal(unknown.status, 404);
      assert.match(unknown.json.message, /no host 'pi-omega'/);
      assert.equal((await c.req("POST", "/api/deploys", { hosts: ["pi-alpha"], policy: { batchSize: 0 } })).status, 422);
      const d = await c.req("POST", "/api/deploys", { hosts: ["pi-alpha"] });
      assert.equal(d.status, 201, d.text);
      assert.match(d.json.commit, /^[0-9a-f]{40}$/);
      assert.equal(d.json.dirty, false, "the fleet's files are as committed (the generated flake does not count)");
      // The host is not there (192.168.1.50 on no network): planning ends with the reason, and it cannot be confirmed.
      let plan = d.json;
      for (let i = 0; i < 200 && plan.status === "planning"; i++) {
        await new Promise((r) => setTimeout(r, 100));
        plan = (await c.req("GET", `/api/deploys/${d.json.id}`)).json;
      }
      assert.equal(plan.status, "ready");
      assert.ok(plan.plans[0].problems.some((p: string) => /192\.168\.1\.50/.test(p)), JSON.stringify(plan.plans[0].problems));
      const confirm = await c.req("POST", `/api/deploys/${d.json.id}/confirm`, {});
      assert.equal(confirm.status, 409);
      assert.match(confirm.json.message, /cannot deploy: pi-alpha/);
      assert.equal((await c.req("POST", `/api/deploys/${d.json.id}/abort`, {})).json.status, "cancelled");
      const busy = await c.req("POST", "/api/deploys", { hosts: ["pi-alpha"] });
      assert.equal(busy.status, 201, "a cancelled deploy does not hold its hosts");
    } finally {
      await s.close();
    }
  });
});

function hearthGit(dir: string, args: string[]) {
  return execFileSync("git", ["-C", dir, ...args], { stdio: ["ignore", "pipe", "pipe"] }).toString();
}
