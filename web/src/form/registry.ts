// Which form fields are on screen, so each dry-run issue is shown next to its field and the
// rest in the list above the form. Fields register while mounted.
import { createContext, useContext, useLayoutEffect } from "react";
import type { WireIssue } from "../../../src/server/wire";
import type { JsonSchema } from "./schema";
import { pathKey, type Path } from "./values";

export class FieldRegistry {
  private fields = new Map<string, { count: number; subtree: boolean }>();
  private listeners = new Set<() => void>();
  private version = 0;
  private queued = false;

  register(key: string, subtree: boolean): () => void {
    const f = this.fields.get(key);
    if (f) {
      f.count++;
      f.subtree ||= subtree;
    } else this.fields.set(key, { count: 1, subtree });
    this.changed();
    return () => {
      const g = this.fields.get(key);
      if (g && --g.count === 0) this.fields.delete(key);
      this.changed();
    };
  }

  /** The field that shows an issue at `path`: that field, or the nearest ancestor that owns its subtree (a list, a JSON field). */
  owner(path: Path): string | undefined {
    const exact = pathKey(path);
    if (this.fields.has(exact)) return exact;
    for (let n = path.length - 1; n > 0; n--) {
      const key = pathKey(path.slice(0, n));
      if (this.fields.get(key)?.subtree) return key;
    }
    return undefined;
  }

  subscribe = (l: () => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };
  getVersion = () => this.version;

  // Hundreds of fields mount at once: tell the form once.
  private changed() {
    if (this.queued) return;
    this.queued = true;
    queueMicrotask(() => {
      this.queued = false;
      this.version++;
      for (const l of this.listeners) l();
    });
  }
}

export interface FormContextValue {
  root: JsonSchema;
  registry: FieldRegistry;
  /** Issues by owning field key. */
  issues: Map<string, WireIssue[]>;
  onChange: (path: Path, value: unknown) => void;
  disabled: boolean;
}

export const FormContext = createContext<FormContextValue | null>(null);

export function useForm(): FormContextValue {
  const ctx = useContext(FormContext);
  if (!ctx) throw new Error("form field outside <SchemaForm>");
  return ctx;
}

/** Registers the field at `path` and answers the issues it shows. */
export function useFieldIssues(path: Path, subtree = false): WireIssue[] | undefined {
  const { registry, issues } = useForm();
  const key = pathKey(path);
  useLayoutEffect(() => registry.register(key, subtree), [registry, key, subtree]);
  return issues.get(key);
}
