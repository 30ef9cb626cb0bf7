// Edits of the fleet's YAML that keep comments and key order: the CLI and the web UI change
// files only through these functions, then validate before anything is written.
//
// The `yaml` library's own writer re-prints the whole document, and it attaches a comment that
// ends a nested block to that block: printed back, the comment above the next key moves under
// the previous one, deeper. So edits here are splices of the source text: only the bytes of the
// value that changed are replaced (or a pair's lines inserted or removed); every other byte
// stays. Each splice is checked by parsing the result; a case the splicer does not handle falls
// back to the library's writer, so an edit is never wrong, at worst noisier.
import { Document, isMap, isScalar, isSeq, parseDocument, Scalar, type Node, type Pair, type YAMLMap, type YAMLSeq } from "yaml";

type Seg = string | number;
const PRINT = { lineWidth: 0, flowCollectionPadding: false } as const;

/** Parse a command-line value as YAML (`true`, `8551`, `[a, b]`, `{x: 1}`), falling back to a string. */
export function parseValue(text: string): unknown {
  const doc = parseDocument(text);
  if (doc.errors.length) return text;
  try {
    return doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    // An alias bomb (a few bytes that expand to millions of nodes) is refused, not expanded.
    throw new ValueRefused(`the value is not usable: ${(e as Error).message}`);
  }
}

/** A command-line value hearth will not take. */
export class ValueRefused extends Error {}

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

