// Pull nodes and rollouts (GET /api/pull, polled while the page is visible): the active rollouts
// on top with their waves and Resume / Abort, "Roll out" for signed releases not offered yet,
// every node with its phase, version and last check-in (a row opens its inventory and log), the
// pending machines with how to adopt one, and past rollouts folded away below.
import { Fragment, useMemo, useState } from "react";
import type { PullNode, PullOverview, RolloutHostPhase, RolloutPolicyWire, RolloutWire } from "../../../src/server/wire";
import { api, errorMessage } from "../api";
import { phaseLabel, PullPhaseBadge, RolloutHostBadge, RolloutStatusBadge } from "../components/badges";
import { formatAgo, formatBytes, formatDurationMs } from "../components/format";
import { usePolled } from "../hooks";
import { href } from "../router";

/** How often the view asks the server while it is open. */
const POLL_MS = 3000;
/** A node's check-in interval when it is not known (the agent's default is 5 min). */
const DEFAULT_INTERVAL_MS = 5 * 60_000;

/** A node not seen for 3× its check-in interval (15 min when the interval is unknown) is stale. */
export function isStale(node: PullNode, now: number, intervalMs = DEFAULT_INTERVAL_MS): boolean {
  return now - node.lastSeen > 3 * intervalMs;
}

const isActive = (r: RolloutWire) => r.status === "running" || r.status === "paused";

export function NodesScreen() {
  const pull = usePolled((signal) => api.pull(signal), POLL_MS);
  const data = pull.data;
  const now = Date.now();
  const active = useMemo(() => data?.rollouts.filter(isActive) ?? [], [data]);
  const past = useMemo(() => data?.rollouts.filter((r) => !isActive(r)) ?? [], [data]);
  const hosts = useMemo(() => data?.nodes.filter((n) => n.host !== undefined) ?? [], [data]);
  const pending = useMemo(() => data?.nodes.filter((n) => n.host === undefined) ?? [], [data]);

  return (
    <div className="nodes-screen">
      <div className="title-row">
        <h1>Nodes</h1>
        {data && (
          <span className="muted" data-testid="nodes-summary">
            {hosts.length} {hosts.length === 1 ? "host" : "hosts"}
            {pending.length > 0 && `, ${pending.length} pending`}
            {active.length > 0 && `, ${active.length === 1 ? "a rollout" : `${active.length} rollouts`} in progress`}
          </span>
        )}
        {!data && !pull.error && <span className="muted small">loading…</span>}
      </div>
      <Connection error={pull.error} at={pull.at} hasData={!!data} />
      {data && (
        <>
          <section className="card" data-testid="rollouts">
            <h2>Rollouts</h2>
            {active.length > 0 && (
              <div data-testid="active-rollouts">
                {active.map((r) => (
                  <RolloutCard key={r.id} rollout={r} nodes={data.nodes} onChanged={pull.refresh} />
                ))}
              </div>
            )}
            <RollOut pull={data} onChanged={pull.refresh} />
            {past.length > 0 && <PastRollouts rollouts={past} nodes={data.nodes} />}
          </section>
          <NodeTable nodes={hosts} rollouts={active} now={now} />
          <PendingNodes nodes={pending} now={now} />
        </>
      )}
    </div>
  );
}

/** Lost contact: what is shown is the last answer, and polling goes on until the server is back. */
function Connection({ error, at, hasData }: { error: unknown; at: number | undefined; hasData: boolean }) {
  if (!error) return null;
  return (
    <div className={`banner ${hasData ? "warn" : "bad"}`} data-testid="pull-connection" role="status">
      {hasData ? "Lost contact with the server" : "Could not load the pull nodes"}: {errorMessage(error).replace(/\.$/, "")}. Retrying
      {at ? `; showing what it said at ${new Date(at).toLocaleTimeString()}` : ""}.
    </div>
  );
}

// ---- rollouts ---------------------------------------------------------------------------

function PolicyLine({ policy }: { policy: RolloutPolicyWire }) {
  return (
    <p className="muted small policy" data-testid="rollout-policy">
      {policy.canary > 0 ? `Canary: ${policy.canary} ${policy.canary === 1 ? "host" : "hosts"} first; any failure there pauses the rollout. ` : "No canary. "}
      Then batches of {policy.batchSize}, each only after the one before finished; {policy.pauseAtFailures} {policy.pauseAtFailures === 1 ? "failure" : "failures"} in a batch
      pause it. A host with no healthy report within {formatDurationMs(policy.healthTimeoutMs)} of the offer counts as failed.
    </p>
  );
}

