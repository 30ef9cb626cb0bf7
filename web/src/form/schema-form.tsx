// The host form: the schema's properties in order, each top-level block (storage, security,
// network, services, ...) in a collapsed <details>; issues that match no field are listed on top.
import { useEffect, useMemo, useRef, useSyncExternalStore } from "react";
import type { WireIssue } from "../../../src/server/wire";
import { IssueList } from "../components/issue-list";
import { Field } from "./fields";
import { JsonInput } from "./inputs";
import { FieldRegistry, FormContext, type FormContextValue } from "./registry";
import { classify, isObj, resolve, type JsonSchema } from "./schema";
import type { Path } from "./values";
import { sectionTitle, summarize } from "./labels";

export interface SchemaFormProps {
  schema: JsonSchema;
  values: unknown;
  issues: WireIssue[];
  onChange: (path: Path, value: unknown) => void;
  disabled?: boolean;
}

export function SchemaForm({ schema, values, issues, onChange, disabled = false }: SchemaFormProps) {
  const registry = useMemo(() => new FieldRegistry(), []);
  const version = useSyncExternalStore(registry.subscribe, registry.getVersion);
  const { byField, unmatched } = useMemo(() => {
    const byField = new Map<string, WireIssue[]>();
    const unmatched: WireIssue[] = [];
    for (const i of issues) {
      const owner = i.path.length ? registry.owner(i.path) : undefined;
      if (owner) byField.set(owner, [...(byField.get(owner) ?? []), i]);
      else unmatched.push(i);
    }
    return { byField, unmatched };
    // `version` changes when fields mount or unmount, which changes who owns an issue.
  }, [issues, registry, version]);
  const ctx = useMemo<FormContextValue>(() => ({ root: schema, registry, issues: byField, onChange, disabled }), [schema, registry, byField, onChange, disabled]);

  const root = resolve(schema, schema);
  const k = classify(root, schema);
  const obj = isObj(values) ? values : {};
  return (
    <FormContext.Provider value={ctx}>
      {unmatched.length > 0 && (
        <div className="form-issues" data-testid="form-issues">
          <IssueList issues={unmatched} />
        </div>
      )}
      {k.kind !== "object" ? (
        <div className="field">
          <p className="help">The host schema has a shape this form cannot draw; edit the values as JSON.</p>
          <JsonInput id="f-root" testId="field-" value={values} onChange={(v) => onChange([], v ?? {})} disabled={disabled} />
        </div>
      ) : (
        <div className="schema-form">
          {runs(k.properties, schema).map((run) =>
            run.section ? (
              <Section key={run.items[0]![0]} name={run.items[0]![0]} schema={resolve(run.items[0]![1], schema)} root={schema} value={obj[run.items[0]![0]]} issues={issues}>
                <Field path={[run.items[0]![0]]} name={run.items[0]![0]} schema={run.items[0]![1]} value={obj[run.items[0]![0]]} required={k.required.has(run.items[0]![0])} bare />
              </Section>
            ) : (
              <div className="plain-fields" key={run.items[0]![0]}>
                {run.items.map(([name, s]) => (
                  <Field key={name} path={[name]} name={name} schema={s} value={obj[name]} required={k.required.has(name)} />
                ))}
              </div>
            ),
          )}
          {Object.keys(obj).some((n) => !k.properties.some(([p]) => p === n)) && (
            <div className="plain-fields">
              {Object.keys(obj)
                .filter((n) => !k.properties.some(([p]) => p === n))
                .map((n) => (
                  <Field key={n} path={[n]} name={n} schema={{}} value={obj[n]} required={false} />
                ))}
            </div>
          )}
        </div>
      )}
    </FormContext.Provider>
  );
}

/** The root's properties in order, consecutive plain fields grouped, each block on its own. */
function runs(props: [string, JsonSchema][], root: JsonSchema): { section: boolean; items: [string, JsonSchema][] }[] {
  const out: { section: boolean; items: [string, JsonSchema][] }[] = [];
  for (const p of props) {
    const section = isSection(p[1], root);
    const last = out[out.length - 1];
    if (!section && last && !last.section) last.items.push(p);
    else out.push({ section, items: [p] });
  }
  return out;
}

function isSection(s: JsonSchema, root: JsonSchema): boolean {
  const kind = classify(s, root).kind;
  return kind === "object" || kind === "map" || kind === "variants";
}

/**
 * A collapsed top-level block, titled for people, that sums up on one line what is set in it;
 * it opens by itself when an error appears inside.
 */
function Section({ name, schema, root, value, issues, children }: { name: string; schema: JsonSchema; root: JsonSchema; value: unknown; issues: WireIssue[]; children: React.ReactNode }) {
  const { title, usedDescription } = sectionTitle(name, schema);
  const summary = summarize(value, classify(schema, root).kind === "map");
  const ref = useRef<HTMLDetailsElement>(null);
  const inside = issues.filter((i) => i.path[0] === name);
  const errors = inside.filter((i) => i.severity === "error").length;
  const warnings = inside.length - errors;
  const before = useRef(0);
  useEffect(() => {
    if (errors > before.current && ref.current) ref.current.open = true;
    before.current = errors;
  }, [errors]);
  return (
    <details className="section" ref={ref} data-testid={`section-${name}`}>
      <summary>
        <span className="section-name" title={title !== name ? `${name} in the file` : undefined}>
          {title}
        </span>
        {errors > 0 && <span className="badge bad">{errors === 1 ? "1 error" : `${errors} errors`}</span>}
        {warnings > 0 && <span className="badge warn">{warnings === 1 ? "1 warning" : `${warnings} warnings`}</span>}
        {schema.description && !usedDescription && <span className="section-help">{schema.description}</span>}
        <span className="section-summary muted small" data-testid={`summary-${name}`} style={{ flexBasis: "100%", overflow: "hidden", textOverflow: "ellipsis", whiteSpace: "nowrap", fontFamily: "var(--mono)" }}>
          {summary}
        </span>
      </summary>
      <div className="section-body">{children}</div>
    </details>
  );
}
