// Inputs whose text is not the value itself (numbers, one-per-line lists, JSON): they keep the
// text being typed and report a value only when it parses.
import { useEffect, useState } from "react";
import { jsonEqual } from "./values";

interface DraftProps<T> {
  value: T | undefined;
  onChange: (v: T | undefined) => void;
  id: string;
  testId: string;
  placeholder?: string;
  disabled?: boolean;
}

/** Text kept while typing; re-synchronised when the value changes from outside. */
function useDraft<T>(value: T | undefined, show: (v: T | undefined) => string, parse: (s: string) => { ok: boolean; value?: T }) {
  const [draft, setDraft] = useState(() => show(value));
  useEffect(() => {
    setDraft((d) => {
      const p = parse(d);
      return p.ok && jsonEqual(p.value, value) ? d : show(value);
    });
    // parse and show are fixed per field kind; only an outside change of the value matters.
  }, [value]);
  return [draft, setDraft] as const;
}

export function NumberInput({ integer, min, max, ...p }: DraftProps<number> & { integer: boolean; min?: number; max?: number }) {
  const parse = (s: string) => (s.trim() === "" ? { ok: true } : Number.isFinite(Number(s)) ? { ok: true, value: Number(s) } : { ok: false });
  const [draft, setDraft] = useDraft(p.value, (v) => (v === undefined ? "" : String(v)), parse);
  return (
    <input
      id={p.id}
      data-testid={p.testId}
      type="number"
      step={integer ? 1 : "any"}
      min={min}
      max={max}
      value={draft}
      placeholder={p.placeholder}
      disabled={p.disabled}
      onChange={(e) => {
        setDraft(e.target.value);
        if (e.target.validity.badInput) return;
        const r = parse(e.target.value);
        if (r.ok) p.onChange(r.value);
      }}
    />
  );
}

/** An array of strings or numbers as one item per line; an empty box removes the key. */
export function ListInput({ numeric, ...p }: DraftProps<unknown[]> & { numeric: boolean }) {
  const parse = (s: string) => {
    const items = s
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "");
    if (!numeric) return { ok: true, value: items.length ? items : undefined };
    const nums = items.map(Number);
    return nums.every(Number.isFinite) ? { ok: true, value: nums.length ? nums : undefined } : { ok: false };
  };
  const show = (v: unknown[] | undefined) => (Array.isArray(v) ? v.map(String).join("\n") : "");
  const value = Array.isArray(p.value) && p.value.length === 0 ? undefined : p.value;
  return <DraftTextarea {...p} value={value} show={show} parse={parse} maxRows={12} problem="one number per line" />;
}

/** Any value as JSON text: the fallback for shapes the form does not know. */
export function JsonInput(p: DraftProps<unknown>) {
  const parse = (s: string) => {
    if (s.trim() === "") return { ok: true };
    try {
      return { ok: true, value: JSON.parse(s) as unknown };
    } catch {
      return { ok: false };
    }
  };
  const show = (v: unknown) => (v === undefined ? "" : JSON.stringify(v, null, 2));
  return <DraftTextarea {...p} show={show} parse={parse} maxRows={16} className="json" placeholder={p.placeholder ?? "JSON"} problem="not valid JSON yet; the value is unchanged" />;
}

/** A textarea over a draft that reports a value only when it parses, with a note when it does not. */
function DraftTextarea<T>(
  p: DraftProps<T> & { show: (v: T | undefined) => string; parse: (s: string) => { ok: boolean; value?: T }; maxRows: number; problem: string; className?: string },
) {
  const [draft, setDraft] = useDraft(p.value, p.show, p.parse);
  const bad = !p.parse(draft).ok;
  return (
    <>
      <textarea
        id={p.id}
        data-testid={p.testId}
        className={p.className}
        rows={Math.min(p.maxRows, Math.max(2, draft.split("\n").length + 1))}
        value={draft}
        placeholder={p.placeholder}
        disabled={p.disabled}
        spellCheck={false}
        onChange={(e) => {
          setDraft(e.target.value);
          const r = p.parse(e.target.value);
          if (r.ok) p.onChange(r.value);
        }}
      />
      {bad && <div className="inline-error">{p.problem}</div>}
    </>
  );
}
