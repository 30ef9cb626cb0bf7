// A host's builds: pick a boot format, build, and follow the recent jobs live.
import { useState } from "react";
import type { JobSummary } from "../../../src/server/wire";
import { api, errorMessage } from "../api";
import { useLoad } from "../hooks";
import { isTerminal, useJobStream } from "../job-stream";
import { href } from "../router";
import { formatDuration, formatTime } from "./format";
import { ArtifactList, CancelButton, JobProgressView, RetryButton } from "./job-views";

const RECENT = 5;

export function HostBuilds({ host, formats }: { host: string; formats: string[] }) {
  const jobs = useLoad(`jobs:${host}`, (signal) => api.jobs(host, signal));
  const [format, setFormat] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const build = () => {
    setBusy(true);
    setError(undefined);
    api.build([host], format || undefined).then(
      (started) => {
        setBusy(false);
        jobs.setData((old) => [...started, ...(old ?? [])]);
      },
      (e: unknown) => {
        setBusy(false);
        setError(errorMessage(e));
      },
    );
  };
  const recent = [...(jobs.data ?? [])].sort((a, b) => b.id - a.id).slice(0, RECENT);
  return (
    <section className="card" data-testid="builds">
      <h2>Builds</h2>
      <div className="toolbar">
        <select aria-label="boot format" data-testid="build-format" value={format} onChange={(e) => setFormat(e.target.value)}>
          <option value="">{formats[0] ? `${formats[0]} (first format)` : "default format"}</option>
          {formats.slice(1).map((f) => (
            <option key={f} value={f}>
              {f}
            </option>
          ))}
        </select>
        <button type="button" className="primary" data-testid="build" onClick={build} disabled={busy}>
          {busy ? "Starting…" : "Build"}
        </button>
      </div>
      {error && (
        <div className="inline-error" role="alert">
          {error}
        </div>
      )}
      {!!jobs.error && <div className="inline-error">{errorMessage(jobs.error)}</div>}
      {recent.length === 0 && !jobs.loading && <p className="muted">No builds yet.</p>}
      {recent.map((j) => (
        <JobCard key={j.id} initial={j} onRetried={(started) => jobs.setData((old) => [started, ...(old ?? [])])} />
      ))}
    </section>
  );
}

function JobCard({ initial, onRetried }: { initial: JobSummary; onRetried: (started: JobSummary) => void }) {
  const { job = initial, logs, error, update } = useJobStream(initial.id, initial, 8);
  return (
    <div className="job-card" data-testid={`job-${job.id}`}>
      <div className="job-head">
        <a href={href.job(job.id)}>
          #{job.id} {job.format}
        </a>
        <span className="muted small">
          {formatTime(job.createdAt)}
          {job.startedAt && ` · ${formatDuration(job.startedAt, job.finishedAt)}`}
        </span>
        <span className="spacer" />
        <CancelButton job={job} onCancelled={update} />
        <RetryButton job={job} onStarted={onRetried} />
      </div>
      <JobProgressView job={job} />
      {!isTerminal(job.state) && logs.length > 0 && <pre className="log tail">{logs.join("\n")}</pre>}
      {error && <div className="inline-error">{error}</div>}
      <ArtifactList artifacts={job.artifacts} compact />
    </div>
  );
}
