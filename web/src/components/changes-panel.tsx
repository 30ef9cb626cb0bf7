// The editor's side panel: what the change does to the file (the dry run's diff, its findings as
// links to their fields, what a client switch does to the machine), then Review → Save; for a
// host, renaming and deleting it.
import { useState } from "react";
import type { ClientSwitch, HostChangeWire, WireIssue } from "../../../src/server/wire";
import { api, errorMessage, ApiFailure } from "../api";
import type { HostEditor } from "../host-editor";
import { IssueLinks } from "../form/issue-links";
import { href, navigate } from "../router";
import { DiffView } from "./diff-view";
import { IssueList } from "./issue-list";

export function ChangesPanel({ editor, file }: { editor: HostEditor; file: string }) {
  return (
    <>
      <Changes editor={editor} file={file} />
      {editor.host !== undefined && <HostActions host={editor.host} dirty={editor.dirty} />}
    </>
  );
}

function Changes({ editor, file }: { editor: HostEditor; file: string }) {
  const mine = editor.issues.filter((i) => i.file === file);
  const errors = mine.filter((i) => i.severity === "error").length;
  return (
    <section className={`card changes${editor.reviewing ? " reviewing" : ""}`} data-testid="changes">
      <h2>Changes</h2>
      {!editor.dirty ? (
        <>
          <p className="muted">No unsaved changes to {file}.</p>
          <pre className="diff" data-testid="diff" />
        </>
      ) : (
        <>
          <p className="status-line">
            {editor.checking ? <span className="muted">checking…</span> : errors > 0 ? <span className="bad-text">{errors === 1 ? "1 error" : `${errors} errors`} in {file}</span> : <span className="good-text">valid</span>}
            {editor.dryRunError && <span className="bad-text"> · {editor.dryRunError}</span>}
          </p>
          {mine.length > 0 && <IssueLinks issues={mine} file={file} />}
          {editor.clientSwitches.length > 0 && <ClientSwitches switches={editor.clientSwitches} />}
          {editor.diff !== undefined ? <DiffView diff={editor.diff} /> : <pre className="diff muted" data-testid="diff">{editor.checking ? "computing the diff…" : ""}</pre>}
          {editor.reviewing ? (
            <div className="review-step">
              <p>
                This diff is what Save writes to <code>{file}</code> (comments are kept).
              </p>
              <button type="button" className="primary" data-testid="save" disabled={!editor.canSave} onClick={editor.save}>
                {editor.saving ? "Saving…" : "Save"}
              </button>
              <button type="button" className="subtle" onClick={editor.stopReview}>
                Keep editing
              </button>
            </div>
          ) : (
            <div className="review-step">
              <button type="button" className="primary" data-testid="review" onClick={editor.review}>
                Review…
              </button>
              <button type="button" className="subtle" data-testid="discard" onClick={editor.discard}>
                Discard
              </button>
            </div>
          )}
        </>
      )}
      {editor.conflict && <ConflictView editor={editor} file={file} />}
      {editor.saveError && (
        <div className="inline-error" role="alert" data-testid="save-error">
          {editor.saveError}
        </div>
      )}
    </section>
  );
}

/** The file changed on disk since the page loaded: what each side changed, and the two ways on. */
function ConflictView({ editor, file }: { editor: HostEditor; file: string }) {
  const c = editor.conflict!;
  return (
    <div className="conflict" role="alert" data-testid="conflict">
      <p className="bad-text">
        <strong>{file} changed on disk</strong> since you opened it (another editor, a git pull). Nothing was saved: saving would have undone that change.
      </p>
      {c.theirs !== undefined && (
        <>
          <h3>Changed on disk</h3>
          <div data-testid="conflict-theirs">
            <DiffView diff={c.theirs} />
          </div>
        </>
      )}
      {c.mine !== undefined && (
        <>
          <h3>Your change</h3>
          <div data-testid="conflict-mine">
            <DiffView diff={c.mine} />
          </div>
        </>
      )}
      {!!c.overlaps?.length && (
        <p className="warn-text" data-testid="conflict-overlaps">
          Both changed {c.overlaps.map((p) => <code key={p}>{p} </code>)}: applying your change on top keeps your value there.
        </p>
      )}
      <div className="review-step">
        {c.merged && (
          <button type="button" className="primary" data-testid="conflict-apply" onClick={editor.applyOnTop}>
            Apply my change on top
          </button>
        )}
        <button type="button" className="subtle" data-testid="conflict-reload" onClick={editor.reloadFromDisk}>
          Reload from disk (discard my change)
        </button>
      </div>
    </div>
  );
}

