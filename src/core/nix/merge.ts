// Deep merge of NixOS configuration fragments, the way the module system merges
// attribute sets and lists; two different values for one option is a planner bug.
import { Expr, type NixValue } from "./ast.js";

type Obj = Record<string, NixValue | undefined>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Expr);

export function mergeNix(fragments: NixValue[], path: string[] = []): NixValue {
  let acc: NixValue | undefined = undefined;
  for (const f of fragments) acc = acc === undefined ? f : merge2(acc, f, path);
  return acc ?? {};
}

function merge2(a: NixValue, b: NixValue, path: string[]): NixValue {
  if (isObj(a) && isObj(b)) {
    const out: Obj = { ...a };
    for (const [k, v] of Object.entries(b)) {
      if (v === undefined) continue;
      const prev = out[k];
      out[k] = prev === undefined ? v : merge2(prev, v, [...path, k]);
    }
    return out;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const out = [...a];
    for (const item of b) if (!(typeof item !== "object" && out.includes(item))) out.push(item);
    return out;
  }
  if (a === b) return a;
  throw new Error(`internal: conflicting values for ${path.join(".")}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
}
