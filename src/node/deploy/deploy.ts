// The deploy executor: runs one host's plan over SSH (core/deploy/deploy.ts says what), and
// many hosts in dependency waves with a concurrency limit, one failure not stopping the
// independent ones. Every step is reported as an event (printed, or JSON lines for the server).
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import {
  activateScript,
  buildArgv,
  confirmScript,
  currentGenerationScript,
  deployOrder,
  afterRebootScript,
  batchVerdict,
  planDeployBatches,
  bootOnceScript,
  bootPreviousScript,
  generationOf,
  installArgv,
  keepBootedScript,
  needsRebootScript,
  kexecScript,
  kexecFailedScript,
  KEXEC_FILES,
  rollbackScript,
  unpackKexecScript,
  type DeployEvent,
  type DeployKind,
  type DeployOptions,
} from "../../core/deploy/deploy.js";
import { describeHealth, healthScript, parseHealth, type HealthReport } from "../../core/deploy/health.js";
import type { HealthCheck } from "../../core/services/types.js";
import { explainSsh, SshSession, type SshTarget } from "./ssh.js";
import { wipeBootstrapDir, type BootstrapDir } from "../secrets/bootstrap-dir.js";
import { checkFacts, type Facts } from "../../core/deploy/facts.js";
import type { Host } from "../../core/schema/fleet.js";
import { gatherFacts } from "./target.js";
import { unlockOverInitrd } from "./unlock.js";
import { UserError } from "../errors.js";
import type { RolloutPolicy } from "../../core/pull/rollout.js";

export type { DeployEvent };

export interface HostResult {
  host: string;
  kind: DeployKind | "?";
  outcome: "deployed" | "rolled back" | "failed" | "skipped";
  detail: string;
  seconds: number;
  /** An update: the generation the host ran before (what "roll back" returns to) and the system it got. */
  previousGeneration?: number;
  system?: string;
}

export interface HostJob {
  name: string;
  host: Host;
  kind: DeployKind;
  target: SshTarget;
  /** Deploy this store path instead of building (built elsewhere, or by a test). */
  systemPath?: string;
  dependsOn: string[];
  /** Checked after an update, with systemd's state (core/deploy/health.ts). */
  checks: HealthCheck[];
  /**
   * Remote unlock, for a host that stops in its initrd after a reboot (install, new kernel):
   * while waiting, hearth types the passphrase into the initrd's SSH prompt (pinned initrd key).
   */
  unlock?: { target: SshTarget; passphrase: () => Promise<Buffer> };
  /** Install: decrypts the host's keys into a tmpfs directory (wiped after nixos-anywhere). */
  bootstrap?: () => Promise<BootstrapDir>;
  /** The host's name typed back (--confirm-existing): installing may format disks of a host with mount-only filesystems. */
  confirmExisting?: string;
}

