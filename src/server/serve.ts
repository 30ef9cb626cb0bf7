// The composition root of `hearth serve`: state directory, SQLite store, job runner, auth and
// the HTTP app, wired once. Tests start servers through this too.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { EventEmitter } from "node:events";
import { openDb } from "./db.js";
import { JobRequestError, JobRunner, NixUnavailableError } from "./jobs/runner.js";
import { ApiFailure, notFound } from "./errors.js";
import { Auth, isLoopback } from "./auth.js";
import { FleetService } from "./fleet.js";
import { PullService } from "./pull.js";
import { DeployService, type DeployServiceOptions } from "./deploy.js";
import { MonitorService, type MonitorOptions } from "./monitor.js";
import { loadIdentityFile, type LoadedIdentity } from "../node/secrets/age.js";
import { defaultIdentityFile } from "../node/init.js";
import type { RolloutPolicy } from "../core/pull/rollout.js";
import { createApp, listen, type JobsPort, type Started } from "./app.js";
import type { FleetOverview, JobEvent } from "./wire.js";

export interface ServeOptions {
  fleetDir: string;
  port: number;
  bind: string;
  /** Runtime state (database, artifacts); default under $XDG_STATE_HOME/hearth, one per fleet. */
  stateDir?: string;
  concurrency?: number;
  /** Reverse proxies (IP addresses) whose X-Forwarded-For / X-Forwarded-Proto are believed. */
  trustedProxies?: ReadonlySet<string>;
  /** How rollouts to pull nodes proceed (default: one canary, batches of 5, pause at 2 failures). */
  rolloutPolicy?: RolloutPolicy;
  /** New signed releases wait for the UI's "Roll out" button instead of rolling out by themselves. */
  manualRollouts?: boolean;
  /** Passed to `nix build --builders` (Nix's own remote builders). */
  builders?: string;
  nixBin?: string;
  webDir?: string;
  /**
   * Tests only: build this small offline flake instead of the host's NixOS system, which cannot
   * be built on a machine without nixpkgs. Everything else (job, progress, artifacts) is real.
   */
  buildStandIn?: { flakeDir: string; attr: string };
  /** Admin age identities for deploys and unlocks (default $HEARTH_IDENTITY or ~/.config/hearth/identity.txt). */
  identityFiles?: string[];
  /** The SSH private key hearth logs in to hosts with (default: ssh's own). */
  sshKey?: string;
  /** Deploy timeouts and target layout (tests shorten them). */
  deployRun?: DeployServiceOptions["run"];
  /** Tests only: see DeployServiceOptions.systemStandIn. */
  systemStandIn?: DeployServiceOptions["systemStandIn"];
  /** Machine and Ethereum polling (monitor.ts); default every 60 s. */
  monitor?: MonitorOptions;
}

export interface Serving extends Started {
  /** Printed once at first start when a login is required and no admin exists yet. */
  setupToken?: string;
  stateDir: string;
}

export function defaultStateDir(fleetDir: string): string {
  const base = process.env.XDG_STATE_HOME ?? join(homedir(), ".local", "state");
  return join(base, "hearth", createHash("sha256").update(resolve(fleetDir)).digest("hex").slice(0, 16));
}

export interface Composed {
  app: ReturnType<typeof createApp>;
  db: ReturnType<typeof openDb>;
  runner: JobRunner;
  pull: PullService;
  deploy: DeployService;
  monitor: MonitorService;
  stateDir: string;
  setupToken?: string;
  close(): Promise<void>;
}

