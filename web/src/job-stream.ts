// A job's live state: GET /api/jobs/:id (summary and log so far), then its Server-Sent Events
// until it ends. Log lines are batched per animation frame so a chatty build stays cheap.
import { useCallback, useEffect, useRef, useState } from "react";
import type { JobState, JobSummary } from "../../src/server/wire";
import { api, errorMessage } from "./api";

export const TERMINAL: ReadonlySet<JobState> = new Set(["succeeded", "failed", "cancelled", "interrupted"]);
export const isTerminal = (s: JobState) => TERMINAL.has(s);

export interface JobStream {
  job: JobSummary | undefined;
  logs: string[];
  error: string | undefined;
  /** Replace the job (e.g. with the answer of POST /cancel). */
  update: (job: JobSummary) => void;
}

/**
 * Follows job `id`. `initial` (from a job list) is shown until the GET answers; `maxLines`
 * keeps only the tail (the host page shows a few lines, the job page everything).
 */
export function useJobStream(id: number, initial?: JobSummary, maxLines = Infinity): JobStream {
  const [job, setJob] = useState<JobSummary | undefined>(initial);
  const [logs, setLogs] = useState<string[]>([]);
  const [error, setError] = useState<string>();
  const count = useRef(0);

  const followed = !(initial && isTerminal(initial.state));
  useEffect(() => {
    // A job that had ended when listed has nothing more to say.
    if (!followed) return;
    const ctrl = new AbortController();
    let source: EventSource | undefined;
    let pending: string[] = [];
    let frame = 0;
    const trim = (l: string[]) => (l.length > maxLines ? l.slice(l.length - maxLines) : l);
    const flush = () => {
      frame = 0;
      const add = pending;
      pending = [];
      if (add.length) setLogs((l) => trim(l.concat(add)));
    };
    const resync = () =>
      api.job(id, ctrl.signal).then(
        (j) => {
          const { logs: all, ...summary } = j;
          pending = [];
          count.current = all.length;
          setLogs(trim(all));
          setJob(summary);
          setError(undefined);
          return summary;
        },
        (e: unknown) => {
          if (!ctrl.signal.aborted) setError(errorMessage(e));
          return undefined;
        },
      );
    const connect = () => {
      let opens = 0;
      source = api.jobEvents(
        id,
        (e, lastEventId) => {
          if (e.type === "state") {
            setJob(e.job);
            if (isTerminal(e.job.state)) {
              source?.close();
              // The final lines may have raced the stream's end: take the stored log once more.
              void resync();
            }
          } else if (e.type === "progress") {
            setJob((j) => (j ? { ...j, progress: e.progress } : j));
          } else if (e.type === "log") {
            // If the server numbers log events (id: line number), lines we already have are skipped.
            const n = Number(lastEventId);
            if (lastEventId !== "" && Number.isInteger(n) && n <= count.current) return;
            count.current++;
            pending.push(e.line);
            if (!frame) frame = requestAnimationFrame(flush);
          }
        },
        () => {
          // After a reconnect, lines sent while we were away are only in the stored log.
          if (opens++ > 0) void resync();
        },
        () => {
          if (source?.readyState === EventSource.CLOSED && !ctrl.signal.aborted) setError("lost the job's event stream; reload to retry");
        },
      );
    };
    void resync().then((j) => {
      if (j && !isTerminal(j.state) && !ctrl.signal.aborted) connect();
    });
    return () => {
      ctrl.abort();
      source?.close();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [id, maxLines, followed]);

  const update = useCallback((j: JobSummary) => setJob(j), []);
  return { job, logs, error, update };
}
