// hearth serve's build jobs: the runner on this machine's real Nix and /nix/store (a tiny offline
// flake, test/fixtures/tiny-flake), its SQLite store, and the internal-json parser on Nix output
// recorded from that flake (test/fixtures/tiny-flake/recorded/, Nix 2.8: `nix build path:…#ok`
// and `#fail` with the runner's flags; substitute.stderr fetched a path from a file:// cache).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DbError, INTERRUPTED_QUEUED_REASON, INTERRUPTED_REASON, openDb, SCHEMA_VERSION, toSummary, type Db } from "../src/server/db.js";
import { NixProgress, packageName } from "../src/server/jobs/nix-log.js";
import { INSTALL_HINT, JobRequestError, JobRunner, NixUnavailableError } from "../src/server/jobs/runner.js";
import type { JobEvent, JobProgress } from "../src/server/wire.js";

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "tiny-flake");
const RECORDED = join(FIXTURE, "recorded");

// Offline: no binary cache to ask (it would retry for seconds), no sandbox (Debian's nix-bin).
process.env.NIX_CONFIG = [process.env.NIX_CONFIG, "substituters =", "sandbox = false"].filter(Boolean).join("\n");

const work = mkdtempSync(join(tmpdir(), "hearth-jobs-"));
// Builders run as the nixbld users: the directory where `slow` writes its pids must be theirs too.
const pidDir = mkdtempSync(join(tmpdir(), "hearth-jobs-pids-"));
chmodSync(pidDir, 0o777);
const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(work, { recursive: true, force: true });
  rmSync(pidDir, { recursive: true, force: true });
});

let counter = 0;

