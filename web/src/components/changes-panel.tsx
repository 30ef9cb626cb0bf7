// The editor's side panel: what the change does to the file (the dry run's diff), then
// Review → Save.
import type { HostEditor } from "../host-editor";
import { DiffView } from "./diff-view";

export function ChangesPanel({ editor, file }: { editor: HostEditor; file: string }) {
  const errors = editor.issues.filter((i) => i.severity === "error" && i.file === file).length;
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
