// The host editor's state: the edited values, a debounced dry run (diff and issues) after
// every change, and the Review → Save step that writes only a diff the user has seen.
import { useCallback, useEffect, useRef, useState } from "react";
import type { HostDetail, HostUpdateResult, WireIssue } from "../../src/server/wire";
import { api, ApiFailure, errorMessage } from "./api";
import { jsonEqual, setIn, type Path } from "./form/values";

export const DRY_RUN_DELAY_MS = 300;

interface DryRun {
  values: unknown;
  result?: HostUpdateResult;
  error?: string;
  issues: WireIssue[];
}

export interface HostEditor {
  values: unknown;
  dirty: boolean;
  onChange: (path: Path, value: unknown) => void;
  /** Issues of the current values (the last dry run's while editing, the file's otherwise). */
  issues: WireIssue[];
  diff: string | undefined;
  /** The file text after the change, when a dry run has produced one. */
  yaml: string | undefined;
  checking: boolean;
  dryRunError: string | undefined;
  reviewing: boolean;
  /** Save is allowed: in review, and the diff shown is the diff of the current values. */
  canSave: boolean;
  saving: boolean;
  saveError: string | undefined;
  review: () => void;
  stopReview: () => void;
  save: () => void;
  discard: () => void;
}

export function useHostEditor(detail: HostDetail, onSaved: () => void): HostEditor {
  const [values, setValues] = useState<unknown>(detail.values);
  const [dry, setDry] = useState<DryRun>();
  const [checking, setChecking] = useState(false);
  const [reviewing, setReviewing] = useState(false);
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<string>();
  const inflight = useRef<AbortController>(undefined);
  const dirty = !jsonEqual(values, detail.values);

  // A freshly loaded file (after a save or a reload) replaces the edits.
  useEffect(() => {
    setValues(detail.values);
    setDry(undefined);
    setReviewing(false);
    setSaveError(undefined);
  }, [detail]);

  const runDryRun = useCallback(
    (v: unknown) => {
      inflight.current?.abort();
      const ctrl = new AbortController();
      inflight.current = ctrl;
      setChecking(true);
      api.updateHost(detail.name, { values: v, dryRun: true }, ctrl.signal).then(
        (result) => {
          if (ctrl.signal.aborted) return;
          setDry({ values: v, result, issues: result.issues });
          setChecking(false);
        },
        (e: unknown) => {
          if (ctrl.signal.aborted) return;
          setDry({ values: v, error: errorMessage(e), issues: e instanceof ApiFailure ? (e.body?.issues ?? []) : [] });
          setChecking(false);
        },
      );
    },
    [detail.name],
  );

  useEffect(() => {
    if (!dirty) {
      inflight.current?.abort();
      setChecking(false);
      return;
    }
    if (dry && dry.values === values) return;
    const t = setTimeout(() => runDryRun(values), DRY_RUN_DELAY_MS);
    return () => clearTimeout(t);
    // `dry` is left out on purpose: a finished dry run must not schedule another.
  }, [values, dirty, runDryRun]);

  useEffect(() => () => inflight.current?.abort(), []);

  // Leaving the page with unsaved edits asks first.
  useEffect(() => {
    if (!dirty) return;
    const warn = (e: BeforeUnloadEvent) => e.preventDefault();
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);

  const onChange = useCallback((path: Path, value: unknown) => {
    setValues((old: unknown) => setIn(old, path, value));
    setReviewing(false);
    setSaveError(undefined);
  }, []);

  const current = dirty && dry ? dry : undefined;
  const fresh = !!dry && dry.values === values && !checking;
  return {
    values,
    dirty,
    onChange,
    issues: current ? current.issues : detail.issues,
    diff: current?.result?.diff,
    yaml: current?.result?.yaml,
    checking,
    dryRunError: current?.error,
    reviewing,
    canSave: reviewing && dirty && fresh && !!dry?.result && !saving,
    saving,
    saveError,
    review: () => {
      setReviewing(true);
      if (!(dry && dry.values === values)) runDryRun(values);
    },
    stopReview: () => setReviewing(false),
    save: () => {
      setSaving(true);
      setSaveError(undefined);
      api.updateHost(detail.name, { values, dryRun: false }).then(
        () => {
          setSaving(false);
          onSaved();
        },
        (e: unknown) => {
          setSaving(false);
          setReviewing(false);
          setSaveError(errorMessage(e));
          const issues = e instanceof ApiFailure ? e.body?.issues : undefined;
          if (issues) setDry((d) => ({ ...d, values, error: errorMessage(e), issues }));
        },
      );
    },
    discard: () => {
      setValues(detail.values);
      setDry(undefined);
      setReviewing(false);
      setSaveError(undefined);
    },
  };
}
