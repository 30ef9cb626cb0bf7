// Lodestar 1.5.1 (ChainSafe's TypeScript Ethereum consensus client) as a real beacon node and
// validator client for tests. The kit is /work/shared/kits/lodestar-1.5.1 (package.json and
// package-lock.json pinned to Lodestar's own 1.5.1 lock file, see its README).
//
// What Lodestar 1.5.1 really does (measured with this kit, Node 20; file paths are inside the
// kit's node_modules, all packages at 1.5.1):
//
// - `lodestar dev` runs the beacon node with the minimal preset (SLOTS_PER_EPOCH 8, so 16 s epochs
//   at 2 s slots), phase0 forever (ALTAIR_FORK_EPOCH 74240), genesis 5 s after start, and deletes
//   its beacon and validator databases on every start without --genesisTime. It writes genesis.ssz
//   into the current directory.
// - In-process validators (`--startValidators 0..5`) use the validator client's `--beaconNodes`,
//   which `dev` accepts (cmds/dev/options.js spreads validatorOptions): with
//   `--rest.port P --beaconNodes http://127.0.0.1:P` they work on any port. Only without
//   --beaconNodes do they need the default 9596 (its default in cmds/validator/options.js).
// - Beacon API: /eth/v1/node/{health,syncing,version}, /eth/v1/beacon/genesis,
//   /eth/v1/beacon/headers/head, /eth/v1/beacon/states/{id}/{finality_checkpoints,fork,validators,
//   validator_balances,committees}, /eth/v2/beacon/blocks/{id}, /eth/v1/beacon/blocks/{id}/attestations,
//   /eth/v1/config/spec. NOT served: POST /eth/v1/validator/liveness/{epoch} (404); the debug
//   routes (/eth/v{1,2}/debug/beacon/states/head, 404) are off by default (default namespaces in
//   beacon-node/lib/api/rest/index.js; `--rest.namespace debug` would add them, not tried here).
//   Quirks: several ids go as repeated query parameters (`?id=6&id=7`); a comma list `?id=6,7`
//   silently answers `{"data":[]}`. Liveness is `GET /eth/v1/validator/liveness?indices=6&indices=7&epoch=E`
//   (api/lib/beacon/routes/validator.js), only for epochs current-1..current+1, and means "seen on
//   gossip or in a block", not "included". The committees route swaps its fields
//   (beacon-node/lib/api/impl/beacon/state/index.js getEpochCommittees iterates the shuffling's
//   [slot][committee] array as [committee][slot]): `index` holds the slot's offset in the epoch and
//   `slot` the committee index. attesterDuties() below undoes that. States before the finalized
//   checkpoint are not served ("No state found for id '8'", or 400 "No cached state available"
//   for genesis) and a state only knows the committees of its previous, current and next epoch,
//   so attestedIn() can judge epochs from about finalizedEpoch() - 1 on; blocks stay available.
//   Proof of inclusion (attestedIn): the validator's committee and position from the committees
//   route, then an aggregate with its bit set in a canonical block up to the end of the next epoch
//   (phase0 inclusion window), from /eth/v1/beacon/blocks/{slot}/attestations (404 = empty slot).
// - Validator client keys, both tried here and both working for unattended start:
//   `--importKeystores DIR_OR_FILE... --importKeystoresPassword FILE` (every *.json under DIR except
//   deposit_data-*.json, one password for all), or no key flags at all and the layout
//   `lodestar validator import` writes: <dataDir>/keystores/0x<pubkey>/voting-keystore.json plus the
//   password in <dataDir>/secrets/0x<pubkey> (trailing newline allowed) (cmds/validator/paths.js,
//   keymanager/persistedKeys.js; --keystoresDir/--secretsDir are hidden flags to move them).
//   Either way the client creates `<keystore>.lock` next to every keystore and refuses to start
//   (exit 1, "EEXIST: file already exists, open '...voting-keystore.json.lock'") while one exists;
//   the lock is removed on a clean exit but a SIGKILLed, OOM-killed or power-cut client leaves it
//   behind. `--force` ignores existing locks. A second client on the SAME keystore files therefore
//   fails on the lock before doppelganger protection is even reached.
// - Doppelganger (`--doppelgangerProtectionEnabled`, validator/lib/services/doppelgangerService.js):
//   keys registered in epoch <= 0 skip the check; otherwise the client signs nothing until one
//   full epoch without liveness is seen. When the keys are live elsewhere it logs (error level,
//   one multi-line entry) "Doppelganger(s) detected ... running a duplicate or overlapping
//   validator client 6, 7" then "Process shutdown requested  Doppelganger(s) detected", sends
//   itself SIGINT and EXITS WITH CODE 0, at the end of the epoch after the one it started in
//   (19 to 31 s after start at 2 s slots, measured). Tell it from a normal stop by
//   DOPPELGANGER_DETECTED (doppelgangerDetected()), not by the exit code.
// - Slashing protection (cmds/validator/slashingProtection/{index,options,export,import}.js):
//   `lodestar validator slashing-protection export|import --file F.json` plus the global
//   `--network dev` (options/globalOptions.js), `--params.SECONDS_PER_SLOT 2` (options/paramsOptions.js,
//   one hidden `--params.<NAME>` per chain config key), `--dataDir V` (options/globalOptions.js;
//   the database is V/validator-db, cmds/validator/paths.js) and `--beaconNodes URL`
//   (slashingProtection/options.js). Run it with that validator client stopped (the kit README:
//   "Database is not open" otherwise; LevelDB allows one process). It needs the genesis validators root: from the database if a
//   validator client ran there, else it asks --beaconNodes (default http://127.0.0.1:9596; without
//   a reachable node it fails with ECONNREFUSED), so always pass --beaconNodes. The export is the
//   OLD pre-final format {"metadata":{"interchange_format":"complete","interchange_format_version":"4",...}},
//   not EIP-3076 v5; import accepts both (validator/lib/slashingProtection/interchange/parseInterchange.js).
//   The export carries two extra "validators" whose pubkeys are the hex of the metadata keys
//   "GENESIS_TIME" (0x47454e455349535f54494d45) and "GENESIS_VALIDATORS_ROOT" with empty lists;
//   Lodestar's import accepts them, a strict EIP-3076 reader should keep only 98-character
//   pubkeys (interchangeWithoutGenesisEntries()).
// - Stopping: SIGTERM/SIGINT starts a graceful stop ("Stopping gracefully, use Ctrl+C again to
//   force process exit"); a second signal forces the exit. stop() sends SIGTERM, SIGTERM again
//   after 3 s and SIGKILL after 8 s.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../src/node/fleet-dir.js";

