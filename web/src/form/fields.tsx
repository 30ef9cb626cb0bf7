// One component per field kind of the schema form. Every field carries data-testid
// `field-<dotted.path>` and shows its issues in `error-<dotted.path>`.
import { useMemo, useState, type ReactNode } from "react";
import type { WireIssue } from "../../../src/server/wire";
import { JsonInput, ListInput, NumberInput } from "./inputs";
import { FormContext, useFieldIssues, useForm, type FormContextValue } from "./registry";
import { classify, fitsType, initialValue, isObj, matchVariant, resolve, type FieldKind, type JsonSchema } from "./schema";
import { dotted, type Path } from "./values";
import { labelOf } from "./labels";

export interface FieldProps {
  path: Path;
  name: string;
  schema: JsonSchema;
  value: unknown;
  required: boolean;
  /** Extra buttons in the field's header (a map entry's Remove). */
  actions?: ReactNode;
  /** Drawn inside a top-level <details> that already shows name and description. */
  bare?: boolean;
  /** A map entry: exists while shown (no add/remove of its own, no required mark). */
  entry?: boolean;
}

const idOf = (path: Path) => `f-${dotted(path)}`;

/** A default as help text: "default: 30303", "default: compress=zstd, noatime". */
export function describeDefault(d: unknown): string | undefined {
  if (d === undefined || d === null) return undefined;
  if (Array.isArray(d)) return d.length ? d.map(String).join(", ") : undefined;
  if (typeof d === "object") return Object.keys(d).length ? JSON.stringify(d) : undefined;
  if (typeof d === "boolean") return d ? "on" : "off";
  return String(d);
}

function valueFits(k: FieldKind, value: unknown): boolean {
  if (value === undefined) return true;
  switch (k.kind) {
    case "string":
      return typeof value === "string";
    case "number":
      return typeof value === "number" && (!k.integer || Number.isInteger(value));
    case "boolean":
      return typeof value === "boolean";
    case "enum":
      return value === null || ["string", "number", "boolean"].includes(typeof value);
    case "list":
      return Array.isArray(value) && value.every((x) => (k.item === "string" ? typeof x === "string" : typeof x === "number"));
    case "enumSet":
      return Array.isArray(value);
    case "object":
    case "map":
      return isObj(value);
    default:
      return true;
  }
}

export function Field(props: FieldProps) {
  const { root } = useForm();
  const s = resolve(props.schema, root);
  const k = classify(s, root);
  if (!valueFits(k, props.value)) return <JsonField {...props} note="this value does not have the type the schema expects; edit it as JSON" />;
  switch (k.kind) {
    case "object":
      return <ObjectField {...props} schema={s} k={k} />;
    case "map":
      return <MapField {...props} schema={s} k={k} />;
    case "variants":
      return <VariantsField {...props} schema={s} k={k} />;
    case "json":
      return <JsonField {...props} schema={s} />;
    case "enumSet":
      return <EnumSetField {...props} schema={s} options={k.options} />;
    default:
      return <ScalarField {...props} schema={s} k={k} />;
  }
}

function Label({ path, name, required, htmlFor = true, schema, entry = false }: { path: Path; name: string; required: boolean; htmlFor?: boolean; schema?: JsonSchema; entry?: boolean }) {
  const { root } = useForm();
  const label = labelOf(name, schema ? resolve(schema, root) : {}, entry);
  return (
    <label htmlFor={htmlFor ? idOf(path) : undefined} title={label !== name ? `${dotted(path)} in the file` : undefined}>
      {label}
      {required && (
        <span className="req" title="required">
          *
        </span>
      )}
    </label>
  );
}

function Help({ schema }: { schema: JsonSchema }) {
  const d = describeDefault(schema.default);
  if (!schema.description && !d) return null;
  return (
    <div className="help">
      {schema.description}
      {/* Most descriptions name their default already. */}
      {d && !/default/i.test(schema.description ?? "") ? `${schema.description ? " " : ""}(default: ${d})` : ""}
    </div>
  );
}

