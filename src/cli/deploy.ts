// Commands that change machines: `hearth prepare` (disks and secrets of a RAM-booted host, seed
// 000's manual steps) and `hearth unlock` (LUKS over the initrd's SSH). Each prints exactly what
// it would run with --dry-run, runs named phases alone with --phases, and gathers facts first.
import { Command, Option } from "commander";
import { createInterface } from "node:readline";
import { resolve } from "node:path";
import { CliError, out } from "./common.js";
import { identities, loadStore, wrap } from "./secrets.js";
import { PREPARE_PHASES } from "../core/deploy/prepare.js";
import { executePrepare, planPrepareOver, preparePlanText } from "../node/deploy/prepare.js";
import { escapeShellArg } from "../core/plan/shell.js";
import { hostTarget, initrdTarget, type TargetOptions } from "../node/deploy/target.js";
import { SshSession } from "../node/deploy/ssh.js";
import { show } from "../node/secrets/store.js";
import { readSecret } from "./prompt.js";
import { spawn } from "node:child_process";
import {
  planDeployBatches,
  deployOrder,
  DEPLOY_PHASES,
  SYSTEM_PROFILE,
  BOOTED_SYSTEM,
  type DeployOptions,
} from "../core/deploy/deploy.js";
import { deployInBatches } from "../node/deploy/deploy.js";
import { deployPlanText, hostJobs } from "../node/deploy/jobs.js";
import { TerminalProgress } from "./progress.js";
import { unlockOverInitrd } from "../node/deploy/unlock.js";

const targetOptions = (c: Command) =>
  c
    .option("-f, --fleet <dir>", "fleet directory", ".")
    .option("--address <addr>", "connect here instead of the host's static address")
    .option("--port <n>", "SSH port")
    .option("--user <name>", "login user (not root: commands run with sudo -n)")
    .option("-J, --jump <spec>", "jump host, as ssh -J takes it")
    .option("--ssh-key <file>", "private key to log in with")
    .option("-i, --identity <file...>", "admin age identity, to decrypt what the host needs")
    .option("--dry-run", "print exactly what would run; change nothing")
    .option("--phases <list>", "run only these named phases, comma-separated");

interface ConnOpts {
  fleet: string;
  address?: string;
  port?: string;
  user?: string;
  jump?: string;
  sshKey?: string;
  dryRun?: boolean;
  phases?: string;
  identity?: string[];
}

const tOpts = (o: ConnOpts): TargetOptions => ({
  ...(o.address ? { address: o.address } : {}),
  ...(o.port ? { port: Number(o.port) } : {}),
  ...(o.user ? { user: o.user } : {}),
  ...(o.jump ? { jump: o.jump } : {}),
  ...(o.sshKey ? { identityFile: resolve(o.sshKey) } : {}),
});

function selectPhases<T extends string>(all: readonly T[], list?: string): Set<T> {
  if (!list) return new Set(all);
  const wanted = list.split(",").map((s) => s.trim()).filter(Boolean);
  const bad = wanted.filter((w) => !all.includes(w as T));
  if (bad.length) throw new CliError(`unknown phase(s) ${bad.join(", ")}; phases: ${all.join(", ")}`, 2);
  return new Set(wanted as T[]);
}

async function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  return new Promise((ok) => rl.question(question, (a) => (rl.close(), ok(a.trim()))));
}

