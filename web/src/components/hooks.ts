// Loading and action state: every fetch and every button shows progress
// and the API's error, never failing silently.
import { useCallback, useEffect, useRef, useState } from 'react';

export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

export interface Load<T> {
  data: T | undefined;
  error: string;
  loading: boolean;
  reload: () => void;
}

/** useLoad runs fn when deps change and on reload(), dropping stale answers. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]): Load<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState('');
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    setLoading(true);
    setError('');
    fn().then(
      (d) => {
        if (mine !== seq.current) return;
        setData(d);
        setLoading(false);
      },
      (e: unknown) => {
        if (mine !== seq.current) return;
        setError(messageOf(e));
        setLoading(false);
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

export interface Action {
  busy: boolean;
  error: string;
  run: <T>(fn: () => Promise<T>) => Promise<T | undefined>;
  clear: () => void;
}

/** useAction wraps one user action: busy while it runs, its error after. */
export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const run = useCallback(async <T,>(fn: () => Promise<T>) => {
    setBusy(true);
    setError('');
    try {
      return await fn();
    } catch (e) {
      setError(messageOf(e));
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  const clear = useCallback(() => setError(''), []);
  return { busy, error, run, clear };
}

const PAGE_SIZE_KEY = 'berth.pageSize';
export const PAGE_SIZES = [15, 25, 50, 100];

export function savedPageSize(): number {
  const n = Number(globalThis.localStorage?.getItem(PAGE_SIZE_KEY));
  return PAGE_SIZES.includes(n) ? n : 25;
}

export function savePageSize(n: number): void {
  globalThis.localStorage?.setItem(PAGE_SIZE_KEY, String(n));
}