function parseMapDoc(text: string): Document {
  const doc = parseDocument(text) as Document;
  if (!isMap(doc.contents) && doc.contents !== null) throw new Error("the file's top level is not a mapping");
  return doc;
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Set a value in a YAML text (`null`/`undefined` deletes it); every other byte stays, so a
 * one-value change is a one-line diff.
 *
 *   setInYaml("a: 1 # why\nb: 2\n", ["a"], 5) → "a: 5 # why\nb: 2\n"
 */
export function setInYaml(text: string, path: (string | number)[], value: unknown): string {
  const doc = parseMapDoc(text);
  const del = value === undefined || value === null;
  if (del && !doc.hasIn(path)) return text;
  // What the library would make of the edit: the meaning the splice must have.
  const expected = doc.clone();
  if (del) expected.deleteIn(path);
  else expected.setIn(path, expected.createNode(value));
  const spliced = splice(text, doc, path, del ? undefined : value);
  if (spliced !== undefined) {
    const check = parseDocument(spliced);
    if (check.errors.length === 0 && sameJson(check.toJS(), expected.toJS())) return spliced;
  }
  return expected.toString(PRINT);
}

/** A host file from a template: the template's text with its `name:` line set. */
export function instantiateTemplate(template: string, name: string): string {
  return setInYaml(template, ["name"], name);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** What turns one set of values into another: paths to delete, then paths to set. */
export interface ValueChanges {
  deletes: Seg[][];
  sets: [Seg[], unknown][];
  /** Lists that grew or shrank: their kept items (and those items' comments) stay. */
  lists: ListChange[];
}

/** A list edit as item removals and insertions around the items both versions share. */
export interface ListChange {
  path: Seg[];
  /** Indices in the old list, highest first (so each removal leaves the others' indices valid). */
  removes: number[];
  /** Indices in the new list, lowest first, with their values. */
  inserts: [number, unknown][];
  /** The list as it must end up. */
  final: unknown[];
}

/** The indices of a longest common subsequence of two lists (items compared as JSON). */
function commonItems(b: unknown[], a: unknown[]): [number, number][] {
  const bj = b.map((x) => JSON.stringify(x));
  const aj = a.map((x) => JSON.stringify(x));
  const n = bj.length;
  const m = aj.length;
  // Host files' lists are short (tags, addresses, volumes): the plain O(n·m) table is fine.
  const len = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) len[i]![j] = bj[i] === aj[j] ? len[i + 1]![j + 1]! + 1 : Math.max(len[i + 1]![j]!, len[i]![j + 1]!);
  const pairs: [number, number][] = [];
  for (let i = 0, j = 0; i < n && j < m; ) {
    if (bj[i] === aj[j]) pairs.push([i++, j++]);
    else if (len[i + 1]![j]! >= len[i]![j + 1]!) i++;
    else j++;
  }
  return pairs;
}

/** Most items a list may have for an item-wise edit (beyond, the list is written whole). */
const LIST_DIFF_MAX = 500;

/** The smallest set of path edits from `before` to `after` (maps by key, equal-length lists by item). */
export function changesBetween(before: unknown, after: unknown): ValueChanges {
  const out: ValueChanges = { deletes: [], sets: [], lists: [] };
  const walk = (path: Seg[], b: unknown, a: unknown) => {
    if (isPlainObject(b) && isPlainObject(a) && (Object.keys(a).length > 0 || path.length === 0)) {
      for (const key of Object.keys(b)) if (!(key in a) || a[key] === undefined) out.deletes.push([...path, key]);
      for (const [key, value] of Object.entries(a)) if (value !== undefined) walk([...path, key], b[key], value);
    } else if (Array.isArray(b) && Array.isArray(a) && b.length === a.length && a.length > 0) {
      // Same length: change items in place, so comments between them stay.
      a.forEach((v, i) => walk([...path, i], b[i], v));
    } else if (Array.isArray(b) && Array.isArray(a) && b.length > 0 && a.length > 0 && b.length <= LIST_DIFF_MAX && a.length <= LIST_DIFF_MAX) {
      // Grown or shrunk: remove and insert around the items both share, which keep their lines.
      const common = commonItems(b, a);
      if (common.length === 0) return out.sets.push([path, a]);
      const keptOld = new Set(common.map(([i]) => i));
      const keptNew = new Set(common.map(([, j]) => j));
      out.lists.push({
        path,
        removes: b.map((_, i) => i).filter((i) => !keptOld.has(i)).reverse(),
        inserts: a.map((v, j) => [j, v] as [number, unknown]).filter(([j]) => !keptNew.has(j)),
        final: a,
      });
    } else if (!sameJson(b, a)) out.sets.push([path, a]);
  };
  walk([], before ?? {}, after);
  return out;
}

/** Apply path edits to a YAML text, each as a splice (see setInYaml). */
export function applyChanges(text: string, changes: ValueChanges): string {
  let out = text;
  for (const p of changes.deletes) out = setInYaml(out, p, undefined);
  for (const l of changes.lists) out = applyList(out, l);
  for (const [p, v] of changes.sets) out = setInYaml(out, p, v);
  return out;
}

/** A list change item by item; if the result is not exactly the new list, the list is written whole. */
function applyList(text: string, l: ListChange): string {
  let out = text;
  try {
    for (const i of l.removes) out = setInYaml(out, [...l.path, i], undefined);
    for (const [j, v] of l.inserts) out = insertInYaml(out, l.path, j, v);
    if (sameJson(parseMapDoc(out).getIn(l.path), l.final)) return out;
  } catch {
    // Fall through to the whole list.
  }
  return setInYaml(text, l.path, l.final);
}

/** Insert `value` as item `index` of the list at `path`: a new line after the item before it. */
export function insertInYaml(text: string, path: Seg[], index: number, value: unknown): string {
  const doc = parseMapDoc(text);
  const seq = doc.getIn(path, true);
  if (!isSeq(seq)) return setInYaml(text, path, [value]);
  const items = seq.toJSON() as unknown[];
  const expected = [...items.slice(0, index), value, ...items.slice(index)];
  if (index >= seq.items.length) return setInYaml(text, [...path, seq.items.length], value);
  const spliced = seq.flow ? undefined : insertItem(text, seq, index, value);
  if (spliced !== undefined) {
    const check = parseDocument(spliced);
    if (check.errors.length === 0 && isMap(check.contents) && sameJson(check.getIn(path), expected)) {
      const rest = (d: Document) => {
        const c = d.clone();
        c.deleteIn(path);
        return c.toJS();
      };
      if (sameJson(rest(check as Document), rest(doc))) return spliced;
    }
  }
  return setInYaml(text, path, expected);
}

/**
 * Make a YAML text hold `values` (what a form submits) while touching only what changed, so
 * comments, key order and formatting of everything else stay as they were.
 */
export function syncYaml(text: string, values: Record<string, unknown>): string {
  const doc = parseMapDoc(text);
  return applyChanges(text, changesBetween(doc.toJS() ?? {}, values));
}

const getIn = (v: unknown, path: Seg[]): unknown => path.reduce<unknown>((o, k) => (o !== null && typeof o === "object" ? (o as Record<string, unknown>)[k as string] : undefined), v);
const within = (a: Seg[], b: Seg[]) => a.length <= b.length && a.every((s, i) => String(s) === String(b[i]));

/**
 * Three-way merge of a form's edit onto a file that changed underneath it: the edits that turn
 * `base` into `mine` are applied to `current` (the file as it is now). `overlaps` are the paths
 * both sides changed differently; there `mine` wins in the merged text.
 */
export function mergeYaml(base: string, mine: Record<string, unknown>, current: string): { yaml: string; overlaps: string[] } {
  const baseValues = parseMapDoc(base).toJS() ?? {};
  const currentValues = parseMapDoc(current).toJS() ?? {};
  const ours = changesBetween(baseValues, mine);
  const theirs = changesBetween(baseValues, currentValues);
  const theirPaths = [...theirs.deletes, ...theirs.sets.map(([p]) => p), ...theirs.lists.map((l) => l.path)];
  const overlaps: string[] = [];
  for (const p of [...ours.deletes, ...ours.sets.map(([q]) => q), ...ours.lists.map((l) => l.path)]) {
    const touched = theirPaths.some((t) => within(t, p) || within(p, t));
    if (touched && !sameJson(getIn(mine, p), getIn(currentValues, p))) overlaps.push(p.join("."));
  }
  return { yaml: applyChanges(current, ours), overlaps };
}

// ---- the splicer ---------------------------------------------------------------------------

interface Step {
  container: YAMLMap | YAMLSeq;
  pair?: Pair;
  index?: number;
  node: unknown;
}

const keyIs = (p: Pair, seg: Seg) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg);
const rangeOf = (n: unknown): [number, number, number] | undefined => (n && typeof n === "object" && "range" in n ? ((n as Node).range ?? undefined) : undefined);
const lineStart = (text: string, pos: number) => text.lastIndexOf("\n", pos - 1) + 1;
/** The start of the next line after `pos` (or the text's end), if only a comment or spaces are left on this one. */
function lineEnd(text: string, pos: number): number | undefined {
  if (pos === 0 || text[pos - 1] === "\n") return pos;
  const nl = text.indexOf("\n", pos);
  const end = nl < 0 ? text.length : nl + 1;
  return /^[ \t]*(#.*)?\r?\n?$/.test(text.slice(pos, end)) ? end : undefined;
}
const indentLines = (block: string, indent: string, first = indent) =>
  block
    .split("\n")
    .map((l, i) => (l === "" ? l : (i === 0 ? first : indent) + l))
    .join("\n");
const isBlockCollection = (n: unknown) => (isMap(n) || isSeq(n)) && !n.flow;
const isBlockScalar = (n: unknown) => isScalar(n) && (n.type === Scalar.BLOCK_LITERAL || n.type === Scalar.BLOCK_FOLDED);

/** `value` printed on one line (in a flow collection when `inFlow`), or undefined when it needs several. */
function inline(value: unknown, opts: { old?: unknown; flow?: boolean; inFlow?: boolean }): string | undefined {
  const d = new Document(opts.inFlow ? [value] : value);
  const node = opts.inFlow ? (d.contents as YAMLSeq).items[0] : d.contents;
  const old = opts.old;
  if (isScalar(node) && isScalar(old) && typeof node.value === "string" && typeof old.value === "string" && (old.type === Scalar.QUOTE_DOUBLE || old.type === Scalar.QUOTE_SINGLE)) node.type = old.type;
  if ((isMap(node) || isSeq(node)) && opts.flow) node.flow = true;
  if (opts.inFlow) (d.contents as YAMLSeq).flow = true;
  let s = d.toString(PRINT).replace(/\n$/, "");
  if (opts.inFlow) s = s.slice(1, -1);
  return s.includes("\n") ? undefined : s;
}

/** The text after splicing `value` in at `path` (undefined deletes), or undefined when this shape is not handled. */
function splice(text: string, doc: Document, path: Seg[], value: unknown): string | undefined {
  const steps: Step[] = [];
  let node: unknown = doc.contents;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => keyIs(p, seg));
      if (!pair) break;
      steps.push({ container: node, pair, node: pair.value });
      node = pair.value;
    } else if (isSeq(node) && typeof seg === "number" && seg < node.items.length) {
      steps.push({ container: node, index: seg, node: node.items[seg] });
      node = node.items[seg];
    } else break;
  }
  const rest = path.slice(steps.length);
  if (rest.length === 0) return value === undefined ? remove(text, steps, path) : replace(text, steps[steps.length - 1]!, value);
  if (value === undefined) return text;
  // The path ends below an existing node: add the first missing key with the rest nested in it.
  if (rest.slice(1).some((s) => typeof s === "number")) return undefined;
  const nested = rest.slice(1).reduceRight<unknown>((v, k) => ({ [k]: v }), value);
  const last = steps[steps.length - 1];
  if (isMap(node) && node.items.length > 0 && typeof rest[0] === "string") {
    if (node.flow) return last ? replace(text, last, { ...(node.toJSON() as object), [rest[0]]: nested }) : undefined;
    return addPair(text, node, rest[0], nested);
  }
  if (isSeq(node) && rest[0] === node.items.length && rest.length === 1) {
    if (node.flow || node.items.length === 0) return last ? replace(text, last, [...(node.toJSON() as unknown[]), value]) : undefined;
    return addItem(text, node, value);
  }
  if (node === null || node === undefined) {
    // An empty document.
    if (steps.length || typeof rest[0] !== "string") return undefined;
    const sep = text === "" || text.endsWith("\n") ? "" : "\n";
    return text + sep + new Document({ [rest[0]]: nested }).toString(PRINT);
  }
  if (isScalar(node) && node.value === null && last && typeof rest[0] === "string") return replace(text, last, { [rest[0]]: nested });
  return undefined;
}