export function FieldErrors({ path, issues }: { path: Path; issues: WireIssue[] | undefined }) {
  if (!issues?.length) return null;
  const onlyWarnings = issues.every((i) => i.severity === "warning");
  return (
    <div className={`field-error${onlyWarnings ? " warning" : ""}`} data-testid={`error-${dotted(path)}`} role="alert">
      {issues.map((i, n) => (
        <div key={n}>
          {i.message}
          {i.hint && <span className="hint"> — {i.hint}</span>}
        </div>
      ))}
    </div>
  );
}

/** Strings, numbers, booleans, enums, one-per-line lists and consts: a label and one control. */
function ScalarField(props: FieldProps & { k: FieldKind }) {
  const { path, name, schema, required, actions } = props;
  const issues = useFieldIssues(path, props.k.kind === "list");
  const isCheck = props.k.kind === "boolean";
  return (
    <div className={`field${isCheck ? " check" : ""}${issues ? " has-error" : ""}`}>
      <div className="field-head">
        {isCheck && <ScalarControl {...props} />}
        <Label path={path} name={name} required={required && !props.entry} schema={schema} entry={!!props.entry} />
        {isCheck && <BooleanDefault {...props} />}
        {actions}
      </div>
      {!isCheck && <ScalarControl {...props} />}
      <Help schema={schema} />
      <FieldErrors path={path} issues={issues} />
    </div>
  );
}

/** A checkbox left unset shows its default; set, it can go back to the default. */
function BooleanDefault({ path, value, required }: FieldProps) {
  const { onChange, disabled } = useForm();
  if (value === undefined) return <span className="muted small">(default)</span>;
  if (required) return null;
  return (
    <button type="button" className="link" title="remove the line from the file; the default applies" onClick={() => onChange(path, undefined)} disabled={disabled}>
      use default
    </button>
  );
}

/** The bare control of a scalar field (also used inside a variant select). */
function ScalarControl({ path, schema, value, required, k }: FieldProps & { k: FieldKind }) {
  const { onChange, disabled } = useForm();
  const id = idOf(path);
  const testId = `field-${dotted(path)}`;
  const set = (v: unknown) => onChange(path, v);
  const placeholder = describeDefault(schema.default);
  switch (k.kind) {
    case "string":
      return (
        <input
          id={id}
          data-testid={testId}
          type="text"
          inputMode={k.format === "email" ? "email" : k.format === "uri" ? "url" : undefined}
          value={typeof value === "string" ? value : ""}
          placeholder={placeholder}
          disabled={disabled}
          spellCheck={false}
          onChange={(e) => set(e.target.value === "" ? undefined : e.target.value)}
        />
      );
    case "number":
      return (
        <NumberInput
          id={id}
          testId={testId}
          integer={k.integer}
          min={schema.minimum}
          max={schema.maximum}
          value={typeof value === "number" ? value : undefined}
          onChange={set}
          disabled={disabled}
          {...(placeholder ? { placeholder } : {})}
        />
      );
    case "boolean": {
      const dflt = typeof schema.default === "boolean" ? schema.default : false;
      return <input id={id} data-testid={testId} type="checkbox" checked={typeof value === "boolean" ? value : dflt} disabled={disabled} onChange={(e) => set(e.target.checked)} />;
    }
    case "enum": {
      const known = k.options.some((o) => Object.is(o, value));
      const idx = k.options.findIndex((o) => Object.is(o, value));
      return (
        <select
          id={id}
          data-testid={testId}
          value={value === undefined ? "" : known ? String(idx) : "unknown"}
          disabled={disabled}
          onChange={(e) => set(e.target.value === "" ? undefined : e.target.value === "unknown" ? value : k.options[Number(e.target.value)])}
        >
          {(value === undefined || !required) && <option value="">{placeholder ? `default (${placeholder})` : required ? "choose…" : "—"}</option>}
          {k.options.map((o, i) => (
            <option key={i} value={String(i)}>
              {String(o)}
            </option>
          ))}
          {value !== undefined && !known && <option value="unknown">{`${String(value)} (not allowed)`}</option>}
        </select>
      );
    }
    case "list":
      return (
        <ListInput
          id={id}
          testId={testId}
          numeric={k.item !== "string"}
          value={Array.isArray(value) ? value : undefined}
          onChange={set}
          disabled={disabled}
          placeholder={placeholder ? placeholder.split(", ").join("\n") : "one per line"}
        />
      );
    case "const":
      return (
        <code className="const" data-testid={testId}>
          {String(k.value)}
        </code>
      );
    default:
      return <JsonInput id={id} testId={testId} value={value} onChange={set} disabled={disabled} />;
  }
}

