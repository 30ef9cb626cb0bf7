// The one set of wire types between hearth's server and its web UI (and any script using the
// HTTP API). Plain data only: the UI imports this file; nothing here may import Node APIs.

/** A validation finding, exactly as the CLI prints it (file, YAML path, line:col, hint). */
export interface WireIssue {
  severity: "error" | "warning";
  file: string;
  path: (string | number)[];
  line?: number;
  column?: number;
  message: string;
  hint?: string;
}

/** Every API error has this body; `issues` when the request failed validation. */
export interface ApiError {
  error: string;
  message: string;
  issues?: WireIssue[];
}

export type JobState = "queued" | "running" | "succeeded" | "failed" | "cancelled" | "interrupted";

export interface JobProgress {
  /** Derivations built / to build, as Nix reports them. */
  done: number;
  expected: number;
  running: number;
  /** Downloads (substitutions) done / expected. */
  downloadsDone: number;
  downloadsExpected: number;
  /** What Nix is doing now, e.g. "building /nix/store/…-kexec-tree.drv (buildPhase)". */
  phase?: string;
}

export interface Artifact {
  name: string;
  size: number;
  sha256: string;
  /** Download URL (relative to the server). */
  url: string;
}

export interface JobSummary {
  id: number;
  kind: "build";
  host: string;
  format: string;
  state: JobState;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  progress: JobProgress;
  /** Why it failed, was cancelled or interrupted. */
  reason?: string;
  artifacts: Artifact[];
}

/** Server-sent events of /api/jobs/:id/events. */
export type JobEvent =
  | { type: "state"; job: JobSummary }
  | { type: "progress"; progress: JobProgress }
  | { type: "log"; line: string };

export type SecretStateWire = "ok" | "missing" | "stale" | "modified" | "orphaned";

export interface HostRow {
  name: string;
  file: string;
  description?: string;
  system: string;
  hardware: string;
  tags: string[];
  ephemeral: boolean;
  /** Role → client/kind, e.g. { execution: "besu", consensus: "lighthouse" }. */
  services: Record<string, string>;
  formats: string[];
  meshAddress?: string;
  lastBuild?: JobSummary;
  /** ok: valid and secrets ready; attention: warnings or secrets to fix; error: invalid. */
  status: "ok" | "attention" | "error";
  secrets: { ok: number; missing: number; stale: number };
}

export interface FleetOverview {
  name: string;
  dir: string;
  valid: boolean;
  issues: WireIssue[];
  hosts: HostRow[];
  nix: { available: boolean; version?: string; installHint?: string };
  mesh?: MeshWire;
}

export interface MeshWire {
  type: "wireguard" | "headscale";
  interface: string;
  ipv4: string;
  topology: string;
  members: { name: string; ipv4: string; endpoint?: string; hub: boolean; external: boolean; pinned: boolean }[];
  /** Undirected links between members (WireGuard peers; Headscale: every member to the server). */
  links: [string, string][];
}

export interface HostDetail {
  name: string;
  file: string;
  /** The host file's YAML text as on disk (comments and all). */
  yaml: string;
  /** Parsed values (defaults not filled in), for the form. */
  values: unknown;
  issues: WireIssue[];
  secrets: { key: string; state: SecretStateWire; description: string; readers: string[]; detail?: string; fix?: string }[];
}

/**
 * PUT /api/hosts/:name body: the host file's complete values as the form holds them (the
 * server changes only what differs, keeping comments); `dryRun` returns the diff and findings
 * without writing.
 */
export interface HostUpdate {
  values: unknown;
  dryRun?: boolean;
}

export interface HostUpdateResult {
  /** Unified diff of the host file. */
  diff: string;
  /** The new file text (comments kept). */
  yaml: string;
  written: boolean;
  /** Findings for the whole fleet with this change applied (filter by `file` for this host's). */
  issues: WireIssue[];
}

/** POST /api/login. */
export interface LoginRequest {
  user: string;
  password: string;
}

/** POST /api/setup: the first admin, with the one-time token the server printed at its first start. */
export interface SetupRequest {
  token: string;
  user: string;
  password: string;
}

export interface Session {
  user: string;
  csrf: string;
  /** False when bound to loopback without login. */
  authRequired: boolean;
}
