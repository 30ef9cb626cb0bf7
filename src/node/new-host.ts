// The guided "new node" flow: a template's instructions (its leading comments), the essentials
// to fill in (name, network, clients, disks), and placeholders such as `CHANGE_ME` disk ids
// refused as findings on their field, so a host is created only once it is really filled in.
import { isMap, isScalar, isSeq, parseDocument, type Node } from "yaml";
import { instantiateTemplate, setInYaml } from "../core/fleet/edit.js";
import { issueAt, parseSource } from "../core/fleet/source.js";
import type { Issue, YamlPath } from "../core/validate/issues.js";

/** A placeholder the template asks you to replace. */
export const PLACEHOLDER = /CHANGE_ME|^CHANGE$/i;

export interface TemplateField {
  path: YamlPath;
  /** In words: "Disk (by id)". */
  label: string;
  /** The template's value (a placeholder, or a default). */
  value: unknown;
  line?: number;
  placeholder: boolean;
  /** What to type, from the template's comment on the line or the one above. */
  help?: string;
}

/** The comment block a template opens with, without the `#`s. */
export function instructionsOf(text: string): string {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    if (/^\s*#/.test(line)) out.push(line.replace(/^\s*# ?/, ""));
    else if (line.trim() === "" && out.length) out.push("");
    else if (line.trim() !== "") break;
  }
  // The block ends at the first key; the comment right above it belongs to that key.
  const text2 = out.join("\n").trimEnd();
  const blocks = text2.split(/\n\n+/);
  return (blocks.length > 1 ? blocks.slice(0, -1) : blocks).join("\n\n").trim();
}

/** Every scalar of a document with its path and line. */
function scalars(text: string): { path: YamlPath; value: unknown; line: number; comment?: string }[] {
  const doc = parseDocument(text);
  const lines = text.split("\n");
  const lineOf = (pos: number) => text.slice(0, pos).split("\n").length;
  const out: { path: YamlPath; value: unknown; line: number; comment?: string }[] = [];
  const walk = (n: unknown, path: YamlPath) => {
    if (isMap(n)) for (const p of n.items) walk(p.value, [...path, String(isScalar(p.key) ? p.key.value : p.key)]);
    else if (isSeq(n)) n.items.forEach((x, i) => walk(x, [...path, i]));
    else if (isScalar(n) && (n as Node).range) {
      const line = lineOf((n as Node).range![0]);
      // The comment block right above: its CHANGE line ("CHANGE: the disk's id, from `ls -l
      // /dev/disk/by-id/`."), else its last line when the block is short (a long one is an example).
      const block: string[] = [];
      for (let l = line - 2; l >= 0 && block.length < 10; l--) {
        const m = /^\s*#\s?(.*)$/.exec(lines[l] ?? "");
        if (!m) break;
        block.unshift(m[1]!);
      }
      const comment = block.find((c) => /CHANGE/.test(c)) ?? (block.length && block.length <= 2 ? block[block.length - 1] : undefined);
      out.push({ path, value: n.value, line, ...(comment ? { comment } : {}) });
    }
  };
  walk(doc.contents, []);
  return out;
}

const labelOf = (path: YamlPath): string => {
  const p = path.map(String);
  if (p.includes("devices") || p.at(-1) === "bootDisk") return p.at(-1) === "bootDisk" ? "Boot disk (by id)" : `Disk of volume ${p[2]} (by id)`;
  if (p[0] === "network") return `Network: ${p.slice(1).join(" ")}`;
  if (p[0] === "services" && p.at(-1) === "client") return `${p[1]} client`;
  return p.join(".");
};

/** The fields the new-node form asks for: every placeholder, the network, the clients. */
export function templateFields(text: string): TemplateField[] {
  const out: TemplateField[] = [];
  for (const s of scalars(text)) {
    const placeholder = typeof s.value === "string" && PLACEHOLDER.test(s.value);
    const essential = placeholder || (s.path[0] === "network" && s.path.length === 2) || (s.path[0] === "services" && s.path.length === 3 && s.path[2] === "client");
    if (essential) out.push({ path: s.path, label: labelOf(s.path), value: s.value, line: s.line, placeholder, ...(s.comment ? { help: s.comment } : {}) });
  }
  return out;
}

/** The host file from a template, its name and the values the user filled in (`undefined` removes one). */
export function fillTemplate(template: string, name: string, set: { path: YamlPath; value: unknown }[]): string {
  let text = instantiateTemplate(template, name);
  for (const s of set) text = setInYaml(text, s.path, s.value);
  return text;
}

/** A finding at each placeholder still in a host file (`CHANGE_ME_to_your_disk_id`). */
export function placeholderIssues(file: string, text: string): Issue[] {
  const { source } = parseSource(file, text);
  return scalars(text)
    .filter((s) => typeof s.value === "string" && PLACEHOLDER.test(s.value))
    .map((s) => issueAt(source, s.path, "error", `'${String(s.value)}' is the template's placeholder, not a real value`, /devices|bootDisk/.test(s.path.join(".")) ? "the disk's id: `ls -l /dev/disk/by-id/` on the machine" : "replace it with this machine's value"));
}
