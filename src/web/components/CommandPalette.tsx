/**
 * Search over paths (Ctrl+K or "/"): the user's devices and streams, the users an admin sees,
 * and the app's pages. Type to filter, arrows to choose, Enter to go.
 */
import { signal } from '@preact/signals';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api } from '../api';
import { href, navigate } from '../router';
import { isAdmin, session } from '../session';

interface Item {
  label: string;
  kind: string;
  to: string;
}

const open = signal(false);
export const openPalette = (): void => {
  open.value = true;
};

async function loadItems(): Promise<Item[]> {
  const me = session.value?.user;
  const items: Item[] = [
    { label: 'Server', kind: 'page', to: '/_/server' },
    { label: 'Insert', kind: 'page', to: '/_/insert' },
    { label: 'Downlinks', kind: 'page', to: '/_/downlinks' },
    { label: 'Analysis', kind: 'page', to: '/_/analysis' },
  ];
  if (!me) return items;
  const [devices, streams, users] = await Promise.all([
    api.listDevices(me).catch(() => []),
    api.listUserStreams(me).catch(() => []),
    isAdmin() ? api.listUsers().catch(() => []) : Promise.resolve([]),
  ]);
  items.unshift(
    ...streams.map((s) => ({ label: `${me}/${s.device}/${s.name}`, kind: 'stream', to: href(me, s.device, s.name) })),
    ...devices.map((d) => ({ label: `${me}/${d.name}`, kind: 'device', to: href(me, d.name) })),
    ...users.filter((u) => u.name !== me).map((u) => ({ label: u.name, kind: 'user', to: href(u.name) })),
  );
  if (isAdmin()) items.push({ label: 'Users', kind: 'page', to: '/_/users' });
  return items;
}

/** Every typed character in order (fuzzy), ranked: prefix of a segment first, then shorter. */
export function filterItems(items: Item[], q: string): Item[] {
  const needle = q.trim().toLowerCase();
  if (!needle) return items;
  const scored: [number, Item][] = [];
  for (const it of items) {
    const hay = it.label.toLowerCase();
    const at = hay.indexOf(needle);
    let score: number;
    if (at >= 0) score = (at === 0 || hay[at - 1] === '/' ? 0 : 100) + hay.length;
    else {
      let j = 0;
      for (let i = 0; i < hay.length && j < needle.length; i++) if (hay[i] === needle[j]) j++;
      if (j < needle.length) continue;
      score = 1000 + hay.length;
    }
    scored.push([score, it]);
  }
  return scored.sort((a, b) => a[0] - b[0]).map((s) => s[1]);
}

export function CommandPalette() {
  const ref = useRef<HTMLDialogElement>(null);
  const [items, setItems] = useState<Item[]>([]);
  const [q, setQ] = useState('');
  const [sel, setSel] = useState(0);
  const isOpen = open.value;

  useEffect(() => {
    const key = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      const typing = t.closest('input, textarea, select, [contenteditable]');
      if ((e.key === 'k' && (e.ctrlKey || e.metaKey)) || (e.key === '/' && !typing)) {
        e.preventDefault();
        open.value = true;
      }
    };
    window.addEventListener('keydown', key);
    return () => window.removeEventListener('keydown', key);
  }, []);

  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (isOpen && !d.open) {
      setQ('');
      setSel(0);
      d.showModal();
      loadItems().then(setItems, () => setItems([]));
    } else if (!isOpen && d.open) d.close();
  }, [isOpen]);

  const shown = useMemo(() => filterItems(items, q).slice(0, 50), [items, q]);
  const go = (it: Item | undefined) => {
    if (!it) return;
    open.value = false;
    navigate(it.to);
  };

  return (
    <dialog ref={ref} class="palette" aria-label="Search" onClose={() => (open.value = false)}>
      <input
        type="search"
        aria-label="Search devices, streams and pages"
        placeholder="Search devices, streams and pages…"
        role="combobox"
        aria-expanded="true"
        aria-controls="palette-list"
        aria-activedescendant={shown[sel] ? `pal-${sel}` : undefined}
        value={q}
        onInput={(e) => {
          setQ((e.target as HTMLInputElement).value);
          setSel(0);
        }}
        onKeyDown={(e) => {
          if (e.key === 'ArrowDown') {
            e.preventDefault();
            setSel((s) => Math.min(s + 1, shown.length - 1));
          } else if (e.key === 'ArrowUp') {
            e.preventDefault();
            setSel((s) => Math.max(s - 1, 0));
          } else if (e.key === 'Enter') {
            e.preventDefault();
            go(shown[sel]);
          }
        }}
      />
      {shown.length === 0 ? (
        <p class="empty">{items.length ? 'Nothing matches.' : 'Loading…'}</p>
      ) : (
        <ul id="palette-list" role="listbox" aria-label="Results">
          {shown.map((it, i) => (
            <li key={it.to} id={`pal-${i}`} role="option" aria-selected={i === sel} onMouseEnter={() => setSel(i)} onClick={() => go(it)}>
              <span>{it.label}</span>
              <span class="kind">{it.kind}</span>
            </li>
          ))}
        </ul>
      )}
    </dialog>
  );
}
