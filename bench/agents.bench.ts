// Pull agents under load (issue 14): 1,000 simulated agents checking in against `hearth serve`
// (`node bin/hearth.js serve`, a process of its own) for 60 s, then the same request pattern
// against a static server (its own process too) answering the same bytes. Printed side by side:
// requests/s, p50/p99/max per route, the server process's CPU (user+sys from /proc/<pid>/stat over
// the run) and memory (VmHWM, VmRSS), the CPU the machine's other processes took meanwhile, and
// the size of hearth's SQLite state. Any error (non-2xx, timeout, a signature that does not
// verify) prints FAIL and exits 1.
//
// The fleet is real: 1,000 `ephemeral: true` hosts whose SSH host keys `hearth secrets generate`
// made (the server knows them from secrets/manifest.json), a release per host signed with a
// minisign key (writeRelease), and a keyring signed by that key. The load comes from a child
// process of this file (`--loadgen`): per check-in each agent does what src/agent/agent.ts does
// for a host without a class image (one with an image adds GET /image), every request signed with
// the host key by node:crypto's Ed25519 as nodeSign does (the key object made once per agent):
// GET keyring, GET release (checked with acceptKeyring / acceptBundle when the bytes are new to
// the agent, in a worker thread; the same bytes again mean "up to date"), POST report (applying +
// healthy after the first verified release, up-to-date after that). The pause between check-ins
// is the agent's own (src/agent/main.ts: interval x 0.8-1.2 after the check-in ends) with an
// interval of 7.5 s instead of 300 s: 1,000 agents at 7.5 s are the load of 40,000 at the default.
//
// Releases become fetchable through a rollout: the API's POST /api/rollouts uses the server's
// policy (one canary, batches of 5: 200 waves, each waiting for its hosts' healthy reports), so
// the rollout is started with PullService.startRollout and a policy of canary 0 and one batch of
// 1,000, on the same state directory, before `hearth serve` starts. The run then sees what a real
// "all hosts at once" rollout brings: every agent fetches, verifies and reports applying and
// healthy in its first check-in (the first ~7.5 s), and the rollout state follows those reports.
//
// Reading the figures: the agents share a pool of keep-alive sockets (as a reverse proxy in front
// of hearth would); a new connection waits in the listen queue until the server accepts it, and
// Node 20's libuv accepts one connection per event-loop turn (libuv PR #3696), so while the
// server's loop is saturated (turns of 100+ ms) new connections wait seconds while requests on
// open ones are served. "server CPU first N s / after" shows whether the loop was saturated.
//
// Knobs (defaults are the issue's figures): HEARTH_BENCH_AGENTS (1000), HEARTH_BENCH_SECONDS
// (60), HEARTH_BENCH_INTERVAL_MS (7500), HEARTH_BENCH_SOCKETS (256 keep-alive sockets); for
// profiling, HEARTH_BENCH_SERVER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", given to
// the server's node) and HEARTH_BENCH_STATIC=0 (no static run).
import { execFileSync, fork, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, createPrivateKey, sign as cryptoSign } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { Agent as HttpAgent, request } from "node:http";
import { tmpdir } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { REPO_ROOT } from "../src/node/fleet-dir.js";
import { signRequest } from "../src/core/pull/agent-auth.js";
import { RELEASES_DIR, signKeyring, type Bundle, type Refusal, type Signed, type Trust } from "../src/core/pull/release.js";
import { generateKey, publicKeyLine } from "../src/core/signing/minisign.js";
import { ADMIN } from "./fleet.js";

const AGENTS = Number(process.env["HEARTH_BENCH_AGENTS"] ?? 1000);
const SECONDS = Number(process.env["HEARTH_BENCH_SECONDS"] ?? 60);
const INTERVAL_MS = Number(process.env["HEARTH_BENCH_INTERVAL_MS"] ?? 7500);
const SOCKETS = Number(process.env["HEARTH_BENCH_SOCKETS"] ?? 256);
const SERVER_NODE_ARGS = (process.env["HEARTH_BENCH_SERVER_NODE_ARGS"] ?? "").split(/\s+/).filter(Boolean);
const STATIC = process.env["HEARTH_BENCH_STATIC"] !== "0";
const TIMEOUT_MS = 10_000;
/** Latencies in the first interval (the rollout: every agent fetches, verifies, reports twice) are also shown apart. */
const EARLY_MS = INTERVAL_MS * 1.2;
const API = "/api/agent/v1";

type Route = "keyring" | "release" | "report";
const ROUTES: Route[] = ["keyring", "release", "report"];

