// The guided new node: pick a template, read what it asks you to do before the first boot (its
// leading comments), fill in the essentials (name, network, clients, disks); the server's dry run
// checks the host with the fleet and refuses placeholders such as CHANGE_ME disk ids at their
// field. The host is created only once nothing is left to fix.
import { useEffect, useMemo, useRef, useState } from "react";
import type { NewHostResult, TemplateDetail, TemplateFieldWire, WireIssue } from "../../../src/server/wire";
import { api, cachedHostSchema, errorMessage, ApiFailure } from "../api";
import { IssueList } from "../components/issue-list";
import { classify, isObj, resolve, asSchema, type JsonSchema } from "../form/schema";
import { humanize } from "../form/labels";
import { dotted, type Path } from "../form/values";
import { useLoad } from "../hooks";
import { href, navigate } from "../router";

const samePath = (a: Path, b: Path) => a.length === b.length && a.every((x, i) => String(x) === String(b[i]));

/** The clients the host schema offers for a service role (execution: geth, besu, …). */
function clientOptions(schema: JsonSchema | undefined, role: string): string[] {
  if (!schema) return [];
  const services = resolve(schema.properties?.services ?? {}, schema);
  const s = services.properties?.[role];
  if (!s) return [];
  const k = classify(s, schema);
  return k.kind === "variants" ? k.variants.map((v) => String(v.value)).filter((v) => v !== "undefined") : [];
}

