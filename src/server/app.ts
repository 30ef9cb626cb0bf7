// `hearth serve`: one process with the HTTP API, the web UI's production build, build jobs and
// netboot. Routes are thin: the fleet service and the job runner do the work, auth guards every
// request, and errors.ts turns every failure into one JSON shape.
import { createReadStream, existsSync, statSync, type Stats } from "node:fs";
import { Readable } from "node:stream";
import { extname, join, normalize, resolve, sep } from "node:path";
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { streamSSE } from "hono/streaming";
import { serve, type ServerType } from "@hono/node-server";
import { REPO_ROOT } from "../node/fleet-dir.js";
import { ApiFailure, errorResponse, notFound } from "./errors.js";
import type { Auth } from "./auth.js";
import { HostConflictFailure, hostJsonSchema, type FleetService } from "./fleet.js";
import { fleetJsonSchema } from "./fleet.js";
import type { PullService } from "./pull.js";
import type { DeployService } from "./deploy.js";
import { ROLES, type Role } from "./auth.js";
import type { DeployRequest, PullOverview, FleetOverview, HostUpdate, JobEvent, JobSummary, LoginRequest, SetupRequest } from "./wire.js";
import type { HostDeleteRequest, HostRenameRequest, HostSecretsRequest, NewHostRequest } from "./wire.js";

/** What the routes need from the job system (src/server/jobs implements it). */
export interface JobsPort {
  enqueue(spec: { host: string; format: string; flakeDir: string; attr: string }): JobSummary;
  cancel(id: number): JobSummary;
  get(id: number): JobSummary | undefined;
  list(host?: string): JobSummary[];
  logs(id: number): string[];
  lastBuildPerHost(): Map<string, JobSummary>;
  /** Artifact file on disk, if the job has one by that name. */
  artifactPath(id: number, name: string): string | undefined;
  subscribe(id: number, listener: (e: JobEvent) => void): () => void;
  nix(): Promise<FleetOverview["nix"]>;
}

export interface AuditPort {
  audit(entry: { user: string; action: string; target: string; detail?: string }): void;
}

export interface ServerDeps {
  /** The fleet's files, read and written off the event loop (fleet.ts). */
  fleet: FleetService;
  auth: Auth;
  jobs: JobsPort;
  audit: AuditPort;
  /** The web UI's production build (web/dist). */
  webDir?: string;
  /** Tests only: see ServeOptions.buildStandIn. */
  buildStandIn?: { flakeDir: string; attr: string };
  /** Pull nodes: the agents' API and the rollouts (pull.ts). */
  pull?: PullService;
  /** Push deploys, rollbacks and unlocks over SSH (deploy.ts). */
  deploy?: DeployService;
  /** Live machine and Ethereum state, alerts (monitor.ts). */
  monitor?: MonitorPort;
  /** The audit log, newest first. */
  auditLog?: (limit: number) => unknown[];
}

/** What the routes read from the monitor (src/server/monitor.ts implements it). */
export interface MonitorPort {
  overview(): unknown;
  host(name: string): unknown;
  pollNow(): Promise<void>;
  testAlert(user: string): Promise<unknown>;
}

const MIME: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".json": "application/json",
  ".webmanifest": "application/manifest+json",
  ".map": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".ico": "image/x-icon",
  ".png": "image/png",
  ".webp": "image/webp",
  ".woff2": "font/woff2",
};

const TERMINAL = new Set(["succeeded", "failed", "cancelled", "interrupted"]);

