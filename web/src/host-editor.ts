// The editor's state for one fleet file (a host file, or fleet.yaml in the settings form): the
// edited values, a debounced dry run (diff and issues) after every change, and the Review → Save
// step that writes only a diff the user has seen.
import { useCallback, useEffect, useRef, useState } from "react";
import type { ClientSwitch, HostConflict, HostDetail, HostEditResult, HostUpdate, WireIssue } from "../../src/server/wire";
import { api, ApiFailure, errorMessage } from "./api";
import { jsonEqual, setIn, type Path } from "./form/values";
import { guardLeave } from "./router";

/** What the edit started from: the version a save must still find on disk. */
interface Base {
  version: string;
  yaml: string;
  values: unknown;
}

const conflictOf = (e: unknown): HostConflict | undefined =>
  e instanceof ApiFailure && e.status === 409 && e.body?.error === "conflict" ? (e.body as HostConflict) : undefined;

export const DRY_RUN_DELAY_MS = 300;

interface DryRun {
  values: unknown;
  result?: HostEditResult;
  error?: string;
  issues: WireIssue[];
}

export interface HostEditor {
  /** The host being edited; undefined for fleet.yaml. */
  host?: string;
  /** The file being edited, e.g. hosts/beta.yaml or fleet.yaml. */
  file: string;
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
  /** The file changed on disk since it was loaded: both changes, and what to do. */
  conflict: HostConflict | undefined;
  /** Drop my edit and load the file as it is now. */
  reloadFromDisk: () => void;
  /** Keep my edit, applied on top of the file as it is now (then review and save again). */
  applyOnTop: () => void;
  /** Ethereum clients the edit switches (consensus lighthouse → teku), and what happens to their data. */
  clientSwitches: ClientSwitch[];
}

/** A fleet file as the editor loads it: HostDetail, or fleet.yaml's FleetSettingsDetail. */
export interface EditedFile {
  file: string;
  yaml: string;
  values: unknown;
  version: string;
  issues: WireIssue[];
}

/** How the editor saves its file: a dry run or a write (PUT /api/hosts/NAME or /api/fleet/settings). */
export type SaveFile = (update: HostUpdate, signal?: AbortSignal) => Promise<HostEditResult>;

export function useHostEditor(detail: HostDetail, onSaved: () => void): HostEditor {
  const save = useCallback<SaveFile>((u, signal) => api.updateHost(detail.name, u, signal), [detail.name]);
  return useFileEditor(detail, save, onSaved, detail.name);
}

/** The editor of any fleet file the server saves through `save`. */
export function useFileEditor(detail: EditedFile, saveFile: SaveFile, onSaved: () => void, host?: string): HostEditor {
  const [base, setBase] = useState<Base>({ version: detail.version, yaml: detail.yaml, values: detail.values });
  const [conflict, setConflict] = useState<HostConflict>();
  const [values, setValues] = useState<unknown>(detail.values);
  const [dry, setDry] = useState<DryRun>();
  const [checking, setChecking] = useState(false);
  const [reviewing, setReviewing] = useState(false);
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<string>();
  const inflight = useRef<AbortController>(undefined);
  const dirty = !jsonEqual(values, base.values);

  // A freshly loaded file (after a save or a reload) replaces the edits.
  useEffect(() => {
    setBase({ version: detail.version, yaml: detail.yaml, values: detail.values });
    setConflict(undefined);
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
      // The dry run carries the version too: its diff is against the file as it is on disk now,
      // and a file changed underneath shows as a conflict before Save, not after.
      saveFile({ values: v, dryRun: true, version: base.version, baseYaml: base.yaml }, ctrl.signal).then(
        (result) => {
          if (ctrl.signal.aborted) return;
          setDry({ values: v, result, issues: result.issues });
          setChecking(false);
        },
        (e: unknown) => {
          if (ctrl.signal.aborted) return;
          const c = conflictOf(e);
          if (c) setConflict(c);
          setDry({ values: v, error: errorMessage(e), issues: e instanceof ApiFailure ? (e.body?.issues ?? []) : [] });
          setChecking(false);
        },
      );
    },
    [saveFile, base],
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

  // Leaving with unsaved edits asks first: closing or reloading the tab (beforeunload), and
  // in-app navigation (a link, back) through the router's guard.
  useEffect(() => {
    if (!dirty) return;
    const warn = (e: BeforeUnloadEvent) => {
      e.preventDefault();
      // Older browsers need returnValue set to ask.
      e.returnValue = "";
    };
    window.addEventListener("beforeunload", warn);
    const unguard = guardLeave(() => window.confirm(`You have unsaved changes to ${detail.file}. Leave and discard them?`));
    return () => {
      window.removeEventListener("beforeunload", warn);
      unguard();
    };
  }, [dirty, detail.file]);

  const onChange = useCallback((path: Path, value: unknown) => {
    setValues((old: unknown) => setIn(old, path, value));
    setReviewing(false);
    setSaveError(undefined);
  }, []);

  const reset = (b: Base, v: unknown) => {
    inflight.current?.abort();
    setBase(b);
    setValues(v);
    setDry(undefined);
    setReviewing(false);
    setSaveError(undefined);
    setConflict(undefined);
  };

  const current = dirty && dry ? dry : undefined;
  const fresh = !!dry && dry.values === values && !checking;
  return {
    ...(host !== undefined ? { host } : {}),
    file: detail.file,
    clientSwitches: (dirty && current?.result?.clientSwitches) || [],
    values,
    dirty,
    onChange,
    issues: current ? current.issues : detail.issues,
    diff: current?.result?.diff,
    yaml: current?.result?.yaml,
    checking,
    dryRunError: current?.error,
    reviewing,
    canSave: reviewing && dirty && fresh && !!dry?.result && !saving && !conflict,
    saving,
    saveError,
    review: () => {
      setReviewing(true);
      // Always afresh: the diff under review is against the file as it is on disk now.
      setDry(undefined);
      runDryRun(values);
    },
    stopReview: () => setReviewing(false),
    save: () => {
      setSaving(true);
      setSaveError(undefined);
      saveFile({ values, dryRun: false, version: base.version, baseYaml: base.yaml }).then(
        () => {
          setSaving(false);
          onSaved();
        },
        (e: unknown) => {
          setSaving(false);
          setReviewing(false);
          const c = conflictOf(e);
          if (c) setConflict(c);
          else setSaveError(errorMessage(e));
          const issues = e instanceof ApiFailure ? e.body?.issues : undefined;
          if (issues) setDry((d) => ({ ...d, values, error: errorMessage(e), issues }));
        },
      );
    },
    discard: () => {
      setValues(base.values);
      setDry(undefined);
      setReviewing(false);
      setSaveError(undefined);
    },
    conflict,
    reloadFromDisk: () => {
      // Nothing left to lose: the user chose the file as it is now.
      reset(base, base.values);
      onSaved();
    },
    applyOnTop: () => {
      if (!conflict) return;
      const c = conflict.current;
      reset({ version: c.version, yaml: c.yaml, values: c.values }, conflict.merged?.values ?? values);
    },
  };
}
