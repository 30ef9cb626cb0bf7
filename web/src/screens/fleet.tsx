// Fleet overview: every host in one table with search and filters, fleet-level issues, the
// Nix banner, "New host" and building the selected hosts. Every row is in the DOM (search,
// find-in-page and tests see them all), kept cheap: memoised plain rows in a div grid whose
// off-screen rows skip layout and paint (see style.css); 1,000 hosts paint in ~0.2-0.4 s.
import { memo, startTransition, useCallback, useDeferredValue, useEffect, useLayoutEffect, useMemo, useState } from "react";
import type { FleetOverview, HostRow, JobSummary } from "../../../src/server/wire";
import { api, errorMessage } from "../api";
import { HostStatusBadge, JobStateBadge } from "../components/badges";
import { IssueList } from "../components/issue-list";
import { FleetHealth } from "../components/health";
import { useFleet } from "../hooks";
import { href, navigate } from "../router";

const LOADED_MARK = "hearth:fleet-loaded";
/** User Timing measures from the fleet's fetch resolving to the first screen of rows, and to every row, painted. */
export const FIRST_ROWS_MEASURE = "hearth:fleet-first-rows-painted";
export const ROWS_PAINTED_MEASURE = "hearth:fleet-rows-painted";
/** Rows drawn in the first, blocking pass; the rest follow in an interruptible one. */
const FIRST_ROWS = 60;

export function FleetScreen() {
  const fleet = useFleet(() => {
    performance.clearMarks(LOADED_MARK);
    performance.clearMeasures(FIRST_ROWS_MEASURE);
    performance.clearMeasures(ROWS_PAINTED_MEASURE);
    performance.mark(LOADED_MARK);
  });
  const data = fleet.data;

  return (
    <div className="fleet">
      <div className="title-row">
        <h1>{data ? data.name : "Fleet"}</h1>
        {data && <span className="muted">{data.dir}</span>}
        {fleet.loading && <span className="muted small">loading…</span>}
      </div>
      {!!fleet.error && <div className="banner bad">Could not load the fleet: {errorMessage(fleet.error)}</div>}
      <FleetHealth />
      {data && <NixBanner nix={data.nix} />}
      {data && data.issues.length > 0 && <FleetIssues fleet={data} />}
      {data && <HostTable fleet={data} onChanged={fleet.reload} />}
    </div>
  );
}

/** Fleet-level findings; a long list starts closed and is only drawn once opened. */
function FleetIssues({ fleet }: { fleet: FleetOverview }) {
  const [open, setOpen] = useState(fleet.issues.length <= 5);
  const errors = fleet.issues.filter((i) => i.severity === "error").length;
  const shown = fleet.issues.slice(0, 500);
  return (
    <details className="banner-issues" data-testid="fleet-issues" open={open} onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary className={fleet.valid ? "warn" : "bad"}>
        {fleet.valid ? "The fleet is valid, with findings" : "The fleet is not valid"}: {errors} {errors === 1 ? "error" : "errors"}, {fleet.issues.length - errors}{" "}
        {fleet.issues.length - errors === 1 ? "warning" : "warnings"}
      </summary>
      {open && <IssueList issues={shown} />}
      {open && shown.length < fleet.issues.length && <p className="muted small">… and {fleet.issues.length - shown.length} more; `hearth validate` lists them all.</p>}
    </details>
  );
}

function NixBanner({ nix }: { nix: FleetOverview["nix"] }) {
  if (nix.available) return null;
  return (
    <div className="banner warn" data-testid="nix-missing">
      <strong>Nix is not installed</strong> on the server, so hosts cannot be built here; everything else works.
      {nix.installHint && (
        <div>
          To install it: <code>{nix.installHint}</code>
        </div>
      )}
    </div>
  );
}

interface Indexed {
  row: HostRow;
  haystack: string;
}