export interface RunOptions extends DeployOptions {
  /** Seconds to wait for a host to answer (after kexec, after activation). */
  waitTimeout: number;
  /** Seconds the health check may take to see a settled system. */
  healthTimeout: number;
  concurrency: number;
  /** A new kernel does not reboot the host; it takes effect at the next reboot. */
  noReboot?: boolean;
  /** Named phases to run (default all); later phases are skipped when absent. */
  phases?: Set<string>;
  emit(e: DeployEvent): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class StepFailed extends Error {}

function runLocal(argv: string[], opts: { env?: NodeJS.ProcessEnv; stdoutTo?: NodeJS.WritableStream } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], env: opts.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.on("error", (e) => err.push(Buffer.from(String(e))));
    child.on("close", (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
}

/** ssh options for nix copy's NIX_SSHOPTS, which Nix splits on spaces (no shell quoting). */
const sshOpts = (s: SshSession) => {
  const a = s.argv("true");
  const opts = a.slice(1, a.indexOf(`${s.target.user}@${s.target.address}`)).filter((x) => x !== "-T" && x !== "-tt" && x !== "-p" && x !== String(s.target.port));
  if (opts.some((x) => /\s/.test(x))) throw new StepFailed("copy: an ssh option contains a space (a key or temp path?), which NIX_SSHOPTS cannot carry");
  return [...opts, "-p", String(s.target.port)].join(" ");
};

export async function deployHost(job: HostJob, o: RunOptions): Promise<HostResult> {
  const started = Date.now();
  const emit = (phase: string, status: DeployEvent["status"], message: string, progress?: DeployEvent["progress"]) =>
    o.emit({ host: job.name, phase, status, message, at: new Date().toISOString(), ...(progress ? { progress } : {}) });
  const known: { previousGeneration?: number; system?: string } = {};
  const done = (outcome: HostResult["outcome"], detail: string): HostResult => ({ host: job.name, kind: job.kind, outcome, detail, seconds: (Date.now() - started) / 1000, ...known });
  // A machine that kexecs keeps no shared connection open across the switch of kernels.
  const ssh = new SshSession(job.target, job.kind !== "kexec");
  const remote = async (phase: string, script: string, timeoutMs = 120_000) => {
    const r = await ssh.run(script, { timeoutMs });
    if (r.code !== 0) throw new StepFailed(`${phase}: ${explainSsh(r, job.target)}`);
    return r.stdout;
  };
  try {
    // Facts first, read-only, before anything changes. An install target still runs something
    // else (a rescue system) whose key is not the host's: nixos-anywhere does not pin it either.
    const factsSsh = job.kind === "install" ? new SshSession({ ...job.target, acceptFirstKey: true }, false) : ssh;
    let facts: Facts;
    try {
      facts = await gatherFacts(factsSsh);
    } catch (e) {
      throw new StepFailed(`facts: ${(e as Error).message}`);
    } finally {
      if (factsSsh !== ssh) factsSsh.close();
    }
    emit("facts", "ok", `${facts.arch}, ${Math.floor(facts.memKiB / 1024)} MiB RAM, ${facts.nixos ? "NixOS" : "not NixOS"}${facts.uid === 0 ? "" : facts.sudo ? ", sudo" : ", no sudo"}${facts.kexec ? ", kexec" : ""}`);
    const checkOpts = { user: job.target.user, builtFromFleet: !job.systemPath, ...(job.confirmExisting ? { confirmExisting: job.confirmExisting } : {}) };
    const problems = checkFacts(job.name, job.host, job.kind, facts, checkOpts);
    if (problems.length) throw new StepFailed(`facts: ${problems.join("; ")}`);
    // nixos-anywhere builds the system itself.
    if (job.kind === "install") return await install(job, o, emit, done);
    // build
    let path = job.systemPath;
    if (!path) {
      emit("build", "start", buildArgv(job.name, job.kind, o).join(" "));
      const b = await runLocal(buildArgv(job.name, job.kind, o));
      if (b.code !== 0) throw new StepFailed(`build: ${b.stderr.trim().split("\n").slice(-2).join(" / ")}`);
      path = (JSON.parse(b.stdout) as { outputs: { out: string } }[])[0]!.outputs.out;
    }
    emit("build", "ok", path);
    if (o.phases && !o.phases.has("copy")) return done("deployed", `built ${path}; stopped before copying (--phases)`);

    if (job.kind === "kexec") {
      const total = KEXEC_FILES.reduce((n, f) => n + treeSize(path!, f), 0);
      const ram = checkFacts(job.name, job.host, job.kind, facts, { ...checkOpts, kexecBytes: total });
      if (ram.length) throw new StepFailed(`facts: ${ram.join("; ")}`);
      const bootId = (await remote("facts", "cat /proc/sys/kernel/random/boot_id")).trim();
      emit("copy", "start", `kexec tree → ${job.target.address}`);
      // tar -h: the tree is a farm of links into the store; the target gets the files.
      const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
        const tar = spawn("tar", ["-c", "-h", "-C", path!, ...KEXEC_FILES], { stdio: ["ignore", "pipe", "pipe"] });
        const argv = ssh.argv(unpackKexecScript);
        const s = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "ignore", "pipe"] });
        let sent = 0;
        let shown = 0;
        tar.stdout.on("data", (d: Buffer) => {
          sent += d.length;
          if (Date.now() - shown > 500) {
            shown = Date.now();
            emit("copy", "info", `${sent} bytes sent`, { done: sent, total });
          }
        });
        tar.stdout.pipe(s.stdin);
        const err: Buffer[] = [];
        s.stderr.on("data", (d: Buffer) => err.push(d));
        s.on("close", (code) => resolve({ code: code ?? 1, stderr: Buffer.concat(err).toString() }));
      });
      if (r.code !== 0) throw new StepFailed(`copy: ${explainSsh({ code: r.code, stdout: "", stderr: r.stderr }, job.target)}`);
      emit("copy", "ok", "copied");
      if (o.phases && !o.phases.has("kexec")) return done("deployed", "copied the kexec tree; stopped before kexec (--phases)");
      emit("kexec", "start", "kexec-boot");
      await remote("kexec", kexecScript);
      // A kexec that loads fails within seconds; one that works takes the SSH session with it.
      const early = await ssh.run(kexecFailedScript, { timeoutMs: 20_000 });
      if (early.code === 0 && early.stdout.trim())
        throw new StepFailed(`kexec: kexec-boot exited without switching kernels: ${early.stdout.trim().split("\n").slice(-3).join(" / ")}`);
      const kernel = await waitForPinned(job, o, emit, bootId);
      return done("deployed", `kexec'd into the new system (${kernel}), presenting its pinned host key`);
    }

    // update
    const previous = (await ssh.run(currentGenerationScript(o))).stdout.trim() || "(none)";
    const prevGen = generationOf(previous);
    if (prevGen === undefined) throw new StepFailed(`activate: ${o.profile} on ${job.name} has no generation to roll back to (${previous}); install the host first (--install)`);
    known.previousGeneration = prevGen;
    known.system = path;
    emit("copy", "start", `nix copy → ${job.target.address}`);
    const c = await runLocal(["nix", "copy", "--extra-experimental-features", "nix-command", "--to", `ssh://${job.target.user}@${job.target.address}`, path], {
      env: { ...process.env, NIX_SSHOPTS: sshOpts(ssh) },
    });
    if (c.code !== 0) throw new StepFailed(`copy: ${c.stderr.trim().split("\n").slice(-2).join(" / ")}`);
    emit("copy", "ok", "closure copied");
    if (o.phases && !o.phases.has("activate")) return done("deployed", "closure copied; stopped before activation (--phases)");
    const changed = [...(await remote("activate", needsRebootScript(o, path))).matchAll(/^reboot=(.+)$/gm)].map((m) => m[1]!);
    if (changed.length && !o.noReboot) return await rebootUpdate({ job, o, ssh, emit, done, path, prevGen, previous, changed });
    if (changed.length) emit("activate", "info", `the new ${changed.join(", ")} take effect at the next reboot (--no-reboot)`);
    const token = randomBytes(8).toString("hex");
    emit("activate", "start", `switch to ${path} (was ${previous}); the host rolls back by itself unless confirmed within ${o.confirmTimeout}s`);
    const a = await ssh.run(activateScript(o, path, token, prevGen), { timeoutMs: o.waitTimeout * 1000 });
    if (a.code !== 0) {
      if (a.code === 255 || /Timeout|timed out|Connection (reset|closed)|Broken pipe/i.test(a.stderr) || a.stderr === "") {
        // The host stopped answering while switching: its watchdog will roll it back.
        emit("activate", "fail", `${job.name} stopped answering during activation; waiting for its watchdog to roll back`);
        const back = await waitForGeneration(ssh, o, previous);
        return done("rolled back", back ? `stopped answering during activation; the host rolled itself back to ${previous}` : `stopped answering during activation and did not come back within ${o.waitTimeout}s`);
      }
      await ssh.run(confirmScript(token));
      await ssh.run(rollbackScript(o, prevGen));
      return done("rolled back", `activation failed (${a.stdout.trim().split("\n").slice(-1)[0] || explainSsh(a, job.target)}); back on ${previous}`);
    }
    const newLink = /^generation=(.*)$/m.exec(a.stdout)?.[1]?.trim();
    emit("activate", "ok", `switched (${newLink ?? "generation unknown"})`);
    emit("health", "start", `systemd state, failed units${job.checks.length ? ` and ${job.checks.length} checks: ${job.checks.map((c) => c.name).join(", ")}` : ""}`);
    // SSH back in over a new connection: the one hearth holds would survive a generation that
    // locks new logins out (a firewall rule, a broken sshd), and that must not be confirmed.
    const fresh = new SshSession(job.target, false);
    const last = await healthLoop(fresh, job, o).finally(() => fresh.close());
    if (last.ok) {
      const c = await ssh.run(confirmScript(token, o, newLink), { timeoutMs: 15_000 });
      if (c.code !== 0) {
        // Healthy, but too late: the watchdog had already switched back (the host was unreachable).
        const now = (await ssh.run(currentGenerationScript(o))).stdout.trim();
        emit("health", "fail", `the host rolled itself back before hearth could confirm (now on ${now})`);
        return done("rolled back", `stopped answering after activation; the host rolled itself back to ${now}`);
      }
      emit("health", "ok", `running, no failed units${job.checks.length ? `, ${job.checks.length} checks passed` : ""}`);
      return done("deployed", `now on ${path} (${newLink})`);
    }
    const why = describeHealth(last);
    emit("health", "fail", why);
    // Over the connection hearth still holds. Disarm the watchdog first, so it cannot roll back a second time.
    await ssh.run(confirmScript(token));
    const rb = await ssh.run(rollbackScript(o, prevGen), { timeoutMs: 120_000 });
    if (rb.code !== 0) return done("failed", `health check failed (${why}) and the rollback failed too: ${explainSsh(rb, job.target)}`);
    emit("rollback", "ok", `back on ${previous}`);
    return done("rolled back", `health check failed (${why}); rolled back to ${previous}`);
  } catch (e) {
    if (e instanceof StepFailed) {
      emit(e.message.split(":")[0]!, "fail", e.message);
      return done("failed", e.message);
    }
    // A problem the user can fix (an identity that cannot decrypt the passphrase, say) fails
    // this host only; the others go on.
    if (e instanceof UserError) {
      emit("deploy", "fail", e.message);
      return done("failed", e.message);
    }
    throw e;
  } finally {
    ssh.close();
  }
}

