// The one set of wire types between hearth's server and its web UI (and any script using the
// HTTP API). Plain data only: the UI imports this file; nothing here may import Node APIs.

import type { MachineState } from "../core/monitor/machine.js";
import type { EthHealth } from "../core/monitor/ethereum.js";
import type { DeployEvent } from "../core/deploy/deploy.js";

export type { MachineState, EthHealth };

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
  /**
   * The reason in one line for people: the kind of failure (inputs not fetched, attribute
   * missing, evaluation error, a derivation's builder failed, disk full, out of memory,
   * cancelled) and the log line that says why. Only on failed, cancelled and interrupted jobs.
   */
  failureSummary?: string;
  artifacts: Artifact[];
}

/** Server-sent events of /api/jobs/:id/events. */
export type JobEvent =
  | { type: "state"; job: JobSummary }
  | { type: "progress"; progress: JobProgress }
  | { type: "log"; line: string };

/** `unknown`: a host file is invalid, so whether the secret is needed (and by whom) is unknown. */
export type SecretStateWire = "ok" | "missing" | "stale" | "modified" | "orphaned" | "unknown";

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
  /** The mesh address is not recorded in mesh/addresses.json yet, so it may still change. */
  meshProvisional?: boolean;
  lastBuild?: JobSummary;
  /** ok: valid and secrets ready; attention: warnings or secrets to fix; error: invalid. */
  status: "ok" | "attention" | "error";
  /** The host file does not load: the row shows what could be read, and `issues` say why. */
  invalid?: boolean;
  /** Findings in this host's file (errors first). */
  issues?: WireIssue[];
  /** unknown: secrets that may be this host's while its file (or another host's) is invalid. */
  secrets: { ok: number; missing: number; stale: number; unknown?: number };
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
  /** provisional: not recorded in mesh/addresses.json yet (the fleet is invalid), so it may change. */
  members: { name: string; ipv4: string; endpoint?: string; hub: boolean; external: boolean; pinned: boolean; provisional?: boolean }[];
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
  /** sha256 (hex) of the file's bytes, also the ETag: send it back with a save (HostUpdate.version). */
  version: string;
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
  /**
   * HostDetail.version the values were edited from (or an If-Match header). When the file has
   * changed since, the server answers 409 with a HostConflict and writes nothing.
   */
  version?: string;
  /** HostDetail.yaml the values were edited from: lets a 409 show what each side changed. */
  baseYaml?: string;
}

/** The 409 body of PUT /api/hosts/:name when the file changed on disk since it was loaded. */
export interface HostConflict extends ApiError {
  error: "conflict";
  /** The file as it is on disk now. */
  current: { yaml: string; version: string; values: unknown };
  /** Unified diffs from the file the user started from: their edit, and the change on disk. */
  mine?: string;
  theirs?: string;
  /** The user's edit applied on top of the file as it is now, and its diff against it. */
  merged?: { yaml: string; values: unknown; diff: string };
  /** Paths (dotted) both sides changed differently; in `merged` the user's value wins. */
  overlaps?: string[];
}

export interface HostUpdateResult {
  /** Unified diff of the host file. */
  diff: string;
  /** The new file text (comments kept). */
  yaml: string;
  written: boolean;
  /** HostDetail.version of the file after this change (send it with the next save). */
  version?: string;
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
  /** admin changes things; viewer only reads (the page hides what it cannot do). */
  role: "admin" | "viewer";
}

// ---- pull nodes (issue 14) ----------------------------------------------------------------

export type PullPhase = "pending" | "up-to-date" | "applying" | "healthy" | "failed" | "rolled-back" | "refused" | "unreachable";

/** A pull node's last check-in: a host (known by its SSH host key) or a pending machine (by its own key). */
export interface PullNode {
  /** The host name, or `pending:SHA256:…` for a machine with no identity drive. */
  id: string;
  host?: string;
  /** The ssh-ed25519 key it signs with. */
  key: string;
  phase: PullPhase;
  /** The release version it reported (applied, or being applied). */
  version: number;
  /** Milliseconds since the epoch. */
  lastSeen: number;
  detail?: string;
  /** Running system, generation and A/B slot. */
  booted?: { system?: string; generation?: number; slot?: string };
  /** The node class image it runs (A/B disk): the last image report. */
  image?: { version: number; phase: PullPhase; detail?: string };
  /** Hardware facts: arch, memKiB, product, uefi, tpm, interfaces. */
  inventory?: Record<string, unknown>;
  log?: string[];
}

export type RolloutHostPhase = "waiting" | "offered" | "applying" | "healthy" | "failed" | "rolled-back";

export interface RolloutPolicyWire {
  canary: number;
  batchSize: number;
  pauseAtFailures: number;
  healthTimeoutMs: number;
}

