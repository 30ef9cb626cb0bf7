// What the monitors (machine state over SSH, Ethereum clients' APIs, Prometheus) report, in the
// one shape the alert engine, the server's SQLite store and the web UI all read.

export type Severity = "critical" | "warning";

/**
 * One condition that is true right now on a host ("lighthouse is 40 slots behind"). The alert
 * engine (core/monitor/alerts.ts) turns a stream of these into raised / repeated / resolved
 * notifications without storms; `key` is stable for the same condition across polls
 * (e.g. `eth.consensus.behind`, `disk./var/lib`, `validator.12.missed`).
 */
export interface AlertInput {
  host: string;
  key: string;
  severity: Severity;
  /** One line a person reads at 3 a.m.: what is wrong. */
  summary: string;
  /** What to press or run about it. */
  hint?: string;
}