interface AgentSpec {
  host: string;
  /** The host's `ssh-ed25519 AAAA…` line, as in secrets/manifest.json. */
  pub: string;
  /** The Ed25519 seed of the host key, hex. */
  seed: string;
}
interface LoadConfig {
  url: string;
  seconds: number;
  intervalMs: number;
  sockets: number;
  imageKeys: string[];
  agents: AgentSpec[];
}
interface RouteStats {
  n: number;
  p50: number;
  p99: number;
  max: number;
  /** Mean bytes of a 200's body. */
  bytes: number;
}
interface LoadResult {
  seconds: number;
  requests: number;
  checkIns: number;
  routes: Record<Route, RouteStats>;
  early: { n: number; p99: number; max: number };
  late: { n: number; p99: number; max: number };
  errors: Record<string, number>;
  errorSamples: string[];
  /** Agents that verified and "applied" their release; agents that took the keyring; 204s from /release. */
  applied: number;
  keyrings: number;
  noRelease: number;
  cpuSeconds: number;
  loopP99: number;
  loopMax: number;
}

/**
 * The agents' signature checks (acceptKeyring, acceptBundle: minisign in JavaScript, about 5 ms
 * each here) in a worker thread of the load generator, so that a check never stalls the loop
 * that times the requests. Node 20 gives a worker none of the main thread's loader hooks: the
 * worker registers tsx itself, as src/server/fleet-worker-source.mjs does.
 */
const VERIFIER = (tsxApi: string, release: string) => `
const { parentPort } = require("node:worker_threads");
(async () => {
  (await import(${JSON.stringify(tsxApi)})).register();
  const { acceptBundle, acceptKeyring, Refused } = await import(${JSON.stringify(release)});
  parentPort.on("message", (m) => {
    try {
      const signed = JSON.parse(m.text);
      const value = m.kind === "keyring" ? acceptKeyring(signed, m.trust) : acceptBundle(signed, m.trust, m.node, m.now);
      parentPort.postMessage({ id: m.id, ok: true, value });
    } catch (e) {
      parentPort.postMessage({ id: m.id, ok: false, reason: e instanceof Refused ? e.reason : "error", message: String(e && e.message) });
    }
  });
  parentPort.postMessage({ ready: true });
})();
`;
type Verdict<T> = { ok: true; value: T } | { ok: false; reason: Refusal | "error"; message: string };

const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]! : NaN);

// ---- the load generator (a child process of this file) --------------------------------------