/** Where the kit's pinned package.json and package-lock.json live (override with HEARTH_LODESTAR_KIT). */
export const LODESTAR_KIT_SRC = process.env.HEARTH_LODESTAR_KIT ?? "/work/shared/kits/lodestar-1.5.1";
export const LODESTAR_VERSION = "1.5.1";

/** The directory the kit is installed into; it survives between test files of one run (and between runs). */
export const lodestarKitDir = () => join(process.env.HEARTH_CACHE_DIR ?? join(REPO_ROOT, "node_modules/.cache/hearth"), `lodestar-${LODESTAR_VERSION}`);

/** Longest `npm ci` may take (measured here: about 60 s with a warm npm cache, native addons included). */
const INSTALL_TIMEOUT_MS = 10 * 60_000;
const MARKER = ".hearth-kit-ok";

/** The kit could not be installed because the npm registry cannot be reached: a test may skip on this one. */
export class LodestarKitUnavailable extends Error {
  override name = "LodestarKitUnavailable";
}

function kitHash(): string {
  const h = createHash("sha256");
  for (const f of ["package.json", "package-lock.json"]) h.update(readFileSync(join(LODESTAR_KIT_SRC, f)));
  return h.digest("hex");
}

/** What kills each child this module started that still runs (SIGKILL), by pid. */
const live = new Map<number, () => void>();
let hooked = false;
const killLive = () => {
  for (const kill of live.values()) kill();
  live.clear();
};
/** Registers a running child; the test process kills it when it exits or is interrupted. Returns the unregister function. */
function track(pid: number | undefined, kill: () => void): () => void {
  if (pid === undefined) return () => {};
  if (!hooked) {
    hooked = true;
    process.once("exit", killLive);
    for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
      process.once(sig, () => {
        killLive();
        if (process.listenerCount(sig) === 0) process.kill(process.pid, sig); // then the default action: exit
      });
  }
  live.set(pid, kill);
  return () => live.delete(pid);
}
const sigkill = (pid: number) => () => {
  try {
    process.kill(pid, "SIGKILL");
  } catch {}
};

// Network settings an outer `npm test` passes down that the inner npm should keep; every other
// lowercase npm_* variable it exports (npm_config_allow_scripts, npm_config_prefix, npm_package_*,
// npm_lifecycle_*) describes hearth's own project and is dropped.
const NPM_KEEP = /^npm_config_(registry|@.*:registry|proxy|https_proxy|http_proxy|noproxy|no_proxy|cafile|ca|strict_ssl|cache|userconfig|globalconfig|fetch_.*)$/;
const childEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("npm_") || NPM_KEEP.test(k)) env[k] = v;
  return { ...env, npm_config_update_notifier: "false", ...extra };
};

/** Runs a command in its own process group with a hard timeout; stdout and stderr together in `out`. */
const runCapture = (cmd: string, args: string[], opts: { cwd: string; timeoutMs: number; input?: string }) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; stdout: string }>((resolve) => {
    let out = "";
    let stdout = "";
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"], detached: true, env: childEnv() });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    const untrack = track(child.pid, sigkill(-child.pid!)); // the whole group: npm runs compilers
    const add = (b: Buffer) => {
      out += b.toString();
      if (out.length > 200_000) out = out.slice(-100_000);
    };
    child.stdout!.on("data", (b: Buffer) => {
      stdout += b.toString();
      add(b);
    });
    child.stderr!.on("data", add);
    const timer = setTimeout(() => {
      out += `\n[hearth] timed out after ${opts.timeoutMs / 1000} s, killed`;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {}
    }, opts.timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      untrack();
      resolve({ code: -1, signal: null, out: `${out}\n${e.message}`, stdout });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      untrack();
      resolve({ code, signal, out, stdout });
    });
  });

// npm's messages when it cannot reach the registry at all (as opposed to a build failure).
const NO_REGISTRY = /\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|network request to .* failed|request to .* failed, reason)\b/i;

