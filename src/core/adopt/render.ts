// A HostDraft as hosts/NAME.yaml text: the fields, each with its notes as comments above it.
import { Document, isMap, isScalar, type Pair, type YAMLMap } from "yaml";
import type { HostDraft } from "./mapping.js";

/** The pair for `path` in the document, or the nearest ancestor's pair (undefined = the top). */
function pairAt(doc: Document, path: string[]): Pair | undefined {
  for (let n = path.length; n > 0; n--) {
    const parent = n === 1 ? doc.contents : doc.getIn(path.slice(0, n - 1), true);
    if (!isMap(parent)) continue;
    const p = (parent as YAMLMap).items.find((i) => isScalar(i.key) && i.key.value === path[n - 1]);
    if (p) return p as Pair;
  }
  return undefined;
}

/** hosts/NAME.yaml for the draft; every note is a comment above its field. */
export function renderHostDraft(d: HostDraft): string {
  const doc = new Document(d.doc);
  const above = new Map<Pair | undefined, string[]>();
  for (const n of d.notes) {
    const p = pairAt(doc, n.path);
    above.set(p, [...(above.get(p) ?? []), ...n.lines]);
  }
  for (const [p, lines] of above) {
    const text = lines.map((l) => ` ${l}`).join("\n");
    if (!p) doc.commentBefore = text;
    else if (isScalar(p.key)) p.key.commentBefore = text;
  }
  return doc.toString({ lineWidth: 0 });
}
