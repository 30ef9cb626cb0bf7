// Status badges: one look for host status, secret state, job state and pull nodes across the screens.
import type { HostRow, JobState, PullPhase, RolloutHostPhase, RolloutWire, SecretStateWire } from "../../../src/server/wire";

const HOST_TONE: Record<HostRow["status"], string> = { ok: "good", attention: "warn", error: "bad" };
const SECRET_TONE: Record<SecretStateWire, string> = { ok: "good", missing: "bad", stale: "warn", modified: "warn", orphaned: "muted", unknown: "muted" };
const JOB_TONE: Record<JobState, string> = {
  queued: "muted",
  running: "info",
  succeeded: "good",
  failed: "bad",
  cancelled: "muted",
  interrupted: "warn",
};

export function Badge({ tone, children, testId, title }: { tone: string; children: React.ReactNode; testId?: string; title?: string }) {
  return (
    <span className={`badge ${tone}`} data-testid={testId} title={title}>
      {children}
    </span>
  );
}

export const HostStatusBadge = ({ status }: { status: HostRow["status"] }) => <Badge tone={HOST_TONE[status] ?? "muted"}>{status}</Badge>;

export const SecretBadge = ({ state }: { state: SecretStateWire }) => <Badge tone={SECRET_TONE[state] ?? "muted"}>{state}</Badge>;

export const JobStateBadge = ({ state, testId }: { state: JobState; testId?: string }) => (
  <Badge tone={JOB_TONE[state] ?? "muted"} {...(testId ? { testId } : {})}>
    {state}
  </Badge>
);

const PULL_TONE: Record<PullPhase, string> = {
  pending: "muted",
  "up-to-date": "good",
  applying: "info",
  healthy: "good",
  failed: "bad",
  "rolled-back": "warn",
  refused: "bad",
  unreachable: "warn",
};
const ROLLOUT_HOST_TONE: Record<RolloutHostPhase, string> = { waiting: "muted", offered: "info", applying: "info", healthy: "good", failed: "bad", "rolled-back": "warn" };
const ROLLOUT_TONE: Record<RolloutWire["status"], string> = { running: "info", paused: "warn", done: "good", aborted: "muted" };

/** "rolled-back" → "rolled back", "up-to-date" → "up to date". */
export const phaseLabel = (p: string) => p.replace(/-/g, " ");

export const PullPhaseBadge = ({ phase, testId, title }: { phase: PullPhase; testId?: string; title?: string }) => (
  <Badge tone={PULL_TONE[phase] ?? "muted"} {...(testId ? { testId } : {})} {...(title ? { title } : {})}>
    {phaseLabel(phase)}
  </Badge>
);

export const RolloutHostBadge = ({ phase, testId, title }: { phase: RolloutHostPhase; testId?: string; title?: string }) => (
  <Badge tone={ROLLOUT_HOST_TONE[phase] ?? "muted"} {...(testId ? { testId } : {})} {...(title ? { title } : {})}>
    {phaseLabel(phase)}
  </Badge>
);

export const RolloutStatusBadge = ({ status, testId }: { status: RolloutWire["status"]; testId?: string }) => (
  <Badge tone={ROLLOUT_TONE[status] ?? "muted"} {...(testId ? { testId } : {})}>
    {status}
  </Badge>
);