/** Everything but the listening socket (tests drive `app.request` in-process). */
export function composeServer(o: Omit<ServeOptions, "port">): Composed {
  const stateDir = o.stateDir ?? defaultStateDir(o.fleetDir);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const db = openDb(join(stateDir, "hearth.sqlite"));
  db.markInterrupted();
  db.purgeExpired();
  const bus = new EventEmitter();
  bus.setMaxListeners(0);
  const runner = new JobRunner({
    db,
    concurrency: o.concurrency ?? 2,
    artifactsDir: join(stateDir, "artifacts"),
    ...(o.builders ? { builders: o.builders } : {}),
    ...(o.nixBin ? { nixBin: o.nixBin } : {}),
    onEvent: (id: number, e: JobEvent) => bus.emit(`job:${id}`, e),
  });
  // Asked once without blocking; a Nix installed later is seen by the next ask (not cached until found).
  let nix: Promise<FleetOverview["nix"]> | undefined;
  const jobs: JobsPort = {
    enqueue: (spec) => {
      try {
        return db.summary(runner.enqueue(spec))!;
      } catch (e) {
        if (e instanceof NixUnavailableError) throw new ApiFailure(503, "no_nix", e.message);
        if (e instanceof JobRequestError) throw new ApiFailure(422, "invalid", e.message);
        throw e;
      }
    },
    cancel: (id) => {
      if (!db.getJob(id)) throw notFound(`job ${id}`);
      runner.cancel(id);
      return db.summary(id)!;
    },
    get: (id) => db.summary(id),
    list: (host) => db.listJobs({ ...(host ? { host } : {}), limit: 200 }).map((j) => db.summary(j.id)!),
    logs: (id) => db.logs(id).map((l) => l.line),
    lastBuildPerHost: () => db.lastBuildPerHost(),
    artifactPath: (id, name) => db.artifacts(id).find((a) => a.name === name)?.path,
    subscribe: (id, listener) => {
      bus.on(`job:${id}`, listener);
      return () => bus.off(`job:${id}`, listener);
    },
    nix: () =>
      (nix ??= runner.detectNixAsync().then((s) => {
        if (!s.available) setTimeout(() => (nix = undefined), 10_000).unref();
        return s;
      })),
  };
  const auth = new Auth(db, isLoopback(o.bind), undefined, o.trustedProxies);
  auth.invalidateForeignSessions();
  const setupToken = auth.setupToken();
  const fleet = new FleetService(resolve(o.fleetDir), { identities: () => serverIdentities(o.identityFiles) });
  const pull = new PullService({ fleetDir: resolve(o.fleetDir), db, autoRollout: !o.manualRollouts, ...(o.rolloutPolicy ? { policy: o.rolloutPolicy } : {}) });
  pull.start();
  const deploy = new DeployService({
    fleetDir: resolve(o.fleetDir),
    db,
    identities: () => serverIdentities(o.identityFiles),
    ...(o.sshKey ? { target: { identityFile: resolve(o.sshKey) } } : {}),
    ...(o.deployRun ? { run: o.deployRun } : {}),
    ...(o.systemStandIn ? { systemStandIn: o.systemStandIn } : {}),
  });
  const monitor = new MonitorService({ fleetDir: resolve(o.fleetDir), db, pull, identities: () => serverIdentities(o.identityFiles), ...(o.sshKey ? { target: { identityFile: resolve(o.sshKey) } } : {}), ...(o.monitor ?? {}) });
  monitor.start();
  const app = createApp({
    pull,
    deploy,
    monitor,
    auditLog: (n) => db.auditLog(n),
    fleet,
    auth,
    jobs,
    audit: db,
    ...(o.webDir ? { webDir: o.webDir } : {}),
    ...(o.buildStandIn ? { buildStandIn: o.buildStandIn } : {}),
  });
  return {
    app,
    db,
    runner,
    pull,
    deploy,
    monitor,
    stateDir,
    ...(setupToken ? { setupToken } : {}),
    // Jobs record their final state, so the database closes after the runner.
    close: async () => {
      await monitor.stop();
      deploy.close();
      pull.stop();
      await fleet.close();
      await runner.close();
      db.close();
    },
  };
}

/** The admin identities the server decrypts with, read when a deploy or unlock needs them. */
async function serverIdentities(files?: string[]): Promise<LoadedIdentity[]> {
  const candidates = files?.length ? files : process.env.HEARTH_IDENTITY ? process.env.HEARTH_IDENTITY.split(":").filter(Boolean) : [defaultIdentityFile()].filter((p) => existsSync(p));
  if (!candidates.length) throw new ApiFailure(422, "no_identity", `the server has no admin identity to decrypt with: start it with --identity FILE or create ${defaultIdentityFile()}`);
  const out: LoadedIdentity[] = [];
  for (const f of candidates) out.push(...(await loadIdentityFile(resolve(f))));
  return out;
}

export async function startServe(o: ServeOptions): Promise<Serving> {
  const c = composeServer(o);
  const started = await listen(c.app, o.port, o.bind);
  return {
    ...started,
    stateDir: c.stateDir,
    ...(c.setupToken ? { setupToken: c.setupToken } : {}),
    close: async () => {
      await started.close();
      await c.close();
    },
  };
}
