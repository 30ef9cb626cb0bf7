// The fleet as the server sees it: the files on disk stay the source of truth, and a worker
// thread (fleet-worker.ts, running FleetModel) does all reading, validating, planning and
// writing, so no request holds the event loop while a 1,000-host fleet is validated. The server
// keeps the file watcher, the overview's serialized body, and warms the worker's cache when the
// files change, so the next page load finds the fleet already validated.
import { existsSync, watch, type FSWatcher } from "node:fs";
import { join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { ApiFailure } from "./errors.js";
import { UserError } from "../node/errors.js";
import { fleetFingerprint, HostConflictFailure, type FleetBase, type FleetModel } from "./fleet-model.js";
import type { LoadedIdentity } from "../node/secrets/age.js";
import type {
  FleetOverview,
  FleetSettingsDetail,
  HostChangeWire,
  HostConflict,
  HostDetail,
  HostEditResult,
  HostSecretsResult,
  HostUpdateResult,
  JobSummary,
  NewHostRequest,
  NewHostResult,
  RotatableSecret,
  TemplateDetail,
  WireIssue,
} from "./wire.js";

export { HostConflictFailure, fleetJsonSchema, hostJsonSchema } from "./fleet-model.js";

export interface FleetServiceOptions {
  /**
   * The admin identities the server decrypts with (serve.ts: --identity, $HEARTH_IDENTITY or
   * ~/.config/hearth/identity.txt). Renames, deletes and SSH host key rotations re-encrypt with
   * them; the worker thread loads the same files itself, so no key crosses a message.
   */
  identities?: () => Promise<LoadedIdentity[]>;
}

type Method =
  | "overview"
  | "host"
  | "update"
  | "create"
  | "templates"
  | "generateSecrets"
  | "prepareBuild"
  | "fleetSettings"
  | "updateFleet"
  | "renameHost"
  | "deleteHost"
  | "hostSecrets"
  | "hostRotatable"
  | "template"
  | "newHost";
export interface WorkerCall {
  id: number;
  generation: number;
  method: Method;
  args: unknown[];
}
export type WorkerAnswer =
  | { id: number; ok: true; value: unknown; wrote: boolean }
  | {
      id: number;
      ok: false;
      wrote: boolean;
      error:
        | { kind: "conflict"; body: HostConflict }
        | { kind: "api"; status: ApiFailure["status"]; code: string; message: string; issues?: WireIssue[] }
        | { kind: "bug"; message: string; stack: string };
    };

/** The worker's entry: the compiled JavaScript beside this file (dist/cli), or the source. */
function workerEntry(): URL {
  const js = new URL("./fleet-worker.js", import.meta.url);
  return existsSync(fileURLToPath(js)) ? js : new URL("./fleet-worker-source.mjs", import.meta.url);
}

export class FleetService {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { ok: (v: unknown) => void; fail: (e: unknown) => void }>();
  private nextId = 1;
  private generation = 0;
  private readonly watcher?: FSWatcher;
  private warmTimer?: NodeJS.Timeout;
  /** The overview of the files' last state, and the request for the next one while it runs. */
  private overviewMemo?: { key: string; base: FleetBase; json?: { key: string; body: Buffer } };
  private overviewCall?: { generation: number; promise: Promise<{ key: string; base: FleetBase }> };
  private closed = false;

  constructor(
    readonly dir: string,
    private readonly opts: FleetServiceOptions = {},
  ) {
    this.worker = new Worker(workerEntry(), { workerData: { dir } });
    this.worker.unref();
    this.worker.on("message", (a: WorkerAnswer) => this.answer(a));
    this.worker.on("error", (e) => this.failAll(e));
    this.worker.on("exit", (code) => this.failAll(new Error(`the fleet worker stopped (exit code ${code})`)));
    try {
      // The generated flake and hidden folders (.git, a state directory kept in the fleet) are
      // not read by validation: their writes (builds, the database) leave the cache alone.
      this.watcher = watch(dir, { recursive: true, persistent: false }, (_event, name) => {
        const parts = String(name ?? "").split(sep);
        const top = parts[0] ?? "";
        const base = parts[parts.length - 1] ?? "";
        // Temp files (.name.hearth-tmp-…) become a change only when renamed into place, which
        // is an event of its own; mesh/addresses.json is written by the worker itself while
        // it makes the overview (the mesh directory's mtime, in the fingerprint, still tells).
        if (top === "flake" || top.startsWith(".") || base.startsWith(".") || String(name) === join("mesh", "addresses.json")) return;
        this.bump();
      });
      this.watcher.on("error", () => this.bump());
    } catch {
      // No recursive watch on this platform: the directory mtimes alone decide.
    }
    this.warm();
  }

  /**
   * Let file-change events already queued by the kernel reach the watcher before the cache is
   * read: a file rewritten in place a moment ago (no directory mtime changes) is then seen.
   */
  async settled(): Promise<void> {
    // Two turns: the second runs after a poll phase, in which queued inotify events are read.
    await new Promise((ok) => setImmediate(ok));
    await new Promise((ok) => setImmediate(ok));
  }


  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.warmTimer);
    this.watcher?.close();
    await this.worker.terminate();
  }

  private bump(): void {
    this.generation++;
    // Validate the new state in the background, once the burst of events (a git pull) is over.
    clearTimeout(this.warmTimer);
    this.warmTimer = setTimeout(() => this.warm(), 150);
    this.warmTimer.unref();
  }

  private warm(): void {
    if (!this.closed) this.overviewBase().catch(() => {});
  }

  private call<T>(method: Method, ...args: unknown[]): Promise<T> {
    if (this.closed) return Promise.reject(new Error("the fleet service is closed"));
    const id = this.nextId++;
    return new Promise<T>((ok, fail) => {
      this.pending.set(id, { ok: ok as (v: unknown) => void, fail });
      this.worker.postMessage({ id, generation: this.generation, method, args } satisfies WorkerCall);
    });
  }

  private answer(a: WorkerAnswer): void {
    const p = this.pending.get(a.id);
    if (!p) return;
    this.pending.delete(a.id);
    // A write made by the worker: later reads must not use what was cached before it.
    if (a.wrote) this.generation++;
    if (a.ok) return p.ok(a.value);
    const e = a.error;
    if (e.kind === "conflict") return p.fail(new HostConflictFailure(e.body));
    if (e.kind === "api") return p.fail(new ApiFailure(e.status, e.code, e.message, e.issues));
    const bug = new Error(e.message);
    bug.stack = e.stack;
    p.fail(bug);
  }

  private failAll(e: unknown): void {
    for (const p of this.pending.values()) p.fail(e);
    this.pending.clear();
  }

  /** The overview for the files as they are now; one worker call however many requests wait. */
  private async overviewBase(): Promise<NonNullable<FleetService["overviewMemo"]>> {
    const now = fleetFingerprint(this.dir, this.generation);
    if (this.overviewMemo?.key === now) return this.overviewMemo;
    if (this.overviewCall?.generation !== this.generation) {
      const promise = this.call<{ key: string; base: FleetBase }>("overview");
      this.overviewCall = { generation: this.generation, promise };
      promise.then(
        (r) => {
          if (this.overviewMemo?.key !== r.key) this.overviewMemo = r;
        },
        () => {},
      );
    }
    const r = await this.overviewCall.promise;
    return this.overviewMemo?.key === r.key ? this.overviewMemo : r;
  }

  /** GET /api/fleet's body, serialized once per state of the files and of the builds. */
  async overviewJson(lastBuilds: Map<string, JobSummary>, nix: FleetOverview["nix"]): Promise<Buffer> {
    const memo = await this.overviewBase();
    const key = `${JSON.stringify([...lastBuilds])}|${JSON.stringify(nix)}`;
    if (memo.json?.key === key) return memo.json.body;
    const base = memo.base;
    const body = Buffer.from(JSON.stringify({ ...base, nix, hosts: base.hosts.map((h) => (lastBuilds.has(h.name) ? { ...h, lastBuild: lastBuilds.get(h.name)! } : h)) }));
    memo.json = { key, body };
    return body;
  }

  async overview(lastBuilds: Map<string, JobSummary>, nix: FleetOverview["nix"]): Promise<FleetOverview> {
    return JSON.parse((await this.overviewJson(lastBuilds, nix)).toString("utf8")) as FleetOverview;
  }

  host(name: string): Promise<HostDetail> {
    return this.call("host", name);
  }

  update(...args: Parameters<FleetModel["update"]>): Promise<HostEditResult> {
    return this.call("update", ...args);
  }

  templates(): Promise<string[]> {
    return this.call("templates");
  }

  create(name: string, template: string): Promise<HostDetail> {
    return this.call("create", name, template);
  }

  generateSecrets(): Promise<{ created: string[] }> {
    return this.call("generateSecrets");
  }

  fleetSettings(): Promise<FleetSettingsDetail> {
    return this.call("fleetSettings");
  }

  updateFleet(...args: Parameters<FleetModel["updateFleet"]>): Promise<HostUpdateResult> {
    return this.call("updateFleet", ...args);
  }

  async renameHost(name: string, to: string, dryRun: boolean): Promise<HostChangeWire> {
    return this.call("renameHost", name, to, dryRun, dryRun ? undefined : await this.identityFiles());
  }

  async deleteHost(name: string, confirm: string | undefined, dryRun: boolean): Promise<HostChangeWire> {
    return this.call("deleteHost", name, confirm, dryRun, dryRun ? undefined : await this.identityFiles());
  }

  async hostSecrets(name: string, rotate?: string): Promise<HostSecretsResult> {
    return this.call("hostSecrets", name, rotate, rotate ? await this.identityFiles() : undefined);
  }

  hostRotatable(name: string): Promise<RotatableSecret[]> {
    return this.call("hostRotatable", name);
  }

  template(name: string): Promise<TemplateDetail> {
    return this.call("template", name);
  }

  newHost(req: NewHostRequest): Promise<NewHostResult> {
    return this.call("newHost", req);
  }

  /** The files of the server's admin identities, when it has any (re-encryption is skipped otherwise). */
  private async identityFiles(): Promise<string[] | undefined> {
    if (!this.opts.identities) return undefined;
    try {
      return [...new Set((await this.opts.identities()).map((i) => i.source))];
    } catch (e) {
      // No identity configured: what needs one is reported stale instead (`hearth secrets rekey`).
      if (e instanceof ApiFailure) return undefined;
      if (e instanceof UserError) throw new ApiFailure(422, "bad_identity", e.message);
      throw e;
    }
  }

  prepareBuild(host: string, format?: string): Promise<{ flakeDir: string; attr: string; format: string }> {
    return this.call("prepareBuild", host, format);
  }
}