export interface RolloutWire {
  id: string;
  versions: Record<string, number>;
  waves: string[][];
  hosts: Record<string, { phase: RolloutHostPhase; offeredAt?: number; detail?: string }>;
  status: "running" | "paused" | "done" | "aborted";
  pausedBecause?: string;
  /** The wave that paused it (0: the canary); Resume accepts its failures. */
  pausedAtWave?: number;
  policy: RolloutPolicyWire;
  counts: Record<RolloutHostPhase, number>;
}

/** GET /api/pull */
export interface PullOverview {
  nodes: PullNode[];
  rollouts: RolloutWire[];
  /** Hosts with a signed release newer than they may fetch and in no active rollout. */
  unreleased: Record<string, number>;
  policy: RolloutPolicyWire;
}

// ---- push deploys from the browser (issue 15) -----------------------------------------------

export type DeployStatus = "planning" | "ready" | "running" | "paused" | "done" | "failed" | "cancelled" | "interrupted";

/** What one host's deploy will do, shown before confirming. */
export interface DeployHostPlan {
  host: string;
  kind: "kexec" | "install" | "update";
  address: string;
  /** The facts gathered over SSH (read-only), in words, or why they could not be. */
  facts?: string;
  problems: string[];
  /** The system the host runs now (its profile's store path), when it answered. */
  currentSystem?: string;
  /** The system it will get. */
  system?: string;
  /** Exactly what runs, as `hearth deploy --dry-run` prints it. */
  planText: string[];
  /** Unified diff of the host's generated configuration against what it got at its last deploy from here. */
  configDiff: string;
  configFilesChanged: number;
  /** `nix store diff-closures CURRENT NEW`: the package versions that change. */
  closureDiff?: string;
  /** Why there is no closure diff (the running system's closure is not in this machine's store). */
  closureNote?: string;
}

/** One host's live line: the latest phase and what it said, then the result. */
export interface DeployLine {
  host: string;
  phase: string;
  status: "waiting" | "start" | "ok" | "fail" | "info";
  message: string;
  startedAt?: string;
  updatedAt?: string;
  bytes?: { done: number; total?: number };
  outcome?: "deployed" | "rolled back" | "failed" | "skipped";
  detail?: string;
  seconds?: number;
  /** An updated host can be rolled back to this generation from the page. */
  previousGeneration?: number;
  /** Set once an admin rolled it back from the page. */
  rolledBackBy?: string;
}

export interface DeployPolicy {
  canary: number;
  batchSize: number;
  pauseAtFailures: number;
}

export interface DeployWire {
  id: number;
  status: DeployStatus;
  user: string;
  createdAt: string;
  updatedAt: string;
  hosts: string[];
  install: boolean;
  confirmExisting?: string[];
  policy: DeployPolicy;
  /** The fleet's git commit the deploy came from, and whether its tree had uncommitted changes. */
  commit?: string;
  dirty: boolean;
  batches: string[][];
  plans: DeployHostPlan[];
  lines: DeployLine[];
  /** Why the rollout waits for Resume or Abort. */
  paused?: string;
  /** Why planning or the deploy itself failed as a whole. */
  error?: string;
}

export interface DeployRequest {
  hosts: string[];
  install?: boolean;
  /** Hosts whose names were typed back: an install may format disks beside their mount-only filesystems. */
  confirmExisting?: string[];
  policy?: Partial<DeployPolicy>;
}

/** One step of a deploy, as `hearth deploy --json` prints it (core/deploy/deploy.ts defines it). */
export type DeployEventWire = DeployEvent;

export interface UserWire {
  name: string;
  role: "admin" | "viewer";
  createdAt?: string;
}

export interface AuditWire {
  id: number;
  at: string;
  user: string;
  action: string;
  target: string;
  detail?: string;
}

// ---- machine and Ethereum state, alerts (issue 15) ------------------------------------------

/** Whether a host runs what hearth deployed to it. */
export type Drift = "in sync" | "config changed" | "running something else" | "reboot pending" | "never deployed" | "unknown";

export interface MonitorHostRow {
  host: string;
  /** null: not checked yet (or no way to reach it: see `reason`). */
  reachable: boolean | null;
  reason?: string;
  /** How the state was read: over SSH with the pinned key, or from the node agent's report. */
  source: "ssh" | "agent" | "none";
  checkedAt?: string;
  /** Since when it has been up (or down), by this server's polls. */
  since?: string;
  drift: Drift;
  driftDetail?: string;
  machine?: MachineState;
  eth?: EthHealth;
  /** Firing alerts on this host. */
  alerts: AlertWire[];
}

export interface AlertWire {
  host: string;
  key: string;
  severity: "critical" | "warning";
  summary: string;
  hint?: string;
  since: string;
  status: "pending" | "firing" | "resolved";
}

export interface AlertLogWire {
  at: string;
  host: string;
  key: string;
  kind: string;
  summary: string;
  /** Where it went, or why it did not. */
  sent?: string;
}

