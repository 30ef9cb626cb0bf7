// Job page: a build's live progress (GET /api/jobs/:id, then its event stream), full log,
// cancel, retry and artifacts. Everything comes from the server, so a reload picks up where it was.
import { useLayoutEffect, useRef } from "react";
import { errorMessage } from "../api";
import { formatDuration, formatTime } from "../components/format";
import { ArtifactList, CancelButton, JobProgressView, RetryButton } from "../components/job-views";
import { useJobStream } from "../job-stream";
import { href } from "../router";

export function JobScreen({ id }: { id: number }) {
  const { job, logs, error, update } = useJobStream(id);
  return (
    <div className="job">
      <div className="title-row">
        {job && (
          <a href={href.host(job.host)} className="muted">
            ← {job.host}
          </a>
        )}
        <h1>
          Build #{id}
          {job && ` · ${job.host} · ${job.format}`}
        </h1>
        <span className="spacer" />
        {job && <CancelButton job={job} onCancelled={update} />}
        {job && <RetryButton job={job} onStarted={(started) => (location.hash = href.job(started.id))} />}
      </div>
      {error && <div className="banner bad">{errorMessage(error)}</div>}
      {!job && !error && <p className="muted">Loading…</p>}
      {job && (
        <>
          <section className="card">
            <JobProgressView job={job} />
            <dl className="times">
              <dt>queued</dt>
              <dd>{formatTime(job.createdAt)}</dd>
              {job.startedAt && (
                <>
                  <dt>started</dt>
                  <dd>{formatTime(job.startedAt)}</dd>
                </>
              )}
              {job.finishedAt && (
                <>
                  <dt>finished</dt>
                  <dd>
                    {formatTime(job.finishedAt)} ({formatDuration(job.startedAt ?? job.createdAt, job.finishedAt)})
                  </dd>
                </>
              )}
            </dl>
          </section>
          {job.artifacts.length > 0 && (
            <section className="card">
              <h2>Artifacts</h2>
              <ArtifactList artifacts={job.artifacts} />
            </section>
          )}
          <section className="card">
            <h2>Log</h2>
            <Log lines={logs} />
          </section>
        </>
      )}
    </div>
  );
}

/** The full log; it follows new lines while scrolled to the bottom. */
function Log({ lines }: { lines: string[] }) {
  const ref = useRef<HTMLPreElement>(null);
  const atBottom = useRef(true);
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && atBottom.current) el.scrollTop = el.scrollHeight;
  }, [lines]);
  return (
    <pre
      className="log"
      data-testid="job-log"
      ref={ref}
      onScroll={(e) => {
        const el = e.currentTarget;
        atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
      }}
    >
      {lines.length ? lines.join("\n") : "(no output yet)"}
    </pre>
  );
}