/** What switching a client does to the machine, before the save. */
function ClientSwitches({ switches }: { switches: ClientSwitch[] }) {
  return (
    <div className="banner warn" data-testid="client-switches">
      {switches.map((s) => (
        <div key={s.role} data-testid={`client-switch-${s.role}`}>
          <strong>
            {s.role} client: {s.from} → {s.to}
          </strong>
          <ul className="small" style={{ margin: "0.25rem 0 0.5rem", paddingLeft: "1.2rem" }}>
            {s.details.map((d, i) => (
              <li key={i} className={s.sameDir && i === 1 ? "bad-text" : undefined}>
                {d}
              </li>
            ))}
          </ul>
        </div>
      ))}
    </div>
  );
}

type Step = { kind: "idle" } | { kind: "rename"; to: string } | { kind: "delete"; typed: string };

/**
 * Rename and delete, each reviewed first: the server's dry run lists the files, secrets and mesh
 * address that move or go, and for a delete what depends on the host (which refuses it).
 */
function HostActions({ host, dirty }: { host: string; dirty: boolean }) {
  const [step, setStep] = useState<Step>({ kind: "idle" });
  const [plan, setPlan] = useState<HostChangeWire>();
  const [refusal, setRefusal] = useState<{ message: string; issues?: WireIssue[] | undefined }>();
  const [busy, setBusy] = useState(false);
  const reset = (next: Step) => {
    setStep(next);
    setPlan(undefined);
    setRefusal(undefined);
  };
  const fail = (e: unknown) => {
    setBusy(false);
    setRefusal({ message: errorMessage(e), issues: e instanceof ApiFailure ? e.body?.issues : undefined });
  };
  const reviewRename = (to: string) => {
    setBusy(true);
    setRefusal(undefined);
    api.renameHost(host, to, true).then((p) => {
      setBusy(false);
      setPlan(p);
    }, fail);
  };
  const rename = (to: string) => {
    setBusy(true);
    api.renameHost(host, to, false).then(() => {
      setBusy(false);
      reset({ kind: "idle" });
      navigate(href.host(to));
    }, fail);
  };
  const reviewDelete = () => {
    setBusy(true);
    api.deleteHost(host, undefined, true).then((p) => {
      setBusy(false);
      setPlan(p);
    }, fail);
  };
  const remove = (typed: string) => {
    setBusy(true);
    api.deleteHost(host, typed, false).then(() => {
      setBusy(false);
      navigate(href.fleet());
    }, fail);
  };
  const blockers = plan?.action === "delete" ? plan.references : [];
  return (
    <section className="card" data-testid="host-actions">
      <h2>Host</h2>
      {step.kind === "idle" && (
        <div className="review-step">
          <button type="button" data-testid="rename-host" onClick={() => reset({ kind: "rename", to: "" })}>
            Rename…
          </button>
          <button
            type="button"
            className="subtle"
            data-testid="delete-host"
            onClick={() => {
              reset({ kind: "delete", typed: "" });
              reviewDelete();
            }}
          >
            Delete…
          </button>
        </div>
      )}
      {dirty && step.kind !== "idle" && <p className="warn-text small">Save or discard your edits first: a rename or delete works on the file as saved.</p>}
      {step.kind === "rename" && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            reviewRename(step.to);
          }}
        >
          <label htmlFor="rename-to">New name</label>
          <input
            id="rename-to"
            data-testid="rename-to"
            value={step.to}
            spellCheck={false}
            onChange={(e) => {
              setStep({ kind: "rename", to: e.target.value.trim() });
              setPlan(undefined);
            }}
          />
          <p className="help">
            hosts/{host}.yaml becomes hosts/{step.to || "NEW"}.yaml; its secrets move to secrets/hosts/{step.to || "NEW"}/ (same keys, so the machine keeps its SSH host key) and
            its mesh address stays; fleet.yaml and other hosts that name it are rewritten.
          </p>
          <div className="review-step">
            <button type="submit" data-testid="rename-review" disabled={busy || !step.to}>
              Review
            </button>
            <button type="button" className="subtle" onClick={() => reset({ kind: "idle" })}>
              Cancel
            </button>
          </div>
          {plan?.action === "rename" && plan.to === step.to && (
            <>
              <PlanView plan={plan} testId="rename-plan" />
              <button type="button" className="primary" data-testid="rename-confirm" disabled={busy || dirty || plan.issues.some((i) => i.severity === "error")} onClick={() => rename(step.to)}>
                {busy ? "Renaming…" : `Rename ${host} to ${step.to}`}
              </button>
            </>
          )}
        </form>
      )}
      {step.kind === "delete" && (
        <div>
          {!plan && !refusal && <p className="muted">Checking what depends on {host}…</p>}
          {plan && blockers.length > 0 && (
            <div className="banner bad" data-testid="delete-refused">
              <strong>{host} cannot be deleted:</strong> other parts of the fleet depend on it. Change these first:
              <ul className="small">
                {blockers.map((r, i) => (
                  <li key={i}>
                    <code>
                      {r.file}
                      {r.line ? `:${r.line}` : ""}
                    </code>{" "}
                    {r.what}
                  </li>
                ))}
              </ul>
            </div>
          )}
          {plan && blockers.length === 0 && (
            <form
              onSubmit={(e) => {
                e.preventDefault();
                if (step.typed === host) remove(step.typed);
              }}
            >
              <PlanView plan={plan} testId="delete-plan" />
              <label htmlFor="delete-confirm-name">
                Type <code>{host}</code> to delete it
              </label>
              <input id="delete-confirm-name" data-testid="delete-confirm-name" value={step.typed} spellCheck={false} autoComplete="off" onChange={(e) => setStep({ kind: "delete", typed: e.target.value })} />
              <button type="submit" className="primary" data-testid="delete-confirm" disabled={busy || dirty || step.typed !== host}>
                {busy ? "Deleting…" : `Delete ${host}`}
              </button>
            </form>
          )}
          <button type="button" className="subtle" onClick={() => reset({ kind: "idle" })}>
            Cancel
          </button>
        </div>
      )}
      {refusal && (
        <div className="inline-error" role="alert" data-testid="host-action-error">
          {refusal.message}
          {refusal.issues && <IssueList issues={refusal.issues} />}
        </div>
      )}
    </section>
  );
}