export function registerDeploy(program: Command): void {
  targetOptions(
    program
      .command("prepare")
      .description("format a RAM-booted host's btrfs disks by id, create its subvolumes and place its SSH host key, over SSH on any Linux")
      .argument("<host>", "host name")
      .option("--confirm <host>", "the host's name, typed back, for runs without a terminal")
      .option("--confirm-existing <host>", "the host's name, typed back: its mount-only filesystems are on none of the disks formatted"),
  ).action(
    wrap(async (name: string, o: ConnOpts & { confirm?: string; confirmExisting?: string }) => {
      const store = loadStore(o.fleet);
      const phases = selectPhases(PREPARE_PHASES, o.phases);
      const target = hostTarget(store.fleet, store.manifest, name, tOpts(o));
      const ssh = new SshSession(target);
      try {
        const { facts, chosen } = await planPrepareOver(ssh, store, name, phases, !o.dryRun, o.confirmExisting);
        if (facts) out(`${name} at ${target.address}: ${facts.arch}, ${Math.round(facts.memKiB / 1024)} MiB RAM, ${facts.devices.size} disk name(s) by id${facts.nixos ? ", NixOS" : ""}`);
        for (const line of preparePlanText(chosen, ssh)) out(line);
        if (o.dryRun) return;
        const confirm = chosen.some((p) => p.destructive)
          ? (o.confirm ?? (process.stdin.isTTY ? await ask(`This erases the disks listed above. Type the host's name (${name}) to continue: `) : ""))
          : undefined;
        await executePrepare(ssh, store, name, chosen, { ...(confirm !== undefined ? { confirm } : {}), identities: () => identities(o.identity), log: out });
      } finally {
        ssh.close();
      }
    }),
  );

  targetOptions(
    program
      .command("unlock")
      .description("unlock a host's encrypted disks over its initrd SSH server; the passphrase comes from hearth's secrets or a prompt, never echoed, logged or put in argv"),
  )
    .argument("<host>", "host name")
    .option("--prompt", "type the passphrase instead of decrypting hearth's luks-passphrase secret")
    .action(
      wrap(async (name: string, o: ConnOpts & { prompt?: boolean }) => {
        const store = loadStore(o.fleet);
        const target = initrdTarget(store.fleet, store.manifest, name, tOpts(o));
        const ssh = new SshSession(target);
        try {
          out(`would run: ${ssh.argv("").slice(0, -1).map(escapeShellArg).join(" ")}  (passphrase on stdin)`);
          if (o.dryRun) return;
          const pass = o.prompt || !store.manifest.secrets[`hosts/${name}/luks-passphrase`] ? await readSecret(`passphrase for ${name}: `, { trimNewline: true }) : await show(store, `hosts/${name}/luks-passphrase`, await identities(o.identity));
          const r = await unlockOverInitrd(target, pass);
          pass.fill(0);
          if (!r.ok) throw new CliError(`unlock of ${name} failed: ${r.detail}`);
          out(`${name} unlocked; it continues booting`);
        } finally {
          ssh.close();
        }
      }),
    );
}