const FINISHED: ReadonlySet<RolloutHostPhase> = new Set(["healthy", "failed", "rolled-back"]);
const FAILED: ReadonlySet<RolloutHostPhase> = new Set(["failed", "rolled-back"]);

function countsText(c: RolloutWire["counts"]): string {
  const total = Object.values(c).reduce((a, b) => a + b, 0);
  const parts = [`${c.healthy} of ${total} healthy`];
  for (const p of ["failed", "rolled-back", "applying", "offered", "waiting"] as const) if (c[p]) parts.push(`${c[p]} ${phaseLabel(p)}`);
  return parts.join(" · ");
}

function versionsText(versions: Record<string, number>): string {
  const vs = [...new Set(Object.values(versions))].sort((a, b) => a - b);
  const n = Object.keys(versions).length;
  const hosts = `${n} ${n === 1 ? "host" : "hosts"}`;
  if (vs.length === 1) return `version ${vs[0]} to ${hosts}`;
  return `versions ${vs[0]}–${vs[vs.length - 1]} to ${hosts}`;
}

function waveName(i: number, policy: RolloutPolicyWire): string {
  if (policy.canary > 0) return i === 0 ? "Canary" : `Batch ${i}`;
  return `Batch ${i + 1}`;
}

function RolloutCard({ rollout: r, nodes, onChanged, readOnly = false }: { rollout: RolloutWire; nodes: PullNode[]; onChanged?: () => void; readOnly?: boolean }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [confirming, setConfirming] = useState(false);
  const byHost = useMemo(() => new Map(nodes.filter((n) => n.host).map((n) => [n.host!, n])), [nodes]);
  const c = r.counts;
  const total = Object.values(c).reduce((a, b) => a + b, 0);
  const finished = c.healthy + c.failed + c["rolled-back"];

  const act = (what: "resume" | "abort") => {
    setBusy(true);
    setError(undefined);
    (what === "resume" ? api.resumeRollout(r.id) : api.abortRollout(r.id)).then(
      () => {
        setBusy(false);
        setConfirming(false);
        onChanged?.();
      },
      (e: unknown) => {
        setBusy(false);
        setError(errorMessage(e));
      },
    );
  };

  return (
    <div className={`rollout ${r.status}`} data-testid="rollout" data-rollout-id={r.id}>
      <div className="rollout-head">
        <strong>Rollout {r.id}</strong>
        <RolloutStatusBadge status={r.status} testId="rollout-status" />
        <span className="muted">{versionsText(r.versions)}</span>
        <span className="spacer" />
        {!readOnly && r.status === "paused" && (
          <button type="button" className="primary" data-testid="rollout-resume" disabled={busy} onClick={() => act("resume")}>
            Resume
          </button>
        )}
        {!readOnly && isActive(r) && !confirming && (
          <button type="button" className="danger" data-testid="rollout-abort" disabled={busy} onClick={() => setConfirming(true)}>
            Abort
          </button>
        )}
      </div>
      {confirming && (
        <div className="banner warn confirm" data-testid="rollout-abort-confirm">
          Abort rollout {r.id}? Hosts not offered the release yet will not be; hosts already offered it may still fetch it.{" "}
          <button type="button" className="danger" data-testid="rollout-abort-yes" disabled={busy} onClick={() => act("abort")}>
            Abort rollout
          </button>{" "}
          <button type="button" className="subtle" data-testid="rollout-abort-no" disabled={busy} onClick={() => setConfirming(false)}>
            Keep it
          </button>
        </div>
      )}
      {r.status === "paused" && (
        <div className="banner warn" data-testid="rollout-paused">
          <strong>Paused</strong>: {r.pausedBecause ?? "too many failures"}. No further host is offered the release until you look at the failed hosts (their
          log is in the node table) and Resume, which accepts these failures and goes on with the next batch, or Abort.
        </div>
      )}
      <div className="progress-line">
        <div className="bar" role="progressbar" aria-valuemin={0} aria-valuemax={total} aria-valuenow={finished}>
          <div className={`fill${c.failed + c["rolled-back"] ? " has-failures" : ""}`} style={{ width: `${total ? (100 * finished) / total : 0}%` }} />
        </div>
        <span className="count small" data-testid="rollout-counts">
          {countsText(c)}
        </span>
      </div>
      <ol className="waves">
        {r.waves.map((wave, i) => {
          const phases = wave.map((h) => r.hosts[h]?.phase ?? "waiting");
          const failures = phases.filter((p) => FAILED.has(p)).length;
          const state = phases.every((p) => p === "waiting") ? "waiting" : phases.every((p) => FINISHED.has(p)) ? (failures ? `done, ${failures} failed` : "done") : failures ? `${failures} failed` : "in progress";
          return (
            <li key={i} className={`wave${failures ? " has-failures" : ""}`} data-testid={`wave-${i}`}>
              <span className="wave-name">
                {waveName(i, r.policy)} <span className="muted small">{state}</span>
              </span>
              <span className="wave-hosts">
                {wave.map((h) => {
                  const hp = r.hosts[h];
                  const node = byHost.get(h);
                  return (
                    <span key={h} className="wave-host" data-testid={`rollout-host-${h}`} title={[hp?.detail, node ? `node reports ${phaseLabel(node.phase)}, version ${node.version}` : "not seen yet"].filter(Boolean).join("\n")}>
                      <a href={href.host(h)}>{h}</a> <RolloutHostBadge phase={hp?.phase ?? "waiting"} /> <span className="muted small">v{r.versions[h]}</span>
                    </span>
                  );
                })}
              </span>
            </li>
          );
        })}
      </ol>
      <PolicyLine policy={r.policy} />
      {error && (
        <div className="inline-error" role="alert">
          {error}
        </div>
      )}
    </div>
  );
}