export interface PrometheusWire {
  url: string;
  grafanaUrl?: string;
  error?: string;
  hosts: { host: string; up: boolean; cpuBusyPercent?: number | null; memoryUsedPercent?: number | null; rootDiskUsedPercent?: number | null; load1?: number | null }[];
}

export interface MonitorOverview {
  intervalSeconds: number;
  lastPoll?: string;
  /** Why the last check failed as a whole (a bug; the server log has the stack). */
  error?: string;
  hosts: MonitorHostRow[];
  alerts: AlertWire[];
  notifications: AlertLogWire[];
  /** Where alerts go, in words ("webhook https://…", "e-mail to ops@…"); empty: shown here only. */
  channels: string[];
  prometheus?: PrometheusWire;
}

export interface MonitorHostDetail extends MonitorHostRow {
  /** Short history, oldest first: reachability, memory and the fullest volume. */
  history: { at: string; reachable: boolean; memoryUsedPercent?: number; fullestVolumePercent?: number; headSlot?: number | null; peers?: number | null }[];
}

// ---- Issue 15: everything editable in the UI (fleet settings, rename/delete, per-host secrets, new node)

/** fleet.yaml for the settings form (GET /api/fleet/settings; the ETag is `version`). Saved with PUT like a host (HostUpdate → HostUpdateResult, 409 HostConflict). */
export interface FleetSettingsDetail {
  file: "fleet.yaml";
  yaml: string;
  values: unknown;
  version: string;
  issues: WireIssue[];
}

/** What switching an Ethereum client does, said before saving (PUT /api/hosts/NAME answers it). */
export interface ClientSwitch {
  role: "execution" | "consensus" | "validator";
  from: string;
  to: string;
  oldDataDir?: string;
  newDataDir?: string;
  /** The new client would use the directory the old one filled. */
  sameDir: boolean;
  summary: string;
  details: string[];
}

/** A host save's answer: HostUpdateResult, and the client switches the edit makes. */
export interface HostEditResult extends HostUpdateResult {
  clientSwitches?: ClientSwitch[];
}

/** A place in the fleet that names or depends on a host. */
export interface HostReferenceWire {
  file: string;
  path: (string | number)[];
  line?: number;
  what: string;
  /** The other host that depends on it (none for fleet.yaml settings). */
  host?: string;
  /** Rename: rewritten to the new name (false: it follows by itself). */
  rewritten: boolean;
}

/** POST /api/hosts/NAME/rename and DELETE /api/hosts/NAME: the plan (dryRun) or what was done. */
export interface HostChangeWire {
  action: "rename" | "delete";
  host: string;
  to?: string;
  /** Fleet files written, then removed. */
  writes: string[];
  removes: string[];
  diffs: { file: string; diff: string }[];
  /** Secret keys moved (`to`) or deleted. */
  secrets: { key: string; to?: string }[];
  meshAddress?: string;
  /** Delete: what depends on the host (any refuses it). Rename: what is rewritten. */
  references: HostReferenceWire[];
  /** Findings of the fleet afterwards. */
  issues: WireIssue[];
  notes: string[];
  done: boolean;
  /** Secrets re-encrypted afterwards, and those left for `hearth secrets rekey` (no admin identity). */
  reencrypted?: string[];
  stale?: string[];
}

export interface HostRenameRequest {
  to: string;
  dryRun?: boolean;
}

export interface HostDeleteRequest {
  /** The host's name, typed by the user. */
  confirm?: string;
  dryRun?: boolean;
}

/** POST /api/hosts/NAME/secrets: generate the host's missing secrets, or `rotate` one of its own. */
export interface HostSecretsRequest {
  rotate?: string;
}

export interface HostSecretsResult {
  created: string[];
  rotated: string[];
  /** Secrets of the host still to re-encrypt (`hearth secrets rekey`). */
  stale: string[];
  unset: string[];
  reencrypted: string[];
  /** What the rotation means for the machine. */
  notes: string[];
  rotatable: string[];
}

/** GET /api/hosts/NAME/secrets/rotatable: the host's own secrets that can be rotated here. */
export interface RotatableSecret {
  key: string;
  notes: string[];
}

/** A field the new-node form asks for. */
export interface TemplateFieldWire {
  path: (string | number)[];
  label: string;
  value: unknown;
  line?: number;
  /** The template's value is a placeholder (CHANGE_ME) that must be replaced. */
  placeholder: boolean;
  help?: string;
}

/** GET /api/templates/NAME */
export interface TemplateDetail {
  name: string;
  /** The template's leading comments: what it is and what to do before the first boot. */
  instructions: string;
  yaml: string;
  values: unknown;
  fields: TemplateFieldWire[];
}

/** POST /api/hosts/from-template: the essentials as values at paths of the host file. */
export interface NewHostRequest {
  template: string;
  name: string;
  set: { path: (string | number)[]; value: unknown }[];
  dryRun?: boolean;
}

export interface NewHostResult {
  name: string;
  file: string;
  yaml: string;
  issues: WireIssue[];
  created: boolean;
}
