// Push deploys from the page: choose hosts and how they roll out → the plan (facts, what runs,
// the configuration and package changes per host) → Deploy → a live line per host fed by the
// executor's events → the summary, with Roll back for an updated host. Polled while visible.
import { useMemo, useState } from "react";
import type { DeployHostPlan, DeployLine, DeployWire, FleetOverview } from "../../../src/server/wire";
import { api, errorMessage } from "../api";
import { Badge } from "../components/badges";
import { DiffView } from "../components/diff-view";
import { formatBytes, formatDuration, formatTime } from "../components/format";
import { useFleet, usePolled } from "../hooks";
import { href, navigate } from "../router";
import { useSession } from "../session";

const POLL_MS = 1000;
const ACTIVE = new Set(["planning", "running", "paused"]);
const TONE: Record<string, string> = { planning: "info", ready: "info", running: "info", paused: "warn", done: "good", failed: "bad", cancelled: "muted", interrupted: "warn" };
const OUTCOME_TONE: Record<string, string> = { deployed: "good", "rolled back": "warn", failed: "bad", skipped: "muted" };

export function DeploysScreen() {
  const fleet = useFleet();
  const list = usePolled((signal) => api.deploys(signal), 3000);
  return (
    <div className="deploys-screen">
      <div className="title-row">
        <h1>Deploy</h1>
      </div>
      {fleet.data && <NewDeploy fleet={fleet.data} />}
      <section className="card">
        <h2>Recent deploys</h2>
        {!list.data && <p className="muted">Loading…</p>}
        {list.data?.length === 0 && <p className="muted">None yet.</p>}
        {list.data && list.data.length > 0 && (
          <table className="table" data-testid="deploy-list">
            <thead>
              <tr>
                <th>#</th>
                <th>Hosts</th>
                <th>Status</th>
                <th>By</th>
                <th>From</th>
                <th>When</th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((d) => (
                <tr key={d.id}>
                  <td>
                    <a href={href.deploy(d.id)}>{d.id}</a>
                  </td>
                  <td className="wrap">{d.hosts.join(", ")}</td>
                  <td>
                    <Badge tone={TONE[d.status] ?? "muted"}>{d.status}</Badge>
                  </td>
                  <td>{d.user}</td>
                  <td className="mono small">{commitLabel(d)}</td>
                  <td className="small">{formatTime(d.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}

const commitLabel = (d: DeployWire) => (d.commit ? `${d.commit.slice(0, 10)}${d.dirty ? " + uncommitted changes" : ""}` : "not in git");

function NewDeploy({ fleet }: { fleet: FleetOverview }) {
  const session = useSession();
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [install, setInstall] = useState(false);
  const [existing, setExisting] = useState("");
  const [canary, setCanary] = useState(true);
  const [batchSize, setBatchSize] = useState("");
  const [pauseAt, setPauseAt] = useState("1");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const toggle = (h: string) => setChosen((s) => (s.has(h) ? new Set([...s].filter((x) => x !== h)) : new Set([...s, h])));
  const plan = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const d = await api.planDeploy({
        hosts: [...chosen],
        install,
        ...(install && existing.trim() ? { confirmExisting: existing.split(/[\s,]+/).filter(Boolean) } : {}),
        policy: { canary: canary ? 1 : 0, batchSize: batchSize ? Number(batchSize) : 1_000_000, pauseAtFailures: Number(pauseAt) || 1 },
      });
      navigate(href.deploy(d.id));
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  if (session?.role === "viewer") return <p className="muted">You have read-only access: an admin deploys.</p>;
  return (
    <section className="card" data-testid="new-deploy">
      <h2>New deploy</h2>
      <fieldset className="host-picks">
        <legend>Hosts</legend>
        {fleet.hosts.map((h) => (
          <label key={h.name} className="check">
            <input type="checkbox" checked={chosen.has(h.name)} onChange={() => toggle(h.name)} data-testid={`pick-${h.name}`} /> <span className="host-name">{h.name}</span>
          </label>
        ))}
      </fieldset>
      <details>
        <summary>How it rolls out: {canary ? "one canary first, then " : ""}{batchSize ? `batches of ${batchSize}` : "the rest together"}, pausing at {pauseAt} failure{pauseAt === "1" ? "" : "s"}</summary>
        <div className="form-grid">
          <label className="check">
            <input type="checkbox" checked={canary} onChange={(e) => setCanary(e.target.checked)} data-testid="canary" /> Deploy one host first, alone (canary); any failure there pauses the rest
          </label>
          <label>
            Hosts per batch after it <input type="number" min={1} value={batchSize} placeholder="all" onChange={(e) => setBatchSize(e.target.value)} data-testid="batch-size" />
          </label>
          <label>
            Pause when this many hosts of a batch fail <input type="number" min={1} value={pauseAt} onChange={(e) => setPauseAt(e.target.value)} />
          </label>
          <label className="check">
            <input type="checkbox" checked={install} onChange={(e) => setInstall(e.target.checked)} /> First installation (nixos-anywhere: erases the disks the host file names)
          </label>
          {install && (
            <label>
              Hosts with existing filesystems (type: mount) whose other disks may be formatted: type their names <input value={existing} onChange={(e) => setExisting(e.target.value)} autoComplete="off" />
            </label>
          )}
        </div>
      </details>
      {error && <div className="banner bad">{error}</div>}
      <button type="button" disabled={busy || chosen.size === 0} onClick={() => void plan()} data-testid="plan-deploy">
        {busy ? "Planning…" : `Plan deploy of ${chosen.size || "no"} host${chosen.size === 1 ? "" : "s"}`}
      </button>
    </section>
  );
}

export function DeployScreen({ id }: { id: number }) {
  const session = useSession();
  const admin = session?.role !== "viewer";
  const d = usePolled((signal) => api.deploy(id, signal), POLL_MS);
  const [error, setError] = useState<string>();
  const [acting, setActing] = useState(false);
  const act = async (what: () => Promise<unknown>) => {
    setActing(true);
    setError(undefined);
    try {
      await what();
      d.refresh();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setActing(false);
    }
  };
  const data = d.data;
  return (
    <div className="deploy-screen">
      <div className="title-row">
        <a href={href.deploys()} className="muted">
          ← Deploys
        </a>
        <h1>Deploy {id}</h1>
        {data && (
          <span data-testid="deploy-status">
            <Badge tone={TONE[data.status] ?? "muted"}>{data.status}</Badge>
          </span>
        )}
      </div>
      {!!d.error && <div className="banner warn">Reconnecting to the server… ({errorMessage(d.error)})</div>}
      {!data && !d.error && <p className="muted">Loading…</p>}
      {data && (
        <>
          <p className="muted small" data-testid="deploy-origin">
            {data.hosts.length} host{data.hosts.length === 1 ? "" : "s"} · by {data.user} · from {commitLabel(data)} · {batchesLabel(data)}
          </p>
          {data.dirty && <div className="banner warn">The fleet directory has uncommitted changes: this deploy is recorded as coming from {data.commit?.slice(0, 10)} plus those changes.</div>}
          {data.error && <div className="banner bad">{data.error}</div>}
          {error && <div className="banner bad" data-testid="deploy-error">{error}</div>}
          {data.status === "paused" && (
            <div className="banner warn" data-testid="deploy-paused">
              Paused: {data.paused}.{" "}
              {admin && (
                <>
                  <button type="button" disabled={acting} onClick={() => void act(() => api.deployAnswer(id, "resume"))} data-testid="deploy-resume">
                    Go on with the next batch
                  </button>{" "}
                  <button type="button" className="subtle" disabled={acting} onClick={() => void act(() => api.deployAnswer(id, "abort"))}>
                    Stop here
                  </button>
                </>
              )}
            </div>
          )}
          {(data.status === "planning" || data.status === "ready" || data.status === "cancelled") && (
            <PlanView d={data} admin={admin} acting={acting} onConfirm={() => void act(() => api.confirmDeploy(id))} onCancel={() => void act(() => api.deployAnswer(id, "abort"))} />
          )}
          {data.status !== "planning" && data.status !== "ready" && data.status !== "cancelled" && (
            <Lines d={data} admin={admin} acting={acting} onRollback={(h) => void act(() => api.rollbackHost(id, h))} />
          )}
          {!ACTIVE.has(data.status) && data.status !== "ready" && data.plans.length > 0 && (
            <details>
              <summary>The plan this deploy ran</summary>
              <PlanDetails plans={data.plans} />
            </details>
          )}
        </>
      )}
    </div>
  );
}

const batchesLabel = (d: DeployWire) =>
  d.batches.length <= 1 ? "all at once" : d.batches.map((b, i) => `${d.policy.canary && i === 0 ? "canary" : `batch ${i + 1}`}: ${b.join(", ")}`).join(" → ");

function PlanView({ d, admin, acting, onConfirm, onCancel }: { d: DeployWire; admin: boolean; acting: boolean; onConfirm: () => void; onCancel: () => void }) {
  const blocked = d.plans.filter((p) => p.problems.some((x) => !x.startsWith("first deploy")) || !p.system);
  const planning = d.status === "planning";
  return (
    <section className="card" data-testid="deploy-plan">
      <h2>{planning ? `Planning: ${d.plans.length} of ${d.hosts.length} hosts checked…` : d.status === "cancelled" ? "Cancelled" : "Plan"}</h2>
      <PlanDetails plans={d.plans} />
      {d.status === "ready" && admin && (
        <div className="actions">
          {blocked.length > 0 && <div className="banner bad">Cannot deploy until fixed: {blocked.map((p) => p.host).join(", ")}</div>}
          <button type="button" disabled={acting || blocked.length > 0} onClick={onConfirm} data-testid="deploy-confirm">
            Deploy {d.hosts.length} host{d.hosts.length === 1 ? "" : "s"}
          </button>{" "}
          <button type="button" className="subtle" disabled={acting} onClick={onCancel}>
            Cancel
          </button>
        </div>
      )}
    </section>
  );
}

function PlanDetails({ plans }: { plans: DeployHostPlan[] }) {
  return (
    <div className="plan-hosts">
      {plans.map((p) => (
        <div key={p.host} className="plan-host" data-testid={`plan-${p.host}`}>
          <h3>
            <span className="host-name">{p.host}</span> <Badge tone="info">{p.kind}</Badge> <span className="muted small">{p.address}</span>
          </h3>
          <p className="small">{p.facts ?? "no facts (the host did not answer)"}</p>
          {p.problems.length > 0 && (
            <ul className="problems" data-testid={`plan-problems-${p.host}`}>
              {p.problems.map((x, i) => (
                <li key={i} className={x.startsWith("first deploy") ? "muted" : "bad"}>
                  {x}
                </li>
              ))}
            </ul>
          )}
          <details open={p.configFilesChanged > 0 && p.configFilesChanged < 6}>
            <summary data-testid={`config-summary-${p.host}`}>Configuration: {p.configFilesChanged === 0 ? "unchanged since its last deploy" : `${p.configFilesChanged} file${p.configFilesChanged === 1 ? "" : "s"} changed`}</summary>
            {p.configDiff && <DiffView diff={p.configDiff} />}
          </details>
          <details open={!!p.closureDiff}>
            <summary data-testid={`closure-summary-${p.host}`}>
              Packages: {p.closureDiff === undefined ? (p.closureNote ? "not compared" : "…") : p.closureDiff === "" ? "no version changes" : `${p.closureDiff.split("\n").length} change${p.closureDiff.split("\n").length === 1 ? "" : "s"}`}
            </summary>
            {p.closureDiff && <pre className="closure-diff" data-testid={`closure-${p.host}`}>{p.closureDiff}</pre>}
            {p.closureNote && <p className="muted small">{p.closureNote}</p>}
          </details>
          <details>
            <summary>What runs (hearth deploy --dry-run)</summary>
            <pre className="plan-text">{p.planText.join("\n")}</pre>
          </details>
        </div>
      ))}
    </div>
  );
}

function Lines({ d, admin, acting, onRollback }: { d: DeployWire; admin: boolean; acting: boolean; onRollback: (host: string) => void }) {
  const done = !ACTIVE.has(d.status);
  const counts = useMemo(() => {
    const c: Record<string, number> = {};
    for (const l of d.lines) if (l.outcome) c[l.outcome] = (c[l.outcome] ?? 0) + 1;
    return c;
  }, [d.lines]);
  return (
    <section className="card" data-testid="deploy-lines">
      <h2>{done ? "Summary" : "Progress"}</h2>
      {done && (
        <p data-testid="deploy-summary">
          {Object.entries(counts)
            .map(([k, n]) => `${n} ${k}`)
            .join(", ") || "nothing ran"}
        </p>
      )}
      <table className="table lines">
        <tbody>
          {d.lines.map((l) => (
            <tr key={l.host} data-testid={`line-${l.host}`}>
              <td className="host-name">{l.host}</td>
              <td>{l.outcome ? <Badge tone={OUTCOME_TONE[l.outcome] ?? "muted"}>{l.outcome}</Badge> : <Badge tone={l.status === "fail" ? "bad" : l.status === "waiting" ? "muted" : "info"}>{l.phase || "waiting"}</Badge>}</td>
              <td className="wrap">
                <LineText l={l} />
              </td>
              <td className="small muted">{l.seconds !== undefined ? `${l.seconds.toFixed(1)} s` : l.startedAt ? formatDuration(l.startedAt) : ""}</td>
              <td>
                {admin && done && l.outcome === "deployed" && l.previousGeneration !== undefined && !l.rolledBackBy && (
                  <button type="button" className="small subtle" disabled={acting} onClick={() => window.confirm(`Roll ${l.host} back to generation ${l.previousGeneration}?`) && onRollback(l.host)} data-testid={`rollback-${l.host}`}>
                    Roll back
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <DeployLog id={d.id} />
    </section>
  );
}

function LineText({ l }: { l: DeployLine }) {
  if (l.outcome) return <>{l.detail}</>;
  return (
    <>
      {l.message}
      {l.bytes && ` (${formatBytes(l.bytes.done)}${l.bytes.total ? ` of ${formatBytes(l.bytes.total)}` : ""})`}
    </>
  );
}

function DeployLog({ id }: { id: number }) {
  const [open, setOpen] = useState(false);
  const log = usePolled((signal) => (open ? api.deployEvents(id, signal) : Promise.resolve([])), 2000);
  return (
    <details onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
      <summary>Every step</summary>
      <pre className="log">{(log.data ?? []).map((e) => `${e.event.at.slice(11, 19)} ${e.event.host.padEnd(12)} ${e.event.phase.padEnd(8)} ${e.event.status.padEnd(5)} ${e.event.message}`).join("\n")}</pre>
    </details>
  );
}
