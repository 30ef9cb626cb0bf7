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

export interface Polled<T> {
  data: T | undefined;
  /** The last poll's failure (cleared by the next success); `data` stays what was last seen. */
  error: unknown;
  /** When `data` arrived (ms since the epoch). */
  at: number | undefined;
  /** Poll now (after a write), and go on polling from there. */
  refresh: () => void;
}

/**
 * Runs `load` now and every `everyMs` while the page is visible: hidden, it stops (and the
 * request in flight is dropped); shown again, it polls at once. A failure (the server
 * restarting, the network gone) keeps the last data and retries, a little less often each time
 * (up to 10 s), until the server answers again.
 */
export function usePolled<T>(load: (signal: AbortSignal) => Promise<T>, everyMs: number): Polled<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; at: number | undefined }>({ data: undefined, error: undefined, at: undefined });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let ctrl: AbortController | undefined;
    let failures = 0;
    let closed = false;
    const stopNow = () => {
      clearTimeout(timer);
      timer = undefined;
      ctrl?.abort();
      ctrl = undefined;
    };
    const schedule = () => {
      if (closed || document.hidden) return;
      clearTimeout(timer);
      timer = setTimeout(poll, failures ? Math.min(10_000, everyMs * 2 ** (failures - 1)) : everyMs);
    };
    const poll = () => {
      stopNow();
      const c = (ctrl = new AbortController());
      loadRef.current(c.signal).then(
        (data) => {
          if (c.signal.aborted) return;
          failures = 0;
          setState({ data, error: undefined, at: Date.now() });
          schedule();
        },
        (error: unknown) => {
          if (c.signal.aborted) return;
          failures++;
          setState((s) => ({ ...s, error }));
          schedule();
        },
      );
    };
    const onVisibility = () => (document.hidden ? stopNow() : poll());
    const onOnline = () => !document.hidden && poll();
    document.addEventListener("visibilitychange", onVisibility);
    window.addEventListener("online", onOnline);
    if (!document.hidden) poll();
    return () => {
      closed = true;
      stopNow();
      document.removeEventListener("visibilitychange", onVisibility);
      window.removeEventListener("online", onOnline);
    };
  }, [everyMs, tick]);
  const refresh = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, refresh };
}