async function waitForGeneration(ssh: SshSession, o: RunOptions, previous: string): Promise<boolean> {
  const deadline = Date.now() + (o.confirmTimeout + o.waitTimeout) * 1000;
  while (Date.now() < deadline) {
    const r = await ssh.run(currentGenerationScript(o), { timeoutMs: 10_000 });
    if (r.code === 0 && r.stdout.trim() === previous) return true;
    await sleep(1000);
  }
  return false;
}

type Emit = (phase: string, status: DeployEvent["status"], message: string, progress?: DeployEvent["progress"]) => void;

/** Bytes of a file or tree as tar -h sends it (links followed). */
function treeSize(dir: string, entry = "."): number {
  const p = join(dir, entry);
  const st = statSync(p);
  return st.isDirectory() ? readdirSync(p).reduce((n, e) => n + treeSize(p, e), 0) : st.size;
}
type Done = (outcome: HostResult["outcome"], detail: string) => HostResult;

/** Services take a while to open their ports after a switch: poll until all is well or time is up. */
async function healthLoop(ssh: SshSession, job: HostJob, o: RunOptions): Promise<HealthReport> {
  const deadline = Date.now() + o.healthTimeout * 1000;
  const script = healthScript(job.checks);
  let last: HealthReport;
  for (;;) {
    const h = await ssh.run(script, { timeoutMs: 30_000 });
    if (h.code === 0) last = parseHealth(h.stdout, job.checks);
    else last = { ok: false, state: `no answer: ${explainSsh(h, job.target)}`, failed: [], problems: [], settling: true };
    // A unit that failed stays failed; waiting longer only delays the rollback.
    if (last.ok || Date.now() >= deadline || (last.failed.length > 0 && !last.settling)) return last;
    await sleep(1000);
  }
}