async function loadgen(c: LoadConfig, started: () => void): Promise<LoadResult> {
  const verifier = new Worker(VERIFIER(import.meta.resolve("tsx/esm/api"), new URL("../src/core/pull/release.ts", import.meta.url).href), { eval: true });
  await new Promise<void>((ok, bad) => {
    verifier.once("message", () => ok());
    verifier.once("error", bad);
  });
  const waiting = new Map<number, (v: Verdict<unknown>) => void>();
  let nextId = 1;
  verifier.on("message", (m: Verdict<unknown> & { id: number }) => {
    waiting.get(m.id)?.(m);
    waiting.delete(m.id);
  });
  function verify(kind: "keyring", text: string, trust: Trust): Promise<Verdict<Trust>>;
  function verify(kind: "bundle", text: string, trust: Trust, node: { host: string; appliedVersion: number; failedSystems: string[] }): Promise<Verdict<Bundle>>;
  function verify(kind: string, text: string, trust: Trust, node?: unknown): Promise<Verdict<unknown>> {
    const id = nextId++;
    return new Promise((ok) => {
      waiting.set(id, ok);
      verifier.postMessage({ id, kind, text, trust, node, now: Date.now() });
    });
  }
  // Every agent starts from the same image keys and gets the same keyring bytes: one check of
  // those bytes answers for all (acceptKeyring is a function of the bytes and the trust alone).
  const keyringVerdicts = new Map<string, Promise<Verdict<Trust>>>();
  const checkKeyring = (text: string, trust: Trust) => {
    const k = `${JSON.stringify(trust)}\n${text}`;
    let v = keyringVerdicts.get(k);
    if (!v) keyringVerdicts.set(k, (v = verify("keyring", text, trust)));
    return v;
  };
  // Each agent's host key as a key object, made once: nodeSign (src/agent/ports.ts) parses the
  // seed into one per request, 1.5 ms of OpenSSL's decoder each, the generator's largest cost.
  const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");
  const keys = c.agents.map((a) => createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, Buffer.from(a.seed, "hex")]), format: "der", type: "pkcs8" }));
  const pool = new HttpAgent({ keepAlive: true, maxSockets: Math.max(1, c.sockets), timeout: 4000 });
  const base = new URL(c.url);
  const lat: Record<Route, number[]> = { keyring: [], release: [], report: [] };
  const bytes: Record<Route, number[]> = { keyring: [], release: [], report: [] };
  const early: number[] = [];
  const late: number[] = [];
  const errors: Record<string, number> = {};
  const errorSamples: string[] = [];
  let requests = 0;
  let checkIns = 0;
  let applied = 0;
  let keyrings = 0;
  let noRelease = 0;
  const fail = (kind: string, detail: string) => {
    errors[kind] = (errors[kind] ?? 0) + 1;
    if (errorSamples.length < 10) errorSamples.push(`${kind}: ${detail}`);
  };
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  started();
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + c.seconds * 1000;
  let last = start;

  /** One signed request; resolves with the status and body, or undefined after counting the error. */
  const call = (route: Route, who: { host: string; pub: string; seed: Uint8Array; key: ReturnType<typeof createPrivateKey> }, body?: unknown) =>
    new Promise<{ status: number; text: string } | undefined>((done) => {
      const method = body === undefined ? "GET" : "POST";
      const path = `${API}/${route}`;
      const bytesOut = body === undefined ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(body));
      const headers: Record<string, string | number> = { ...signRequest({ method, path, host: who.host, publicKey: who.pub, seed: who.seed, body: bytesOut, sign: (m) => new Uint8Array(cryptoSign(null, m, who.key)) }) };
      if (body !== undefined) Object.assign(headers, { "content-type": "application/json", "content-length": bytesOut.length });
      const t0 = performance.now();
      let settled = false;
      const finish = (r: { status: number; text: string } | undefined, kind?: string, detail?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const t1 = performance.now();
        last = Math.max(last, t1);
        requests++;
        if (kind) fail(kind, `${method} ${path} (${who.host}): ${detail}`);
        else {
          const ms = t1 - t0;
          lat[route].push(ms);
          (t0 - start < EARLY_MS ? early : late).push(ms);
          if (r!.status === 200) bytes[route].push(Buffer.byteLength(r!.text));
        }
        done(kind ? undefined : r);
      };
      const req = request({ host: base.hostname, port: base.port, path, method, headers, agent: pool }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (b: Buffer) => chunks.push(b));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const status = res.statusCode ?? 0;
          if (status < 200 || status > 299) finish(undefined, `http ${status}`, text.slice(0, 200));
          else finish({ status, text });
        });
        res.on("error", (e) => finish(undefined, "network", e.message));
      });
      const timer = setTimeout(() => {
        const sock = req.socket;
        finish(undefined, "timeout", `no answer in ${TIMEOUT_MS} ms (${!sock ? "still waiting for a pooled socket" : `${req.reusedSocket ? "reused" : "new"} socket${sock.connecting ? " still connecting" : ""}, ${sock.bytesWritten} bytes written, ${sock.bytesRead} read`}; pool ${Object.values(pool.sockets).flat().length} busy, ${Object.values(pool.freeSockets).flat().length} free, ${Object.values(pool.requests).flat().length} queued)`);
        req.destroy();
      }, TIMEOUT_MS);
      req.on("error", (e) => finish(undefined, "network", e.message));
      req.end(body === undefined ? undefined : Buffer.from(bytesOut));
    });

  const inventory = (i: number) => ({
    arch: "x86_64",
    memKiB: 16_318_460,
    product: "bench stand-in machine",
    uefi: true,
    tpm: false,
    interfaces: [{ name: "eth0", mac: `02:00:00:${((i >> 16) & 255).toString(16).padStart(2, "0")}:${((i >> 8) & 255).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}` }],
  });

  /** One agent: its check-ins until the run's end, as src/agent/agent.ts makes them. */
  async function agent(spec: AgentSpec, i: number): Promise<void> {
    const who = { host: spec.host, pub: spec.pub, seed: Buffer.from(spec.seed, "hex"), key: keys[i]! };
    let trust: Trust = { keys: c.imageKeys, revoked: [], keyringVersion: 0 };
    let appliedVersion = 0;
    let appliedSystem: string | undefined;
    let generation = 1;
    let keyringSeen = "";
    let releaseSeen = "";
    const log: string[] = [];
    const note = (l: string) => {
      log.push(`${new Date().toISOString()} ${l}`);
      if (log.length > 200) log.splice(0, log.length - 200);
    };
    const report = (r: { phase: string; version: number; detail?: string }) =>
      call("report", who, { ...r, host: spec.host, booted: { ...(appliedSystem ? { system: appliedSystem } : {}), generation }, inventory: inventory(i), log: log.slice(-50), trust: { keyringVersion: trust.keyringVersion } });

    const checkIn = async (): Promise<void> => {
      checkIns++;
      const kr = await call("keyring", who);
      if (!kr) return;
      if (kr.status === 200 && kr.text !== keyringSeen) {
        keyringSeen = kr.text;
        const v = await checkKeyring(kr.text, trust);
        if (v.ok) {
          trust = v.value;
          keyrings++;
          note(`keyring version ${trust.keyringVersion} accepted`);
        } else if (v.reason !== "not-newer") return fail("verify", `${spec.host} keyring: ${v.message}`);
      }
      const r = await call("release", who);
      if (!r) return;
      if (r.status === 204) {
        noRelease++;
        await report({ phase: "up-to-date", version: appliedVersion });
        return;
      }
      if (r.text === releaseSeen) {
        await report({ phase: "up-to-date", version: appliedVersion });
        return;
      }
      releaseSeen = r.text;
      const v = await verify("bundle", r.text, trust, { host: spec.host, appliedVersion, failedSystems: [] });
      if (!v.ok) {
        if (v.reason === "not-newer" && appliedVersion > 0) {
          await report({ phase: "up-to-date", version: appliedVersion });
          return;
        }
        return fail("verify", `${spec.host} release: ${v.message}`);
      }
      const b = v.value;
      if (!(await report({ phase: "applying", version: b.version, detail: b.system }))) return;
      note(`applying version ${b.version}: ${b.system}`);
      // The stand-in for switching the NixOS system (nothing to switch here).
      appliedVersion = b.version;
      appliedSystem = b.system;
      generation++;
      applied++;
      note(`version ${b.version} healthy`);
      await report({ phase: "healthy", version: b.version });
    };

    const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, Math.max(0, Math.min(ms, end - performance.now()))));
    // A fleet already running when the rollout starts: first check-ins spread over one interval.
    await sleep(Math.random() * c.intervalMs);
    for (let n = 0; n < 100_000 && performance.now() < end; n++) {
      await checkIn();
      await sleep(c.intervalMs * (0.8 + Math.random() * 0.4));
    }
  }

  await Promise.all(c.agents.map((a, i) => agent(a, i)));
  loop.disable();
  const cpu = process.cpuUsage(cpu0);
  pool.destroy();
  await verifier.terminate();
  const stats = (xs: number[], bs: number[]): RouteStats => {
    xs.sort((a, b) => a - b);
    return { n: xs.length, p50: pct(xs, 0.5), p99: pct(xs, 0.99), max: xs.at(-1) ?? NaN, bytes: bs.length ? bs.reduce((a, b) => a + b, 0) / bs.length : 0 };
  };
  const window = (xs: number[]) => {
    xs.sort((a, b) => a - b);
    return { n: xs.length, p99: pct(xs, 0.99), max: xs.at(-1) ?? NaN };
  };
  return {
    seconds: (last - start) / 1000,
    requests,
    checkIns,
    routes: { keyring: stats(lat.keyring, bytes.keyring), release: stats(lat.release, bytes.release), report: stats(lat.report, bytes.report) },
    early: window(early),
    late: window(late),
    errors,
    errorSamples,
    applied,
    keyrings,
    noRelease,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    loopP99: loop.percentile(99) / 1e6,
    loopMax: loop.max / 1e6,
  };
}

