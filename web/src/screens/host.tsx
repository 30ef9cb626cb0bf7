// Host editor: the host file as a form drawn from the JSON Schema, with inline errors from the
// server's dry run, the diff, Review → Save; beside it the host's secrets and builds.
import { useMemo } from "react";
import type { HostDetail } from "../../../src/server/wire";
import { api, cachedHostSchema, errorMessage, fleetCache } from "../api";
import { HostStatusBadge } from "../components/badges";
import { ChangesPanel } from "../components/changes-panel";
import { HostBuilds } from "../components/host-builds";
import { HostSecrets } from "../components/host-secrets";
import { HostHealth } from "../components/health";
import { UnlockPanel } from "../components/unlock";
import { PreparePanel } from "../components/prepare";
import { IssueList } from "../components/issue-list";
import { SchemaForm } from "../form/schema-form";
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
  // Issues in other files (the dry run validates the whole fleet) are listed apart, never matched to this form.
  const mine = useMemo(() => editor.issues.filter((i) => i.file === detail.file), [editor.issues, detail.file]);
  const elsewhere = useMemo(() => editor.issues.filter((i) => i.file !== detail.file), [editor.issues, detail.file]);
  const formats = formatsOf(editor.values, detail.name);

  return (
    <div className="editor-grid">
      <div className="editor-main">
        {elsewhere.length > 0 && (
          <details className="banner-issues">
            <summary className="warn">
              {elsewhere.length === 1 ? "1 finding" : `${elsewhere.length} findings`} elsewhere in the fleet
            </summary>
            <IssueList issues={elsewhere} />
          </details>
        )}
        <form className="host-form" onSubmit={(e) => e.preventDefault()} data-testid="host-form">
          <SchemaForm schema={schema} values={editor.values} issues={mine} onChange={editor.onChange} disabled={editor.saving} />
        </form>
        <details className="yaml-view">
          <summary>{editor.yaml !== undefined ? `${detail.file} after the change` : detail.file}</summary>
          <pre data-testid="yaml">{editor.yaml ?? detail.yaml}</pre>
        </details>
      </div>
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
