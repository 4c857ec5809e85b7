/**
 * History-API routing over the original's URLs: `/`, `/{user}`, `/{user}/{device}`,
 * `/{user}/{device}/{stream}`, plus the app's own pages under `/_/` (a name never starts with
 * `_`, data-model §2, so they cannot collide with a user). The server answers every one of
 * these with index.html (src/http/web.ts), so deep links survive a reload.
 */
import { signal } from '@preact/signals';

export interface Location {
  path: string;
  /** The query string parsed; pages keep their state (time range, transform…) here. */
  query: URLSearchParams;
}

export type Route =
  | { kind: 'home' }
  | { kind: 'user'; user: string }
  | { kind: 'device'; user: string; device: string }
  | { kind: 'stream'; user: string; device: string; stream: string }
  /** `/_/{page}/…`: server, users, downlinks, insert, analysis, … */
  | { kind: 'app'; page: string; rest: string[] }
  | { kind: 'notfound' };

const read = (): Location => ({ path: location.pathname, query: new URLSearchParams(location.search) });

export const loc = signal<Location>(read());

export function parseRoute(path: string): Route {
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { kind: 'home' };
  if (parts[0] === '_') return parts.length > 1 ? { kind: 'app', page: parts[1], rest: parts.slice(2) } : { kind: 'notfound' };
  switch (parts.length) {
    case 1:
      return { kind: 'user', user: parts[0] };
    case 2:
      return { kind: 'device', user: parts[0], device: parts[1] };
    case 3:
      return { kind: 'stream', user: parts[0], device: parts[1], stream: parts[2] };
    default:
      return { kind: 'notfound' };
  }
}

/** The URL of an object page: href(user), href(user, device), href(user, device, stream). */
export function href(...parts: string[]): string {
  return '/' + parts.map(encodeURIComponent).join('/');
}

/** Goes to an app URL without a reload. `replace` for state changes that should not add history. */
export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  const url = new URL(to, location.href);
  if (url.origin !== location.origin) {
    location.href = to;
    return;
  }
  const next = url.pathname + url.search + url.hash;
  if (next !== location.pathname + location.search + location.hash) {
    if (opts.replace) history.replaceState(null, '', next);
    else history.pushState(null, '', next);
  }
  const changedPage = url.pathname !== loc.value.path;
  loc.value = read();
  if (changedPage && !opts.replace) window.scrollTo(0, 0);
}

/** Sets query parameters on the current URL (undefined or '' removes one), replacing history. */
export function setQuery(params: Record<string, string | undefined>): void {
  const q = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === '') q.delete(k);
    else q.set(k, v);
  }
  const s = q.toString();
  navigate(location.pathname + (s ? '?' + s : ''), { replace: true });
}

/** Same-origin <a> clicks (without modifier keys or target) navigate in place. */
export function installLinkInterception(): void {
  window.addEventListener('popstate', () => (loc.value = read()));
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = (e.target as Element | null)?.closest?.('a');
    if (!a || a.target || a.hasAttribute('download') || a.dataset.reload !== undefined) return;
    // In-page anchors (the skip link) are the browser's: it scrolls and moves focus.
    if (a.getAttribute('href')?.startsWith('#')) return;
    const url = new URL(a.href, location.href);
    // /login, /logout, /join, /api and static files are server pages: a real navigation.
    if (url.origin !== location.origin || /^\/(api|app|www|login|logout|join)(\/|$)/.test(url.pathname)) return;
    e.preventDefault();
    navigate(url.pathname + url.search + url.hash);
  });
}
