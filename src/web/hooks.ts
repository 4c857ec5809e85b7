import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Async<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  /** Loads again (after an edit), keeping the old data on screen meanwhile. */
  reload: () => void;
  /** Replaces the data locally (an update's answer) without a request. */
  set: (v: T) => void;
}

/** Runs `load` whenever `deps` change; answers of superseded runs are dropped. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): Async<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const run = useRef(0);
  useEffect(() => {
    const me = ++run.current;
    setLoading(true);
    setError(undefined);
    load().then(
      (v) => {
        if (run.current !== me) return;
        setData(v);
        setLoading(false);
      },
      (e: unknown) => {
        if (run.current !== me) return;
        setError(e instanceof Error ? e : new Error(String(e)));
        setLoading(false);
      },
    );
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload, set: setData };
}

/** document.title follows the page. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · ConnectorDB` : 'ConnectorDB';
  }, [title]);
}
