// The left half of both file editors (a host file, fleet.yaml): findings in other files, the
// schema form with this file's findings at their fields, and the YAML as it would be written.
import { useMemo } from "react";
import { IssueList } from "./issue-list";
import { SchemaForm } from "../form/schema-form";
import type { JsonSchema } from "../form/schema";
import type { HostEditor } from "../host-editor";

export function FileForm({ editor, file, yaml, schema, formTestId, elsewhereLabel }: { editor: HostEditor; file: string; yaml: string; schema: JsonSchema; formTestId: string; elsewhereLabel: string }) {
  // Issues in other files (the dry run validates the whole fleet) are listed apart, never matched to this form.
  const mine = useMemo(() => editor.issues.filter((i) => i.file === file), [editor.issues, file]);
  const elsewhere = useMemo(() => editor.issues.filter((i) => i.file !== file), [editor.issues, file]);
  return (
    <div className="editor-main">
      {elsewhere.length > 0 && (
        <details className="banner-issues">
          <summary className="warn">
            {elsewhere.length === 1 ? "1 finding" : `${elsewhere.length} findings`} {elsewhereLabel}
          </summary>
          <IssueList issues={elsewhere} />
        </details>
      )}
      <form className="host-form" onSubmit={(e) => e.preventDefault()} data-testid={formTestId}>
        <SchemaForm schema={schema} values={editor.values} issues={mine} onChange={editor.onChange} disabled={editor.saving} />
      </form>
      <details className="yaml-view">
        <summary>{editor.yaml !== undefined ? `${file} after the change` : file}</summary>
        <pre data-testid="yaml">{editor.yaml ?? yaml}</pre>
      </details>
    </div>
  );
}
