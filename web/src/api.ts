// The HTTP API client of the web UI: one function per endpoint, typed by the shared wire types.
import type {
  ApiError,
  AuditWire,
  DeployEventWire,
  DeployRequest,
  DeployWire,
  MonitorHostDetail,
  MonitorOverview,
  UserWire,
  FleetOverview,
  HostDetail,
  HostUpdate,
  HostUpdateResult,
  JobEvent,
  JobSummary,
  PullOverview,
  RolloutWire,
  Session,
  FleetSettingsDetail,
  HostChangeWire,
  HostSecretsResult,
  NewHostRequest,
  NewHostResult,
  RotatableSecret,
  TemplateDetail,
} from "../../src/server/wire";

/** A failed request: the HTTP status and the server's ApiError body when it sent one. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiError | undefined,
  ) {
    super(body?.message ?? `HTTP ${status}`);
  }
  get code(): string | undefined {
    return this.body?.error;
  }
}

export type JobWithLogs = JobSummary & { logs: string[] };

let csrf = "";
const unauthorizedListeners = new Set<(code: string | undefined) => void>();

/** Called with the ApiError code when a request answers 401 (session expired, logged out). */
export function onUnauthorized(listener: (code: string | undefined) => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal, retried = false): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET") headers["x-csrf-token"] = csrf;
  const res = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    ...(signal ? { signal } : {}),
  });
  const text = await res.text();
  let data: unknown;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!res.ok) {
    const err = isApiError(data) ? data : undefined;
    // A restarted server may have a new session key, so the page's CSRF token is stale: the
    // write was refused unread, so take a fresh token and send it once more.
    if (res.status === 403 && err?.error === "csrf" && method !== "GET" && !retried) {
      await api.session();
      return request<T>(method, path, body, signal, true);
    }
    if (res.status === 401 && path !== "/api/session" && path !== "/api/login" && path !== "/api/setup")
      for (const l of unauthorizedListeners) l(err?.error);
    throw new ApiFailure(res.status, err ?? { error: "http", message: `${method} ${path}: HTTP ${res.status} ${text.slice(0, 200)}` });
  }
  return data as T;
}

function isApiError(x: unknown): x is ApiError {
  return typeof x === "object" && x !== null && typeof (x as ApiError).message === "string";
}