/** What a rename or delete writes, moves and removes. */
function PlanView({ plan, testId }: { plan: HostChangeWire; testId: string }) {
  const errors = plan.issues.filter((i) => i.severity === "error");
  return (
    <div className="plan small" data-testid={testId}>
      {plan.secrets.length > 0 && (
        <>
          <h3>Secrets {plan.action === "rename" ? "moved" : "deleted"}</h3>
          <ul>
            {plan.secrets.map((s) => (
              <li key={s.key}>
                <code>secrets/{s.key}.age</code>
                {s.to && (
                  <>
                    {" "}
                    → <code>secrets/{s.to}.age</code>
                  </>
                )}
              </li>
            ))}
          </ul>
        </>
      )}
      {plan.meshAddress && (
        <p>
          Mesh address {plan.meshAddress}: {plan.action === "rename" ? `kept, now under ${plan.to}` : "freed (no other host is renumbered)"}
        </p>
      )}
      {plan.action === "rename" && plan.references.length > 0 && (
        <>
          <h3>References</h3>
          <ul>
            {plan.references.map((r, i) => (
              <li key={i}>
                <code>
                  {r.file}
                  {r.line ? `:${r.line}` : ""}
                </code>{" "}
                {r.what}: {r.rewritten ? "rewritten to the new name" : "follows by itself"}
              </li>
            ))}
          </ul>
        </>
      )}
      {plan.diffs.map((d) => (
        <details key={d.file}>
          <summary>{d.file}</summary>
          {/* Not DiffView: its test id belongs to the editor's own diff. */}
          <pre className="diff">{d.diff.split("\n").filter((l) => !l.startsWith("Index: ") && !/^=+$/.test(l)).join("\n")}</pre>
        </details>
      ))}
      {plan.notes.map((n, i) => (
        <p key={i} className="muted">
          {n}
        </p>
      ))}
      {errors.length > 0 && (
        <div className="bad-text">
          The fleet would not be valid afterwards:
          <IssueList issues={errors} />
        </div>
      )}
    </div>
  );
}