function PastRollouts({ rollouts, nodes }: { rollouts: RolloutWire[]; nodes: PullNode[] }) {
  return (
    <details className="past-rollouts" data-testid="past-rollouts">
      <summary>
        Past rollouts ({rollouts.length}){rollouts.length >= 20 ? ", the last 20" : ""}
      </summary>
      {rollouts.map((r) => (
        <PastRollout key={r.id} rollout={r} nodes={nodes} />
      ))}
    </details>
  );
}

/** One finished rollout: a line, and the whole card once opened (drawn only then). */
function PastRollout({ rollout: r, nodes }: { rollout: RolloutWire; nodes: PullNode[] }) {
  const [open, setOpen] = useState(false);
  return (
    <details className="past-rollout" data-testid="past-rollout" data-rollout-id={r.id} onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>
        <strong>{r.id}</strong> <RolloutStatusBadge status={r.status} testId="rollout-status" /> <span className="muted small">{versionsText(r.versions)} · {countsText(r.counts)}</span>
      </summary>
      {open && <RolloutCard rollout={r} nodes={nodes} readOnly />}
    </details>
  );
}

/** The signed releases no rollout has offered yet, and the button that rolls them out. */
function RollOut({ pull, onChanged }: { pull: PullOverview; onChanged: () => void }) {
  const [left, setLeft] = useState<ReadonlySet<string>>(new Set());
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const entries = Object.entries(pull.unreleased).sort(([a], [b]) => a.localeCompare(b));
  const byHost = new Map(pull.nodes.filter((n) => n.host).map((n) => [n.host!, n]));

  if (entries.length === 0)
    return (
      <p className="muted" data-testid="nothing-to-roll-out">
        No signed release is waiting. Sign one on the admin's machine with <code>hearth publish HOST… -f FLEET</code> (or <code>--image CLASS</code>); the server cannot sign, it
        only rolls out what was signed. New releases show up here.
      </p>
    );

  const chosen = entries.map(([h]) => h).filter((h) => !left.has(h));
  const p = pull.policy;
  const canary = chosen.slice(0, Math.min(p.canary, chosen.length));
  const rest = chosen.length - canary.length;
  const batches = Math.ceil(rest / Math.max(1, p.batchSize));
  const toggle = (h: string) =>
    setLeft((s) => {
      const next = new Set(s);
      if (!next.delete(h)) next.add(h);
      return next;
    });
  const start = () => {
    setBusy(true);
    setError(undefined);
    api.startRollout(chosen.length === entries.length ? undefined : chosen).then(
      () => {
        setBusy(false);
        setLeft(new Set());
        onChanged();
      },
      (e: unknown) => {
        setBusy(false);
        setError(errorMessage(e));
      },
    );
  };

  return (
    <div className="unreleased" data-testid="unreleased">
      <h3>Signed releases ready to roll out</h3>
      <p className="muted small">
        Signed by the admin's CLI (<code>hearth publish</code>); the server cannot sign. Rolling out lets each host fetch its signed release, canary first, and every node checks
        the signature itself.
      </p>
      <table className="compact">
        <thead>
          <tr>
            <th />
            <th>Host</th>
            <th>Now</th>
            <th>Gets</th>
          </tr>
        </thead>
        <tbody>
          {entries.map(([h, v]) => {
            const node = byHost.get(h);
            return (
              <tr key={h} data-testid={`unreleased-${h}`}>
                <td>
                  <input type="checkbox" checked={!left.has(h)} onChange={() => toggle(h)} aria-label={`roll out to ${h}`} />
                </td>
                <td>
                  <a href={href.host(h)}>{h}</a>
                </td>
                <td>
                  {node ? (
                    <>
                      <NodeVersion node={node} /> <PullPhaseBadge phase={node.phase} />
                    </>
                  ) : (
                    <span className="muted">not seen yet</span>
                  )}
                </td>
                <td data-testid={`unreleased-version-${h}`}>version {v}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <PolicyLine policy={p} />
      <div className="toolbar">
        <button type="button" className="primary" data-testid="roll-out" disabled={busy || chosen.length === 0} onClick={start}>
          {busy ? "Starting…" : `Roll out to ${chosen.length} ${chosen.length === 1 ? "host" : "hosts"}`}
        </button>
        {chosen.length > 0 && (
          <span className="muted small" data-testid="roll-out-plan">
            {canary.length > 0 && `canary ${canary.join(", ")}`}
            {canary.length > 0 && rest > 0 && ", then "}
            {rest > 0 && `${batches} ${batches === 1 ? "batch" : "batches"} of up to ${p.batchSize}`}
          </span>
        )}
        {error && (
          <span className="inline-error" role="alert">
            {error}
          </span>
        )}
      </div>
    </div>
  );
}

// ---- nodes ------------------------------------------------------------------------------

function LastSeen({ node, now, testId }: { node: PullNode; now: number; testId?: string }) {
  const stale = isStale(node, now);
  return (
    <span title={new Date(node.lastSeen).toLocaleString()} data-testid={testId}>
      {formatAgo(node.lastSeen, now)}
      {stale && (
        <>
          {" "}
          <span className="badge warn" title="not seen for 3× the check-in interval (15 min when unknown)" data-testid="stale">
            stale
          </span>
        </>
      )}
    </span>
  );
}

/** The version a node reported: for a failed or rolled-back node, the one it tried, said so. */
function NodeVersion({ node }: { node: PullNode }) {
  if (!node.version) return <span className="muted">—</span>;
  if (node.phase === "rolled-back" || node.phase === "failed")
    return (
      <span title={`version ${node.version} was tried and ${node.phase === "failed" ? "failed" : "rolled back; the node runs what it ran before"}`}>
        v{node.version} <span className="muted small">({phaseLabel(node.phase)})</span>
      </span>
    );
  return <>v{node.version}</>;
}

function bootedText(b: PullNode["booted"]): string {
  if (!b) return "";
  return [b.generation !== undefined ? `gen ${b.generation}` : "", b.slot ? `slot ${b.slot}` : ""].filter(Boolean).join(" · ");
}

function NodeTable({ nodes, rollouts, now }: { nodes: PullNode[]; rollouts: RolloutWire[]; now: number }) {
  const [query, setQuery] = useState("");
  const [phase, setPhase] = useState("");
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  // The active rollout each host is in, for "v1 → v2 (offered)".
  const inRollout = useMemo(() => {
    const m = new Map<string, { version: number; phase: RolloutHostPhase }>();
    for (const r of rollouts) for (const [h, hp] of Object.entries(r.hosts)) m.set(h, { version: r.versions[h]!, phase: hp.phase });
    return m;
  }, [rollouts]);
  const counts = useMemo(() => {
    const c = new Map<string, number>();
    for (const n of nodes) c.set(n.phase, (c.get(n.phase) ?? 0) + 1);
    return [...c.entries()].sort(([a], [b]) => a.localeCompare(b));
  }, [nodes]);
  const stale = nodes.filter((n) => isStale(n, now)).length;
  const q = query.trim().toLowerCase();
  const shown = nodes.filter((n) => (!phase || (phase === "stale" ? isStale(n, now) : n.phase === phase)) && (!q || (n.host ?? "").includes(q) || (n.detail ?? "").toLowerCase().includes(q)));
  const toggle = (id: string) =>
    setOpen((s) => {
      const next = new Set(s);
      if (!next.delete(id)) next.add(id);
      return next;
    });

  return (
    <section className="card" data-testid="node-table">
      <h2>Hosts</h2>
      {nodes.length === 0 ? (
        <p className="muted">
          No host has checked in yet. A node boots its class image, reads its identity drive and checks in here every few minutes (the class's{" "}
          <code>checkInterval</code>).
        </p>
      ) : (
        <>
          <div className="toolbar">
            <input type="search" className="search" placeholder="Search host or detail" aria-label="search nodes" data-testid="node-search" value={query} onChange={(e) => setQuery(e.target.value)} />
            <select aria-label="phase" data-testid="node-filter" value={phase} onChange={(e) => setPhase(e.target.value)}>
              <option value="">any phase</option>
              {counts.map(([p, n]) => (
                <option key={p} value={p}>
                  {phaseLabel(p)} ({n})
                </option>
              ))}
              {stale > 0 && <option value="stale">stale ({stale})</option>}
            </select>
            <span className="muted small">{shown.length === nodes.length ? `${nodes.length} hosts` : `${shown.length} of ${nodes.length} hosts`}</span>
          </div>
          <div className="table-wrap node-wrap">
            <table className="node-list" data-testid="nodes">
              <thead>
                <tr>
                  <th className="expand" />
                  <th>Host</th>
                  <th>Phase</th>
                  <th>Version</th>
                  <th>Last check-in</th>
                  <th>Booted</th>
                  <th>Detail</th>
                </tr>
              </thead>
              {shown.map((n) => {
                const r = inRollout.get(n.host!);
                const isOpen = open.has(n.id);
                return (
                  <tbody key={n.id} data-testid={`node-${n.host}`} className={isStale(n, now) ? "stale" : undefined}>
                    <tr>
                      <td className="expand">
                        <button type="button" className="link" aria-expanded={isOpen} aria-label={`details of ${n.host}`} data-testid={`node-expand-${n.host}`} onClick={() => toggle(n.id)}>
                          {isOpen ? "▾" : "▸"}
                        </button>
                      </td>
                      <td className="name">
                        <a href={href.host(n.host!)}>{n.host}</a>
                      </td>
                      <td>
                        <PullPhaseBadge phase={n.phase} testId={`node-phase-${n.host}`} />
                      </td>
                      <td data-testid={`node-version-${n.host}`}>
                        <NodeVersion node={n} />
                        {r && r.version !== n.version && (
                          <span className="muted small">
                            {" "}
                            → v{r.version} ({phaseLabel(r.phase)})
                          </span>
                        )}
                      </td>
                      <td>
                        <LastSeen node={n} now={now} testId={`node-seen-${n.host}`} />
                      </td>
                      <td title={n.booted?.system}>{bootedText(n.booted) || <span className="muted">—</span>}</td>
                      <td className="detail" title={[n.detail, n.image?.detail].filter(Boolean).join("\n")}>
                        {n.detail}
                        {n.image && (
                          <span className="muted small" data-testid="node-image">
                            {n.detail ? " · " : ""}image v{n.image.version} {n.image.phase}
                          </span>
                        )}
                      </td>
                    </tr>
                    {isOpen && (
                      <tr className="node-details">
                        <td />
                        <td colSpan={6} data-testid={`node-details-${n.host}`}>
                          <NodeDetails node={n} />
                        </td>
                      </tr>
                    )}
                  </tbody>
                );
              })}
            </table>
            {shown.length === 0 && <p className="muted empty">No host matches.</p>}
          </div>
        </>
      )}
    </section>
  );
}

/** Inventory (the known facts first, anything else the agent sent after), booted system, detail and log. */
function NodeDetails({ node }: { node: PullNode }) {
  const inv = node.inventory ?? {};
  const known = ["arch", "memKiB", "product", "uefi", "tpm", "interfaces"];
  const yesNo = (v: unknown) => (v === true ? "yes" : v === false ? "no" : "unknown");
  const interfaces = Array.isArray(inv.interfaces)
    ? (inv.interfaces as unknown[]).map((i) => (typeof i === "object" && i !== null ? [(i as { name?: unknown }).name, (i as { mac?: unknown }).mac].filter(Boolean).join(" ") : String(i))).join(", ")
    : undefined;
  const rows: [string, React.ReactNode][] = [
    ["arch", typeof inv.arch === "string" ? inv.arch : "unknown"],
    ["memory", typeof inv.memKiB === "number" ? formatBytes(inv.memKiB * 1024) : "unknown"],
    ["product", typeof inv.product === "string" ? inv.product : "unknown"],
    ["UEFI", yesNo(inv.uefi)],
    ["TPM", yesNo(inv.tpm)],
    ["interfaces", interfaces || "unknown"],
    ...Object.entries(inv)
      .filter(([k]) => !known.includes(k))
      .map(([k, v]): [string, React.ReactNode] => [k, typeof v === "string" ? v : JSON.stringify(v)]),
  ];
  if (node.booted?.system) rows.push(["system", <code key="s">{node.booted.system}</code>]);
  rows.push(["key", <code key="k" className="key">{node.key}</code>]);
  return (
    <div className="node-detail-grid">
      <dl className="times inventory" data-testid="inventory">
        {rows.map(([k, v]) => (
          <Fragment key={k}>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </Fragment>
        ))}
      </dl>
      <div>
        {node.detail && <p className="detail-full">{node.detail}</p>}
        {node.image?.detail && <p className="detail-full">{node.image.detail}</p>}
        {node.log && node.log.length > 0 ? (
          <pre className="log tail" data-testid="node-log">
            {node.log.join("\n")}
          </pre>
        ) : (
          <p className="muted small">No log lines reported.</p>
        )}
      </div>
    </div>
  );
}

/** Machines with no identity drive, known by the key they made at their first check-in. */
function PendingNodes({ nodes, now }: { nodes: PullNode[]; now: number }) {
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const toggle = (id: string) =>
    setOpen((s) => {
      const next = new Set(s);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  return (
    <section className="card" data-testid="pending-nodes">
      <h2>Pending {nodes.length > 0 && <span className="muted small">({nodes.length})</span>}</h2>
      <p className="muted small" data-testid="adopt-help">
        Machines that booted a class image with no identity drive. To adopt one, either answer it remotely on the admin's machine with{" "}
        <code>hearth adopt HOST --key '…'</code> (its key is in the details; the host's identity travels encrypted to that key and signed), or write an identity drive with{" "}
        <code>hearth identity write HOST --device /dev/disk/by-id/… --confirm HOST</code> and plug it in; either way the machine then checks in as HOST. Tell machines apart
        by their hardware and MAC addresses.
      </p>
      {nodes.length === 0 ? (
        <p className="muted">No pending machines.</p>
      ) : (
        <table className="node-list">
          <thead>
            <tr>
              <th className="expand" />
              <th>Key fingerprint</th>
              <th>Phase</th>
              <th>Hardware</th>
              <th>Last check-in</th>
            </tr>
          </thead>
          {nodes.map((n) => {
            const fp = n.id.replace(/^pending:/, "");
            const inv = n.inventory ?? {};
            const hw = [inv.product, inv.arch, typeof inv.memKiB === "number" ? formatBytes(inv.memKiB * 1024) : undefined].filter((x) => typeof x === "string" && x).join(" · ");
            const isOpen = open.has(n.id);
            return (
              <tbody key={n.id} data-testid="pending-node" className={isStale(n, now) ? "stale" : undefined}>
                <tr>
                  <td className="expand">
                    <button type="button" className="link" aria-expanded={isOpen} aria-label={`details of ${fp}`} data-testid="pending-expand" onClick={() => toggle(n.id)}>
                      {isOpen ? "▾" : "▸"}
                    </button>
                  </td>
                  <td className="mono" data-testid="pending-fingerprint">
                    {fp}
                  </td>
                  <td>
                    <PullPhaseBadge phase={n.phase} />
                  </td>
                  <td>{hw || <span className="muted">—</span>}</td>
                  <td>
                    <LastSeen node={n} now={now} />
                  </td>
                </tr>
                {isOpen && (
                  <tr className="node-details">
                    <td />
                    <td colSpan={4}>
                      <p className="small">
                        Adopt as a host: <code data-testid="adopt-command">hearth adopt HOST --key '{n.key}'</code>
                      </p>
                      <NodeDetails node={n} />
                    </td>
                  </tr>
                )}
              </tbody>
            );
          })}
        </table>
      )}
    </section>
  );
}