/** A readable one-line message for anything a request can throw. */
export function errorMessage(e: unknown): string {
  if (e instanceof ApiFailure) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

const enc = encodeURIComponent;

function remember(s: Session): Session {
  csrf = s.csrf;
  return s;
}

export const api = {
  session: async () => remember(await request<Session>("GET", "/api/session")),
  login: async (user: string, password: string) => remember(await request<Session>("POST", "/api/login", { user, password })),
  /** First start on a non-loopback bind: the token printed by `hearth serve` sets the admin password. */
  setup: async (token: string, user: string, password: string) =>
    remember(await request<Session>("POST", "/api/setup", { token, user, password })),
  logout: () => request<unknown>("POST", "/api/logout", {}),

  fleet: (signal?: AbortSignal) => request<FleetOverview>("GET", "/api/fleet", undefined, signal),
  hostSchema: () => request<unknown>("GET", "/api/schema/host"),
  templates: () => request<string[]>("GET", "/api/templates"),
  createHost: (name: string, template: string) => request<HostDetail>("POST", "/api/hosts", { name, template }),
  host: (name: string, signal?: AbortSignal) => request<HostDetail>("GET", `/api/hosts/${enc(name)}`, undefined, signal),
  updateHost: (name: string, update: HostUpdate, signal?: AbortSignal) =>
    request<HostUpdateResult>("PUT", `/api/hosts/${enc(name)}`, update, signal),
  generateSecrets: () => request<{ created: string[] }>("POST", "/api/secrets/generate", {}),

  build: (hosts: string[], format?: string) =>
    request<JobSummary[]>("POST", "/api/builds", format ? { hosts, format } : { hosts }),
  jobs: (host?: string, signal?: AbortSignal) =>
    request<JobSummary[]>("GET", host ? `/api/jobs?host=${enc(host)}` : "/api/jobs", undefined, signal),
  job: (id: number, signal?: AbortSignal) => request<JobWithLogs>("GET", `/api/jobs/${id}`, undefined, signal),
  cancelJob: (id: number) => request<JobSummary>("POST", `/api/jobs/${id}/cancel`, {}),

  /** Pull nodes, rollouts and the signed releases not rolled out yet. */
  pull: (signal?: AbortSignal) => request<PullOverview>("GET", "/api/pull", undefined, signal),
  /** Roll out the signed, unreleased releases of `hosts` (default: all of them), canary first. */
  startRollout: (hosts?: string[]) => request<RolloutWire>("POST", "/api/rollouts", hosts ? { hosts } : {}),
  resumeRollout: (id: string) => request<RolloutWire>("POST", `/api/rollouts/${enc(id)}/resume`, {}),
  abortRollout: (id: string) => request<RolloutWire>("POST", `/api/rollouts/${enc(id)}/abort`, {}),
  deploys: (signal?: AbortSignal) => request<DeployWire[]>("GET", "/api/deploys", undefined, signal),
  deploy: (id: number, signal?: AbortSignal) => request<DeployWire>("GET", `/api/deploys/${id}`, undefined, signal),
  deployEvents: (id: number, signal?: AbortSignal) => request<{ seq: number; event: DeployEventWire }[]>("GET", `/api/deploys/${id}/events`, undefined, signal),
  /** Plan a deploy: facts, builds and diffs fill in while it is "planning". */
  planDeploy: (req: DeployRequest) => request<DeployWire>("POST", "/api/deploys", req),
  confirmDeploy: (id: number) => request<DeployWire>("POST", `/api/deploys/${id}/confirm`, {}),
  deployAnswer: (id: number, answer: "resume" | "abort") => request<DeployWire>("POST", `/api/deploys/${id}/${answer}`, {}),
  rollbackHost: (id: number, host: string) => request<DeployWire>("POST", `/api/deploys/${id}/hosts/${enc(host)}/rollback`, {}),
  /** Unlock a host waiting in its initrd; a typed passphrase goes in the body only, once. */
  unlock: (host: string, passphrase?: string) => request<{ ok: true; detail: string }>("POST", `/api/hosts/${enc(host)}/unlock`, passphrase ? { passphrase } : {}),
  preparePlan: (host: string) => request<{ host: string; facts?: string; planText: string[]; destructive: boolean }>("GET", `/api/hosts/${enc(host)}/prepare`),
  prepare: (host: string, confirm: string) => request<{ log: string[] }>("POST", `/api/hosts/${enc(host)}/prepare`, { confirm }),
  monitor: (signal?: AbortSignal) => request<MonitorOverview>("GET", "/api/monitor", undefined, signal),
  monitorHost: (host: string, signal?: AbortSignal) => request<MonitorHostDetail>("GET", `/api/monitor/hosts/${enc(host)}`, undefined, signal),
  pollNow: () => request<MonitorOverview>("POST", "/api/monitor/poll", {}),
  testAlert: () => request<unknown>("POST", "/api/alerts/test", {}),
  users: (signal?: AbortSignal) => request<UserWire[]>("GET", "/api/users", undefined, signal),
  putUser: (name: string, password: string, role: "admin" | "viewer") => request<UserWire[]>("POST", "/api/users", { name, password, role }),
  deleteUser: (name: string) => request<UserWire[]>("DELETE", `/api/users/${enc(name)}`),
  audit: (signal?: AbortSignal) => request<AuditWire[]>("GET", "/api/audit", undefined, signal),
  /** fleet.yaml's JSON Schema, for the settings form. */
  fleetSchema: () => request<unknown>("GET", "/api/schema/fleet"),
  fleetSettings: (signal?: AbortSignal) => request<FleetSettingsDetail>("GET", "/api/fleet/settings", undefined, signal),
  /** Dry run or save of fleet.yaml, with the version it was edited from (409: changed on disk). */
  updateFleetSettings: (update: HostUpdate, signal?: AbortSignal) => request<HostUpdateResult>("PUT", "/api/fleet/settings", update, signal),
  /** Rename a host (dryRun: what would change); its secrets and mesh address move with it. */
  renameHost: (name: string, to: string, dryRun: boolean) => request<HostChangeWire>("POST", `/api/hosts/${enc(name)}/rename`, { to, dryRun }),
  /** Delete a host; `confirm` is its name as typed. Refused (409) while other hosts depend on it. */
  deleteHost: (name: string, confirm: string | undefined, dryRun: boolean) => request<HostChangeWire>("DELETE", `/api/hosts/${enc(name)}`, { ...(confirm !== undefined ? { confirm } : {}), dryRun }),
  /** Generate the host's missing secrets, or rotate one of its own. */
  hostSecrets: (name: string, rotate?: string) => request<HostSecretsResult>("POST", `/api/hosts/${enc(name)}/secrets`, rotate ? { rotate } : {}),
  rotatableSecrets: (name: string, signal?: AbortSignal) => request<RotatableSecret[]>("GET", `/api/hosts/${enc(name)}/secrets/rotatable`, undefined, signal),
  template: (name: string, signal?: AbortSignal) => request<TemplateDetail>("GET", `/api/templates/${enc(name)}`, undefined, signal),
  /** The guided new node: a dry run checks it, a write creates it only when nothing is left to fix. */
  newHost: (req: NewHostRequest) => request<NewHostResult>("POST", "/api/hosts/from-template", req),
  /** Live events of a job; the first is a `state` event with the job as it is now. */
  jobEvents: (id: number, onEvent: (e: JobEvent, lastEventId: string) => void, onOpen?: () => void, onError?: () => void) => {
    const source = new EventSource(`/api/jobs/${id}/events`);
    source.onmessage = (m: MessageEvent<string>) => {
      try {
        onEvent(JSON.parse(m.data) as JobEvent, m.lastEventId);
      } catch {
        // A malformed event is dropped; the next state event resynchronises.
      }
    };
    if (onOpen) source.onopen = onOpen;
    if (onError) source.onerror = onError;
    return source;
  },
};

// Session-scoped caches: the schema and templates do not change while the server runs.
let schemaPromise: Promise<unknown> | undefined;
export function cachedHostSchema(): Promise<unknown> {
  schemaPromise ??= api.hostSchema().catch((e: unknown) => {
    schemaPromise = undefined;
    throw e;
  });
  return schemaPromise;
}

/** The last fleet overview, so screens that need it (mesh, build formats) show it at once. */
export const fleetCache: { value?: FleetOverview } = {};
