/** The frame of every page: header with navigation, search, theme, live indicator; breadcrumbs. */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { liveState } from '../live';
import { type Route, href, loc } from '../router';
import { isAdmin, session } from '../session';
import { openPalette } from './CommandPalette';

type Theme = 'system' | 'light' | 'dark';

export function applyTheme(t: Theme): void {
  if (t === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = t;
  window.dispatchEvent(new Event('cdb-theme'));
}

export function savedTheme(): Theme {
  const t = localStorage.getItem('cdb-theme');
  return t === 'light' || t === 'dark' ? t : 'system';
}

function ThemeSelect() {
  const [t, setT] = useState<Theme>(savedTheme());
  return (
    <label class="row" style="margin:0;font-weight:400;gap:.3rem">
      <span class="sr-only">Theme</span>
      <select
        value={t}
        style="width:auto"
        onChange={(e) => {
          const v = (e.target as HTMLSelectElement).value as Theme;
          setT(v);
          localStorage.setItem('cdb-theme', v);
          applyTheme(v);
        }}
      >
        <option value="system">Theme: system</option>
        <option value="light">Theme: light</option>
        <option value="dark">Theme: dark</option>
      </select>
    </label>
  );
}

function LiveIndicator() {
  const s = liveState.value;
  const text = s === 'open' ? 'Live' : s === 'connecting' ? 'Connecting' : 'Offline';
  if (s === 'closed') return null;
  return (
    <span class="live-dot hide-narrow" data-state={s} role="status" title={`Live updates: ${text}`}>
      {text}
    </span>
  );
}

interface NavItem {
  label: string;
  to: string;
}

function navItems(): NavItem[] {
  const me = session.value?.user ?? '';
  const items: NavItem[] = [
    { label: 'Devices', to: href(me) },
    { label: 'Insert', to: '/_/insert' },
    { label: 'Downlinks', to: '/_/downlinks' },
    { label: 'Analysis', to: '/_/analysis' },
  ];
  if (isAdmin()) items.push({ label: 'Users', to: '/_/users' });
  items.push({ label: 'Server', to: '/_/server' });
  return items;
}

export function Breadcrumbs({ route }: { route: Route }) {
  const crumbs: { label: string; to: string }[] = [];
  if (route.kind === 'user' || route.kind === 'device' || route.kind === 'stream') {
    crumbs.push({ label: route.user, to: href(route.user) });
    if (route.kind !== 'user') crumbs.push({ label: route.device, to: href(route.user, route.device) });
    if (route.kind === 'stream') crumbs.push({ label: route.stream, to: href(route.user, route.device, route.stream) });
  } else if (route.kind === 'app') {
    crumbs.push({ label: route.page.charAt(0).toUpperCase() + route.page.slice(1), to: `/_/${route.page}` });
  } else return null;
  return (
    <nav class="crumbs" aria-label="Breadcrumbs">
      <ol>
        <li>
          <a href="/">Home</a>
        </li>
        {crumbs.map((c, i) => (
          <li key={c.to}>
            <a href={c.to} aria-current={i === crumbs.length - 1 ? 'page' : undefined}>
              {c.label}
            </a>
          </li>
        ))}
      </ol>
    </nav>
  );
}

export function Layout({ route, children }: { route: Route; children: ComponentChildren }) {
  const [open, setOpen] = useState(false);
  const path = loc.value.path;
  useEffect(() => setOpen(false), [path]);
  const me = session.value;
  const current = (to: string) => path === to || (to !== '/' && path.startsWith(to + '/')) || (route.kind === 'home' && to === href(me?.user ?? ''));
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <div class="top-row">
          <a class="brand" href="/">
            Connector<span>DB</span>
          </a>
          <button type="button" class="menu-btn icon" aria-expanded={open} aria-controls="main-nav" onClick={() => setOpen(!open)}>
            Menu
          </button>
          <nav id="main-nav" class={open ? 'nav open' : 'nav'} aria-label="Main" onClick={(e) => (e.target as Element).closest('a') && setOpen(false)}>
            {navItems().map((n) => (
              <a key={n.to} href={n.to} aria-current={current(n.to) ? 'page' : undefined}>
                {n.label}
              </a>
            ))}
            <span class="show-narrow">
              <ThemeSelect />
            </span>
            <a class="show-narrow" href="/logout">
              Log out
            </a>
          </nav>
          <span class="spacer" />
          <LiveIndicator />
          <button type="button" onClick={() => openPalette()} aria-keyshortcuts="Control+K" title="Search (Ctrl+K)">
            Search<span class="hide-narrow muted"> Ctrl K</span>
          </button>
          <span class="hide-narrow">
            <ThemeSelect />
          </span>
          <a class="btn hide-narrow" href="/logout" title={me ? `Logged in as ${me.operator}` : undefined}>
            Log out
          </a>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Breadcrumbs route={route} />
        {children}
      </main>
    </>
  );
}
