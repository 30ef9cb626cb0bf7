// Status badges: one look for host status, secret state and job state across the screens.
import type { HostRow, JobState, SecretStateWire } from "../../../src/server/wire";

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