/**
 * An update whose kernel, initrd or modules changed: boot it once (bootOnceScript), wait for the
 * host to come back, and keep it only if it booted and is healthy; otherwise the previous
 * generation is the default again (and, if the new one booted but is unhealthy, booted again).
 */
async function rebootUpdate(a: { job: HostJob; o: RunOptions; ssh: SshSession; emit: Emit; done: Done; path: string; prevGen: number; previous: string; changed: string[] }): Promise<HostResult> {
  const { job, o, ssh, emit, done, path, prevGen, previous } = a;
  const token = randomBytes(8).toString("hex");
  emit("reboot", "start", `the new ${a.changed.join(", ")} need a reboot: booting ${path} once; generation ${prevGen} stays the default boot entry`);
  const b = await ssh.run(bootOnceScript(o, path, token, prevGen), { timeoutMs: 300_000 });
  if (b.code !== 0) {
    if (/^oneshot=unsupported$/m.test(b.stdout))
      throw new StepFailed("reboot: the new kernel needs a reboot, and only systemd-boot (or lanzaboote) can boot a generation once with the old one as fallback; nothing was changed. Deploy with --no-reboot and reboot by hand");
    if (/^oneshot=no-entries$/m.test(b.stdout)) throw new StepFailed(`reboot: \`bootctl list\` shows no entry for the new generation or for ${prevGen}; the profile is back on ${previous}`);
    throw new StepFailed(`reboot: ${b.stdout.trim().split("\n").slice(-1)[0] || explainSsh(b, job.target)}`);
  }
  const entry = /^entry=(.*)$/m.exec(b.stdout)![1]!.trim();
  const fallback = /^fallback=(.*)$/m.exec(b.stdout)![1]!.trim();
  const newLink = /^generation=(.*)$/m.exec(b.stdout)?.[1]?.trim() ?? "?";
  ssh.close();
  const booted = await waitForPinned(job, o, emit, { script: afterRebootScript(o, token), back: (out) => out.trim() !== "" }).catch(() => undefined);
  if (booted === undefined)
    return done("failed", `${job.name} did not come back within ${o.waitTimeout}s after booting ${newLink} once; its default boot entry is still ${fallback}: power-cycle it to fall back`);
  // A fresh connection: the shared one died with the reboot.
  const s = new SshSession(job.target, false);
  try {
    if (booted.trim() !== path) {
      const r = await s.run(bootPreviousScript(o, prevGen, fallback), { timeoutMs: 300_000 });
      emit("reboot", "fail", `came back on ${booted.trim()}, not the new system`);
      return done("rolled back", `the new generation did not boot; the host fell back to ${previous}${r.code !== 0 ? `, but resetting its boot entries failed: ${explainSsh(r, job.target)}` : ""}`);
    }
    emit("reboot", "ok", `booted ${newLink}`);
    emit("health", "start", `systemd state, failed units${job.checks.length ? ` and ${job.checks.length} checks` : ""}`);
    const h = await healthLoop(s, job, o);
    if (h.ok) {
      const k = await s.run(keepBootedScript(entry), { timeoutMs: 30_000 });
      if (k.code !== 0) return done("failed", `healthy on ${newLink}, but making it the default boot entry failed: ${explainSsh(k, job.target)}`);
      emit("health", "ok", "running, no failed units");
      return done("deployed", `rebooted into ${path} (${newLink}); it is the default boot entry now`);
    }
    const why = describeHealth(h);
    emit("health", "fail", why);
    const token2 = randomBytes(8).toString("hex");
    const back = await s.run(`${bootPreviousScript(o, prevGen, fallback)} && touch /run/hearth-boot-${token2} && (setsid sh -c 'sleep 1; systemctl reboot' </dev/null >/dev/null 2>&1 &)`, { timeoutMs: 300_000 });
    if (back.code !== 0) return done("failed", `health check failed after the reboot (${why}), and going back to ${previous} failed: ${explainSsh(back, job.target)}`);
    s.close();
    const again = await waitForPinned(job, o, emit, { script: afterRebootScript(o, token2), back: (out) => out.trim() !== "" }).catch(() => undefined);
    return done("rolled back", `health check failed after the reboot (${why}); ${again ? `rebooted into ${previous}` : `${previous} is the default boot entry again, but the host did not come back within ${o.waitTimeout}s`}`);
  } finally {
    s.close();
  }
}

