// Findings as links to their fields: a click opens the sections around the field, scrolls it
// into view and puts the cursor in it (or on the nearest enclosing field the form draws).
import type { WireIssue } from "../../../src/server/wire";
import { dotted, type Path } from "./values";

const byTestId = (id: string) => document.querySelector<HTMLElement>(`[data-testid="${CSS.escape(id)}"]`);

/** The element of the field at `path`, or of its nearest ancestor the form draws. */
export function fieldElement(path: Path): HTMLElement | undefined {
  for (let n = path.length; n > 0; n--) {
    const el = byTestId(`field-${dotted(path.slice(0, n))}`);
    if (el) return el;
  }
  return undefined;
}

/** Open every <details> around the field at `path`, scroll to it and focus it. False when it is not on the page. */
export function focusField(path: Path): boolean {
  const el = fieldElement(path);
  if (!el) return false;
  for (let p: HTMLElement | null = el.parentElement; p; p = p.parentElement) if (p instanceof HTMLDetailsElement) p.open = true;
  const target = el.matches("input, select, textarea, button") ? el : (el.querySelector<HTMLElement>("input, select, textarea") ?? el);
  target.scrollIntoView({ block: "center" });
  target.focus({ preventScroll: true });
  return true;
}

const where = (i: WireIssue) => `${i.file}${i.line !== undefined ? `:${i.line}${i.column !== undefined ? `:${i.column}` : ""}` : ""}`;

/** The findings of one file, each linking to its field; the rest (other files) as plain lines. */
export function IssueLinks({ issues, file, testId = "issue-links" }: { issues: WireIssue[]; file: string; testId?: string }) {
  if (issues.length === 0) return null;
  return (
    <ul className="issues" data-testid={testId}>
      {issues.map((i, n) => (
        <li key={n} className={i.severity}>
          {i.file === file && i.path.length > 0 ? (
            <button type="button" className="link where" data-testid={`issue-link-${dotted(i.path)}`} title="go to the field" onClick={() => focusField(i.path)}>
              {where(i)} {dotted(i.path)}
            </button>
          ) : (
            <span className="where">
              {where(i)}
              {i.path.length > 0 ? ` ${dotted(i.path)}` : ""}
            </span>
          )}{" "}
          <span className="message">{i.message}</span>
          {i.hint && <span className="hint">{i.hint}</span>}
        </li>
      ))}
    </ul>
  );
}