function EnumSetField({ path, name, schema, value, required, entry, actions, options }: FieldProps & { options: unknown[] }) {
  const { onChange, disabled } = useForm();
  const issues = useFieldIssues(path, true);
  const chosen = Array.isArray(value) ? value : [];
  const dflt = Array.isArray(schema.default) ? schema.default : [];
  const toggle = (o: unknown, on: boolean) => {
    const next = options.filter((x) => (Object.is(x, o) ? on : chosen.some((c) => Object.is(c, x))));
    onChange(path, next.length ? next : undefined);
  };
  return (
    <div className={`field${issues ? " has-error" : ""}`}>
      <div className="field-head">
        <Label path={path} name={name} required={required && !entry} htmlFor={false} schema={schema} entry={!!entry} />
        {actions}
      </div>
      <div className="choices" data-testid={`field-${dotted(path)}`} role="group" aria-label={name}>
        {options.map((o, i) => (
          <label key={i} className="choice">
            <input type="checkbox" value={String(o)} checked={chosen.some((c) => Object.is(c, o))} disabled={disabled} onChange={(e) => toggle(o, e.target.checked)} />
            {String(o)}
          </label>
        ))}
        {value === undefined && dflt.length === 0 && <span className="muted small">(none chosen: the default applies)</span>}
      </div>
      <Help schema={schema} />
      <FieldErrors path={path} issues={issues} />
    </div>
  );
}

/** The fallback: the value as JSON text, owning every issue below its path. */
function JsonField({ path, name, value, required, entry, schema, actions, note }: FieldProps & { note?: string }) {
  const { onChange, disabled } = useForm();
  const issues = useFieldIssues(path, true);
  return (
    <div className={`field${issues ? " has-error" : ""}`}>
      <div className="field-head">
        <Label path={path} name={name} required={required && !entry} schema={schema} entry={!!entry} />
        {actions}
      </div>
      <JsonInput id={idOf(path)} testId={`field-${dotted(path)}`} value={value} onChange={(v) => onChange(path, v)} disabled={disabled} />
      {note && <div className="help">{note}</div>}
      <Help schema={schema} />
      <FieldErrors path={path} issues={issues} />
    </div>
  );
}

/** A block's frame: legend, help, add/remove, errors on the block itself. */
function Block({ path, name, schema, required, entry, actions, bare, issues, children, className = "" }: Omit<FieldProps, "value"> & { issues: WireIssue[] | undefined; children: ReactNode; className?: string }) {
  return (
    <fieldset className={`block ${className}${bare ? " bare" : ""}`} data-testid={`field-${dotted(path)}`}>
      {!bare && (
        <legend title={labelOf(name, schema, !!entry) !== name ? `${dotted(path)} in the file` : undefined}>
          {labelOf(name, schema, !!entry)}
          {required && !entry && (
            <span className="req" title="required">
              *
            </span>
          )}
        </legend>
      )}
      {(actions || (!bare && schema.description)) && (
        <div className="block-head">
          {!bare && schema.description && <div className="help">{schema.description}</div>}
          {actions && <span className="actions">{actions}</span>}
        </div>
      )}
      <FieldErrors path={path} issues={issues} />
      {children}
    </fieldset>
  );
}

/** An optional block without default (a service, swap, remote unlock) is absent until added. */
function presenceActions(p: FieldProps, make: () => unknown, set: (v: unknown) => void, disabled: boolean): ReactNode {
  const optional = !p.required && !p.entry && p.schema.default === undefined && p.path.length > 0;
  if (!optional) return p.actions;
  return (
    <>
      {p.value === undefined ? (
        <button type="button" className="small" data-testid={`add-${dotted(p.path)}`} onClick={() => set(make())} disabled={disabled}>
          Add {labelOf(p.name, p.schema)}
        </button>
      ) : (
        <button type="button" className="small subtle" data-testid={`remove-${dotted(p.path)}`} onClick={() => set(undefined)} disabled={disabled}>
          Remove {labelOf(p.name, p.schema)}
        </button>
      )}
      {p.actions}
    </>
  );
}

