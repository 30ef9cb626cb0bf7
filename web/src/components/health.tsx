// What the machines are doing, apart from whether their configuration is valid: one line that
// says whether everything is fine, the firing alerts with what to do, and a card per host
// (reachable, drift, uptime, failed units, fullest volume, memory, Ethereum clients).
import type { AlertWire, EthHealth, MachineState, MonitorHostRow, MonitorOverview } from "../../../src/server/wire";
import { api, errorMessage } from "../api";
import { Badge } from "./badges";
import { formatAgo, formatBytes, formatDurationMs } from "./format";
import { usePolled } from "../hooks";
import { href } from "../router";

const POLL_MS = 5000;

export function useMonitor() {
  return usePolled((signal) => api.monitor(signal), POLL_MS);
}

export function FleetHealth() {
  const m = useMonitor();
  const data = m.data;
  if (!data) return m.error ? <div className="banner warn">Machine state unavailable: {errorMessage(m.error)}</div> : null;
  return (
    <section className="card health" data-testid="fleet-health">
      <Verdict m={data} />
      {data.error && <div className="banner warn">{data.error}</div>}
      {data.alerts.length > 0 && <AlertList alerts={data.alerts} />}
      <div className="health-grid">
        {data.hosts.map((h) => (
          <HostCard key={h.host} h={h} />
        ))}
      </div>
      <p className="muted small">
        Checked every {data.intervalSeconds} s{data.lastPoll ? `, last ${formatAgo(Date.parse(data.lastPoll))}` : ", first check under way"}.{" "}
        {data.channels.length ? `Alerts go to ${data.channels.join(" and ")}.` : "Alerts are shown here only (fleet.yaml alerts: names a webhook or e-mail)."}
        {data.prometheus?.grafanaUrl && (
          <>
            {" "}
            <a href={data.prometheus.grafanaUrl} target="_blank" rel="noreferrer">
              Graphs in Grafana
            </a>
          </>
        )}
      </p>
      {data.prometheus && <PrometheusSummary p={data.prometheus} />}
    </section>
  );
}

function Verdict({ m }: { m: MonitorOverview }) {
  const down = m.hosts.filter((h) => h.reachable === false);
  const critical = m.alerts.filter((a) => a.severity === "critical");
  const fine = down.length === 0 && m.alerts.length === 0;
  return (
    <p className={`verdict ${fine ? "ok" : critical.length || down.length ? "bad" : "warn"}`} data-testid="verdict">
      {!m.lastPoll && m.hosts.length === 0
        ? "Checking the machines…"
        : fine
          ? `All ${m.hosts.length} hosts are fine.`
          : `${m.alerts.length} alert${m.alerts.length === 1 ? "" : "s"}${down.length ? `; down: ${down.map((h) => h.host).join(", ")}` : ""}.`}
    </p>
  );
}

export function AlertList({ alerts }: { alerts: AlertWire[] }) {
  return (
    <ul className="alerts" data-testid="alerts">
      {alerts.map((a) => (
        <li key={`${a.host}/${a.key}`} className={a.severity === "critical" ? "bad" : "warn"}>
          <a href={href.host(a.host)} className="host-name">
            {a.host}
          </a>
          : {a.summary}
          {a.hint && <span className="muted"> — {a.hint}</span>}
          <span className="muted small"> (since {formatAgo(Date.parse(a.since))})</span>
        </li>
      ))}
    </ul>
  );
}

const DRIFT_TONE: Record<string, string> = { "in sync": "good", "config changed": "warn", "running something else": "bad", "reboot pending": "warn", "never deployed": "muted", unknown: "muted" };

function HostCard({ h }: { h: MonitorHostRow }) {
  const m = h.machine;
  return (
    <div className={`host-card ${h.reachable === false ? "down" : ""}`} data-testid={`health-${h.host}`}>
      <div className="host-card-head">
        <a href={href.host(h.host)} className="host-name">
          {h.host}
        </a>{" "}
        <ReachBadge h={h} />
      </div>
      {h.reachable === false && <p className="small bad">{h.reason}</p>}
      {h.reachable === null && h.reason && <p className="small muted">{h.reason}</p>}
      {m?.reachable && <MachineLines m={m} />}
      <p className="small">
        <Badge tone={DRIFT_TONE[h.drift] ?? "muted"} title={h.driftDetail}>
          {h.drift}
        </Badge>
      </p>
      {h.eth && <EthLines e={h.eth} />}
    </div>
  );
}

function ReachBadge({ h }: { h: MonitorHostRow }) {
  if (h.reachable === null) return <Badge tone="muted">not checked</Badge>;
  return (
    <span data-testid={`reach-${h.host}`}>
      <Badge tone={h.reachable ? "good" : "bad"} title={h.since ? `since ${h.since}` : undefined}>
        {h.reachable ? "up" : "down"}
      </Badge>
      {h.source === "agent" && <span className="muted small"> (agent)</span>}
    </span>
  );
}

