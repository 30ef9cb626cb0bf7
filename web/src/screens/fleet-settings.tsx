// Fleet settings: fleet.yaml (admins, mesh, Ethereum defaults, monitoring, alerts …) as a form
// drawn from the fleet JSON Schema with the host editor's machinery: the server's dry run puts
// its findings at the fields (and links to them), Review shows the diff, Save writes it with
// comments kept, refused when fleet.yaml changed on disk since it was loaded.
import { useCallback, useMemo } from "react";
import type { FleetSettingsDetail } from "../../../src/server/wire";
import { api, errorMessage } from "../api";
import { ChangesPanel } from "../components/changes-panel";
import { IssueList } from "../components/issue-list";
import { SchemaForm } from "../form/schema-form";
import { asSchema, type JsonSchema } from "../form/schema";
import { useFileEditor, type SaveFile } from "../host-editor";
import { useLoad } from "../hooks";
import { href } from "../router";

let fleetSchemaPromise: Promise<unknown> | undefined;
const cachedFleetSchema = () =>
  (fleetSchemaPromise ??= api.fleetSchema().catch((e: unknown) => {
    fleetSchemaPromise = undefined;
    throw e;
  }));

export function FleetSettingsScreen() {
  const schema = useLoad("fleet-schema", () => cachedFleetSchema());
  const detail = useLoad("fleet-settings", (signal) => api.fleetSettings(signal));
  const parsed = schema.data === undefined ? undefined : asSchema(schema.data);
  return (
    <div className="host fleet-settings">
      <div className="title-row">
        <a href={href.fleet()} className="muted">
          ← Fleet
        </a>
        <h1>Fleet settings</h1>
        <span className="muted">fleet.yaml</span>
      </div>
      {!!detail.error && <div className="banner bad">Could not load fleet.yaml: {errorMessage(detail.error)}</div>}
      {!!schema.error && <div className="banner bad">Could not load the fleet schema: {errorMessage(schema.error)}</div>}
      {(!detail.data || !parsed) && !detail.error && !schema.error && <p className="muted">Loading…</p>}
      {detail.data && parsed && <SettingsEditor detail={detail.data} schema={parsed} reload={detail.reload} />}
    </div>
  );
}

function SettingsEditor({ detail, schema, reload }: { detail: FleetSettingsDetail; schema: JsonSchema; reload: () => void }) {
  const save = useCallback<SaveFile>((u, signal) => api.updateFleetSettings(u, signal), []);
  const editor = useFileEditor(detail, save, reload);
  const mine = useMemo(() => editor.issues.filter((i) => i.file === detail.file), [editor.issues, detail.file]);
  const elsewhere = useMemo(() => editor.issues.filter((i) => i.file !== detail.file), [editor.issues, detail.file]);
  return (
    <div className="editor-grid">
      <div className="editor-main">
        {elsewhere.length > 0 && (
          <details className="banner-issues">
            <summary className="warn">
              {elsewhere.length === 1 ? "1 finding" : `${elsewhere.length} findings`} in the hosts (a setting here can cause them)
            </summary>
            <IssueList issues={elsewhere} />
          </details>
        )}
        <form className="host-form" onSubmit={(e) => e.preventDefault()} data-testid="fleet-form">
          <SchemaForm schema={schema} values={editor.values} issues={mine} onChange={editor.onChange} disabled={editor.saving} />
        </form>
        <details className="yaml-view">
          <summary>{editor.yaml !== undefined ? "fleet.yaml after the change" : "fleet.yaml"}</summary>
          <pre data-testid="yaml">{editor.yaml ?? detail.yaml}</pre>
        </details>
      </div>
      <aside className="editor-side">
        <ChangesPanel editor={editor} file={detail.file} />
      </aside>
    </div>
  );
}