/** Replace the value of an existing entry, on its line when it fits, else the whole entry. */
function replace(text: string, step: Step, value: unknown): string | undefined {
  const old = step.node;
  const r = rangeOf(old);
  const inFlow = step.container.flow === true;
  if (r && !isBlockCollection(old) && !isBlockScalar(old)) {
    const one = inline(value, { old, inFlow, flow: isMap(old) || isSeq(old) });
    if (one !== undefined) {
      const gap = r[0] === r[1] && text[r[0] - 1] === ":" ? " " : "";
      return text.slice(0, r[0]) + gap + one + text.slice(r[1]);
    }
  }
  if (inFlow) return undefined;
  // Several lines, or a block collection: print the whole entry again at its indentation.
  const head = step.pair ? rangeOf(step.pair.key) : r;
  if (!head || !r) return undefined;
  const start = lineStart(text, head[0]);
  const prefix = text.slice(start, head[0]);
  const end = entryEnd(text, old);
  if (end === undefined) return undefined;
  let block: string;
  let first: string;
  let indent: string;
  if (step.pair) {
    if (!/^[ \t]*(- +)?$/.test(prefix)) return undefined;
    block = new Document({ [String(isScalar(step.pair.key) ? step.pair.key.value : step.pair.key)]: value }).toString(PRINT);
    first = prefix;
    indent = " ".repeat(prefix.length);
  } else {
    const m = /^([ \t]*)- +$/.exec(prefix);
    if (!m) return undefined;
    block = new Document([value]).toString(PRINT);
    first = m[1]!;
    indent = m[1]!;
  }
  return text.slice(0, start) + indentLines(block, indent, first) + text.slice(end);
}