let installing: Promise<{ bin: string; dir: string }> | undefined;

/**
 * Installs Lodestar 1.5.1 once into `lodestarKitDir()` (`npm ci` of the kit's pinned package*.json
 * into a temporary sibling directory, renamed into place when complete, so a crashed or parallel
 * install never leaves a half-installed kit behind) and returns its `lodestar` binary. Needs g++,
 * make and python3 for the native addons (scripts/ensure-test-deps.sh installs them). Throws
 * LodestarKitUnavailable when the npm registry cannot be reached, an Error with npm's output
 * otherwise.
 */
export function ensureLodestarKit(): Promise<{ bin: string; dir: string }> {
  installing ??= install().catch((e) => {
    installing = undefined;
    throw e;
  });
  return installing;
}

async function install(): Promise<{ bin: string; dir: string }> {
  const dir = lodestarKitDir();
  const bin = join(dir, "node_modules/.bin/lodestar");
  if (!existsSync(join(LODESTAR_KIT_SRC, "package-lock.json")))
    throw new Error(`the Lodestar kit is missing: no ${LODESTAR_KIT_SRC}/package-lock.json (set HEARTH_LODESTAR_KIT to its directory)`);
  const hash = kitHash();
  const ready = () => existsSync(bin) && existsSync(join(dir, MARKER)) && readFileSync(join(dir, MARKER), "utf8").trim() === hash;
  if (ready()) return { bin, dir };

  const parent = join(dir, "..");
  mkdirSync(parent, { recursive: true });
  // Leftovers of installs that were killed (older than any install may take).
  for (const e of readdirSync(parent)) {
    const p = join(parent, e);
    if (e.startsWith(`.lodestar-${LODESTAR_VERSION}.tmp-`) && Date.now() - statSync(p).mtimeMs > 2 * INSTALL_TIMEOUT_MS) rmSync(p, { recursive: true, force: true });
  }
  const tmp = mkdtempSync(join(parent, `.lodestar-${LODESTAR_VERSION}.tmp-`));
  try {
    for (const f of ["package.json", "package-lock.json"]) copyFileSync(join(LODESTAR_KIT_SRC, f), join(tmp, f));
    const r = await runCapture("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error", "--fetch-retry-mintimeout=5000", "--fetch-retry-maxtimeout=15000"], { cwd: tmp, timeoutMs: INSTALL_TIMEOUT_MS });
    if (r.code !== 0 || !existsSync(join(tmp, "node_modules/.bin/lodestar"))) {
      const tail = r.out.trim().split("\n").slice(-40).join("\n");
      const unreachable = NO_REGISTRY.exec(r.out);
      if (unreachable) throw new LodestarKitUnavailable(`cannot install Lodestar ${LODESTAR_VERSION}: the npm registry is unreachable (${unreachable[1]})\n${tail}`);
      throw new Error(`npm ci of the Lodestar ${LODESTAR_VERSION} kit failed (exit ${r.code ?? r.signal}; native addons need g++, make, python3):\n${tail}`);
    }
    const v = await runCapture(join(tmp, "node_modules/.bin/lodestar"), ["--version"], { cwd: tmp, timeoutMs: 60_000 });
    if (!v.out.includes(LODESTAR_VERSION)) throw new Error(`the installed kit does not run: lodestar --version said:\n${v.out.trim().slice(-2000)}`);
    writeFileSync(join(tmp, MARKER), `${hash}\n`);
    if (existsSync(dir)) {
      if (ready()) return { bin, dir }; // another run finished first
      const stale = `${tmp}-stale`;
      renameSync(dir, stale);
      rmSync(stale, { recursive: true, force: true });
    }
    try {
      renameSync(tmp, dir);
    } catch (e) {
      if (!ready()) throw e;
    }
    return { bin, dir };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A sleep that does not keep the test process alive (for races against an exit). */
const sleepUnref = (ms: number) => new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref());
const kitBin = () => join(lodestarKitDir(), "node_modules/.bin/lodestar");

// ---------------------------------------------------------------------------------------------
// Keystores

export type InteropKeystore = { index: number; pubkey: string; file: string };

/** Iterations of the PBKDF2 key derivation in test keystores (EIP-2335 sets no minimum; the library default 262144 only slows tests). */
const TEST_PBKDF2_C = 4096;

// Runs inside the kit directory (node -e resolves bare imports from the working directory), so the
// kit's own interop key function and keystore library are used. Parameters arrive on stdin.
const KEYSTORE_SCRIPT = `
import { interopSecretKey } from "@lodestar/state-transition";
import { Keystore } from "@chainsafe/bls-keystore";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
let input = "";
for await (const c of process.stdin) input += c;
const { indices, dir, password, c } = JSON.parse(input);
const out = [];
for (const index of indices) {
  const sk = interopSecretKey(index);
  const kdf = { function: "pbkdf2", params: { dklen: 32, c, prf: "hmac-sha256", salt: randomBytes(32).toString("hex") } };
  const ks = await Keystore.create(password, sk.toBytes(), sk.toPublicKey().toBytes(), "", null, kdf);
  const file = join(dir, "keystore-" + index + ".json");
  writeFileSync(file, ks.stringify(), { mode: 0o600 });
  out.push({ index, pubkey: "0x" + ks.pubkey, file });
}
process.stdout.write(JSON.stringify(out));
`;