/** The request's JSON body, which must be an object (`null`, arrays and numbers are 400 too). */
async function body<T>(c: Context): Promise<T> {
  let value: unknown;
  try {
    value = await c.req.json();
  } catch (e) {
    if (e instanceof ApiFailure) throw e;
    throw new ApiFailure(400, "bad_json", "the request body must be JSON (a JSON object)");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new ApiFailure(400, "bad_json", `the request body must be a JSON object, not ${value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`}`);
  return value as T;
}

const jobId = (c: Context) => {
  const id = Number(c.req.param("id"));
  if (!Number.isInteger(id) || id < 1) throw notFound(`job '${c.req.param("id")}'`);
  return id;
};

export function createApp(deps: ServerDeps): Hono {
  const { auth, jobs, audit } = deps;
  const fleet = deps.fleet;
  const app = new Hono();
  const webDir = deps.webDir ?? join(REPO_ROOT, "web", "dist");
  const record = (c: Context, action: string, target: string, detail?: string) => audit.audit({ user: auth.userOf(c), action, target, ...(detail ? { detail } : {}) });

  app.onError((e, c) => errorResponse(e, c));
  app.use("*", auth.middleware());
  app.use(
    "/api/*",
    bodyLimit({
      maxSize: 1024 * 1024,
      onError: () => {
        throw new ApiFailure(413, "too_large", "request bodies are limited to 1 MiB");
      },
    }),
  );

  app.get("/api/session", (c) => c.json(auth.getSession(c)));
  // Auth audits logins and setups itself (failures too, with the client's address).
  app.post("/api/login", async (c) => {
    const b = await body<Partial<LoginRequest>>(c);
    return c.json(await auth.login(c, String(b.user ?? ""), String(b.password ?? "")));
  });
  app.post("/api/setup", async (c) => {
    const b = await body<Partial<SetupRequest>>(c);
    return c.json(await auth.setup(c, String(b.token ?? ""), String(b.user ?? ""), String(b.password ?? "")));
  });
  app.post("/api/logout", (c) => {
    record(c, "logout", auth.userOf(c));
    auth.logout(c);
    return c.json({ ok: true });
  });

  app.get("/api/fleet", async (c) => {
    await fleet.settled();
    const body = await fleet.overviewJson(jobs.lastBuildPerHost(), await jobs.nix());
    return c.body(new Uint8Array(body.buffer as ArrayBuffer, body.byteOffset, body.byteLength), 200, { "content-type": "application/json" });
  });
  app.get("/api/schema/host", (c) => c.json(hostJsonSchema()));
  app.get("/api/templates", async (c) => c.json(await fleet.templates()));
  app.get("/api/hosts/:name", async (c) => {
    await fleet.settled();
    const h = await fleet.host(c.req.param("name"));
    c.header("etag", `"${h.version}"`);
    c.header("cache-control", "no-store");
    return c.json(h);
  });
  app.put("/api/hosts/:name", async (c) => {
    const b = await body<HostUpdate>(c);
    // The precondition: the version the edit started from, as a body field or If-Match.
    const ifMatch = c.req.header("if-match")?.trim().replace(/^W\//, "").replace(/^"|"$/g, "");
    const version = typeof b.version === "string" ? b.version : ifMatch && ifMatch !== "*" ? ifMatch : undefined;
    try {
      const r = await fleet.update(c.req.param("name"), b.values, b.dryRun === true, { ...(version ? { version } : {}), ...(typeof b.baseYaml === "string" ? { yaml: b.baseYaml } : {}) });
      if (r.written) record(c, "host.update", c.req.param("name"), r.diff);
      return c.json(r);
    } catch (e) {
      if (e instanceof HostConflictFailure) return c.json(e.body, 409);
      throw e;
    }
  });
  app.post("/api/hosts", async (c) => {
    const b = await body<{ name?: string; template?: string }>(c);
    const h = await fleet.create(String(b.name ?? ""), String(b.template ?? "server"));
    record(c, "host.create", h.name, `from template ${b.template ?? "server"}`);
    return c.json(h, 201);
  });
  app.post("/api/secrets/generate", async (c) => {
    const r = await fleet.generateSecrets();
    record(c, "secrets.generate", "fleet", r.created.join(", ") || "nothing missing");
    return c.json(r);
  });

  app.post("/api/builds", async (c) => {
    const b = await body<{ hosts?: string[]; format?: string }>(c);
    if (!Array.isArray(b.hosts) || b.hosts.length === 0) throw new ApiFailure(422, "invalid", "name at least one host in `hosts`");
    const nix = await jobs.nix();
    if (!nix.available) throw new ApiFailure(503, "no_nix", `Nix is not installed on the server: ${nix.installHint ?? "install Nix"}`);
    const out: JobSummary[] = [];
    for (const host of b.hosts) {
      const p = await fleet.prepareBuild(String(host), b.format);
      const target = deps.buildStandIn ?? p;
      const job = jobs.enqueue({ host: String(host), format: p.format, flakeDir: target.flakeDir, attr: target.attr });
      record(c, "build", String(host), `${p.attr} (job ${job.id})`);
      out.push(job);
    }
    return c.json(out, 202);
  });
  app.get("/api/jobs", (c) => c.json(jobs.list(c.req.query("host") || undefined)));
  app.get("/api/jobs/:id", (c) => {
    const j = jobs.get(jobId(c));
    if (!j) throw notFound(`job ${c.req.param("id")}`);
    return c.json({ ...j, logs: jobs.logs(j.id) });
  });
  app.post("/api/jobs/:id/cancel", (c) => {
    const j = jobs.cancel(jobId(c));
    record(c, "build.cancel", j.host, `job ${j.id}`);
    return c.json(j);
  });
  app.get("/api/jobs/:id/events", (c) => {
    const id = jobId(c);
    const j = jobs.get(id);
    if (!j) throw notFound(`job ${id}`);
    return streamSSE(c, async (stream) => {
      let done = TERMINAL.has(j.state);
      let wake: () => void = () => {};
      const queue: JobEvent[] = [{ type: "state", job: j }];
      const unsubscribe = jobs.subscribe(id, (e) => {
        queue.push(e);
        if (e.type === "state" && TERMINAL.has(e.job.state)) done = true;
        wake();
      });
      stream.onAbort(() => {
        done = true;
        wake();
      });
      try {
        while (true) {
          while (queue.length) await stream.writeSSE({ data: JSON.stringify(queue.shift()) });
          if (done || stream.aborted) break;
          // Wait for the next event, with a heartbeat so proxies keep the stream open.
          await new Promise<void>((r) => {
            wake = r;
            setTimeout(r, 15000).unref();
          });
          if (!queue.length && !done) await stream.write(": keep-alive\n\n");
        }
      } finally {
        unsubscribe();
      }
    });
  });
  app.get("/api/jobs/:id/artifacts/:name", (c) => {
    const path = jobs.artifactPath(jobId(c), c.req.param("name"));
    if (!path || !existsSync(path)) throw notFound(`artifact ${c.req.param("name")}`);
    return fileResponse(path, "application/octet-stream", c.req.param("name"), false, c.req.raw);
  });

  // Every /api path not routed above: a JSON 404, never the UI's page.
  if (deps.pull) {
    const pull = deps.pull;
    // Agents authenticate each request with their host key (pull.ts), not with a session.
    app.route("/api/agent/v1", pull.routes());
    app.get("/api/pull", (c) => {
      const o: PullOverview = { nodes: pull.nodes(), rollouts: pull.rollouts(20), unreleased: pull.unreleased(), policy: pull.policy };
      return c.json(o);
    });
    app.post("/api/rollouts", async (c) => {
      const b = await body<{ hosts?: unknown }>(c);
      const hosts = Array.isArray(b.hosts) ? b.hosts.map(String) : undefined;
      const r = pull.startRollout(hosts);
      record(c, "rollout.start", r.id, `${Object.keys(r.hosts).length} host(s): ${Object.keys(r.hosts).join(", ")}`);
      return c.json(r, 201);
    });
    app.post("/api/rollouts/:id/:action", (c) => {
      const action = c.req.param("action");
      if (action !== "resume" && action !== "abort") throw notFound(`rollout action '${action}'`);
      const r = pull.control(c.req.param("id"), action);
      record(c, `rollout.${action}`, r.id);
      return c.json(r);
    });
  }

  // Issue 15, everything editable in the UI: fleet.yaml's settings, renaming and deleting a host
  // (its secrets and mesh address with it), one host's secrets, and the guided new node.
  {
    const versionOf = (c: Context, b: { version?: unknown }) => {
      const ifMatch = c.req.header("if-match")?.trim().replace(/^W\//, "").replace(/^"|"$/g, "");
      return typeof b.version === "string" ? b.version : ifMatch && ifMatch !== "*" ? ifMatch : undefined;
    };
    app.get("/api/schema/fleet", (c) => c.json(fleetJsonSchema()));
    app.get("/api/fleet/settings", async (c) => {
      await fleet.settled();
      const f = await fleet.fleetSettings();
      c.header("etag", `"${f.version}"`);
      c.header("cache-control", "no-store");
      return c.json(f);
    });
    app.put("/api/fleet/settings", async (c) => {
      const b = await body<HostUpdate>(c);
      const version = versionOf(c, b);
      try {
        const r = await fleet.updateFleet(b.values, b.dryRun === true, { ...(version ? { version } : {}), ...(typeof b.baseYaml === "string" ? { yaml: b.baseYaml } : {}) });
        if (r.written) record(c, "fleet.update", "fleet.yaml", r.diff);
        return c.json(r);
      } catch (e) {
        if (e instanceof HostConflictFailure) return c.json(e.body, 409);
        throw e;
      }
    });
    app.post("/api/hosts/from-template", async (c) => {
      const b = await body<Partial<NewHostRequest>>(c);
      const r = await fleet.newHost({ template: String(b.template ?? ""), name: String(b.name ?? ""), set: Array.isArray(b.set) ? b.set : [], dryRun: b.dryRun === true });
      if (r.created) record(c, "host.create", r.name, `from template ${b.template} (guided)`);
      return c.json(r, r.created ? 201 : 200);
    });
    app.get("/api/templates/:name", async (c) => c.json(await fleet.template(c.req.param("name"))));
    app.post("/api/hosts/:name/rename", async (c) => {
      const b = await body<Partial<HostRenameRequest>>(c);
      const name = c.req.param("name");
      const r = await fleet.renameHost(name, String(b.to ?? ""), b.dryRun === true);
      if (r.done) record(c, "host.rename", name, `to ${r.to}; secrets moved: ${r.secrets.length}${r.meshAddress ? `; mesh address ${r.meshAddress} kept` : ""}`);
      return c.json(r);
    });
    app.delete("/api/hosts/:name", async (c) => {
      const b = await body<Partial<HostDeleteRequest>>(c);
      const name = c.req.param("name");
      const r = await fleet.deleteHost(name, typeof b.confirm === "string" ? b.confirm : undefined, b.dryRun === true);
      if (r.done) record(c, "host.delete", name, `secrets deleted: ${r.secrets.length}${r.meshAddress ? `; mesh address ${r.meshAddress} freed` : ""}`);
      return c.json(r);
    });
    app.get("/api/hosts/:name/secrets/rotatable", async (c) => c.json(await fleet.hostRotatable(c.req.param("name"))));
    app.post("/api/hosts/:name/secrets", async (c) => {
      const b = await body<Partial<HostSecretsRequest>>(c);
      const name = c.req.param("name");
      const rotate = typeof b.rotate === "string" && b.rotate ? b.rotate : undefined;
      const r = await fleet.hostSecrets(name, rotate);
      record(c, rotate ? "secrets.rotate" : "secrets.generate", name, rotate ? `${rotate}${r.reencrypted.length ? `; re-encrypted ${r.reencrypted.join(", ")}` : ""}` : r.created.join(", ") || "nothing missing");
      return c.json(r);
    });
  }

  const deploy = deps.deploy;
  if (deploy) {
    const deployId = (c: Context) => {
      const id = Number(c.req.param("id"));
      if (!Number.isInteger(id) || id < 1) throw notFound(`deploy '${c.req.param("id")}'`);
      return id;
    };
    app.get("/api/deploys", (c) => c.json(deploy.list()));
    app.post("/api/deploys", async (c) => {
      const b = await body<DeployRequest>(c);
      if (!Array.isArray(b.hosts)) throw new ApiFailure(422, "invalid", "name the hosts to deploy in `hosts`");
      const d = await deploy.create(auth.userOf(c), { hosts: b.hosts.map(String), install: b.install === true, ...(Array.isArray(b.confirmExisting) ? { confirmExisting: b.confirmExisting.map(String) } : {}), ...(b.policy && typeof b.policy === "object" ? { policy: b.policy } : {}) });
      record(c, "deploy.plan", d.hosts.join(", "), `deploy ${d.id}${d.install ? " (install)" : ""}${d.commit ? ` from ${d.commit.slice(0, 12)}${d.dirty ? " (uncommitted changes)" : ""}` : " (not a git repository)"}`);
      return c.json(d, 201);
    });
    app.get("/api/deploys/:id", (c) => c.json(deploy.get(deployId(c))));
    app.get("/api/deploys/:id/events", (c) => c.json(deploy.events(deployId(c), Number(c.req.query("after") ?? 0) || 0)));
    app.post("/api/deploys/:id/confirm", (c) => {
      const d = deploy.confirm(deployId(c), auth.userOf(c));
      record(c, "deploy.start", d.hosts.join(", "), `deploy ${d.id}; canary ${d.policy.canary}, batches of ${d.policy.batchSize >= 1_000_000 ? "all" : d.policy.batchSize}, pause at ${d.policy.pauseAtFailures} failure(s)`);
      return c.json(d);
    });
    app.post("/api/deploys/:id/:action{resume|abort}", (c) => {
      const action = c.req.param("action") as "resume" | "abort";
      const d = deploy.answer(deployId(c), action);
      record(c, `deploy.${action}`, d.hosts.join(", "), `deploy ${d.id}`);
      return c.json(d);
    });
    app.post("/api/deploys/:id/hosts/:host/rollback", async (c) => {
      const host = c.req.param("host");
      record(c, "deploy.rollback", host, `deploy ${c.req.param("id")}`);
      return c.json(await deploy.rollback(deployId(c), host, auth.userOf(c)));
    });
    app.get("/api/hosts/:name/prepare", async (c) => c.json(await deploy.preparePlan(c.req.param("name"))));
    app.post("/api/hosts/:name/prepare", async (c) => {
      const b = await body<{ confirm?: unknown; confirmExisting?: unknown }>(c);
      const name = c.req.param("name");
      const confirm = typeof b.confirm === "string" ? b.confirm : undefined;
      try {
        const r = await deploy.prepare(name, confirm, typeof b.confirmExisting === "string" ? b.confirmExisting : undefined);
        record(c, "prepare", name, "disks formatted, subvolumes made, keys placed");
        return c.json(r);
      } catch (e) {
        record(c, "prepare.failed", name, (e as Error).message.slice(0, 200));
        throw e;
      }
    });
    app.post("/api/hosts/:name/unlock", async (c) => {
      const b = await body<{ passphrase?: unknown }>(c);
      const name = c.req.param("name");
      // A typed passphrase is used once and zeroed; the audit log says only which way it came.
      const typed = typeof b.passphrase === "string" && b.passphrase !== "" ? Buffer.from(b.passphrase) : undefined;
      delete b.passphrase;
      try {
        const r = await deploy.unlock(name, typed);
        record(c, "unlock", name, typed ? "passphrase typed" : "passphrase from hearth's secrets");
        return c.json(r);
      } catch (e) {
        record(c, "unlock.failed", name, typed ? "passphrase typed" : "passphrase from hearth's secrets");
        throw e;
      }
    });
  }

  const monitor = deps.monitor;
  if (monitor) {
    app.get("/api/monitor", (c) => c.json(monitor.overview()));
    app.get("/api/monitor/hosts/:name", (c) => c.json(monitor.host(c.req.param("name"))));
    app.post("/api/monitor/poll", async (c) => {
      await monitor.pollNow();
      return c.json(monitor.overview());
    });
    app.post("/api/alerts/test", async (c) => {
      record(c, "alerts.test", "alerts");
      return c.json(await monitor.testAlert(auth.userOf(c)));
    });
  }

  app.get("/api/users", (c) => c.json(auth.users()));
  app.post("/api/users", async (c) => {
    const b = await body<{ name?: unknown; password?: unknown; role?: unknown }>(c);
    const role = String(b.role ?? "viewer") as Role;
    if (!ROLES.includes(role)) throw new ApiFailure(422, "invalid", `role must be one of ${ROLES.join(", ")}`);
    await auth.putUser(c, String(b.name ?? ""), String(b.password ?? ""), role);
    return c.json(auth.users(), 201);
  });
  app.delete("/api/users/:name", (c) => {
    auth.deleteUser(c, c.req.param("name"));
    return c.json(auth.users());
  });
  if (deps.auditLog) {
    const log = deps.auditLog;
    app.get("/api/audit", (c) => c.json(log(Math.min(500, Number(c.req.query("limit") ?? 100) || 100))));
  }

  app.all("/api/*", (c) => {
    throw new ApiFailure(404, "not_found", `no API endpoint ${c.req.method} ${c.req.path}`);
  });

  // Netboot (seed 001's netboot.ipxe): the script and the files it chains, from the host's
  // latest successful kexec build; iPXE resolves the script's relative names against this URL.
  app.get("/netboot/:host/:file", (c) => {
    const host = c.req.param("host");
    const file = c.req.param("file");
    const job = jobs.list(host).find((j) => j.state === "succeeded" && j.format === "kexec");
    if (!job) throw notFound(`a successful kexec build of '${host}'`);
    const path = jobs.artifactPath(job.id, file);
    if (!path || !existsSync(path)) throw notFound(`${file} in build ${job.id} of '${host}'`);
    return fileResponse(path, file.endsWith(".ipxe") ? "text/plain; charset=utf-8" : "application/octet-stream", undefined, false, c.req.raw);
  });

  // The UI: files from the production build; every other path is the app's index.html.
  app.get("*", (c) => {
    let rel: string;
    try {
      rel = normalize(decodeURIComponent(new URL(c.req.url).pathname)).replace(/^(\.\.(\/|$))+/, "");
    } catch {
      return c.text("malformed path", 400);
    }
    const root = resolve(webDir);
    const candidate = resolve(root, "." + rel);
    if (candidate.startsWith(root + sep) && existsSync(candidate) && statSync(candidate).isFile())
      return fileResponse(candidate, MIME[extname(candidate)] ?? "application/octet-stream", undefined, rel.startsWith("/assets/"), c.req.raw);
    const index = join(webDir, "index.html");
    if (!existsSync(index)) return c.text("hearth's web UI is not built: run `npm run build:web` (npm ci does it), then reload.", 503);
    return fileResponse(index, MIME[".html"]!, undefined, false, c.req.raw);
  });
  return app;
}

// ---- files: the UI's build, artifacts, netboot ------------------------------------------------

/** Compressions the UI build carries next to its files (web/vite.config.ts writes them), best first. */
const PRECOMPRESSED = [
  { coding: "br", suffix: ".br" },
  { coding: "gzip", suffix: ".gz" },
] as const;

/** Types worth compressing: text. Images, fonts and boot media are compressed already or huge. */
const COMPRESSIBLE = /^(text\/|application\/(json|manifest\+json|javascript)|image\/svg\+xml)/;

/**
 * A file as an HTTP response. With the request (the UI's files) it also negotiates
 * Content-Encoding from the precompressed `.br`/`.gz` siblings the build wrote, answers
 * conditional requests and HEAD without opening the file, and serves byte ranges of the plain
 * file. Hashed UI files (`immutable`) are cached for a year; everything else from the UI is
 * revalidated every time (`no-cache`), so a new build shows on the next load.
 *
 *     fileResponse(path, "text/javascript; charset=utf-8", undefined, true, c.req.raw)
 */
function fileResponse(path: string, type: string, downloadName?: string, immutable = false, req?: Request): Response {
  const headers: Record<string, string> = {
    "content-type": type,
    "x-content-type-options": "nosniff",
    ...(downloadName ? { "content-disposition": `attachment; filename="${downloadName.replace(/"/g, "")}"` } : {}),
  };
  if (!req) {
    if (immutable) headers["cache-control"] = "public, max-age=31536000, immutable";
    headers["content-length"] = String(statSync(path).size);
    // Streamed: ISO and SD images are large.
    return new Response(Readable.toWeb(createReadStream(path)) as ReadableStream, { headers });
  }

  headers["cache-control"] = immutable ? "public, max-age=31536000, immutable" : "no-cache";
  const compressible = COMPRESSIBLE.test(type);
  if (compressible) headers["vary"] = "Accept-Encoding";
  const plain = statSync(path);
  const range = req.headers.get("range");
  // A range is of the plain bytes (ranges of a compressed body would be of that encoding only).
  let file = path;
  let size = plain.size;
  let mtime = plain.mtimeMs;
  if (compressible && range === null) {
    const accepted = acceptedCodings(req.headers.get("accept-encoding"));
    // The client's preference (q) first; on a tie, the smaller Brotli.
    const ranked = PRECOMPRESSED.filter((p) => accepted.has(p.coding)).sort((a, b) => accepted.get(b.coding)! - accepted.get(a.coding)!);
    for (const p of ranked) {
      const s = statOrUndefined(path + p.suffix);
      // Older than the file: left over from a previous build, not this file's bytes.
      if (!s?.isFile() || s.mtimeMs < plain.mtimeMs) continue;
      file = path + p.suffix;
      size = s.size;
      mtime = s.mtimeMs;
      headers["content-encoding"] = p.coding;
      break;
    }
  }
  // Each encoding is its own representation, with its own tag.
  const etag = `W/"${size.toString(16)}-${Math.floor(mtime).toString(16)}${headers["content-encoding"] ? `-${headers["content-encoding"]}` : ""}"`;
  headers["etag"] = etag;
  headers["last-modified"] = new Date(plain.mtimeMs).toUTCString();
  const head = req.method === "HEAD";
  const ifNoneMatch = req.headers.get("if-none-match");
  if (ifNoneMatch !== null && ifNoneMatch.split(",").some((t) => t.trim() === etag || t.trim() === "*")) {
    delete headers["content-type"];
    return new Response(null, { status: 304, headers });
  }

  if (!compressible || range !== null) headers["accept-ranges"] = "bytes";
  const r = range === null ? undefined : byteRange(range, size);
  if (r === "unsatisfiable") {
    headers["content-range"] = `bytes */${size}`;
    headers["content-length"] = "0";
    return new Response(null, { status: 416, headers });
  }
  if (r) {
    headers["content-range"] = `bytes ${r.start}-${r.end}/${size}`;
    headers["content-length"] = String(r.end - r.start + 1);
    const body = head ? null : (Readable.toWeb(createReadStream(file, { start: r.start, end: r.end })) as ReadableStream);
    return new Response(body, { status: 206, headers });
  }
  headers["content-length"] = String(size);
  // HEAD: no stream is opened (Hono would drop its body unread, leaving the file open).
  return new Response(head ? null : (Readable.toWeb(createReadStream(file)) as ReadableStream), { headers });
}

