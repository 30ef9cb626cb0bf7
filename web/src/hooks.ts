// Small data-loading hooks shared by the screens.
import { useCallback, useEffect, useRef, useState } from "react";
import { api, fleetCache } from "./api";
import type { FleetOverview } from "../../src/server/wire";

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  setData: (update: (old: T | undefined) => T | undefined) => void;
}

/**
 * Runs `load` when `key` changes (and on reload()); a newer run aborts the older one.
 * `initial` shows cached data at once while the fresh copy loads.
 */
export function useLoad<T>(key: string, load: (signal: AbortSignal) => Promise<T>, initial?: T): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: initial,
    error: undefined,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    const ctrl = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    loadRef.current(ctrl.signal).then(
      (data) => !ctrl.signal.aborted && setState({ data, error: undefined, loading: false }),
      (error: unknown) => !ctrl.signal.aborted && setState((s) => ({ data: s.data, error, loading: false })),
    );
    return () => ctrl.abort();
  }, [key, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  const setData = useCallback(
    (update: (old: T | undefined) => T | undefined) => setState((s) => ({ ...s, data: update(s.data) })),
    [],
  );
  return { ...state, reload, setData };
}

/** `value`, once it has stopped changing for `ms`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return debounced;
}

/** The fleet overview, shown from the cache at once and kept there for the other screens. */
export function useFleet(onLoaded?: () => void): Loaded<FleetOverview> {
  return useLoad<FleetOverview>(
    "fleet",
    (signal) =>
      api.fleet(signal).then((f) => {
        onLoaded?.();
        fleetCache.value = f;
        return f;
      }),
    fleetCache.value,
  );
}