/** Where an entry's text ends: after its value's last line (comments on following lines stay). */
function entryEnd(text: string, value: unknown): number | undefined {
  const r = rangeOf(value);
  return r ? lineEnd(text, r[1]) : undefined;
}

function remove(text: string, steps: Step[], path: Seg[]): string | undefined {
  const step = steps[steps.length - 1]!;
  const { container } = step;
  if (container.flow || container.items.length === 1) {
    const parent = steps[steps.length - 2];
    if (!parent) return undefined;
    const js = container.toJSON() as Record<string, unknown> | unknown[];
    const left = Array.isArray(js) ? js.filter((_, i) => i !== step.index) : Object.fromEntries(Object.entries(js).filter(([k]) => !step.pair || !keyIs(step.pair, k)));
    return replace(text, parent, left);
  }
  const head = step.pair ? rangeOf(step.pair.key) : rangeOf(step.node);
  if (!head) return undefined;
  const start = lineStart(text, head[0]);
  if (!/^[ \t]*$/.test(text.slice(start, head[0])) && !(step.index !== undefined && /^[ \t]*- +$/.test(text.slice(start, head[0])))) return undefined;
  const end = step.node === null || step.node === undefined ? lineEnd(text, head[1]) : entryEnd(text, step.node);
  if (end === undefined) return undefined;
  void path;
  return text.slice(0, start) + text.slice(end);
}