async function install(job: HostJob, o: RunOptions, emit: Emit, done: Done): Promise<HostResult> {
  if (!job.bootstrap) throw new StepFailed("install: no way to decrypt the host's keys (internal)");
  if (!o.phases || o.phases.has("install")) {
    const boot = await job.bootstrap().catch((e: Error) => {
      throw new StepFailed(`install: ${e.message}`);
    });
    try {
      const argv = installArgv(job.name, job.target, o, boot);
      emit("install", "start", argv.join(" "));
      const r = await runStreaming(argv, (line) => emit("install", "info", line));
      if (r.code !== 0) throw new StepFailed(`install: nixos-anywhere exited with status ${r.code}: ${r.tail.slice(-2).join(" / ")}`);
    } finally {
      wipeBootstrapDir(boot.dir);
    }
    emit("install", "ok", "installed; the keys' tmpfs directory is wiped");
  }
  if (o.phases && !o.phases.has("wait")) return done("deployed", "installed; not waiting for the reboot (--phases)");
  const kernel = (await waitForPinned(job, o, emit, { script: "uname -r", back: () => true })).trim();
  return done("deployed", `installed and booted (kernel ${kernel}), presenting its pinned host key`);
}

/**
 * Wait until the host answers with its pinned key (and, after a kexec, a new boot id): whatever
 * ran before (a rescue system, an installer) presents another key and is not taken for it.
 */