export function registerDeployCommand(program: Command): void {
  targetOptions(
    program
      .command("deploy")
      .description("deploy hosts: kexec RAM-booted ones, install new ones (nixos-anywhere), update running ones with automatic rollback")
      .argument("<hosts...>", "host names")
      .option("--install", "first installation with nixos-anywhere (the machine runs any Linux or an installer)")
      .option("--accept-first-key", "the machine runs something else now (a rescue system): accept its key for the first contact; the deployed system must present the pinned key")
      .option("--system <path>", "deploy this already-built store path instead of building")
      .option("--profile <path>", "system profile on the target", SYSTEM_PROFILE)
      .option("--confirm-timeout <s>", "seconds before an unconfirmed activation rolls itself back (default: the health timeout + 30)")
      .option("--health-timeout <s>", "seconds the health check may take", "60")
      .option("--wait-timeout <s>", "seconds to wait for a host to answer", "120")
      .option("--jobs <n>", "hosts deployed at once", "4")
      .option("--no-reboot", "when the kernel changed, switch anyway and leave the new kernel for the next reboot (default: boot the new generation once, the old one staying the fallback)")
      .addOption(new Option("--booted-system <path>", "the booted system on the target (for non-standard layouts)").default(BOOTED_SYSTEM).hideHelp())
      .option("--skip-check <names...>", "health checks not to require, by name as the plan prints them (e.g. 'mesh handshake on wg0' while the hub is down)")
      .option("--canary <n>", "hosts deployed first, alone; any failure there pauses the rest", "0")
      .option("--batch-size <n>", "hosts per batch after the canary (default: all at once)")
      .option("--pause-at-failures <n>", "a batch with this many failed hosts pauses the rollout", "1")
      .option("--json", "print events and results as JSON lines")
      .option("--confirm-existing <hosts...>", "with --install: the hosts' names, typed back: their mount-only filesystems are on none of the disks disko formats"),
  ).action(
    wrap(async (names: string[], o: ConnOpts & { confirmExisting?: string[]; acceptFirstKey?: boolean; install?: boolean; system?: string; profile: string; confirmTimeout?: string; healthTimeout: string; waitTimeout: string; jobs: string; json?: boolean; skipCheck?: string[]; reboot: boolean; bootedSystem: string; canary: string; batchSize?: string; pauseAtFailures: string }) => {
      const store = loadStore(o.fleet);
      const flakeDir = resolve(o.fleet, "flake");
      // The watchdog must outlast the health check, or a slow but healthy start rolls back.
      if (o.confirmTimeout && Number(o.confirmTimeout) <= Number(o.healthTimeout))
        throw new CliError(`--confirm-timeout (${o.confirmTimeout}s) must be longer than --health-timeout (${o.healthTimeout}s): the host would roll back while hearth still checks it`, 2);
      const opts: DeployOptions = { flakeDir, profile: o.profile, confirmTimeout: o.confirmTimeout ? Number(o.confirmTimeout) : Number(o.healthTimeout) + 30, bootedSystem: o.bootedSystem };
      const phases = o.phases ? selectPhases(DEPLOY_PHASES, o.phases) : undefined;
      if (names.length > 1 && o.address) throw new CliError("--address names one host; deploy one host at a time with it", 2);
      const skip = new Set(o.skipCheck ?? []);
      const { jobs, checkNames } = hostJobs(store, o.fleet, names, {
        ...(o.install ? { install: true } : {}),
        ...(o.acceptFirstKey ? { acceptFirstKey: true } : {}),
        target: tOpts(o),
        ...(o.system ? { systemFor: () => o.system } : {}),
        skipChecks: skip,
        ...(o.confirmExisting ? { confirmExisting: new Set(o.confirmExisting) } : {}),
        identities: () => identities(o.identity),
      });
      const unknown = [...skip].filter((n) => !checkNames.has(n));
      if (unknown.length) throw new CliError(`--skip-check: no health check named ${unknown.map((u) => `'${u}'`).join(", ")}; checks: ${[...checkNames].map((c) => `'${c}'`).join(", ") || "none"}`, 2);
      const policy = rolloutPolicy(o);
      if (o.dryRun) {
        const deps = (n: string) => jobs.find((j) => j.name === n)!.dependsOn.filter((d) => names.includes(d));
        const batches = planDeployBatches(names, deps, policy);
        // Within a batch, hosts go in dependency waves (the Headscale server before its clients).
        for (const [i, batch] of batches.entries()) {
          if (batches.length > 1) out(`${policy.canary && i === 0 ? "canary" : `batch ${i + 1}`}: ${batch.join(", ")}`);
          deployOrder(batch, (n) => deps(n).filter((d) => batch.includes(d))).waves.forEach((w, k) => out(`${batches.length > 1 ? "  " : ""}wave ${k + 1}: ${w.join(", ")}`));
        }
        for (const j of jobs) for (const line of deployPlanText(j, opts, store)) out(line);
        return;
      }
      for (const j of jobs.filter((j) => j.kind === "install")) {
        if (!(await commandExists("nixos-anywhere"))) throw new CliError(`installing ${j.name} needs nixos-anywhere: nix profile install github:nix-community/nixos-anywhere (or run --dry-run for the exact command)`);
      }
      // A live view on a terminal; plain lines for logs and pipes; JSON for the server.
      const live = !o.json && process.stdout.isTTY ? new TerminalProgress(jobs.map((j) => j.name)) : undefined;
      const results = await deployInBatches(jobs, {
        ...opts,
        waitTimeout: Number(o.waitTimeout),
        healthTimeout: Number(o.healthTimeout),
        concurrency: Math.max(1, Number(o.jobs) || 1),
        noReboot: !o.reboot,
        ...(phases ? { phases: new Set<string>(phases) } : {}),
        emit: (e) =>
          o.json ? out(JSON.stringify({ event: e })) : live ? live.event(e) : e.progress ? undefined : out(`${e.host}  ${e.phase.padEnd(8)} ${e.status.padEnd(5)} ${e.message}`),
      }, {
        policy,
        // On a terminal, ask; otherwise a paused rollout stops (a script cannot answer).
        gate: async ({ reason }) => {
          if (!process.stdin.isTTY || o.json) return "abort";
          live?.stop();
          return /^y/i.test(await ask(`The rollout paused: ${reason}. Go on with the next batch? [y/N] `)) ? "resume" : "abort";
        },
      });
      live?.stop();
      if (o.json) for (const r of results) out(JSON.stringify({ result: r }));
      else {
        const w = Math.max(4, ...results.map((r) => r.host.length));
        out(`\n${"HOST".padEnd(w)}  ${"KIND".padEnd(7)} ${"OUTCOME".padEnd(12)} ${"TIME".padStart(6)}  DETAIL`);
        for (const r of results) out(`${r.host.padEnd(w)}  ${r.kind.padEnd(7)} ${r.outcome.padEnd(12)} ${r.seconds.toFixed(1).padStart(5)}s  ${r.detail}`);
      }
      if (results.some((r) => r.outcome !== "deployed")) throw new CliError("", 1);
    }),
  );
}

function rolloutPolicy(o: { canary: string; batchSize?: string; pauseAtFailures: string }) {
  const n = (v: string, flag: string, min: number) => {
    const x = Number(v);
    if (!Number.isInteger(x) || x < min) throw new CliError(`${flag} takes a whole number ≥ ${min}, got '${v}'`, 2);
    return x;
  };
  return { canary: n(o.canary, "--canary", 0), batchSize: o.batchSize ? n(o.batchSize, "--batch-size", 1) : 1_000_000, pauseAtFailures: n(o.pauseAtFailures, "--pause-at-failures", 1) };
}

function commandExists(cmd: string): Promise<boolean> {
  return new Promise((ok) => {
    const c = spawn("sh", ["-c", `command -v ${escapeShellArg(cmd)}`], { stdio: "ignore" });
    c.on("close", (code) => ok(code === 0));
    c.on("error", () => ok(false));
  });
}
