// Validation findings as the CLI prints them: file:line:col, path, message, hint.
import type { WireIssue } from "../../../src/server/wire";

export function issueWhere(i: WireIssue): string {
  const pos = i.line !== undefined ? `:${i.line}${i.column !== undefined ? `:${i.column}` : ""}` : "";
  return `${i.file}${pos}`;
}

export function IssueList({ issues, testId }: { issues: WireIssue[]; testId?: string }) {
  if (issues.length === 0) return null;
  return (
    <ul className="issues" data-testid={testId}>
      {issues.map((i, n) => (
        <li key={n} className={i.severity}>
          <span className="where">{issueWhere(i)}</span>
          {i.path.length > 0 && <code className="path">{i.path.join(".")}</code>}
          <span className="message">{i.message}</span>
          {i.hint && <span className="hint">{i.hint}</span>}
        </li>
      ))}
    </ul>
  );
}