// ---- the bench --------------------------------------------------------------------------------

/** A static server in its own process: the same bytes per route from buffers, the request bodies read and dropped. */
const STATIC_SERVER = `
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
const b = JSON.parse(readFileSync(process.argv[1], "utf8"));
const keyring = Buffer.from(b.keyring), ok = Buffer.from(b.report);
const releases = new Map(Object.entries(b.releases).map(([h, t]) => [h, Buffer.from(t)]));
const send = (res, body) => res.writeHead(200, { "content-type": "application/json", "content-length": body.length }).end(body);
const s = createServer((req, res) => {
  req.on("data", () => {});
  req.on("end", () => {
    if (req.url === "/api/agent/v1/keyring") return send(res, keyring);
    if (req.url === "/api/agent/v1/release") {
      const r = releases.get(String(req.headers["x-hearth-host"]));
      return r ? send(res, r) : res.writeHead(204).end();
    }
    if (req.url === "/api/agent/v1/report" && req.method === "POST") return send(res, ok);
    res.writeHead(404).end();
  });
});
s.listen(0, "127.0.0.1", () => console.log("static server at http://127.0.0.1:" + s.address().port));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
`;

interface ProcFigures {
  cpuSeconds: number;
  /** Of which in the first interval (the rollout: every agent's first check-in). */
  cpuEarlySeconds: number;
  /** CPU seconds of every process on the machine over the run (/proc/stat), and the machine's cores. */
  machineSeconds: number;
  cores: number;
  rssStartMiB: number;
  peakRunMiB: number;
  hwmMiB: number;
  rssEndMiB: number;
}

function procStat(pid: number): { ticks: number } {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 of proc(5): utime and stime, in clock ticks (f[0] is field 3).
  return { ticks: Number(f[11]) + Number(f[12]) };
}
/** Busy clock ticks of the whole machine (all cores): /proc/stat's cpu line less idle and iowait. */
function machineTicks(): number {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  return f.slice(0, 8).reduce((a, b) => a + b, 0) - f[3]! - f[4]!;
}

function procMem(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? NaN);
  return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 };
}

