// Validation findings that point into the user's files: file, YAML path, line:column, hint.
import { closest, distance } from "fastest-levenshtein";

export type YamlPath = (string | number)[];

export interface Issue {
  severity: "error" | "warning";
  /** File relative to the fleet directory, e.g. hosts/alpha.yaml */
  file: string;
  path: YamlPath;
  line?: number;
  column?: number;
  message: string;
  hint?: string;
}

/** "did you mean 'lighthouse'?" when a candidate is close enough to be a likely typo. */
export function didYouMean(value: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const best = closest(value, [...candidates]);
  const d = distance(value.toLowerCase(), best.toLowerCase());
  return d <= Math.max(2, Math.floor(best.length / 3)) ? `did you mean '${best}'?` : undefined;
}

export const formatPath = (p: YamlPath): string =>
  p.length === 0 ? "(top level)" : p.map((s, i) => (typeof s === "number" ? `[${s}]` : i === 0 ? s : `.${s}`)).join("");

/** `hosts/alpha.yaml:12:5: error: services.consensus.client: ... (did you mean ...)` */
export function formatIssue(i: Issue): string {
  const loc = `${i.file}${i.line ? `:${i.line}:${i.column ?? 1}` : ""}`;
  return `${loc}: ${i.severity}: ${formatPath(i.path)}: ${i.message}${i.hint ? `\n    hint: ${i.hint}` : ""}`;
}

export const hasErrors = (issues: Issue[]) => issues.some((i) => i.severity === "error");
