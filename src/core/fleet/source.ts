// Parsed YAML files with positions, so every finding can name line and column.
import { isMap, isSeq, isScalar, LineCounter, parseDocument, type Document, type Node } from "yaml";
import type { Issue, YamlPath } from "../validate/issues.js";

export interface SourceFile {
  /** Relative to the fleet directory, e.g. hosts/alpha.yaml */
  file: string;
  text: string;
  doc: Document.Parsed;
  lines: LineCounter;
}

// Parsing is most of validation's time (a 1,000-host fleet: ~0.4 s of ~0.6 s), and between two
// validations in a long-running server most files are unchanged: parsed documents are kept per
// file and text. Callers only read them (edits parse their own copy).
const parsed = new Map<string, { source: SourceFile; issues: Issue[] }>();
const PARSED_MAX = 5000;

export function parseSource(file: string, text: string): { source: SourceFile; issues: Issue[] } {
  const key = `${file}\0${text}`;
  let r = parsed.get(key);
  if (r) {
    // Most recently used last, so the oldest goes first when the memo is full.
    parsed.delete(key);
  } else {
    r = parseUncached(file, text);
    if (parsed.size >= PARSED_MAX) parsed.delete(parsed.keys().next().value!);
  }
  parsed.set(key, r);
  return { source: r.source, issues: [...r.issues] };
}

function parseUncached(file: string, text: string): { source: SourceFile; issues: Issue[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const issues: Issue[] = [...doc.errors, ...doc.warnings].map((e) => {
    const pos = lines.linePos(e.pos[0]);
    return {
      severity: doc.errors.includes(e as never) ? "error" : "warning",
      file,
      path: [],
      line: pos.line,
      column: pos.col,
      message: `YAML: ${e.message.split("\n")[0]}`,
      hint: "fix the YAML syntax at this position",
    } as Issue;
  });
  return { source: { file, text, doc, lines }, issues };
}

/**
 * Line and column of the node at `path`; for a missing key, of the deepest existing parent.
 * `atKey` points at the key itself (for unknown keys) rather than its value.
 */
export function locate(src: SourceFile, path: YamlPath, atKey = false): { line: number; column: number } {
  let node: Node | null | undefined = src.doc.contents as Node | null;
  let best = node?.range?.[0] ?? 0;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === seg);
      if (!pair) break;
      const last = i === path.length - 1;
      if (last && atKey && isScalar(pair.key) && pair.key.range) {
        best = pair.key.range[0];
        break;
      }
      node = pair.value as Node | null;
      best = node?.range?.[0] ?? (isScalar(pair.key) ? (pair.key.range?.[0] ?? best) : best);
    } else if (isSeq(node) && typeof seg === "number") {
      node = node.items[seg] as Node | undefined;
      if (!node) break;
      best = node.range?.[0] ?? best;
    } else break;
  }
  const p = src.lines.linePos(best);
  return { line: p.line, column: p.col };
}

export function issueAt(src: SourceFile, path: YamlPath, severity: Issue["severity"], message: string, hint?: string, atKey = false): Issue {
  return { severity, file: src.file, path, ...locate(src, path, atKey), message, ...(hint ? { hint } : {}) };
}