function ObjectField(props: FieldProps & { k: Extract<FieldKind, { kind: "object" }> }) {
  const { onChange, disabled } = useForm();
  const issues = useFieldIssues(props.path);
  const optional = !props.required && !props.entry && props.schema.default === undefined && props.path.length > 0;
  const actions = presenceActions(props, () => ({}), (v) => onChange(props.path, v), disabled);
  return (
    <Block {...props} actions={actions} issues={issues}>
      {(props.value !== undefined || !optional) && (
        <PruneEmpty {...props}>
          <ObjectBody path={props.path} k={props.k} value={props.value} />
        </PruneEmpty>
      )}
    </Block>
  );
}

/**
 * A block whose default is {} (ports, derp, network, a map) leaves the file when its last key
 * goes: typing a port and clearing it again must not leave `ports: {}` behind. Blocks without
 * a default (a service) stay, since there `mevBoost: {}` means "on, with defaults".
 */
function PruneEmpty({ path, schema, value, children }: Pick<FieldProps, "path" | "schema" | "value"> & { children: ReactNode }) {
  const ctx = useForm();
  const prunes = path.length > 0 && isObj(schema.default) && Object.keys(schema.default).length === 0;
  const inner = useMemo<FormContextValue>(
    () => ({
      ...ctx,
      onChange: (p, v) => {
        const only = isObj(value) ? Object.keys(value) : [];
        const last = v === undefined && p.length === path.length + 1 && only.length === 1 && only[0] === String(p[path.length]);
        ctx.onChange(last ? path : p, v);
      },
    }),
    [ctx, path, value],
  );
  return prunes ? <FormContext.Provider value={inner}>{children}</FormContext.Provider> : <>{children}</>;
}

/** The fields of an object, in the schema's order, then any keys the schema does not know. */
export function ObjectBody({ path, k, value, skip }: { path: Path; k: Extract<FieldKind, { kind: "object" }>; value: unknown; skip?: string }) {
  const obj = isObj(value) ? value : {};
  const known = new Set(k.properties.map(([n]) => n));
  return (
    <div className="fields">
      {k.properties
        .filter(([n]) => n !== skip)
        .map(([n, s]) => (
          <Field key={n} path={[...path, n]} name={n} schema={s} value={obj[n]} required={k.required.has(n)} />
        ))}
      {Object.keys(obj)
        .filter((n) => !known.has(n))
        .map((n) => (
          <JsonField key={n} path={[...path, n]} name={n} schema={{}} value={obj[n]} required={false} note="not in the schema; validation will say whether it belongs here" />
        ))}
    </div>
  );
}

function MapField(props: FieldProps & { k: Extract<FieldKind, { kind: "map" }> }) {
  const { onChange, disabled, root } = useForm();
  const issues = useFieldIssues(props.path);
  const obj = isObj(props.value) ? props.value : {};
  const keyPattern = props.schema.propertyNames?.pattern;
  return (
    <Block {...props} issues={issues} className="map">
      <PruneEmpty {...props}>
        {Object.entries(obj).map(([key, v]) => (
          <div className="map-entry" key={key}>
            <Field
              path={[...props.path, key]}
              name={key}
              schema={props.k.value}
              value={v}
              required
              entry
              actions={<RemoveEntry path={[...props.path, key]} />}
            />
          </div>
        ))}
      </PruneEmpty>
      <AddKey path={props.path} existing={obj} pattern={keyPattern} onAdd={(key) => onChange([...props.path, key], initialValue(props.k.value, root))} disabled={disabled} />
    </Block>
  );
}

/** Inside PruneEmpty, so removing the last entry removes the map when {} is its default. */
function RemoveEntry({ path }: { path: Path }) {
  const { onChange, disabled } = useForm();
  return (
    <button type="button" className="small subtle" data-testid={`remove-${dotted(path)}`} onClick={() => onChange(path, undefined)} disabled={disabled}>
      Remove
    </button>
  );
}