function addPair(text: string, map: YAMLMap, key: string, value: unknown): string | undefined {
  const firstKey = rangeOf(map.items[0]!.key);
  const lastPair = map.items[map.items.length - 1]!;
  if (!firstKey) return undefined;
  const col = firstKey[0] - lineStart(text, firstKey[0]);
  const at = lastPair.value === null || lastPair.value === undefined ? lineEnd(text, rangeOf(lastPair.key)![1]) : entryEnd(text, lastPair.value);
  if (at === undefined) return undefined;
  const block = indentLines(new Document({ [key]: value }).toString(PRINT), " ".repeat(col));
  const sep = at > 0 && text[at - 1] !== "\n" ? "\n" : "";
  return text.slice(0, at) + sep + block + text.slice(at);
}

/** A new item line before item `index` (> 0: right after the previous item, so comments above item `index` stay with it). */
function insertItem(text: string, seq: YAMLSeq, index: number, value: unknown): string | undefined {
  const firstItem = rangeOf(seq.items[0]);
  if (!firstItem) return undefined;
  const m = /^([ \t]*)- +$/.exec(text.slice(lineStart(text, firstItem[0]), firstItem[0]));
  if (!m) return undefined;
  let at: number | undefined;
  if (index === 0) at = lineStart(text, firstItem[0]);
  else at = entryEnd(text, seq.items[index - 1]);
  if (at === undefined) return undefined;
  const block = indentLines(new Document([value]).toString(PRINT), m[1]!);
  const sep = at > 0 && text[at - 1] !== "\n" ? "\n" : "";
  return text.slice(0, at) + sep + block + text.slice(at);
}

function addItem(text: string, seq: YAMLSeq, value: unknown): string | undefined {
  const firstItem = rangeOf(seq.items[0]);
  if (!firstItem) return undefined;
  const start = lineStart(text, firstItem[0]);
  const m = /^([ \t]*)- +$/.exec(text.slice(start, firstItem[0]));
  if (!m) return undefined;
  const at = entryEnd(text, seq.items[seq.items.length - 1]);
  if (at === undefined) return undefined;
  const block = indentLines(new Document([value]).toString(PRINT), m[1]!);
  const sep = at > 0 && text[at - 1] !== "\n" ? "\n" : "";
  return text.slice(0, at) + sep + block + text.slice(at);
}