async function waitForPinned(job: HostJob, o: RunOptions, emit: Emit, until: string | { script: string; back: (stdout: string) => boolean }): Promise<string> {
  // A string is the boot id before a kexec: back means another boot id (and then the kernel is reported).
  const probe = typeof until === "string" ? { script: "cat /proc/sys/kernel/random/boot_id; echo \"kernel $(uname -r), hostname $(hostname)$([ -e /run/current-system ] && echo \", system $(readlink -f /run/current-system)\")\"", back: (out: string) => out.split("\n")[0]!.trim() !== until } : until;
  emit("wait", "start", `waiting up to ${o.waitTimeout}s for ${job.name} to come back with its own host key`);
  const deadline = Date.now() + o.waitTimeout * 1000;
  const pinned = new SshSession({ ...job.target, acceptFirstKey: false }, false);
  try {
    await sleep(1000);
    let unlocked = false;
    while (Date.now() < deadline) {
      const r = await pinned.run(probe.script, { timeoutMs: 15_000 });
      if (r.code === 0 && probe.back(r.stdout)) {
        emit("wait", "ok", "back, presenting its pinned host key");
        return typeof until === "string" ? r.stdout.split("\n")[1]!.trim() : r.stdout;
      }
      // Not up yet: it may be waiting in its initrd for the disk passphrase (once per wait).
      if (job.unlock && !unlocked) {
        const pass = await job.unlock.passphrase();
        const u = await unlockOverInitrd(job.unlock.target, pass, 30_000);
        pass.fill(0);
        if (u.ok) {
          unlocked = true;
          emit("unlock", "ok", `unlocked ${job.name}'s disks over its initrd SSH (${job.unlock.target.address}:${job.unlock.target.port}); it continues booting`);
        } else if (!u.unreachable) throw new StepFailed(`unlock: ${job.name} waits in its initrd, but unlocking failed: ${u.detail}`);
      }
      await sleep(1000);
    }
  } finally {
    pinned.close();
  }
  throw new StepFailed(`wait: ${job.name} did not come back with its pinned host key within ${o.waitTimeout}s`);
}

/** Run a local command, handing each output line to `line`; keeps the last lines for errors. */
function runStreaming(argv: string[], line: (l: string) => void): Promise<{ code: number; tail: string[] }> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    const tail: string[] = [];
    const feed = (stream: NodeJS.ReadableStream) => {
      let buf = "";
      stream.on("data", (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split("\n");
        buf = lines.pop()!;
        for (const l of lines.filter((x) => x.trim())) {
          tail.push(l);
          if (tail.length > 20) tail.shift();
          line(l);
        }
      });
    };
    feed(child.stdout);
    feed(child.stderr);
    child.on("error", (e) => tail.push(String(e)));
    child.on("close", (code) => resolve({ code: code ?? 1, tail }));
  });
}

