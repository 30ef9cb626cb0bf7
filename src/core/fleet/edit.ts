// Edits of the fleet's YAML that keep comments and key order: the CLI and (later) the web UI
// change files only through these functions, then validate before anything is written.
import { parseDocument, isMap, type Document } from "yaml";

/** Parse a command-line value as YAML (`true`, `8551`, `[a, b]`, `{x: 1}`), falling back to a string. */
export function parseValue(text: string): unknown {
  const doc = parseDocument(text);
  return doc.errors.length ? text : doc.toJS();
}

/** Split `services.consensus.ports.http` or `network.addresses[0]` into a YAML path. */
export function splitPath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const part of path.split(".")) {
    const m = /^([^[\]]+)((?:\[\d+\])*)$/.exec(part);
    if (!m) throw new Error(`cannot read path segment '${part}'`);
    out.push(m[1]!);
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}

/** Set a value in a YAML text; everything else (comments, order, formatting) stays. */
export function setInYaml(text: string, path: (string | number)[], value: unknown): string {
  const doc = parseDocument(text) as Document;
  if (!isMap(doc.contents) && doc.contents !== null) throw new Error("the file's top level is not a mapping");
  if (value === undefined || value === null) doc.deleteIn(path);
  else doc.setIn(path, doc.createNode(value));
  // lineWidth 0: never fold the user's long lines (SSH keys) when writing the file back.
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

/** A host file from a template: the template's text with its `name:` line set. */
export function instantiateTemplate(template: string, name: string): string {
  return setInYaml(template, ["name"], name);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Make a YAML text hold `values` (what a form submits) while touching only what changed, so
 * comments, key order and formatting of everything else stay as they were.
 */
export function syncYaml(text: string, values: Record<string, unknown>): string {
  const doc = parseDocument(text) as Document;
  if (!isMap(doc.contents) && doc.contents !== null) throw new Error("the file's top level is not a mapping");
  const current = (doc.toJS() ?? {}) as Record<string, unknown>;
  const walk = (path: (string | number)[], before: Record<string, unknown>, after: Record<string, unknown>) => {
    for (const key of Object.keys(before)) if (!(key in after) || after[key] === undefined) doc.deleteIn([...path, key]);
    for (const [key, value] of Object.entries(after)) {
      if (value === undefined) continue;
      const old = before[key];
      if (isPlainObject(value) && isPlainObject(old) && Object.keys(value).length > 0) walk([...path, key], old, value);
      else if (!sameJson(old, value)) doc.setIn([...path, key], doc.createNode(value));
    }
  };
  walk([], current, values);
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}
