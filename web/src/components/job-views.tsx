// Pieces of a build job shown on the host page and the job page: progress, why it failed,
// artifacts, cancel and retry.
import { useState } from "react";
import type { Artifact, JobSummary } from "../../../src/server/wire";
import { api, errorMessage } from "../api";
import { isTerminal } from "../job-stream";
import { JobStateBadge } from "./badges";
import { formatBytes } from "./format";

export function JobProgressView({ job }: { job: JobSummary }) {
  const p = job.progress;
  const pct = p.expected > 0 ? Math.min(100, (100 * p.done) / p.expected) : isTerminal(job.state) ? 100 : 0;
  const indeterminate = p.expected === 0 && job.state === "running";
  return (
    <div className="job-progress">
      <div className="progress-line">
        <JobStateBadge state={job.state} testId="job-state" />
        <div className={`bar${indeterminate ? " indeterminate" : ""}`} role="progressbar" aria-valuemin={0} aria-valuemax={p.expected} aria-valuenow={p.done}>
          <div className="fill" style={{ width: `${pct}%` }} />
        </div>
        <span className="count" data-testid="job-progress" title="derivations built / to build">
          {p.done}/{p.expected}
        </span>
      </div>
      <div className="progress-detail">
        <span>derivations {p.done}/{p.expected}{p.running > 0 ? `, ${p.running} running` : ""}</span>
        {(p.downloadsExpected > 0 || p.downloadsDone > 0) && (
          <span>
            downloads {p.downloadsDone}/{p.downloadsExpected}
          </span>
        )}
      </div>
      {p.phase && !isTerminal(job.state) && (
        <div className="phase" data-testid="job-phase">
          {p.phase}
        </div>
      )}
      <FailureReason job={job} />
    </div>
  );
}

/** Why a job failed, in one line (the server's failureSummary), with Nix's full reason on hover. */
export function FailureReason({ job }: { job: JobSummary }) {
  if (!job.failureSummary && !job.reason) return null;
  const summary = job.failureSummary ?? job.reason;
  return (
    <div className={`reason failure-summary${job.state === "failed" ? " bad" : ""}`} data-testid="failure-summary" title={job.reason}>
      {summary}
    </div>
  );
}

export function ArtifactList({ artifacts, compact = false }: { artifacts: Artifact[]; compact?: boolean }) {
  if (artifacts.length === 0) return null;
  if (compact)
    return (
      <ul className="artifact-list" data-testid="artifacts">
        {artifacts.map((a) => (
          <li key={a.name}>
            <a href={a.url} download={a.name}>
              {a.name}
            </a>{" "}
            <span className="muted small">{formatBytes(a.size)}</span>
            <code className="sha" title="SHA-256">
              {a.sha256}
            </code>
          </li>
        ))}
      </ul>
    );
  return (
    <table className="artifacts" data-testid="artifacts">
      <thead>
        <tr>
          <th>Artifact</th>
          <th>Size</th>
          <th>SHA-256</th>
        </tr>
      </thead>
      <tbody>
        {artifacts.map((a) => (
          <tr key={a.name}>
            <td>
              <a href={a.url} download={a.name}>
                {a.name}
              </a>
            </td>
            <td className="num">{formatBytes(a.size)}</td>
            <td>
              <code className="sha" title={a.sha256}>
                {a.sha256}
              </code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * Builds the same host and format again (POST /api/builds); for a job that failed, was
 * cancelled or interrupted. `onStarted` gets the new job.
 */
export function RetryButton({ job, onStarted }: { job: JobSummary; onStarted: (j: JobSummary) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  if (!isTerminal(job.state) || job.state === "succeeded") return null;
  const retry = () => {
    setBusy(true);
    setError(undefined);
    api.build([job.host], job.format).then(
      (started) => {
        setBusy(false);
        if (started[0]) onStarted(started[0]);
      },
      (e: unknown) => {
        setBusy(false);
        setError(errorMessage(e));
      },
    );
  };
  return (
    <>
      <button type="button" onClick={retry} disabled={busy} data-testid="retry">
        {busy ? "Starting…" : "Retry"}
      </button>
      {error && (
        <span className="inline-error" role="alert">
          {error}
        </span>
      )}
    </>
  );
}

export function CancelButton({ job, onCancelled }: { job: JobSummary; onCancelled: (j: JobSummary) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  if (isTerminal(job.state)) return null;
  const cancel = () => {
    setBusy(true);
    api.cancelJob(job.id).then(
      (j) => {
        setBusy(false);
        onCancelled(j);
      },
      (e: unknown) => {
        setBusy(false);
        setError(errorMessage(e));
      },
    );
  };
  return (
    <>
      <button type="button" className="danger" onClick={cancel} disabled={busy} data-testid="cancel">
        Cancel
      </button>
      {error && <span className="inline-error">{error}</span>}
    </>
  );
}