/** A copy of the fixture flake with a fresh nonce: its derivations were never built before. */
function freshFlake(): { dir: string; nonce: string } {
  const dir = mkdtempSync(join(work, "flake-"));
  const nonce = `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
  copyFileSync(join(FIXTURE, "flake.nix"), join(dir, "flake.nix"));
  writeFileSync(join(dir, "params.nix"), `{ nonce = "${nonce}"; pidDir = "${pidDir}"; }\n`);
  return { dir, nonce };
}

interface Seen {
  jobId: number;
  event: JobEvent;
}

function setup(opts: { concurrency?: number; nixBin?: string; cancelGraceMs?: number; onEvent?: (s: Seen) => void } = {}) {
  const n = ++counter;
  const db = openDb(join(work, `hearth-${n}.sqlite`));
  const artifactsDir = join(work, `artifacts-${n}`);
  const events: Seen[] = [];
  const runner = new JobRunner({
    db,
    concurrency: opts.concurrency ?? 2,
    artifactsDir,
    ...(opts.nixBin ? { nixBin: opts.nixBin } : {}),
    ...(opts.cancelGraceMs ? { cancelGraceMs: opts.cancelGraceMs } : {}),
    onEvent: (jobId, event) => {
      events.push({ jobId, event });
      opts.onEvent?.({ jobId, event });
    },
  });
  cleanups.push(async () => {
    await runner.close();
    db.close();
  });
  return { db, runner, events, artifactsDir };
}

/** `promise`, or a failure naming what did not happen within `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function until<T>(check: () => T | undefined, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Alive means existing and not a zombie: here PID 1 does not reap orphans, so a killed orphan stays a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Live processes whose process group is `pgid`. */
function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // state ppid pgrp ...
      if (Number(fields[2]) === pgid && fields[0] !== "Z") members.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return members;
}

/** The out path Nix has for an attribute (already built: answers at once). */
function outPath(flakeDir: string, attr: string): string {
  const json = execFileSync("nix", ["build", `path:${flakeDir}#${attr}`, "--no-link", "--json", "--extra-experimental-features", "nix-command flakes"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  return (JSON.parse(json) as { outputs: { out: string } }[])[0]!.outputs.out;
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const progressOf = (events: Seen[], id: number) =>
  events.filter((s) => s.jobId === id && s.event.type === "progress").map((s) => (s.event as { progress: JobProgress }).progress);
const statesOf = (events: Seen[], id: number) =>
  events.filter((s) => s.jobId === id && s.event.type === "state").map((s) => (s.event as { job: { state: string } }).job.state);

// ---- the runner on the real Nix -------------------------------------------------------------

test("a real build succeeds with Nix's progress, the builder's log and its files as artifacts", async () => {
  const { db, runner, events, artifactsDir } = setup();
  const { dir } = freshFlake();
  const id = runner.enqueue({ host: "alpha", format: "kexec", flakeDir: dir, attr: "ok" });
  const job = await within(runner.wait(id), 40_000, "the ok build finishing");
  assert.equal(job.state, "succeeded", job.reason);
  assert.deepEqual(statesOf(events, id), ["queued", "running", "succeeded"]);

  // Three derivations (ok and its two parts), all built; and progress was seen on the way.
  assert.equal(job.progress.expected, 3);
  assert.equal(job.progress.done, job.progress.expected);
  assert.equal(job.progress.running, 0);
  const seen = progressOf(events, id);
  assert.ok(seen.some((p) => p.done < p.expected), `progress before the end: ${JSON.stringify(seen)}`);
  assert.ok(seen.some((p) => /^building \/nix\/store\/[a-z0-9]{32}-hearth-part-[ab]\.drv$/.test(p.phase ?? "")), JSON.stringify(seen));
  assert.deepEqual(db.getJob(id)!.progress, job.progress);

  // The builders' own lines, prefixed as `nix build -L` does, in the stored log and as events.
  const lines = db.logs(id).map((l) => l.line);
  for (const l of ["hearth-part-a> part a: starting", "hearth-part-b> part b: done", "hearth-ok> ok: finished"]) assert.ok(lines.includes(l), `${l} in ${lines.join("\n")}`);
  assert.ok(lines.some((l) => /^building '\/nix\/store\/.*-hearth-ok\.drv'\.\.\.$/.test(l)));
  assert.ok(events.some((s) => s.jobId === id && s.event.type === "log" && s.event.line === "hearth-ok> ok: finished"));
  assert.deepEqual(db.logs(id, 2).map((l) => l.seq).slice(0, 2), [3, 4]);

  // Artifacts: the out path's regular files, one level (nested/ is not one), copied with the right hash.
  const out = outPath(dir, "ok");
  assert.deepEqual(job.artifacts.map((a) => a.name), ["hello.txt", "parts.txt"]);
  for (const a of job.artifacts) {
    const original = readFileSync(join(out, a.name));
    const copy = readFileSync(join(artifactsDir, String(id), a.name));
    assert.equal(a.sha256, sha256(original));
    assert.equal(a.size, original.length);
    assert.deepEqual(copy, original);
    assert.equal(a.url, `/api/jobs/${id}/artifacts/${a.name}`);
  }
  assert.equal(readFileSync(join(artifactsDir, String(id), "parts.txt"), "utf8"), "part a\npart b\n");
  const row = db.getJob(id)!;
  assert.ok(row.startedAt && row.finishedAt && row.startedAt <= row.finishedAt);
  assert.equal(row.pgid, undefined, "the finished job no longer names a process group");
  assert.equal(db.lastBuildPerHost().get("alpha")?.id, id);
});

test("a failing build is failed, with the builder's error line as the reason", async () => {
  const { db, runner, artifactsDir } = setup();
  const { dir } = freshFlake();
  const id = runner.enqueue({ host: "beta", format: "iso", flakeDir: dir, attr: "fail" });
  const job = await within(runner.wait(id), 30_000, "the fail build finishing");
  assert.equal(job.state, "failed");
  assert.match(job.reason ?? "", /^builder for '\/nix\/store\/[a-z0-9]{32}-hearth-fail\.drv' failed with exit code 1; its log ends with: error: the widget is broken$/);
  assert.ok(db.logs(id).some((l) => l.line === "hearth-fail> error: the widget is broken"));
  assert.deepEqual(job.artifacts, []);
  assert.equal(existsSync(join(artifactsDir, String(id))), false);
});

test("cancel kills the build's whole process group, the builder's children included", async () => {
  const { db, runner, events } = setup();
  const { dir, nonce } = freshFlake();
  const id = runner.enqueue({ host: "gamma", format: "kexec", flakeDir: dir, attr: "slow" });
  const pidFile = join(pidDir, `slow-${nonce}.pids`);
  const [sleepPid, shellPid] = await until(
    () => (existsSync(pidFile) && readFileSync(pidFile, "utf8").includes("\n") ? readFileSync(pidFile, "utf8").trim().split(" ").map(Number) : undefined),
    30_000,
    "the slow builder starting",
  );
  const pgid = db.getJob(id)!.pgid!;
  assert.ok(sleepPid! > 0 && shellPid! > 0 && pgid > 0);
  assert.ok(alive(sleepPid!) && alive(shellPid!) && alive(pgid), "the build runs before the cancel (else this test proves nothing)");

  assert.equal(runner.cancel(id, "cancelled in a test"), true);
  const job = await within(runner.wait(id), 15_000, "the cancelled job ending");
  assert.equal(job.state, "cancelled");
  assert.equal(job.reason, "cancelled in a test");
  assert.deepEqual(statesOf(events, id), ["queued", "running", "cancelled"]);
  // Nix got SIGTERM and stopped its builder (a SIGKILL first would have left `sleep 60` behind).
  await until(() => (!alive(sleepPid!) && !alive(shellPid!) && groupMembers(pgid).length === 0 ? true : undefined), 3000, "every process of the build ending");
  assert.equal(runner.cancel(id), false, "a finished job cannot be cancelled again");
});

test("a build that ignores SIGTERM is SIGKILLed after the grace time, its own-session builders too", async () => {
  // Real Nix stops on SIGTERM, so a stand-in plays the stubborn one: it ignores SIGTERM and, like
  // Nix, starts its "builder" in a session of its own, out of reach of a signal to its group.
  const pids = join(pidDir, `stubborn-${Date.now()}.pids`);
  const stubborn = join(work, "stubborn-nix");
  writeFileSync(
    stubborn,
    `#!/bin/sh
if [ "$1" = --version ]; then echo "nix (Nix) 2.8.0"; exit 0; fi
trap '' TERM
setsid sleep 60 &
echo "$! $$" > ${pids}
echo '@nix {"action":"msg","level":3,"msg":"stubborn: started"}' >&2
wait
`,
    { mode: 0o755 },
  );
  const { runner } = setup({ nixBin: stubborn, cancelGraceMs: 300 });
  const id = runner.enqueue({ host: "iota", format: "kexec", flakeDir: freshFlake().dir, attr: "slow" });
  const [builder, fakeNix] = await until(
    () => (existsSync(pids) && readFileSync(pids, "utf8").includes("\n") ? readFileSync(pids, "utf8").trim().split(" ").map(Number) : undefined),
    10_000,
    "the stand-in starting",
  );
  assert.ok(alive(builder!) && alive(fakeNix!));
  const cancelledAt = Date.now();
  runner.cancel(id, "stop now");
  const job = await within(runner.wait(id), 5000, "the stubborn job ending");
  assert.ok(Date.now() - cancelledAt >= 250, "it survived SIGTERM until the SIGKILL");
  assert.equal(job.state, "cancelled");
  await until(() => (!alive(builder!) && !alive(fakeNix!) ? true : undefined), 3000, "the stand-in and its own-session builder ending");
});

test("with concurrency 1 the second job waits in the queue until the first has finished", async () => {
  let secondStateWhileFirstLogged: string[] = [];
  let first = 0;
  let second = 0;
  const { db, runner, events } = setup({
    concurrency: 1,
    onEvent: (s) => {
      if (s.jobId === first && s.event.type === "log" && second) secondStateWhileFirstLogged.push(db.getJob(second)!.state);
    },
  });
  const a = freshFlake();
  const b = freshFlake();
  first = runner.enqueue({ host: "delta", format: "sd", flakeDir: a.dir, attr: "single" });
  second = runner.enqueue({ host: "epsilon", format: "sd", flakeDir: b.dir, attr: "single" });
  assert.equal(db.getJob(first)!.state, "running");
  assert.equal(db.getJob(second)!.state, "queued");

  const [j1, j2] = await within(Promise.all([runner.wait(first), runner.wait(second)]), 40_000, "both single builds finishing");
  assert.equal(j1.state, "succeeded", j1.reason);
  assert.equal(j2.state, "succeeded", j2.reason);
  assert.ok(secondStateWhileFirstLogged.length > 0 && secondStateWhileFirstLogged.every((s) => s === "queued"), secondStateWhileFirstLogged.join());
  const order = events.filter((s) => s.event.type === "state").map((s) => `${s.jobId}:${(s.event as { job: { state: string } }).job.state}`);
  assert.ok(order.indexOf(`${first}:succeeded`) < order.indexOf(`${second}:running`), order.join(" "));
  assert.ok(j1.finishedAt! <= j2.startedAt!);

  // A single-file output is one artifact, named without its store hash.
  assert.deepEqual(j2.artifacts.map((x) => x.name), ["hearth-single.img"]);
  assert.equal(j2.artifacts[0]!.sha256, sha256(Buffer.from(`disk image ${b.nonce}\n`)));
  secondStateWhileFirstLogged = [];
});

test("close() cancels running and queued jobs, waits for them, and refuses new ones", async () => {
  const { db, runner } = setup({ concurrency: 1 });
  const f = freshFlake();
  const running = runner.enqueue({ host: "zeta", format: "kexec", flakeDir: f.dir, attr: "slow" });
  const queued = runner.enqueue({ host: "zeta", format: "iso", flakeDir: freshFlake().dir, attr: "single" });
  const pidFile = join(pidDir, `slow-${f.nonce}.pids`);
  await until(() => (existsSync(pidFile) ? true : undefined), 30_000, "the slow builder starting");
  await within(runner.close(), 10_000, "close()");
  assert.equal(db.getJob(running)!.state, "cancelled");
  assert.equal(db.getJob(running)!.reason, "the server shut down while the job was running");
  assert.equal(db.getJob(queued)!.state, "cancelled");
  assert.throws(() => runner.enqueue({ host: "zeta", format: "kexec", flakeDir: f.dir, attr: "ok" }), JobRequestError);
});

test("without Nix the runner says so and how to install it, and refuses jobs instead of crashing", () => {
  const bogus = "/nonexistent/hearth-test/nix";
  const { db, runner } = setup({ nixBin: bogus });
  const status = runner.detectNix();
  assert.equal(status.available, false);
  assert.equal(status.installHint, INSTALL_HINT);
  assert.match(status.problem ?? "", /\/nonexistent\/hearth-test\/nix was not found/);
  const { dir } = freshFlake();
  assert.throws(
    () => runner.enqueue({ host: "eta", format: "kexec", flakeDir: dir, attr: "ok" }),
    (e: unknown) => e instanceof NixUnavailableError && e.code === "nix-unavailable" && e.message.includes(bogus) && e.message.includes("apt-get install nix-bin"),
  );
  assert.deepEqual(db.listJobs(), [], "no job was created");

  // The real one is found, with its version.
  const real = setup().runner.detectNix();
  assert.equal(real.available, true, real.problem);
  assert.match(real.version ?? "", /^\d+\.\d+/);
});

test("requests the runner cannot build are refused with what to fix", () => {
  const { runner, db } = setup();
  const { dir } = freshFlake();
  assert.throws(() => runner.enqueue({ host: "h", format: "kexec", flakeDir: dir, attr: "--impure" }), /not a flake attribute/);
  assert.throws(() => runner.enqueue({ host: "h", format: "kexec", flakeDir: join(work, "nowhere"), attr: "ok" }), /no flake\.nix in .*run `hearth generate` first/);
  assert.throws(() => runner.enqueue({ host: "", format: "kexec", flakeDir: dir, attr: "ok" }), /needs a host/);
  assert.deepEqual(db.listJobs(), []);
});

// ---- the store --------------------------------------------------------------------------------

test("a new Db over the same file marks the previous server's running and queued jobs interrupted", () => {
  const file = join(work, "restart.sqlite");
  const before = openDb(file);
  const job = { kind: "build" as const, host: "theta", format: "kexec", flakeDir: "/x", attr: "theta-kexec" };
  const running = before.createJob(job);
  before.updateJob(running, { state: "running", startedAt: new Date().toISOString(), pid: 4242, pgid: 4242 });
  const queued = before.createJob(job);
  const done = before.createJob(job);
  before.updateJob(done, { state: "succeeded", finishedAt: new Date().toISOString() });

  const after = openDb(file); // the restarted server: migrations run again, harmlessly
  assert.equal(after.sql.pragma("user_version", { simple: true }), SCHEMA_VERSION);
  const changed = after.markInterrupted();
  assert.deepEqual(changed.map((j) => [j.id, j.state, j.pgid]), [
    [running, "running", 4242],
    [queued, "queued", undefined],
  ]);
  assert.equal(after.getJob(running)!.state, "interrupted");
  assert.equal(after.getJob(running)!.reason, INTERRUPTED_REASON);
  assert.equal(INTERRUPTED_REASON, "the server stopped while the job was running");
  assert.equal(after.getJob(running)!.pgid, undefined);
  assert.ok(after.getJob(running)!.finishedAt);
  assert.equal(after.getJob(queued)!.reason, INTERRUPTED_QUEUED_REASON);
  assert.equal(after.getJob(done)!.state, "succeeded");
  assert.equal(before.getJob(running)!.state, "interrupted", "the other connection sees it (WAL, one file)");
  assert.deepEqual(after.markInterrupted(), []);
  before.close();
  after.close();
});

test("the store: logs in order, jobs newest first, artifacts, sessions, settings, audit, schema guard", () => {
  const db: Db = openDb(":memory:");
  const job = (host: string) => db.createJob({ kind: "build", host, format: "kexec", flakeDir: "/f", attr: `${host}-kexec` });
  const a1 = job("a");
  const b1 = job("b");
  const a2 = job("a");
  assert.deepEqual(db.listJobs().map((j) => j.id), [a2, b1, a1]);
  assert.deepEqual(db.listJobs({ host: "a", limit: 1 }).map((j) => j.id), [a2]);
  assert.deepEqual([...db.lastBuildPerHost()].map(([h, j]) => [h, j.id]).sort(), [["a", a2], ["b", b1]]);

  assert.equal(db.appendLog(a1, "one"), 1);
  assert.equal(db.appendLogs(a1, ["two", "three"]), 3);
  assert.equal(db.appendLog(b1, "other job"), 1);
  assert.deepEqual(db.logs(a1, 1), [{ seq: 2, line: "two" }, { seq: 3, line: "three" }]);

  db.updateJob(a1, { progress: { done: 1, expected: 2, running: 1, downloadsDone: 0, downloadsExpected: 0, phase: "building x" }, reason: "r" });
  db.updateJob(a1, { reason: null });
  assert.equal(db.getJob(a1)!.progress.phase, "building x");
  assert.equal(db.getJob(a1)!.reason, undefined);
  assert.throws(() => db.updateJob(9999, { state: "failed" }), /there is no job 9999/);

  db.addArtifact(a1, { name: "nixos image.iso", path: "/srv/a", size: 3, sha256: "ab" });
  assert.throws(() => db.addArtifact(9999, { name: "x", path: "/x", size: 1, sha256: "00" }), /FOREIGN KEY/);
  const summary = toSummary(db.getJob(a1)!, db.artifacts(a1));
  assert.deepEqual(summary.artifacts, [{ name: "nixos image.iso", size: 3, sha256: "ab", url: `/api/jobs/${a1}/artifacts/nixos%20image.iso` }]);
  assert.equal(summary.state, "queued");

  db.createSession({ id: "s1", user: "admin", csrf: "c1", expiresAt: 2000 });
  db.createSession({ id: "s2", user: "admin", csrf: "c2", expiresAt: 5000 });
  assert.equal(db.getSession("s1", 1000)?.csrf, "c1");
  assert.equal(db.getSession("s1", 3000), undefined, "expired sessions are not returned");
  assert.equal(db.purgeExpired(3000), 1);
  db.deleteSession("s2");
  assert.equal(db.getSession("s2", 0), undefined);

  assert.equal(db.getSetting("admin.passwordHash"), undefined);
  db.setSetting("admin.passwordHash", "h1");
  db.setSetting("admin.passwordHash", "h2");
  assert.equal(db.getSetting("admin.passwordHash"), "h2");

  db.audit({ user: "admin", action: "build", target: "a", detail: "kexec" });
  db.audit({ user: "admin", action: "login", target: "admin" });
  assert.deepEqual(db.auditLog(10).map((e) => [e.action, e.detail]), [["login", undefined], ["build", "kexec"]]);
  db.close();

  const file = join(work, "future.sqlite");
  const future = openDb(file);
  future.sql.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  future.close();
  assert.throws(() => openDb(file), (e: unknown) => e instanceof DbError && /newer than this hearth understands/.test(e.message));
});

// ---- the internal-json parser on recorded Nix output ----------------------------------------

function replay(name: string): { nix: NixProgress; log: string[]; progress: JobProgress[] } {
  const nix = new NixProgress();
  const log: string[] = [];
  const progress: JobProgress[] = [];
  for (const line of readFileSync(join(RECORDED, name), "utf8").split("\n")) {
    if (line === "") continue;
    const u = nix.feed(line);
    log.push(...u.log);
    if (u.progress) progress.push(u.progress);
  }
  return { nix, log, progress };
}

test("parser: a recorded successful build gives Nix's counts, phases and prefixed build lines", () => {
  const { nix, log, progress } = replay("ok.stderr");
  assert.deepEqual(nix.progress, { done: 3, expected: 3, running: 0, downloadsDone: 0, downloadsExpected: 0 });
  // Counts go up one build at a time, and each update is a real change.
  assert.deepEqual([...new Set(progress.map((p) => `${p.done}/${p.expected}`))], ["0/1", "0/2", "0/3", "1/3", "2/3", "3/3"]);
  for (let i = 1; i < progress.length; i++) assert.notDeepEqual(progress[i], progress[i - 1]);
  assert.ok(progress.some((p) => p.running === 1 && /^building \/nix\/store\/\w{32}-hearth-ok\.drv$/.test(p.phase ?? "")));
  assert.deepEqual(
    log.filter((l) => l.includes("> ")),
    [
      "hearth-part-a> part a: starting",
      "hearth-part-a> part a: done",
      "hearth-part-b> part b: starting",
      "hearth-part-b> part b: done",
      log.find((l) => l.startsWith("hearth-ok> ok: assembling from /nix/store/"))!,
      "hearth-ok> ok: finished",
    ],
  );
  // Nix's own lines at info level are kept; talkative ones ("copying '/tmp/…'", level 4) are not.
  assert.equal(log.filter((l) => /^building '\/nix\/store\/.*\.drv'\.\.\.$/.test(l)).length, 3);
  assert.ok(!log.some((l) => l.startsWith("copying '")));
  assert.equal(nix.failureReason(), undefined);
});

test("parser: a recorded failure gives the builder's error with its last error line, without colours", () => {
  const { nix, log } = replay("fail.stderr");
  assert.match(nix.failureReason()!, /^builder for '\/nix\/store\/\w{32}-hearth-fail\.drv' failed with exit code 1; its log ends with: error: the widget is broken$/);
  assert.ok(log.some((l) => /^error: builder for '.*hearth-fail\.drv' failed with exit code 1$/.test(l)));
  assert.ok(!log.some((l) => l.includes("\x1b")), "no terminal escapes in the log");
  assert.equal(nix.progress.done, 0);

  const missing = replay("missing-attr.stderr").nix;
  assert.match(missing.failureReason()!, /^flake 'path:\/tmp\/nixexp\/rec' does not provide attribute 'packages\.x86_64-linux\.nope'/);
});

test("parser: a recorded substitution counts as a download and shows what is fetched", () => {
  const { nix, progress } = replay("substitute.stderr");
  assert.deepEqual(nix.progress, { done: 0, expected: 0, running: 0, downloadsDone: 1, downloadsExpected: 1 });
  assert.ok(progress.some((p) => p.downloadsDone === 0 && p.downloadsExpected === 1));
  assert.ok(progress.some((p) => /hearth-top from file:\/\/\/tmp\/nixexp\/cache/.test(p.phase ?? "")), JSON.stringify(progress));
});

test("parser: malformed or unexpected input never throws and is kept as a log line", () => {
  const nix = new NixProgress();
  const bad = [
    "@nix {not json",
    "@nix [1,2,3]",
    "@nix null",
    '@nix {"action":"start"}',
    '@nix {"action":"stop","id":12345}',
    '@nix {"action":"result","id":777,"type":105,"fields":"not a list"}',
    '@nix {"action":"result","type":105}',
    '@nix {"action":"msg"}',
    '@nix {"action":"from-the-future","id":1}',
  ];
  for (const line of bad) assert.doesNotThrow(() => nix.feed(line), line);
  assert.deepEqual(nix.feed("@nix {not json").log, ["@nix {not json"]);
  assert.deepEqual(nix.feed("@nix [1,2,3]").log, ["@nix [1,2,3]"]);
  assert.deepEqual(nix.progress, { done: 0, expected: 0, running: 0, downloadsDone: 0, downloadsExpected: 0 });
  // Plain stderr (before the JSON logger is up) is logged without colour or CR, and errors count.
  assert.deepEqual(nix.feed("\x1b[31;1merror:\x1b[0m unrecognised flag '--bogus'\r").log, ["error: unrecognised flag '--bogus'"]);
  assert.equal(nix.failureReason(), "unrecognised flag '--bogus'");
  // A log line for an activity Nix never started still shows.
  assert.deepEqual(nix.feed('@nix {"action":"result","fields":["orphan line"],"id":99,"type":101}').log, ["unnamed> orphan line"]);
});

test("parser: activity ids above 2^53 stay distinct (Nix ids are pid << 32)", () => {
  const nix = new NixProgress();
  // 2^54 + 1 and 2^54 + 2: JSON.parse would round both to 2^54 and mix the two builds up.
  const ids = ["18014398509481985", "18014398509481986"];
  ids.forEach((id, i) =>
    nix.feed(`@nix {"action":"start","fields":["/nix/store/${"a".repeat(32)}-pkg${i}.drv","",1,1],"id":${id},"level":3,"text":"building","type":105}`),
  );
  assert.deepEqual(nix.feed(`@nix {"action":"result","fields":["hi"],"id":${ids[0]},"type":101}`).log, ["pkg0> hi"]);
  assert.deepEqual(nix.feed(`@nix {"action":"result","fields":["hi"],"id":${ids[1]},"type":101}`).log, ["pkg1> hi"]);
});

test("parser: package names are taken from store paths the way Nix's DrvName does", () => {
  assert.equal(packageName("/nix/store/0123456789abcdfghijklmnpqrsvwxyz-hello-2.12.1.drv"), "hello");
  assert.equal(packageName("/nix/store/0123456789abcdfghijklmnpqrsvwxyz-hearth-part-a.drv"), "hearth-part-a");
  assert.equal(packageName("/nix/store/0123456789abcdfghijklmnpqrsvwxyz-nixos-system-beta-24.05.drv"), "nixos-system-beta");
});
