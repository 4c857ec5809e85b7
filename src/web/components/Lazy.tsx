/** Code splitting: a page loaded on first use (its own chunk), with loading and error states. */
import type { ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ErrorBox, Loading } from './ui';

export function lazyPage<P extends object>(load: () => Promise<{ default: ComponentType<P> }>): ComponentType<P> {
  let cached: ComponentType<P> | undefined;
  return function LazyPage(props: P) {
    const [C, setC] = useState<ComponentType<P> | undefined>(() => cached);
    const [error, setError] = useState<unknown>(undefined);
    useEffect(() => {
      if (cached) return;
      load().then(
        (m) => {
          cached = m.default;
          setC(() => m.default);
        },
        (e: unknown) => setError(new Error(`This page could not be loaded (${e instanceof Error ? e.message : String(e)}). Reload to try again.`)),
      );
    }, []);
    if (error) return <ErrorBox error={error} />;
    if (!C) return <Loading />;
    return <C {...props} />;
  };
}
