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
  return doc.toString({ lineWidth: 0 });
}

/** A host file from a template: the template's text with its `name:` line set. */
export function instantiateTemplate(template: string, name: string): string {
  return setInYaml(template, ["name"], name);
}