/** Many hosts: dependency waves, at most `concurrency` at once; dependents of a failure are skipped. */
export async function deployMany(jobs: HostJob[], o: RunOptions): Promise<HostResult[]> {
  const byName = new Map(jobs.map((j) => [j.name, j]));
  const { waves, cycle } = deployOrder(jobs.map((j) => j.name), (n) => byName.get(n)!.dependsOn.filter((d) => byName.has(d)));
  const results = new Map<string, HostResult>();
  for (const wave of waves) {
    const queue = [...wave];
    const worker = async () => {
      for (let name = queue.shift(); name; name = queue.shift()) {
        const job = byName.get(name)!;
        const blocked = job.dependsOn.filter((d) => results.has(d) && results.get(d)!.outcome !== "deployed");
        if (blocked.length) {
          results.set(name, { host: name, kind: job.kind, outcome: "skipped", detail: `depends on ${blocked.join(", ")}, which did not deploy`, seconds: 0 });
          continue;
        }
        results.set(name, await deployHost(job, o));
      }
    };
    await Promise.all(Array.from({ length: Math.min(o.concurrency, wave.length) }, worker));
  }
  for (const n of cycle ?? []) results.set(n, { host: n, kind: byName.get(n)!.kind, outcome: "skipped", detail: `dependency cycle among ${cycle!.join(", ")}`, seconds: 0 });
  return jobs.map((j) => results.get(j.name)!);
}

export interface BatchOptions {
  policy: Pick<RolloutPolicy, "canary" | "batchSize" | "pauseAtFailures">;
  /** Called when a batch fails past the policy: resolve "resume" to go on, "abort" to stop. */
  gate(p: { batch: number; reason: string }): Promise<"resume" | "abort">;
  /** Told when each batch starts (the server shows the waves). */
  onBatch?(batch: number, hosts: string[]): void;
}

/**
 * deployMany in canary-first batches that pause by themselves (the rollout policy of pull nodes):
 * a host whose dependency did not deploy in an earlier batch is skipped, as within one.
 */
export async function deployInBatches(jobs: HostJob[], o: RunOptions, b: BatchOptions): Promise<HostResult[]> {
  const byName = new Map(jobs.map((j) => [j.name, j]));
  const batches = planDeployBatches(jobs.map((j) => j.name), (n) => byName.get(n)!.dependsOn.filter((d) => byName.has(d)), b.policy);
  const results = new Map<string, HostResult>();
  let aborted: string | undefined;
  for (const [i, batch] of batches.entries()) {
    if (aborted) {
      for (const n of batch) results.set(n, { host: n, kind: byName.get(n)!.kind, outcome: "skipped", detail: aborted, seconds: 0 });
      continue;
    }
    b.onBatch?.(i, batch);
    const runnable: HostJob[] = [];
    for (const n of batch) {
      const job = byName.get(n)!;
      const blocked = job.dependsOn.filter((d) => results.has(d) && results.get(d)!.outcome !== "deployed");
      if (blocked.length) results.set(n, { host: n, kind: job.kind, outcome: "skipped", detail: `depends on ${blocked.join(", ")}, which did not deploy`, seconds: 0 });
      else runnable.push(job);
    }
    for (const r of await deployMany(runnable, o)) results.set(r.host, r);
    const verdict = batchVerdict(i, batch.map((n) => results.get(n)!.outcome), b.policy);
    if (verdict.pause && i < batches.length - 1) {
      o.emit({ host: "*", phase: "rollout", status: "fail", message: `paused: ${verdict.reason}`, at: new Date().toISOString() });
      const answer = await b.gate({ batch: i, reason: verdict.reason });
      if (answer === "abort") aborted = `not deployed: the rollout stopped after batch ${i + 1} (${verdict.reason})`;
      else o.emit({ host: "*", phase: "rollout", status: "info", message: `resumed after batch ${i + 1}`, at: new Date().toISOString() });
    }
  }
  return jobs.map((j) => results.get(j.name)!);
}