/**
 * EIP-2335 keystores (version 4, PBKDF2-SHA256 with a low iteration count for speed) of the
 * deterministic interop secret keys: index i is the dev chain's genesis validator i. Written as
 * `<dir>/keystore-<index>.json` by the kit's own @lodestar/state-transition interopSecretKey and
 * @chainsafe/bls-keystore. Installs the kit if needed.
 */
export async function interopKeystores(opts: { indices: number[]; dir: string; password: string }): Promise<InteropKeystore[]> {
  const { dir: kit } = await ensureLodestarKit();
  mkdirSync(opts.dir, { recursive: true });
  const r = await runCapture(process.execPath, ["--input-type=module", "-e", KEYSTORE_SCRIPT], {
    cwd: kit,
    timeoutMs: 60_000 + 2_000 * opts.indices.length,
    input: JSON.stringify({ indices: opts.indices, dir: opts.dir, password: opts.password, c: TEST_PBKDF2_C }),
  });
  if (r.code !== 0) throw new Error(`making interop keystores failed (exit ${r.code ?? r.signal}):\n${r.out.slice(-3000)}`);
  return JSON.parse(r.stdout) as InteropKeystore[];
}

/**
 * Lays keystores out the way `lodestar validator import` does, which `lodestar validator` loads
 * when started without key flags: <dataDir>/keystores/0x<pubkey>/voting-keystore.json and the
 * password in <dataDir>/secrets/0x<pubkey>.
 */
export function writePersistedKeystores(dataDir: string, keystores: InteropKeystore[], password: string): void {
  for (const k of keystores) {
    const d = join(dataDir, "keystores", k.pubkey);
    mkdirSync(d, { recursive: true });
    mkdirSync(join(dataDir, "secrets"), { recursive: true });
    copyFileSync(k.file, join(d, "voting-keystore.json"));
    writeFileSync(join(dataDir, "secrets", k.pubkey), `${password}\n`, { mode: 0o600 });
  }
}

/** The `.lock` files a validator client left next to keystores under `dir` (a killed client leaves them; they block the next start). */
export function keystoreLocks(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith(".json.lock")) out.push(join(d, e.name));
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Processes

export type Exit = { code: number | null; signal: NodeJS.Signals | null };

export interface LodestarProcess {
  readonly name: string;
  readonly pid: number;
  /** The last log lines (stdout and stderr, colours removed), oldest first. */
  lines(): string[];
  /** The last `n` (default 60) log lines as one string (for failure messages). */
  tail(n?: number): string;
  /** The first line (buffered or future) matching `re`; rejects on timeout or if the process exits first. */
  waitFor(re: RegExp, timeoutMs: number): Promise<string>;
  /** SIGTERM, SIGTERM again after 3 s, SIGKILL after 8 s; resolves with the exit. */
  stop(): Promise<Exit>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<Exit>;
  /** The exit once it happened. */
  exit(): Exit | undefined;
}

const RING = 4000;
const running = new Set<LodestarProcess>();

/**
 * Starts `lodestar <args>` (the kit's binary; call ensureLodestarKit() first) in `cwd`, capturing
 * its output into a ring buffer and `<cwd>/<name>.log`. It stays in the test's process group (a
 * Ctrl-C reaches it too; Lodestar uses worker threads, no child processes) and is SIGKILLed when
 * the test process exits or is interrupted.
 */
