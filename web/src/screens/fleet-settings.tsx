// Fleet settings: fleet.yaml (admins, mesh, Ethereum defaults, monitoring, alerts …) as a form
// drawn from the fleet JSON Schema with the host editor's machinery: the server's dry run puts
// its findings at the fields (and links to them), Review shows the diff, Save writes it with
// comments kept, refused when fleet.yaml changed on disk since it was loaded.
import { useCallback } from "react";
import type { FleetSettingsDetail } from "../../../src/server/wire";
import { api, errorMessage } from "../api";
import { ChangesPanel } from "../components/changes-panel";
import { FileForm } from "../components/file-form";
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
  return (
    <div className="editor-grid">
      <FileForm editor={editor} file={detail.file} yaml={detail.yaml} schema={schema} formTestId="fleet-form" elsewhereLabel="in the hosts (a setting here can cause them)" />
      <aside className="editor-side">
        <ChangesPanel editor={editor} file={detail.file} />
      </aside>
    </div>
  );
}
