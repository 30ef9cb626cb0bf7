// Host editor: the host file as a form drawn from the JSON Schema, with inline errors from the
// server's dry run, the diff, Review → Save; beside it the host's secrets and builds.
import type { HostDetail } from "../../../src/server/wire";
import { api, cachedHostSchema, errorMessage, fleetCache } from "../api";
import { HostStatusBadge } from "../components/badges";
import { ChangesPanel } from "../components/changes-panel";
import { FileForm } from "../components/file-form";
import { HostBuilds } from "../components/host-builds";
import { HostSecrets } from "../components/host-secrets";
import { HostHealth } from "../components/health";
import { UnlockPanel } from "../components/unlock";
import { PreparePanel } from "../components/prepare";
import { asSchema, isObj, type JsonSchema } from "../form/schema";
import { useHostEditor } from "../host-editor";
import { useLoad } from "../hooks";
import { href } from "../router";

export function HostScreen({ name }: { name: string }) {
  const schema = useLoad("schema", () => cachedHostSchema());
  const detail = useLoad(`host:${name}`, (signal) => api.host(name, signal));
  const parsed = schema.data === undefined ? undefined : asSchema(schema.data);

  return (
    <div className="host">
      <div className="title-row">
        <a href={href.fleet()} className="muted">
          ← Fleet
        </a>
        <h1>{name}</h1>
        {detail.data && <span className="muted">{detail.data.file}</span>}
        <RowStatus name={name} />
      </div>
      {!!detail.error && <div className="banner bad">Could not load {name}: {errorMessage(detail.error)}</div>}
      {!!schema.error && <div className="banner bad">Could not load the host schema: {errorMessage(schema.error)}</div>}
      {schema.data !== undefined && !parsed && <div className="banner bad">The host schema is not an object schema.</div>}
      {(!detail.data || (!parsed && !schema.error)) && !detail.error && <p className="muted">Loading…</p>}
      {detail.data && parsed && <HostEditorView detail={detail.data} schema={parsed} reload={detail.reload} />}
    </div>
  );
}

function RowStatus({ name }: { name: string }) {
  const row = fleetCache.value?.hosts.find((h) => h.name === name);
  return row ? <HostStatusBadge status={row.status} /> : null;
}

function HostEditorView({ detail, schema, reload }: { detail: HostDetail; schema: JsonSchema; reload: () => void }) {
  const editor = useHostEditor(detail, reload);
  const formats = formatsOf(editor.values, detail.name);

  return (
    <div className="editor-grid">
      <FileForm editor={editor} file={detail.file} yaml={detail.yaml} schema={schema} formTestId="host-form" elsewhereLabel="elsewhere in the fleet" />
      <aside className="editor-side">
        <HostHealth host={detail.name} />
        {hasRemoteUnlock(detail.values) && <UnlockPanel host={detail.name} />}
        {isObj(detail.values) && detail.values.ephemeral === true && <PreparePanel host={detail.name} />}
        <ChangesPanel editor={editor} file={detail.file} />
        <HostSecrets secrets={detail.secrets} onChanged={reload} />
        <HostBuilds host={detail.name} formats={formats} />
      </aside>
    </div>
  );
}

/** Whether the saved host file turns on initrd SSH unlock. */
function hasRemoteUnlock(values: unknown): boolean {
  const sec = isObj(values) ? values.security : undefined;
  const ru = isObj(sec) ? sec.remoteUnlock : undefined;
  return isObj(ru) && ru.enable === true;
}

/** The boot formats a host builds: its boot.formats, else what the fleet overview said. */
function formatsOf(values: unknown, name: string): string[] {
  const boot = isObj(values) ? values.boot : undefined;
  const listed = isObj(boot) && Array.isArray(boot.formats) ? boot.formats.filter((f): f is string => typeof f === "string") : [];
  if (listed.length) return listed;
  return fleetCache.value?.hosts.find((h) => h.name === name)?.formats ?? [];
}