export function startLodestar(args: string[], opts: { cwd: string; name: string; env?: Record<string, string>; bin?: string }): LodestarProcess {
  const bin = opts.bin ?? kitBin();
  if (!existsSync(bin)) throw new Error(`${bin} is missing: await ensureLodestarKit() before starting Lodestar`);
  mkdirSync(opts.cwd, { recursive: true });
  const logFile = join(opts.cwd, `${opts.name}.log`);
  writeFileSync(logFile, `$ lodestar ${args.join(" ")}\n`);
  const child = spawn(bin, args, { cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"], env: childEnv({ NODE_OPTIONS: "", ...opts.env }) });
  const ring: string[] = [];
  const waiters = new Set<(line: string) => void>();
  let exit: Exit | undefined;
  const partial = { out: "", err: "" };
  const onLine = (line: string) => {
    ring.push(line);
    if (ring.length > RING) ring.shift();
    for (const w of waiters) w(line);
  };
  const feed = (key: "out" | "err") => (b: Buffer) => {
    const text = b.toString();
    appendFileSync(logFile, text);
    const parts = (partial[key] + text).split("\n");
    partial[key] = parts.pop()!;
    for (const l of parts) onLine(l.replace(/\x1b\[[0-9;]*m/g, "").replace(/\r$/, ""));
  };
  child.stdout!.on("data", feed("out"));
  child.stderr!.on("data", feed("err"));
  const exited = new Promise<Exit>((resolve) => {
    child.on("error", (e) => {
      onLine(`[hearth] spawn failed: ${e.message}`);
      exit ??= { code: -1, signal: null };
      resolve(exit);
    });
    child.on("close", (code, signal) => {
      for (const k of ["out", "err"] as const) if (partial[k]) onLine(partial[k].replace(/\x1b\[[0-9;]*m/g, ""));
      exit = { code, signal };
      resolve(exit);
    });
  });
  const tail = (n = 60) => ring.slice(-n).join("\n");
  let stopping: Promise<Exit> | undefined;
  const proc: LodestarProcess = {
    name: opts.name,
    pid: child.pid ?? 0,
    lines: () => ring.slice(),
    tail,
    exited,
    exit: () => exit,
    waitFor(pattern: RegExp, timeoutMs: number): Promise<string> {
      const re = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, "")); // test() of a /g regex is stateful
      const hit = ring.find((l) => re.test(l));
      if (hit !== undefined) return Promise.resolve(hit);
      return new Promise<string>((resolve, reject) => {
        const done = () => {
          waiters.delete(w);
          clearTimeout(timer);
        };
        const w = (line: string) => {
          if (re.test(line)) {
            done();
            resolve(line);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${opts.name}: no log line matching ${re} within ${timeoutMs / 1000} s; last lines:\n${tail(40)}`));
        }, timeoutMs);
        waiters.add(w);
        void exited.then((x) => {
          if (!waiters.has(w)) return;
          done();
          reject(new Error(`${opts.name} exited (${x.code ?? x.signal}) before logging ${re}; last lines:\n${tail(40)}`));
        });
      });
    },
    stop(): Promise<Exit> {
      stopping ??= (async () => {
        const signal = (s: NodeJS.Signals) => {
          if (exit || proc.pid <= 0) return; // never signal pid -1 (every process) after a failed spawn
          try {
            process.kill(proc.pid, s);
          } catch {}
        };
        signal("SIGTERM");
        const t0 = Date.now();
        const race = (ms: number) => Promise.race([exited, sleepUnref(Math.max(0, ms - (Date.now() - t0)))]);
        await race(3_000);
        signal("SIGTERM"); // the first one sometimes only starts a graceful stop that never ends
        await race(8_000);
        signal("SIGKILL");
        return exited;
      })().finally(() => running.delete(proc));
      return stopping;
    },
  };
  running.add(proc);
  const untrack = track(child.pid, sigkill(proc.pid));
  void exited.then(() => {
    untrack();
    running.delete(proc);
  });
  return proc;
}

/** Stops every Lodestar process this test file started (for `after()` hooks; also runs on failures). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}

// ---------------------------------------------------------------------------------------------
// Beacon API

const FETCH_TIMEOUT_MS = 5_000;

async function api<T>(url: string, path: string, init?: { method?: string; body?: unknown }): Promise<{ status: number; body: T | undefined; text: string }> {
  const res = await fetch(url + path, {
    method: init?.method ?? "GET",
    headers: init?.body !== undefined ? { "content-type": "application/json" } : undefined,
    body: init?.body !== undefined ? JSON.stringify(init.body) : undefined,
    signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
  });
  const text = await res.text();
  let body: T | undefined;
  try {
    body = JSON.parse(text) as T;
  } catch {}
  return { status: res.status, body, text };
}

async function apiOk<T>(url: string, path: string, init?: { method?: string; body?: unknown }): Promise<T> {
  const r = await api<T>(url, path, init);
  if (r.status !== 200 || r.body === undefined) throw new Error(`${init?.method ?? "GET"} ${path} answered ${r.status}: ${r.text.slice(0, 300)}`);
  return r.body;
}

/** `?k=v1&k=v2` (Lodestar 1.5.1 ignores comma lists). */
const repeated = (key: string, values: (string | number)[]) => values.map((v) => `${key}=${encodeURIComponent(String(v))}`).join("&");

const specs = new Map<string, Promise<{ slotsPerEpoch: number; secondsPerSlot: number }>>();
/** SLOTS_PER_EPOCH and SECONDS_PER_SLOT of the chain at `url` (cached). */
export function chainSpec(url: string): Promise<{ slotsPerEpoch: number; secondsPerSlot: number }> {
  let s = specs.get(url);
  if (!s) {
    s = apiOk<{ data: Record<string, string> }>(url, "/eth/v1/config/spec").then((r) => ({ slotsPerEpoch: Number(r.data.SLOTS_PER_EPOCH), secondsPerSlot: Number(r.data.SECONDS_PER_SLOT) }));
    s.catch(() => specs.delete(url));
    specs.set(url, s);
  }
  return s;
}

/** HTTP status of /eth/v1/node/health (200 also while the chain is stalled, see the kit README), or 0 if it does not answer. */
export async function health(url: string): Promise<number> {
  try {
    return (await fetch(`${url}/eth/v1/node/health`, { signal: AbortSignal.timeout(2_000) })).status;
  } catch {
    return 0;
  }
}

export async function headSlot(url: string): Promise<number> {
  const r = await apiOk<{ data: { header: { message: { slot: string } } } }>(url, "/eth/v1/beacon/headers/head");
  return Number(r.data.header.message.slot);
}

export async function finalizedEpoch(url: string): Promise<number> {
  const r = await apiOk<{ data: { finalized: { epoch: string } } }>(url, "/eth/v1/beacon/states/head/finality_checkpoints");
  return Number(r.data.finalized.epoch);
}

export async function genesisTime(url: string): Promise<number> {
  const r = await apiOk<{ data: { genesis_time: string } }>(url, "/eth/v1/beacon/genesis");
  return Number(r.data.genesis_time);
}

/** Validator index by 0x-prefixed pubkey (lower case), for the pubkeys the head state knows. */
export async function validatorIndices(url: string, pubkeys: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (pubkeys.length === 0) return out;
  const r = await apiOk<{ data: { index: string; validator: { pubkey: string } }[] }>(url, `/eth/v1/beacon/states/head/validators?${repeated("id", pubkeys)}`);
  for (const v of r.data) out.set(v.validator.pubkey.toLowerCase(), Number(v.index));
  return out;
}

/**
 * Whether the node saw each validator live (an attestation or block on gossip or in a block) in
 * `epoch`: a hint, not proof of inclusion. Standard POST /eth/v1/validator/liveness/{epoch}, else
 * Lodestar 1.5.1's GET form; the node only answers for epochs current-1..current+1.
 */
export async function liveness(url: string, indices: number[], epoch: number): Promise<Map<number, boolean>> {
  type Live = { data: { index: string | number; is_live: boolean }[] };
  let r = await api<Live>(url, `/eth/v1/validator/liveness/${epoch}`, { method: "POST", body: indices.map(String) });
  if (r.status === 404 || r.status === 405) r = await api<Live>(url, `/eth/v1/validator/liveness?${repeated("indices", indices)}&epoch=${epoch}`);
  if (r.status !== 200 || !r.body) throw new Error(`liveness for epoch ${epoch} answered ${r.status}: ${r.text.slice(0, 300)}`);
  return new Map(r.body.data.map((d) => [Number(d.index), d.is_live]));
}

export type AttesterDuty = { index: number; slot: number; committeeIndex: number; position: number; committeeLength: number };

/**
 * Where each validator attests in `epoch`: slot, committee and its position in the committee,
 * from /eth/v1/beacon/states/{id}/committees. A state answers for its previous, current and next
 * epoch only, and Lodestar 1.5.1 serves no state before the finalized checkpoint ("No state found
 * for id"), so this works from about finalizedEpoch() - 1 on (the last 3 to 4 epochs of a healthy
 * dev chain); older epochs throw. Handles Lodestar 1.5.1's swapped `index`/`slot` fields.
 */
export async function attesterDuties(url: string, indices: number[], epoch: number): Promise<Map<number, AttesterDuty>> {
  const { slotsPerEpoch } = await chainSpec(url);
  const headEpoch = Math.floor((await headSlot(url)) / slotsPerEpoch);
  type Committees = { data: { index: string; slot: string; validators: string[] }[] };
  let r: Committees | undefined;
  const errors: string[] = [];
  // The head state, else a state of the next epoch (the one asked is its previous), else of the epoch itself.
  const stateIds = Math.abs(headEpoch - epoch) <= 1 ? ["head"] : [String((epoch + 1) * slotsPerEpoch), String(epoch * slotsPerEpoch)];
  for (const id of stateIds) {
    try {
      r = await apiOk<Committees>(url, `/eth/v1/beacon/states/${id}/committees?epoch=${epoch}`);
      break;
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  if (!r) throw new Error(`the committees of epoch ${epoch} are no longer available (head epoch ${headEpoch}; Lodestar 1.5.1 keeps no state before the finalized checkpoint):\n${errors.join("\n")}`);
  const start = epoch * slotsPerEpoch;
  const entries = r.data.map((c) => ({ index: Number(c.index), slot: Number(c.slot), validators: c.validators.map(Number) }));
  const standard = entries.every((c) => c.slot >= start && c.slot < start + slotsPerEpoch);
  const distinct = (k: "index" | "slot") => new Set(entries.map((c) => c[k])).size;
  // Epoch 0 fits both readings: in the standard one every slot of the epoch has a committee.
  const swapped = !standard || (epoch === 0 && distinct("slot") < slotsPerEpoch && distinct("index") === slotsPerEpoch);
  const want = new Set(indices);
  const out = new Map<number, AttesterDuty>();
  for (const c of entries) {
    const slot = swapped ? start + c.index : c.slot;
    const committeeIndex = swapped ? c.slot : c.index;
    c.validators.forEach((v, position) => {
      if (want.has(v)) out.set(v, { index: v, slot, committeeIndex, position, committeeLength: c.validators.length });
    });
  }
  return out;
}

type BlockAttestation = { aggregation_bits: string; data: { slot: string; index: string; target: { epoch: string } } };

/** Attestations in the canonical block at `slot`, or null when the slot has no block. */
async function blockAttestations(url: string, slot: number): Promise<BlockAttestation[] | null> {
  const r = await api<{ data: BlockAttestation[] }>(url, `/eth/v1/beacon/blocks/${slot}/attestations`);
  if (r.status === 404) return null;
  if (r.status !== 200 || !r.body) throw new Error(`attestations of block ${slot} answered ${r.status}: ${r.text.slice(0, 300)}`);
  return r.body.data;
}

/** Bit `i` of an SSZ bitlist in hex (little-endian bits; the highest set bit marks the length). */
function bitSet(hex: string, i: number): boolean {
  const bytes = Buffer.from(hex.replace(/^0x/, ""), "hex");
  return ((bytes[i >> 3] ?? 0) >> (i & 7)) % 2 === 1;
}

/**
 * Whether the canonical chain includes an attestation by validator `index` for `epoch`: finds its
 * committee and position, then scans the blocks that may include it (its slot + 1 up to the end
 * of the next epoch, or the head) for an aggregate with its bit set.
 */
export async function attestedIn(url: string, index: number, epoch: number, cache = new Map<number, BlockAttestation[] | null>()): Promise<boolean> {
  const { slotsPerEpoch } = await chainSpec(url);
  const duty = (await attesterDuties(url, [index], epoch)).get(index);
  if (!duty) return false;
  const head = await headSlot(url);
  const last = Math.min(head, (epoch + 2) * slotsPerEpoch - 1);
  for (let s = duty.slot + 1; s <= last; s++) {
    let atts = cache.get(s);
    if (atts === undefined) {
      atts = await blockAttestations(url, s);
      if (s < head) cache.set(s, atts); // the head's slot may still get its block
    }
    for (const a of atts ?? [])
      if (Number(a.data.slot) === duty.slot && Number(a.data.index) === duty.committeeIndex && bitSet(a.aggregation_bits, duty.position)) return true;
  }
  return false;
}

/**
 * Waits until every validator in `indices` has an attestation included for some epoch after
 * `afterEpoch` (default -1: any); resolves with the first such epoch per index. Polls once per
 * slot; rejects after `timeoutMs` naming the validators still missing.
 */
export async function waitForAttestation(url: string, indices: number[], opts: { afterEpoch?: number; timeoutMs: number }): Promise<Map<number, number>> {
  const deadline = Date.now() + opts.timeoutMs;
  const { slotsPerEpoch, secondsPerSlot } = await chainSpec(url);
  const found = new Map<number, number>();
  const cache = new Map<number, BlockAttestation[] | null>();
  const checked = new Map<number, number>(); // index → last epoch whose inclusion window has closed without it
  const from = (opts.afterEpoch ?? -1) + 1;
  let lastError = "";
  while (Date.now() < deadline) {
    try {
      const head = await headSlot(url);
      const headEpoch = Math.floor(head / slotsPerEpoch);
      for (const i of indices) {
        if (found.has(i)) continue;
        for (let e = Math.max(from, (checked.get(i) ?? from - 1) + 1); e <= headEpoch; e++) {
          let yes: boolean;
          try {
            yes = await attestedIn(url, i, e, cache);
          } catch (err) {
            if (!/no longer available/.test((err as Error).message)) throw err;
            lastError = (err as Error).message.split("\n")[0]!; // an epoch before the finalized checkpoint: cannot tell
            checked.set(i, e);
            continue;
          }
          if (yes) {
            found.set(i, e);
            break;
          }
          if (head >= (e + 2) * slotsPerEpoch - 1) checked.set(i, e); // window closed: never look again
        }
      }
      if (found.size === indices.length) return found;
    } catch (e) {
      lastError = (e as Error).message;
    }
    await sleep(Math.min(secondsPerSlot * 1000, Math.max(0, deadline - Date.now())));
  }
  const missing = indices.filter((i) => !found.has(i));
  throw new Error(`no included attestation after epoch ${from - 1} within ${opts.timeoutMs / 1000} s for validator(s) ${missing.join(", ")}${lastError ? ` (last error: ${lastError})` : ""}`);
}

// ---------------------------------------------------------------------------------------------
// Dev chain and validator clients

export type DevChain = { url: string; process: LodestarProcess; genesisTime: number; slotSeconds: number };

/**
 * `lodestar dev` on 127.0.0.1: `genesisValidators` interop validators at genesis (5 s after
 * start), `inProcessValidators` (e.g. "0..5") signing inside the beacon node, REST API on
 * `restPort` (the in-process validators reach it through --beaconNodes, so 9596 is not needed),
 * libp2p on `p2pPort` (TCP and UDP). Data and genesis.ssz go to `dir`. Resolves once
 * /eth/v1/node/health answers 200.
 */
export async function startDevChain(opts: { dir: string; genesisValidators: number; inProcessValidators: string; restPort: number; p2pPort: number; slotSeconds?: number }): Promise<DevChain> {
  await ensureLodestarKit();
  const slotSeconds = opts.slotSeconds ?? 2;
  const url = `http://127.0.0.1:${opts.restPort}`;
  // Something already answering there (another run's chain) would pass the health check below.
  if ((await health(url)) !== 0) throw new Error(`${url} already answers: port ${opts.restPort} is in use (another dev chain?)`);
  mkdirSync(opts.dir, { recursive: true });
  const args = [
    "dev",
    "--dataDir", join(opts.dir, "data"),
    "--genesisValidators", String(opts.genesisValidators),
    "--params.SECONDS_PER_SLOT", String(slotSeconds),
    "--rest.address", "127.0.0.1",
    "--rest.port", String(opts.restPort),
    "--listenAddress", "127.0.0.1",
    "--port", String(opts.p2pPort),
  ];
  if (opts.inProcessValidators) args.push("--startValidators", opts.inProcessValidators, "--beaconNodes", url);
  const proc = startLodestar(args, { cwd: opts.dir, name: "beacon" });
  const deadline = Date.now() + 60_000;
  while ((await health(url)) !== 200) {
    if (proc.exit()) throw new Error(`lodestar dev exited (${proc.exit()!.code ?? proc.exit()!.signal}) before its API answered:\n${proc.tail(40)}`);
    if (Date.now() > deadline) throw new Error(`lodestar dev: ${url}/eth/v1/node/health did not answer 200 within 60 s:\n${proc.tail(40)}`);
    await sleep(250);
  }
  return { url, process: proc, genesisTime: await genesisTime(url), slotSeconds };
}

/**
 * `lodestar validator` for the dev chain at `beaconUrl`, data in `dataDir` (validator-db, and
 * keystores/ + secrets/ when started without `keystores`). With `keystores` + `passwordFile` it
 * uses --importKeystores/--importKeystoresPassword.
 */
export function startValidatorClient(opts: {
  name: string;
  dataDir: string;
  beaconUrl: string;
  slotSeconds?: number;
  keystores?: string[];
  passwordFile?: string;
  doppelganger?: boolean;
  extraArgs?: string[];
}): LodestarProcess {
  const args = ["validator", "--network", "dev", "--params.SECONDS_PER_SLOT", String(opts.slotSeconds ?? 2), "--dataDir", opts.dataDir, "--beaconNodes", opts.beaconUrl];
  if (opts.keystores) {
    if (!opts.passwordFile) throw new Error("keystores need a passwordFile (without it Lodestar prompts on the terminal)");
    args.push("--importKeystores", ...opts.keystores, "--importKeystoresPassword", opts.passwordFile);
  }
  if (opts.doppelganger) args.push("--doppelgangerProtectionEnabled");
  args.push(...(opts.extraArgs ?? []));
  return startLodestar(args, { cwd: opts.dataDir, name: opts.name });
}

/** The validator client's log once its keys are loaded, with either key source: "info: 2 local keystores" (count in group 1). */
export const KEYS_LOADED = /info: (\d+) local keystores\s*$/;
/** A validator client published attestations (its own log). */
export const PUBLISHED_ATTESTATIONS = /Published attestations slot=(\d+)/;
/** Lodestar 1.5.1's doppelganger detection (error level, one entry over several lines; the last one names the indices). */
export const DOPPELGANGER_DETECTED = /Doppelganger\(s\) detected/;
const DOPPELGANGER_INDICES = /overlapping validator client ([\d, ]+)\s*$/;

/**
 * Waits up to `timeoutMs` for `proc` (a validator client with --doppelgangerProtectionEnabled) to
 * detect a doppelganger and exit; resolves with the validator indices it named, whether it had
 * published any attestation, and its exit (code 0 in 1.5.1, after a self-sent SIGINT).
 * Rejects if it exits or the time runs out without detecting one.
 */
export async function doppelgangerDetected(proc: LodestarProcess, timeoutMs: number): Promise<{ indices: number[]; publishedAttestations: boolean; exit: Exit }> {
  await proc.waitFor(DOPPELGANGER_DETECTED, timeoutMs);
  const indicesLine = await proc.waitFor(DOPPELGANGER_INDICES, 2_000).catch(() => "");
  const indices = (DOPPELGANGER_INDICES.exec(indicesLine)?.[1] ?? "").split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  const exit = await Promise.race([proc.exited, sleepUnref(15_000)]);
  if (!exit) throw new Error(`${proc.name} detected a doppelganger but did not exit within 15 s:\n${proc.tail(30)}`);
  return { indices, publishedAttestations: proc.lines().some((l) => PUBLISHED_ATTESTATIONS.test(l)), exit };
}

// ---------------------------------------------------------------------------------------------
// Slashing protection (EIP-3076 interchange)

/**
 * `lodestar validator slashing-protection export|import --network dev --params.SECONDS_PER_SLOT s
 * --dataDir D --beaconNodes URL --file F` (flags and their source files: see the top of this
 * file). The validator client on `dataDir` must be stopped. Resolves with the output; rejects on
 * a non-zero exit.
 */
export async function slashingProtection(cmd: "export" | "import", opts: { dataDir: string; file: string; beaconUrl: string; slotSeconds?: number }): Promise<string> {
  const { bin } = await ensureLodestarKit();
  const args = ["validator", "slashing-protection", cmd, "--network", "dev", "--params.SECONDS_PER_SLOT", String(opts.slotSeconds ?? 2), "--dataDir", opts.dataDir, "--beaconNodes", opts.beaconUrl, "--file", opts.file];
  const r = await runCapture(bin, args, { cwd: opts.dataDir, timeoutMs: 60_000 });
  const out = r.out.replace(/\x1b\[[0-9;]*m/g, "");
  if (r.code !== 0) throw new Error(`lodestar ${args.join(" ")} failed (exit ${r.code ?? r.signal}):\n${out.slice(-3000)}`);
  return out;
}

/** An interchange without Lodestar's GENESIS_TIME / GENESIS_VALIDATORS_ROOT pseudo-entries (pubkeys that are not 48 bytes). */
export function interchangeWithoutGenesisEntries<T extends { data: { pubkey: string }[] }>(interchange: T): T {
  return { ...interchange, data: interchange.data.filter((d) => /^0x[0-9a-fA-F]{96}$/.test(d.pubkey)) };
}
