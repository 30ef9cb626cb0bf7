// Reading the host JSON Schema (zod's toJSONSchema, draft 2020-12) into the few field kinds
// the form knows; anything else becomes a JSON text field, so no value is ever out of reach.

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  const?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  items?: JsonSchema | JsonSchema[];
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  definitions?: Record<string, JsonSchema>;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  format?: string;
}

export interface Variant {
  label: string;
  schema: JsonSchema;
  /** The discriminator's value (`client: geth`) or the const a scalar variant stands for. */
  value?: unknown;
}

export type FieldKind =
  | { kind: "string"; format?: string }
  | { kind: "number"; integer: boolean }
  | { kind: "boolean" }
  | { kind: "enum"; options: unknown[] }
  | { kind: "const"; value: unknown }
  | { kind: "object"; properties: [string, JsonSchema][]; required: Set<string> }
  | { kind: "map"; value: JsonSchema }
  | { kind: "variants"; variants: Variant[]; discriminator?: string }
  | { kind: "list"; item: "string" | "number" | "integer" }
  | { kind: "enumSet"; options: unknown[] }
  | { kind: "json" };

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

/** Parses whatever GET /api/schema/host answered; undefined when it is no object schema. */
export function asSchema(x: unknown): JsonSchema | undefined {
  return isObj(x) ? (x as JsonSchema) : undefined;
}

/** Follows a local `$ref` (#/$defs/X, #/definitions/X) against the root schema. */
export function resolve(s: JsonSchema, root: JsonSchema, depth = 0): JsonSchema {
  if (!s.$ref || depth > 20) return s;
  const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(s.$ref);
  const target = m ? root[m[1] as "$defs" | "definitions"]?.[decodeURIComponent(m[2]!)] : s.$ref === "#" ? root : undefined;
  if (!target) return s;
  const { $ref: _ignored, ...rest } = s;
  return { ...resolve(target, root, depth + 1), ...rest };
}

/** The one non-null type of a schema, or undefined when it has none or several. */
function singleType(s: JsonSchema): string | undefined {
  if (typeof s.type === "string") return s.type;
  if (Array.isArray(s.type)) {
    const t = s.type.filter((x) => x !== "null");
    return t.length === 1 ? t[0] : undefined;
  }
  if (s.properties) return "object";
  return undefined;
}

export function classify(raw: JsonSchema, root: JsonSchema): FieldKind {
  const s = resolve(raw, root);
  const alts = s.oneOf ?? s.anyOf;
  if (Array.isArray(alts) && alts.length > 0) return variantsOf(alts.map((a) => resolve(a, root)));
  if (s.allOf) return { kind: "json" };
  if (s.const !== undefined) return { kind: "const", value: s.const };
  if (Array.isArray(s.enum) && s.enum.length > 0) return { kind: "enum", options: s.enum };
  switch (singleType(s)) {
    case "string":
      return { kind: "string", ...(s.format ? { format: s.format } : {}) };
    case "integer":
      return { kind: "number", integer: true };
    case "number":
      return { kind: "number", integer: false };
    case "boolean":
      return { kind: "boolean" };
    case "array": {
      const item = Array.isArray(s.items) || !s.items ? undefined : resolve(s.items, root);
      if (!item) return { kind: "json" };
      if (Array.isArray(item.enum) && item.enum.length > 0) return { kind: "enumSet", options: item.enum };
      const t = singleType(item);
      if (t === "string" || t === "number" || t === "integer") return { kind: "list", item: t };
      return { kind: "json" };
    }
    case "object": {
      const props = isObj(s.properties) ? Object.entries(s.properties) : [];
      const extra = s.additionalProperties;
      if (props.length === 0 && isObj(extra)) return { kind: "map", value: extra as JsonSchema };
      if (props.length === 0 && extra !== false) return { kind: "json" };
      return { kind: "object", properties: props, required: new Set(Array.isArray(s.required) ? s.required : []) };
    }
    default:
      return { kind: "json" };
  }
}

/** A property that is a distinct const (or one-value enum) in every variant: `client`, `kind`, `type`. */
function discriminatorOf(variants: JsonSchema[]): string | undefined {
  const first = variants[0]?.properties;
  if (!first || variants.some((v) => !isObj(v.properties))) return undefined;
  for (const key of Object.keys(first)) {
    const values = variants.map((v) => constOf(v.properties?.[key]));
    if (values.every((x) => x !== undefined) && new Set(values.map((x) => JSON.stringify(x))).size === values.length) return key;
  }
  return undefined;
}

export function constOf(s: JsonSchema | undefined): unknown {
  if (!s) return undefined;
  if (s.const !== undefined) return s.const;
  if (Array.isArray(s.enum) && s.enum.length === 1) return s.enum[0];
  return undefined;
}

function variantsOf(alts: JsonSchema[]): FieldKind {
  const disc = discriminatorOf(alts);
  if (disc)
    return {
      kind: "variants",
      discriminator: disc,
      variants: alts.map((v) => {
        const value = constOf(v.properties?.[disc]);
        return { label: v.title ?? String(value), schema: v, value };
      }),
    };
  return {
    kind: "variants",
    variants: alts.map((v) => {
      const c = constOf(v);
      if (c !== undefined) return { label: v.title ?? String(c), schema: v, value: c };
      const t = singleType(v) ?? "value";
      const req = Array.isArray(v.required) && v.required.length ? ` (${v.required.join(", ")})` : "";
      return { label: v.title ?? (t === "object" ? `settings${req}` : t), schema: v };
    }),
  };
}

/** Which variant a value is; -1 when none fits (the field then falls back to JSON). */
export function matchVariant(k: Extract<FieldKind, { kind: "variants" }>, value: unknown, root: JsonSchema): number {
  if (value === undefined) return -1;
  if (k.discriminator) return isObj(value) ? k.variants.findIndex((v) => Object.is(v.value, value[k.discriminator!])) : -1;
  return k.variants.findIndex((v) => (v.value !== undefined ? Object.is(v.value, value) : fitsType(resolve(v.schema, root), value)));
}

/** Whether a value has the JSON type a schema expects (shallow). */
export function fitsType(s: JsonSchema, value: unknown): boolean {
  const t = singleType(s);
  switch (t) {
    case "object":
      return isObj(value);
    case "array":
      return Array.isArray(value);
    case "string":
      return typeof value === "string";
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "number":
      return typeof value === "number";
    case "boolean":
      return typeof value === "boolean";
    default:
      return true;
  }
}

/** The value a newly added block starts with: its discriminator, or an empty object. */
export function initialValue(s: JsonSchema, root: JsonSchema): unknown {
  const k = classify(s, root);
  switch (k.kind) {
    case "object":
    case "map":
      return {};
    case "variants": {
      const v = k.variants[0];
      if (!v) return undefined;
      if (k.discriminator) return { [k.discriminator]: v.value };
      return v.value !== undefined ? v.value : initialValue(v.schema, root);
    }
    case "const":
      return k.value;
    case "boolean":
      return false;
    case "list":
    case "enumSet":
      return [];
    case "enum":
      return k.options[0];
    default:
      return "";
  }
}

export { isObj };