function HostTable({ fleet, onChanged }: { fleet: FleetOverview; onChanged: () => void }) {
  const [query, setQuery] = useState("");
  const [status, setStatus] = useState("");
  const [tag, setTag] = useState("");
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [building, setBuilding] = useState(false);
  const [notice, setNotice] = useState<{ tone: string; text: string; jobs?: JobSummary[] }>();
  const deferredQuery = useDeferredValue(query.trim().toLowerCase());

  const indexed = useMemo<Indexed[]>(
    () =>
      fleet.hosts.map((row) => ({
        row,
        haystack: [row.name, row.hardware, ...row.tags, ...Object.entries(row.services).flat()].join("\n").toLowerCase(),
      })),
    [fleet.hosts],
  );
  const tags = useMemo(() => [...new Set(fleet.hosts.flatMap((h) => h.tags))].sort(), [fleet.hosts]);
  const visible = useMemo(
    () =>
      indexed
        .filter((h) => (!status || h.row.status === status) && (!tag || h.row.tags.includes(tag)) && (!deferredQuery || h.haystack.includes(deferredQuery)))
        .map((h) => h.row),
    [indexed, status, tag, deferredQuery],
  );

  // The first screen of rows paints at once; the other rows render in a transition that yields
  // to input, so the page is never blocked by a thousand rows.
  const [allRows, setAllRows] = useState(false);
  useEffect(() => {
    if (!allRows) startTransition(() => setAllRows(true));
  }, [allRows]);
  const shown = allRows ? visible : visible.slice(0, FIRST_ROWS);

  // Measure fetch → rows painted: after the commit, the next frame, then a task.
  useLayoutEffect(() => {
    if (performance.getEntriesByName(LOADED_MARK).length === 0) return;
    const done = allRows || visible.length <= FIRST_ROWS;
    requestAnimationFrame(() =>
      setTimeout(() => {
        if (performance.getEntriesByName(LOADED_MARK).length === 0) return;
        if (performance.getEntriesByName(FIRST_ROWS_MEASURE).length === 0) performance.measure(FIRST_ROWS_MEASURE, LOADED_MARK);
        if (!done) return;
        performance.measure(ROWS_PAINTED_MEASURE, LOADED_MARK);
        performance.clearMarks(LOADED_MARK);
      }),
    );
  }, [fleet, allRows]);

  // Selected hosts that vanished from the fleet are dropped.
  useEffect(() => {
    setSelected((s) => {
      const names = new Set(fleet.hosts.map((h) => h.name));
      const kept = [...s].filter((n) => names.has(n));
      return kept.length === s.size ? s : new Set(kept);
    });
  }, [fleet.hosts]);

  const toggle = useCallback((name: string) => {
    setSelected((s) => {
      const next = new Set(s);
      if (!next.delete(name)) next.add(name);
      return next;
    });
  }, []);
  const allVisibleSelected = visible.length > 0 && visible.every((h) => selected.has(h.name));
  const toggleAll = () => setSelected(allVisibleSelected ? new Set() : new Set(visible.map((h) => h.name)));

  const build = () => {
    const hosts = [...selected];
    setBuilding(true);
    setNotice(undefined);
    api.build(hosts).then(
      (jobs) => {
        setBuilding(false);
        setSelected(new Set());
        setNotice({ tone: "good", text: `Started ${jobs.length === 1 ? "1 build" : `${jobs.length} builds`}`, jobs });
        onChanged();
      },
      (e: unknown) => {
        setBuilding(false);
        setNotice({ tone: "bad", text: errorMessage(e) });
      },
    );
  };

  return (
    <>
      <div className="toolbar">
        <input
          type="search"
          className="search"
          placeholder="Search name, tag, service, hardware"
          aria-label="search hosts"
          data-testid="search"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
        />
        <select aria-label="status" data-testid="filter-status" value={status} onChange={(e) => setStatus(e.target.value)}>
          <option value="">any status</option>
          <option value="ok">ok</option>
          <option value="attention">attention</option>
          <option value="error">error</option>
        </select>
        <select aria-label="tag" data-testid="filter-tag" value={tag} onChange={(e) => setTag(e.target.value)}>
          <option value="">any tag</option>
          {tags.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
        <span className="muted small" data-testid="host-count">
          {visible.length === fleet.hosts.length ? `${fleet.hosts.length} hosts` : `${visible.length} of ${fleet.hosts.length} hosts`}
        </span>
        <span className="spacer" />
        <button
          type="button"
          className="primary"
          data-testid="build"
          disabled={selected.size === 0 || building || !fleet.nix.available}
          title={!fleet.nix.available ? "Nix is not installed on the server" : selected.size === 0 ? "select hosts to build" : undefined}
          onClick={build}
        >
          {building ? "Starting…" : `Build${selected.size ? ` ${selected.size}` : ""}`}
        </button>
        <NewHost />
      </div>
      {notice && (
        <div className={`banner ${notice.tone}`} data-testid="build-notice">
          {notice.text}
          {notice.jobs && notice.jobs.length > 0 && (
            <>
              {": "}
              {notice.jobs.slice(0, 10).map((j, i) => (
                <span key={j.id}>
                  {i > 0 && ", "}
                  <a href={href.job(j.id)}>
                    {j.host} #{j.id}
                  </a>
                </span>
              ))}
              {notice.jobs.length > 10 && ` and ${notice.jobs.length - 10} more`}
            </>
          )}
        </div>
      )}
      <div className="table-wrap">
        <div className="hosts" role="table" aria-rowcount={visible.length + 1} data-testid="hosts">
          <div role="rowgroup" className="head">
            <div role="row" className="row">
              <div role="columnheader" className="sel">
                <input type="checkbox" aria-label="select all shown" checked={allVisibleSelected} onChange={toggleAll} data-testid="select-all" />
              </div>
              <div role="columnheader">Name</div>
              <div role="columnheader">Description</div>
              <div role="columnheader">System</div>
              <div role="columnheader">Hardware</div>
              <div role="columnheader">Tags</div>
              <div role="columnheader">Services</div>
              <div role="columnheader">Boot</div>
              <div role="columnheader">Mesh</div>
              <div role="columnheader">Last build</div>
              <div role="columnheader">Status</div>
              <div role="columnheader" title="secrets ok / missing / stale">Secrets</div>
            </div>
          </div>
          <div role="rowgroup">
            {shown.map((row) => (
              <HostRowView key={row.name} row={row} selected={selected.has(row.name)} onToggle={toggle} />
            ))}
          </div>
        </div>
        {visible.length === 0 && <p className="muted empty">{fleet.hosts.length ? "No host matches." : "No hosts yet: add one with “New host”."}</p>}
      </div>
    </>
  );
}

const HostRowView = memo(function HostRowView({ row, selected, onToggle }: { row: HostRow; selected: boolean; onToggle: (name: string) => void }) {
  const services = Object.entries(row.services)
    .map(([role, client]) => (role === client ? role : `${role}: ${client}`))
    .join(", ");
  const s = row.secrets;
  return (
    <div role="row" data-testid={`host-row-${row.name}`} className={selected ? "row selected" : "row"}>
      <div role="cell" className="sel">
        <input type="checkbox" checked={selected} onChange={() => onToggle(row.name)} aria-label={`select ${row.name}`} />
      </div>
      <div role="cell" className="name">
        <a href={href.host(row.name)}>{row.name}</a>
        {row.ephemeral && (
          <span className="pill" title="RAM-only (ephemeral)">
            RAM
          </span>
        )}
      </div>
      <div role="cell" className="desc" title={row.invalid ? row.issues?.map((i) => i.message).join("\n") : row.description}>
        {row.invalid ? (
          <span className="bad-text" data-testid={`host-invalid-${row.name}`}>
            {row.file} is invalid: {row.issues?.find((i) => i.severity === "error")?.message ?? "see the editor"}
          </span>
        ) : (
          row.description
        )}
      </div>
      <div role="cell">{row.system}</div>
      <div role="cell">{row.hardware}</div>
      <div role="cell">{row.tags.join(", ")}</div>
      <div role="cell" title={services}>{services}</div>
      <div role="cell">{row.formats.join(", ")}</div>
      <div role="cell" className="mono" title={row.meshProvisional ? "provisional: not recorded in mesh/addresses.json yet (the fleet is invalid), may still change" : undefined}>
        {row.meshAddress}
        {row.meshProvisional && <span className="muted" data-testid={`mesh-provisional-${row.name}`}> (provisional)</span>}
      </div>
      <div role="cell">
        {row.lastBuild ? (
          <a href={href.job(row.lastBuild.id)} title={`${row.lastBuild.format} build #${row.lastBuild.id}`}>
            <JobStateBadge state={row.lastBuild.state} />
          </a>
        ) : (
          <span className="muted">—</span>
        )}
      </div>
      <div role="cell">
        <HostStatusBadge status={row.status} />
      </div>
      <div role="cell" className="secrets" title={`${s.ok} ok, ${s.missing} missing, ${s.stale} stale${s.unknown ? `, ${s.unknown} unknown while a host file is invalid` : ""}`}>
        <span className="good-text">{s.ok}</span>
        {s.missing > 0 && <span className="bad-text"> · {s.missing} missing</span>}
        {s.stale > 0 && <span className="warn-text"> · {s.stale} stale</span>}
        {!!s.unknown && <span className="muted"> · {s.unknown} unknown</span>}
      </div>
    </div>
  );
});

function NewHost() {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [template, setTemplate] = useState("");
  const [templates, setTemplates] = useState<string[]>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!open || templates) return;
    api.templates().then(
      (t) => {
        setTemplates(t);
        setTemplate((cur) => cur || t[0] || "");
      },
      (e: unknown) => setError(errorMessage(e)),
    );
  }, [open, templates]);

  if (!open)
    return (
      <button type="button" data-testid="new-host" onClick={() => setOpen(true)}>
        New host
      </button>
    );
  const create = (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    api.createHost(name.trim(), template).then(
      (h) => navigate(href.host(h.name)),
      (err: unknown) => {
        setBusy(false);
        setError(errorMessage(err));
      },
    );
  };
  return (
    <form className="new-host" onSubmit={create} data-testid="new-host-form">
      <input
        placeholder="host name"
        aria-label="new host name"
        data-testid="new-host-name"
        value={name}
        onChange={(e) => setName(e.target.value)}
        pattern="[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?"
        title="lower-case letters, digits and '-'"
        required
        autoFocus
      />
      <select aria-label="template" data-testid="new-host-template" value={template} onChange={(e) => setTemplate(e.target.value)} required>
        {!templates && <option value="">loading…</option>}
        {templates?.map((t) => (
          <option key={t} value={t}>
            {t}
          </option>
        ))}
      </select>
      <button type="submit" className="primary" disabled={busy || !template} data-testid="new-host-create">
        Create
      </button>
      <button type="button" className="subtle" onClick={() => setOpen(false)}>
        Cancel
      </button>
      {error && (
        <span className="inline-error" role="alert">
          {error}
        </span>
      )}
    </form>
  );
}