export function NewHostScreen() {
  const templates = useLoad("templates", () => api.templates());
  const hostSchema = useLoad("schema", () => cachedHostSchema());
  const [template, setTemplate] = useState("");
  const detail = useLoad(`template:${template}`, (signal) => (template ? api.template(template, signal) : Promise.resolve(undefined)));
  useEffect(() => {
    if (!template && templates.data?.length) setTemplate(templates.data.includes("ethereum-node") ? "ethereum-node" : templates.data[0]!);
  }, [templates.data, template]);
  return (
    <div className="new-host">
      <div className="title-row">
        <a href={href.fleet()} className="muted">
          ← Fleet
        </a>
        <h1>New node</h1>
      </div>
      {!!templates.error && <div className="banner bad">Could not load the templates: {errorMessage(templates.error)}</div>}
      <div className="field">
        <label htmlFor="new-host-template">Template</label>
        <select id="new-host-template" data-testid="new-host-template" value={template} onChange={(e) => setTemplate(e.target.value)}>
          {templates.data?.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
      </div>
      {!!detail.error && <div className="banner bad">{errorMessage(detail.error)}</div>}
      {detail.data && detail.data.name === template && <NewHostForm key={template} t={detail.data} schema={asSchema(hostSchema.data)} />}
    </div>
  );
}

function NewHostForm({ t, schema }: { t: TemplateDetail; schema: JsonSchema | undefined }) {
  const [name, setName] = useState("");
  // The user's values by dotted path; placeholders start empty, everything else at the template's value.
  const [values, setValues] = useState<Record<string, unknown>>(() => Object.fromEntries(t.fields.filter((f) => !f.placeholder).map((f) => [dotted(f.path), f.value])));
  const [extra, setExtra] = useState({ addresses: "", gateway: "" });
  const [check, setCheck] = useState<{ result?: NewHostResult; error?: string; issues: WireIssue[] }>({ issues: [] });
  const [creating, setCreating] = useState(false);
  const seq = useRef(0);

  const set = useMemo(() => {
    const out: { path: Path; value: unknown }[] = [];
    for (const f of t.fields) {
      const v = values[dotted(f.path)];
      if (f.placeholder && (v === undefined || v === "")) continue;
      if (v !== f.value) out.push({ path: f.path, value: v === "" ? undefined : v });
    }
    if (values["network.dhcp"] === false) {
      const addrs = extra.addresses.split(/[\s,]+/).filter(Boolean);
      if (addrs.length) out.push({ path: ["network", "addresses"], value: addrs });
      if (extra.gateway) out.push({ path: ["network", "gateway"], value: extra.gateway });
    }
    return out;
  }, [values, extra, t.fields]);

  useEffect(() => {
    const n = ++seq.current;
    const timer = setTimeout(() => {
      api.newHost({ template: t.name, name, set, dryRun: true }).then(
        (result) => n === seq.current && setCheck({ result, issues: result.issues }),
        (e: unknown) => n === seq.current && setCheck({ error: errorMessage(e), issues: e instanceof ApiFailure ? (e.body?.issues ?? []) : [] }),
      );
    }, 300);
    return () => clearTimeout(timer);
  }, [name, set, t.name]);

  const file = `hosts/${name || "NAME"}.yaml`;
  const mine = check.issues.filter((i) => i.file === file);
  const at = (path: Path) => mine.filter((i) => samePath(i.path, path));
  const shown = new Set<WireIssue>();
  const fieldIssues = (path: Path) => {
    const list = at(path);
    list.forEach((i) => shown.add(i));
    return list;
  };
  const errors = check.issues.filter((i) => i.severity === "error").length;
  const create = () => {
    setCreating(true);
    api.newHost({ template: t.name, name, set }).then(
      (r) => {
        setCreating(false);
        navigate(href.host(r.name));
      },
      (e: unknown) => {
        setCreating(false);
        setCheck({ error: errorMessage(e), issues: e instanceof ApiFailure ? (e.body?.issues ?? []) : [] });
      },
    );
  };

  const fields = (
    <>
      <Field id="name" label="Name" help="The host's name: a DNS label (lower-case letters, digits, '-'); its file is hosts/NAME.yaml." issues={fieldIssues(["name"])}>
        <input id="new-host-field-name" data-testid="new-host-field-name" value={name} spellCheck={false} onChange={(e) => setName(e.target.value.trim())} />
      </Field>
      {t.fields.map((f) => (
        <TemplateField key={dotted(f.path)} f={f} value={values[dotted(f.path)]} options={f.path[0] === "services" ? clientOptions(schema, String(f.path[1])) : []} onChange={(v) => setValues((old) => ({ ...old, [dotted(f.path)]: v }))} issues={fieldIssues(f.path)} />
      ))}
      {values["network.dhcp"] === false && (
        <>
          <Field id="addresses" label="Static addresses (CIDR)" help="e.g. 192.168.1.20/24" issues={fieldIssues(["network", "addresses"])}>
            <input id="new-host-field-addresses" data-testid="new-host-field-network.addresses" value={extra.addresses} onChange={(e) => setExtra((x) => ({ ...x, addresses: e.target.value }))} />
          </Field>
          <Field id="gateway" label="Gateway" issues={fieldIssues(["network", "gateway"])}>
            <input id="new-host-field-gateway" data-testid="new-host-field-network.gateway" value={extra.gateway} onChange={(e) => setExtra((x) => ({ ...x, gateway: e.target.value }))} />
          </Field>
        </>
      )}
    </>
  );
  const rest = check.issues.filter((i) => !shown.has(i));
  return (
    <div className="editor-grid">
      <div className="editor-main">
        <section className="card" data-testid="template-instructions">
          <h2>Before the first boot</h2>
          <pre style={{ whiteSpace: "pre-wrap", fontFamily: "var(--mono)", fontSize: "0.85em" }}>{t.instructions}</pre>
        </section>
        <form
          className="host-form"
          data-testid="new-host-form"
          onSubmit={(e) => {
            e.preventDefault();
            if (!errors && check.result) create();
          }}
        >
          {fields}
          {rest.length > 0 && (
            <div className="form-issues" data-testid="new-host-issues">
              <IssueList issues={rest} />
            </div>
          )}
          <p className="status-line">
            {check.error && !check.issues.length ? <span className="bad-text">{check.error}</span> : errors ? <span className="bad-text">{errors === 1 ? "1 finding" : `${errors} findings`} to fix before the host can be created</span> : check.result ? <span className="good-text">ready to create {file}</span> : <span className="muted">checking…</span>}
          </p>
          <button type="submit" className="primary" data-testid="new-host-create" disabled={creating || errors > 0 || !check.result}>
            {creating ? "Creating…" : `Create ${name || "the host"}`}
          </button>
        </form>
      </div>
      <aside className="editor-side">
        <section className="card">
          <h2>{file}</h2>
          <p className="muted small">The template's comments stay in the file; edit the rest in the host editor afterwards.</p>
          <pre className="diff" data-testid="new-host-yaml">{check.result?.yaml ?? t.yaml}</pre>
        </section>
      </aside>
    </div>
  );
}

function Field({ id, label, help, issues, children }: { id: string; label: string; help?: string | undefined; issues: WireIssue[]; children: React.ReactNode }) {
  return (
    <div className={`field${issues.length ? " has-error" : ""}`}>
      <div className="field-head">
        <label htmlFor={`new-host-field-${id}`}>{label}</label>
      </div>
      {children}
      {help && <div className="help">{help}</div>}
      {issues.length > 0 && (
        <div className="field-error" data-testid={`new-host-error-${id}`} role="alert">
          {issues.map((i, n) => (
            <div key={n}>
              {i.line !== undefined ? `line ${i.line}: ` : ""}
              {i.message}
              {i.hint && <span className="hint"> — {i.hint}</span>}
            </div>
          ))}
        </div>
      )}
    </div>
  );
}

function TemplateField({ f, value, options, onChange, issues }: { f: TemplateFieldWire; value: unknown; options: string[]; onChange: (v: unknown) => void; issues: WireIssue[] }) {
  const id = dotted(f.path);
  const testId = `new-host-field-${id}`;
  let control: React.ReactNode;
  if (typeof f.value === "boolean")
    control = <input id={testId} data-testid={testId} type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} />;
  else if (options.length)
    control = (
      <select id={testId} data-testid={testId} value={String(value ?? "")} onChange={(e) => onChange(e.target.value)}>
        {options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    );
  else
    control = (
      <input
        id={testId}
        data-testid={testId}
        value={typeof value === "string" || typeof value === "number" ? String(value) : ""}
        placeholder={f.placeholder ? String(f.value) : undefined}
        spellCheck={false}
        onChange={(e) => onChange(typeof f.value === "number" && e.target.value !== "" && Number.isFinite(Number(e.target.value)) ? Number(e.target.value) : e.target.value)}
      />
    );
  const label = f.path[0] === "network" ? `Network: ${humanize(String(f.path[1]))}` : f.label;
  return (
    <Field id={id} label={label} help={f.help ?? (isObj(f.value) ? undefined : f.placeholder ? "replace the template's placeholder" : undefined)} issues={issues}>
      {control}
    </Field>
  );
}