function AddKey({ path, existing, pattern, onAdd, disabled }: { path: Path; existing: Record<string, unknown>; pattern?: string | undefined; onAdd: (k: string) => void; disabled: boolean }) {
  const [key, setKey] = useState("");
  let problem: string | undefined;
  if (key && key in existing) problem = `${key} exists already`;
  else if (key && pattern) {
    try {
      if (!new RegExp(pattern, "u").test(key)) problem = `a name must match ${pattern}`;
    } catch {
      // A pattern JavaScript cannot compile is the server's to check.
    }
  }
  const add = () => {
    if (!key || problem) return;
    onAdd(key);
    setKey("");
  };
  return (
    <div className="add-key">
      <input
        type="text"
        placeholder="name"
        aria-label="new entry name"
        data-testid={`add-${dotted(path)}-name`}
        value={key}
        disabled={disabled}
        onChange={(e) => setKey(e.target.value.trim())}
        onKeyDown={(e) => {
          if (e.key === "Enter") {
            e.preventDefault();
            add();
          }
        }}
      />
      <button type="button" className="small" data-testid={`add-${dotted(path)}`} onClick={add} disabled={disabled || !key || !!problem}>
        Add
      </button>
      {problem && <span className="inline-error">{problem}</span>}
    </div>
  );
}

/**
 * oneOf/anyOf: a select of the variants (by `client`/`kind`/`type` when one discriminates them),
 * then the chosen variant's fields. Switching keeps the fields both variants have.
 */
function VariantsField(props: FieldProps & { k: Extract<FieldKind, { kind: "variants" }> }) {
  const { onChange, disabled, root } = useForm();
  const { path, name, schema, value, required, k } = props;
  const idx = matchVariant(k, value, root);
  const disc = k.discriminator;
  const issues = useFieldIssues(path, !disc);
  if (value !== undefined && idx < 0) return <JsonField {...props} note={`matches none of: ${k.variants.map((v) => v.label).join(", ")}; edit it as JSON`} />;

  const choose = (sel: string) => {
    if (sel === "") return onChange(path, undefined);
    const v = k.variants[Number(sel)];
    if (!v) return;
    if (disc) {
      const props2 = resolve(v.schema, root).properties ?? {};
      const old = isObj(value) ? value : {};
      const kept = Object.fromEntries(Object.entries(old).filter(([key]) => key in props2 && key !== disc));
      return onChange(path, { [disc]: v.value, ...kept });
    }
    onChange(path, v.value !== undefined ? v.value : fitsType(resolve(v.schema, root), value) ? value : initialValue(v.schema, root));
  };
  const dflt = describeDefault(schema.default);
  const selPath = disc ? [...path, disc] : path;
  const select = (
    <select id={idOf(selPath)} data-testid={`field-${dotted(selPath)}`} value={idx < 0 ? "" : String(idx)} disabled={disabled} onChange={(e) => choose(e.target.value)}>
      {(!required || idx < 0) && <option value="">{dflt ? `default (${dflt})` : required ? "choose…" : "— none —"}</option>}
      {k.variants.map((v, i) => (
        <option key={i} value={String(i)}>
          {v.label}
        </option>
      ))}
    </select>
  );
  const chosen = idx >= 0 ? resolve(k.variants[idx]!.schema, root) : undefined;
  const chosenKind = chosen ? classify(chosen, root) : undefined;

  if (disc)
    return (
      <Block {...props} issues={issues} className="variants">
        <DiscriminatorField path={selPath} name={disc} select={select} />
        {chosenKind?.kind === "object" && <ObjectBody path={path} k={chosenKind} value={value} skip={disc} />}
      </Block>
    );
  return (
    <div className={`field${issues ? " has-error" : ""}`}>
      <div className="field-head">
        <Label path={path} name={name} required={required && !props.entry} schema={schema} entry={!!props.entry} />
        {props.actions}
      </div>
      {select}
      <Help schema={schema} />
      <FieldErrors path={path} issues={issues} />
      {chosen && chosenKind && chosenKind.kind === "object" && <ObjectBody path={path} k={chosenKind} value={value} />}
      {chosen && chosenKind && chosenKind.kind !== "object" && chosenKind.kind !== "const" && (
        <ScalarControl path={path} name={name} schema={chosen} value={value} required={required} k={chosenKind} />
      )}
    </div>
  );
}

function DiscriminatorField({ path, name, select }: { path: Path; name: string; select: ReactNode }) {
  const issues = useFieldIssues(path);
  return (
    <div className={`field${issues ? " has-error" : ""}`}>
      <div className="field-head">
        <Label path={path} name={name} required />
      </div>
      {select}
      <FieldErrors path={path} issues={issues} />
    </div>
  );
}