async function main(): Promise<void> {
  const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  const tmp = mkdtempSync(join(tmpdir(), "hearth-agentsbench-"));
  const children = new Set<ChildProcess>();
  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    rmSync(tmp, { recursive: true, force: true });
  };
  process.once("exit", cleanup);
  for (const sig of ["SIGINT", "SIGTERM"] as const)
    process.once(sig, () => {
      cleanup();
      process.exit(130);
    });

  /** Starts a process and waits for the line naming its address. */
  const startProcess = (args: string[], env: NodeJS.ProcessEnv, stdin: "ignore" | "pipe" = "ignore") =>
    new Promise<{ child: ChildProcess; url: string }>((ok, bad) => {
      const child = spawn(process.execPath, args, { stdio: [stdin, "pipe", "pipe"], env });
      children.add(child);
      let text = "";
      const timer = setTimeout(() => bad(new Error(`no address within 120 s: ${text}`)), 120_000);
      const onData = (b: Buffer) => {
        text += b.toString();
        const m = / at (http:\/\/\S+)/.exec(text);
        if (m) {
          clearTimeout(timer);
          ok({ child, url: m[1]! });
        }
      };
      child.stdout!.on("data", onData);
      child.stderr!.on("data", (b: Buffer) => (text += b.toString()));
      child.on("exit", (code) => {
        clearTimeout(timer);
        bad(new Error(`${args.join(" ").slice(0, 80)} exited with ${code}: ${text}`));
      });
    });
  const stopProcess = (child: ChildProcess) =>
    new Promise<void>((ok) => {
      if (child.exitCode !== null || child.signalCode !== null) return ok();
      const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
      child.once("exit", () => {
        clearTimeout(t);
        ok();
      });
      child.kill("SIGTERM");
    });

  /** The load against `url` while sampling `pid`'s CPU and memory. */
  async function run(url: string, pid: number, agents: AgentSpec[], imageKeys: string[]): Promise<{ load: LoadResult; proc: ProcFigures }> {
    const gen = fork(fileURLToPath(import.meta.url), ["--loadgen"], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    children.add(gen);
    try {
      await new Promise<void>((ok, bad) => {
        gen.once("message", () => ok());
        gen.once("exit", (code) => bad(new Error(`the load generator exited with ${code} before starting`)));
      });
      let rssStart = NaN;
      let peak = 0;
      let cpu0 = NaN;
      let machine0 = NaN;
      let cpuEarly = NaN;
      let early: NodeJS.Timeout | undefined;
      let sampler: NodeJS.Timeout | undefined;
      const result = await new Promise<LoadResult>((ok, bad) => {
        const limit = setTimeout(() => bad(new Error("the load generator did not finish in time")), (SECONDS + 120) * 1000);
        gen.on("message", (m: { started?: true; result?: LoadResult; error?: string }) => {
          if (m.started) {
            // The run starts now (the generator made its keys and started its verifier).
            cpu0 = procStat(pid).ticks;
            machine0 = machineTicks();
            early = setTimeout(() => (cpuEarly = procStat(pid).ticks), EARLY_MS);
            peak = rssStart = procMem(pid).rss;
            sampler = setInterval(() => (peak = Math.max(peak, procMem(pid).rss)), 250);
            return;
          }
          clearTimeout(limit);
          if (m.result) ok(m.result);
          else bad(new Error(`load generator: ${m.error}`));
        });
        gen.once("exit", (code) => bad(new Error(`the load generator exited with ${code}`)));
        gen.send({ url, seconds: SECONDS, intervalMs: INTERVAL_MS, sockets: SOCKETS, imageKeys, agents } satisfies LoadConfig);
      });
      const cpu1 = procStat(pid).ticks;
      const machine1 = machineTicks();
      clearTimeout(early);
      clearInterval(sampler);
      const mem = procMem(pid);
      return { load: result, proc: { cpuSeconds: (cpu1 - cpu0) / CLK_TCK, cpuEarlySeconds: (cpuEarly - cpu0) / CLK_TCK, machineSeconds: (machine1 - machine0) / CLK_TCK, cores: (readFileSync("/proc/stat", "utf8").match(/^cpu\d+ /gm) ?? []).length, rssStartMiB: rssStart, peakRunMiB: Math.max(peak, mem.rss), hwmMiB: mem.hwm, rssEndMiB: mem.rss } };
    } finally {
      await stopProcess(gen);
    }
  }

  try {
    // 1. The fleet: 1,000 ephemeral hosts, an admin with an age identity, every secret generated.
    const fleet = join(tmp, "fleet");
    const home = join(tmp, "home");
    const stateDir = join(tmp, "state");
    mkdirSync(join(fleet, "hosts"), { recursive: true });
    mkdirSync(home);
    const { newAgeIdentity, loadIdentityFile, decrypt } = await import("../src/node/secrets/age.js");
    const { readEd25519Key } = await import("../src/node/secrets/openssh.js");
    const admin = await newAgeIdentity();
    const identityFile = join(tmp, "admin.identity.txt");
    writeFileSync(identityFile, admin.text, { mode: 0o600 });
    writeFileSync(join(fleet, "fleet.yaml"), `name: bench\nadmins:\n  ops:\n    sshKeys: ["${ADMIN}"]\n    ageKeys: ["${admin.recipient}"]\n`);
    const hosts = Array.from({ length: AGENTS }, (_, i) => `n${String(i + 1).padStart(4, "0")}`);
    for (const h of hosts) writeFileSync(join(fleet, "hosts", `${h}.yaml`), "ephemeral: true\n");
    const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, ".config"), XDG_STATE_HOME: join(home, ".state"), HEARTH_IDENTITY: "" };
    const compiled = existsSync(join(REPO_ROOT, "dist/cli/.built")) && statSync(join(REPO_ROOT, "dist/cli/.built")).mtimeMs >= newestMtime(join(REPO_ROOT, "src"));
    let t = Date.now();
    const gen = spawnSync(process.execPath, [join(REPO_ROOT, "bin/hearth.js"), "secrets", "generate", "-f", fleet], { encoding: "utf8", env, timeout: 30 * 60_000, maxBuffer: 64 * 1024 * 1024 });
    if (gen.status !== 0) throw new Error(`hearth secrets generate failed (${gen.status ?? gen.signal}): ${gen.stderr}`);
    const secretsMs = Date.now() - t;

    // 2. A signing key, a keyring it signed, one signed release per host; the hosts' keys as their identity drives hold them.
    t = Date.now();
    const signing = generateKey();
    const { writeRelease } = await import("../src/node/pull/signing.js");
    const issued = new Date().toISOString();
    const expires = new Date(Date.now() + 30 * 86_400_000).toISOString();
    const cacheKey = "cache.bench.example-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=";
    for (const h of hosts)
      writeRelease(fleet, signing, { host: h, issued, expires, system: fakeSystem(h, 1), substituters: ["https://cache.bench.example"], trustedPublicKeys: [cacheKey], files: {}, image: "ram-node" });
    const keyring = signKeyring({ version: 1, issued, keys: [publicKeyLine(signing)], revoked: [] }, signing);
    writeFileSync(join(fleet, RELEASES_DIR, "keyring.json.minisig"), keyring.signature);
    writeFileSync(join(fleet, RELEASES_DIR, "keyring.json"), keyring.body);
    const releasesMs = Date.now() - t;
    t = Date.now();
    const ids = await loadIdentityFile(identityFile);
    const manifest = JSON.parse(readFileSync(join(fleet, "secrets/manifest.json"), "utf8")) as { secrets: Record<string, { public?: string }> };
    const agents: AgentSpec[] = [];
    for (const h of hosts) {
      const rel = `secrets/hosts/${h}/ssh-host-key.age`;
      const text = new TextDecoder().decode(await decrypt(rel, readFileSync(join(fleet, rel)), ids));
      agents.push({ host: h, pub: manifest.secrets[`hosts/${h}/ssh-host-key`]!.public!, seed: Buffer.from(readEd25519Key(text).seed).toString("hex") });
    }
    const decryptMs = Date.now() - t;

    // 3. The rollout that lets every host fetch its release: canary 0, one batch of all hosts.
    const { composeServer } = await import("../src/server/serve.js");
    const pre = composeServer({ fleetDir: fleet, bind: "127.0.0.1", stateDir, monitor: { manual: true } });
    pre.pull.stop();
    const ro = pre.pull.startRollout(undefined, { canary: 0, batchSize: AGENTS, pauseAtFailures: 1, healthTimeoutMs: 15 * 60_000 });
    await pre.close();
    console.log(
      `agents: fleet of ${AGENTS} ephemeral hosts: \`hearth secrets generate\` ${(secretsMs / 1000).toFixed(1)} s (${compiled ? "compiled CLI" : "CLI through tsx: dist/cli is older than src"}); ${AGENTS} releases signed ${(releasesMs / 1000).toFixed(1)} s; host keys decrypted ${(decryptMs / 1000).toFixed(1)} s; rollout ${ro.id} offers all ${ro.counts.offered} hosts at once (canary 0, 1 batch of ${AGENTS})`,
    );

    // 4. hearth serve, its own process; the fleet worker's first validation done before the load.
    t = Date.now();
    // Machine-state polling is not what this measures: one poll an hour.
    const hearth = await startProcess([...SERVER_NODE_ARGS, join(REPO_ROOT, "bin/hearth.js"), "serve", fleet, "--port", "0", "--state-dir", stateDir, "--poll-interval", "3600"], env);
    await (await fetch(`${hearth.url}/api/fleet`)).arrayBuffer();
    const startMs = Date.now() - t;
    const imageKeys = [publicKeyLine(signing)];
    const h = await run(hearth.url, hearth.child.pid!, agents, imageKeys);
    const pull = (await (await fetch(`${hearth.url}/api/pull`)).json()) as { nodes: { host?: string; phase: string; version: number }[]; rollouts: { id: string; status: string; counts: Record<string, number> }[] };
    await stopProcess(hearth.child);
    const dbBytes = ["hearth.sqlite", "hearth.sqlite-wal", "hearth.sqlite-shm"].map((f) => (existsSync(join(stateDir, f)) ? statSync(join(stateDir, f)).size : 0));

    // 5. The static server: the same bytes per route, its own process, the same load.
    const bodies = { keyring: JSON.stringify(keyring), report: JSON.stringify({ ok: true }), releases: Object.fromEntries(hosts.map((host) => [host, JSON.stringify(readSigned(fleet, `${host}/1.json`))])) };
    const bodiesFile = join(tmp, "static-bodies.json");
    writeFileSync(bodiesFile, JSON.stringify(bodies));
    let s: Awaited<ReturnType<typeof run>> | undefined;
    if (STATIC) {
      const stat = await startProcess(["--input-type=module", "-e", STATIC_SERVER, bodiesFile], env, "pipe");
      s = await run(stat.url, stat.child.pid!, agents, imageKeys);
      await stopProcess(stat.child);
    }

    // 6. The figures, side by side.
    const ro1 = pull.rollouts.find((r) => r.id === ro.id);
    const healthyNodes = pull.nodes.filter((n) => n.host && n.version === 1).length;
    console.log(
      `agents: ${AGENTS} agents for ${SECONDS} s, check-in every ${((INTERVAL_MS * 0.8) / 1000).toFixed(1)}-${((INTERVAL_MS * 1.2) / 1000).toFixed(1)} s (interval ${INTERVAL_MS / 1000} s x 0.8-1.2 after each check-in, as the agent does; = ${Math.round((AGENTS * 300_000) / INTERVAL_MS).toLocaleString("en")} agents at the default 300 s), ${SOCKETS} keep-alive sockets, ${TIMEOUT_MS / 1000} s timeout; hearth serve started in ${(startMs / 1000).toFixed(1)} s`,
    );
    const rows: [string, (r: { load: LoadResult; proc: ProcFigures }) => string][] = [
      ["check-ins (per s)", (r) => `${r.load.checkIns} (${(r.load.checkIns / r.load.seconds).toFixed(0)}/s)`],
      ["requests/s", (r) => `${(r.load.requests / r.load.seconds).toFixed(0)} (${r.load.requests} in ${r.load.seconds.toFixed(1)} s)`],
      ...ROUTES.map((k) => [`${k === "report" ? "POST" : "GET"} ${k} p50/p99/max ms`, (r: { load: LoadResult }) => { const x = r.load.routes[k]; return `${x.p50.toFixed(1)} / ${x.p99.toFixed(1)} / ${x.max.toFixed(0)} (n ${x.n})`; }] as [string, (r: { load: LoadResult; proc: ProcFigures }) => string]),
      [`all, first ${(EARLY_MS / 1000).toFixed(0)} s (rollout) p99/max ms`, (r) => `${r.load.early.p99.toFixed(1)} / ${r.load.early.max.toFixed(0)} (n ${r.load.early.n})`],
      [`all, after (steady) p99/max ms`, (r) => `${r.load.late.p99.toFixed(1)} / ${r.load.late.max.toFixed(0)} (n ${r.load.late.n})`],
      ["errors", (r) => (Object.keys(r.load.errors).length ? Object.entries(r.load.errors).map(([k, v]) => `${v} ${k}`).join(", ") : "0")],
      ["releases verified+applied / keyrings", (r) => `${r.load.applied} / ${r.load.keyrings}${r.load.noRelease ? ` (${r.load.noRelease} x 204)` : ""}`],
      ["bytes/200 keyring/release/report", (r) => ROUTES.map((k) => r.load.routes[k].bytes.toFixed(0)).join(" / ")],
      ["server CPU user+sys (% one core)", (r) => `${r.proc.cpuSeconds.toFixed(1)} s (${((100 * r.proc.cpuSeconds) / r.load.seconds).toFixed(0)}%)`],
      [`server CPU first ${(EARLY_MS / 1000).toFixed(0)} s / after`, (r) => `${((100 * r.proc.cpuEarlySeconds) / (EARLY_MS / 1000)).toFixed(0)}% / ${((100 * (r.proc.cpuSeconds - r.proc.cpuEarlySeconds)) / (r.load.seconds - EARLY_MS / 1000)).toFixed(0)}% of one core`],
      ["server RSS start/peak run/end MiB", (r) => `${r.proc.rssStartMiB.toFixed(0)} / ${r.proc.peakRunMiB.toFixed(0)} / ${r.proc.rssEndMiB.toFixed(0)}`],
      ["server VmHWM (lifetime peak) MiB", (r) => r.proc.hwmMiB.toFixed(0)],
      ["load generator CPU / loop p99/max", (r) => `${r.load.cpuSeconds.toFixed(1)} s / ${r.load.loopP99.toFixed(1)} / ${r.load.loopMax.toFixed(0)} ms`],
      // What the machine's other processes took meanwhile: on a shared machine they take the server's CPU too.
      [`other processes' CPU (${h.proc.cores} cores)`, (r) => `${others(r).toFixed(1)} s (${((100 * others(r)) / r.load.seconds).toFixed(0)}% of one core)`],
    ];
    const w = Math.max(...rows.map(([k]) => k.length));
    const cw = Math.max(...rows.map(([, f]) => f(h).length), 12);
    console.log(`agents: ${"".padEnd(w)}  ${"hearth serve".padEnd(cw)}  static server (same bytes)`);
    for (const [k, f] of rows) console.log(`agents: ${k.padEnd(w)}  ${f(h).padEnd(cw)}  ${s ? f(s) : "(not run)"}`);
    console.log(
      `agents: hearth's state after the run: SQLite ${(dbBytes.reduce((a, b) => a + b, 0) / 1024).toFixed(0)} KiB (db ${(dbBytes[0]! / 1024).toFixed(0)} + wal ${(dbBytes[1]! / 1024).toFixed(0)} + shm ${(dbBytes[2]! / 1024).toFixed(0)}); ${pull.nodes.length} nodes known, ${healthyNodes} at version 1; rollout ${ro1?.status ?? "?"} (${Object.entries(ro1?.counts ?? {}).filter(([, v]) => v).map(([k, v]) => `${v} ${k}`).join(", ")})`,
    );
    const busy = [h, ...(s ? [s] : [])].filter((r) => others(r) / r.load.seconds > 0.2);
    if (busy.length) console.log(`agents: warning: other processes used ${busy.map((r) => `${((100 * others(r)) / r.load.seconds).toFixed(0)}%`).join(" and ")} of a core during the run${busy.length > 1 ? "s" : ""}: the server competed for CPU, latencies are pessimistic`);
    for (const [name, r] of [["hearth serve", h], ["static server", s]] as const) for (const e of r?.load.errorSamples ?? []) console.log(`agents: ${name} error: ${e}`);
    const problems = [
      ...(Object.keys(h.load.errors).length ? [`hearth serve: ${Object.values(h.load.errors).reduce((a, b) => a + b, 0)} errors`] : []),
      ...(s && Object.keys(s.load.errors).length ? [`static server: ${Object.values(s.load.errors).reduce((a, b) => a + b, 0)} errors (the bench itself is broken)`] : []),
      ...(h.load.applied !== AGENTS ? [`hearth serve: ${h.load.applied} of ${AGENTS} agents verified and applied their release`] : []),
      ...(healthyNodes !== AGENTS ? [`hearth serve recorded ${healthyNodes} of ${AGENTS} nodes at version 1`] : []),
    ];
    if (problems.length) {
      console.log(`agents: FAIL: ${problems.join("; ")}`);
      process.exitCode = 1;
    } else console.log(`agents: PASS: 0 errors; hearth serve p99 ${Math.max(...ROUTES.map((k) => h.load.routes[k].p99)).toFixed(1)} ms (slowest route; all routes ${h.load.early.p99.toFixed(1)} ms in the first ${(EARLY_MS / 1000).toFixed(0)} s, ${h.load.late.p99.toFixed(1)} ms after) vs static ${s ? Math.max(...ROUTES.map((k) => s!.load.routes[k].p99)).toFixed(1) : "-"} ms`);
  } finally {
    for (const c of children) await stopProcess(c);
    cleanup();
  }
}

