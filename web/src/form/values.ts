// Immutable edits of the host file's values by path, and the dotted names of form fields.
import { isObj } from "./schema";

export type Path = (string | number)[];

/** The test-hook and display name of a path: ["services","consensus","ports","http"] → "services.consensus.ports.http". */
export const dotted = (path: Path) => path.join(".");

/** An unambiguous key for matching issue paths to fields (dots may appear in map keys). */
export const pathKey = (path: Path) => JSON.stringify(path.map(String));

export function getIn(root: unknown, path: Path): unknown {
  let v = root;
  for (const p of path) {
    if (Array.isArray(v) && typeof p === "number") v = v[p];
    else if (isObj(v)) v = v[String(p)];
    else return undefined;
  }
  return v;
}

/**
 * A copy of `root` with `value` at `path`; `undefined` removes the key, so the file loses the
 * line and the default applies again. Missing parents are created as objects.
 */
export function setIn(root: unknown, path: Path, value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path as [string | number, ...Path];
  if (Array.isArray(root) && typeof head === "number") {
    const copy = root.slice();
    const next = setIn(copy[head], rest, value);
    if (next === undefined) copy.splice(head, 1);
    else copy[head] = next;
    return copy;
  }
  const obj: Record<string, unknown> = isObj(root) ? { ...root } : {};
  const key = String(head);
  const next = setIn(obj[key], rest, value);
  if (next === undefined) delete obj[key];
  else obj[key] = next;
  return obj;
}

/** Deep equality of JSON values (key order ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && jsonEqual(a[k], b[k]));
  }
  return false;
}