function MachineLines({ m }: { m: Extract<MachineState, { reachable: true }> }) {
  const fullest = m.volumes.reduce<(typeof m.volumes)[number] | undefined>((a, v) => (!a || v.usedPercent > a.usedPercent ? v : a), undefined);
  const mem = m.memory?.availableBytes !== undefined ? 1 - m.memory.availableBytes / m.memory.totalBytes : undefined;
  return (
    <ul className="facts small">
      {m.uptimeSeconds !== undefined && <li>up {formatDurationMs(m.uptimeSeconds * 1000)}</li>}
      {m.failedUnits.length > 0 && <li className="bad">failed: {m.failedUnits.join(", ")}</li>}
      {fullest && (
        <li className={fullest.usedPercent >= 90 ? "bad" : undefined}>
          {fullest.mountpoint} {fullest.usedPercent}% of {formatBytes(fullest.sizeBytes)}
        </li>
      )}
      {mem !== undefined && (
        <li>
          memory {Math.round(mem * 100)}% of {formatBytes(m.memory!.totalBytes)}
        </li>
      )}
    </ul>
  );
}

function EthLines({ e }: { e: EthHealth }) {
  const c = e.consensus;
  const x = e.execution;
  const missing = e.validators.filter((v) => v.missedAttestationEpochs.length > 0);
  return (
    <ul className="facts small eth" data-testid="eth">
      {c && (
        <li className={!c.reachable || (c.slotsBehind ?? 0) > 4 ? "bad" : undefined}>
          beacon: {!c.reachable ? "not answering" : c.isSyncing ? `syncing, ${c.slotsBehind ?? "?"} slots behind` : `synced, head ${c.headSlot ?? "?"} (${c.slotsBehind ?? "?"} behind)`}, {c.peers ?? "?"} peers
          {c.finalityDistance !== null && `, finality ${c.finalityDistance} epochs back`}
        </li>
      )}
      {x && <li className={!x.reachable || x.syncing ? "warn" : undefined}>execution: {!x.reachable ? "not answering" : x.syncing ? `syncing (${x.currentBlock ?? "?"} of ${x.highestBlock ?? "?"})` : `synced, block ${x.headBlock ?? "?"}`}, {x.peers ?? "?"} peers</li>}
      {e.mevBoost && <li className={e.mevBoost.status === 200 ? undefined : "warn"}>MEV-boost: {e.mevBoost.reachable ? (e.mevBoost.status === 200 ? "relays reachable" : "no relay answers") : "not answering"}</li>}
      {e.validators.length > 0 && (
        <li className={missing.length ? "bad" : undefined} data-testid="validators">
          validators: {e.validators.filter((v) => v.status.startsWith("active")).length} of {e.validators.length} active
          {missing.length > 0 && `; missed attestations: ${missing.map((v) => `${v.index ?? v.id} (epoch ${v.missedAttestationEpochs.join(", ")})`).join("; ")}`}
        </li>
      )}
      {e.problems.length > 0 && <li className="muted">{e.problems.slice(0, 2).join("; ")}</li>}
    </ul>
  );
}

function PrometheusSummary({ p }: { p: NonNullable<MonitorOverview["prometheus"]> }) {
  return (
    <details data-testid="prometheus">
      <summary>
        Prometheus at {p.url}
        {p.error ? `: ${p.error}` : `: ${p.hosts.filter((h) => h.up).length} of ${p.hosts.length} hosts scraped`}
      </summary>
      <table className="table small">
        <tbody>
          {p.hosts.map((h) => (
            <tr key={h.host} data-testid={`prom-${h.host}`}>
              <td className="host-name">{h.host}</td>
              <td>{h.up ? "up" : "down"}</td>
              <td>CPU {fmt(h.cpuBusyPercent)}%</td>
              <td>memory {fmt(h.memoryUsedPercent)}%</td>
              <td>/ {fmt(h.rootDiskUsedPercent)}%</td>
              <td>load {h.load1 ?? "?"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}

const fmt = (n: number | null | undefined) => (n === null || n === undefined ? "?" : n.toFixed(0));

/** The host page's panel: the same card plus a day of history. */
export function HostHealth({ host }: { host: string }) {
  const d = usePolled((signal) => api.monitorHost(host, signal), POLL_MS);
  if (!d.data) return d.error ? <p className="muted small">No machine state yet: {errorMessage(d.error)}</p> : null;
  const h = d.data;
  const down = h.history.filter((x) => !x.reachable).length;
  return (
    <section className="card" data-testid="host-health">
      <h2>Machine</h2>
      <HostCard h={h} />
      {h.alerts.length > 0 && <AlertList alerts={h.alerts} />}
      {h.history.length > 1 && (
        <p className="muted small">
          Last 24 h: {h.history.length} checks, {down ? `down in ${down}` : "always up"}.
        </p>
      )}
    </section>
  );
}