/** Content-codings an Accept-Encoding header allows (q > 0) with their q, of those hearth has files for. */
function acceptedCodings(header: string | null): Map<string, number> {
  const out = new Map<string, number>();
  if (!header) return out;
  const q = new Map<string, number>();
  for (const part of header.split(",")) {
    const [name, ...params] = part.trim().toLowerCase().split(";");
    if (!name) continue;
    const qp = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const value = qp === undefined ? 1 : Number(qp.slice(2));
    q.set(name.trim(), Number.isFinite(value) ? value : 0);
  }
  for (const { coding } of PRECOMPRESSED) {
    const v = q.get(coding) ?? (coding === "gzip" ? q.get("x-gzip") : undefined) ?? q.get("*");
    if (v !== undefined && v > 0) out.set(coding, v);
  }
  return out;
}

/**
 * One byte range of a `size`-byte body from a Range header (RFC 9110 14.1.2): undefined when the
 * header is not one bytes range (the whole body is sent), "unsatisfiable" when it starts past the end.
 */
function byteRange(header: string, size: number): { start: number; end: number } | "unsatisfiable" | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size) return "unsatisfiable";
  if (end < start) return undefined;
  return { start, end };
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

export interface Started {
  url: string;
  server: ServerType;
  close(): Promise<void>;
}

export function listen(app: Hono, port: number, hostname: string): Promise<Started> {
  return new Promise((ok) => {
    const server = serve({ fetch: app.fetch, port, hostname }, (info) => {
      const host = hostname.includes(":") ? `[${hostname}]` : hostname;
      ok({ url: `http://${host}:${info.port}`, server, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}