/** CPU seconds neither the server nor the load generator used (the bench's own sampling is negligible). */
const others = (r: { load: LoadResult; proc: ProcFigures }) => Math.max(0, r.proc.machineSeconds - r.proc.cpuSeconds - r.load.cpuSeconds);

function readSigned(fleet: string, rel: string): Signed {
  const f = join(fleet, RELEASES_DIR, rel);
  return { body: readFileSync(f, "utf8"), signature: readFileSync(`${f}.minisig`, "utf8") };
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** A store path shaped like a NixOS system closure (Nix's base-32 alphabet), per host and version. */
function fakeSystem(host: string, v: number): string {
  const h = createHash("sha256").update(`${host}/${v}`).digest();
  return `/nix/store/${[...h.subarray(0, 32)].map((b) => "0123456789abcdfghijklmnpqrsvwxyz"[b % 32]).join("")}-nixos-system-${host}-${v}`;
}

// Last, so every constant above is initialised: the load generator child, or the bench.
if (process.argv.includes("--loadgen")) {
  // The parent gone: stop at once.
  process.on("disconnect", () => process.exit(2));
  process.once("message", (c: LoadConfig) => {
    loadgen(c, () => process.send!({ started: true })).then(
      (r) => process.send!({ result: r }, () => process.exit(0)),
      (e: Error) => process.send!({ error: e.stack ?? e.message }, () => process.exit(1)),
    );
  });
  process.send!({ ready: true });
} else {
  await main();
}
