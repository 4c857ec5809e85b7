import { useEffect, useState } from 'preact/hooks';
import { ApiError, type UserStream, api } from '../api';
import { href } from '../router';
import { showValue } from '../views/format';
import { EntryForm } from './EntryForm';
import { widgetFor } from './widgets';
import '../views/views.css';

/**
 * Streams a person fills in by hand: those of the `user` device (where the original's Insert page
 * put manual inputs) and, on any device, those whose datatype has an input widget.
 */
export function isManual(s: UserStream): boolean {
  if (s.downlink) return false;
  return s.device === 'user' || widgetFor(s.datatype) !== 'form';
}

export default function QuickEntry({ user }: { user: string }) {
  const [streams, setStreams] = useState<UserStream[] | null>(null);
  const [err, setErr] = useState('');
  const [last, setLast] = useState<Record<string, string>>({});
  useEffect(() => {
    api.listUserStreams(user, { visible: true }).then(
      (all) => setStreams(all.filter(isManual)),
      (e) => setErr(e instanceof ApiError || e instanceof Error ? e.message : String(e)),
    );
  }, [user]);
  return (
    <section>
      <h1>Insert</h1>
      <p class="muted">One tap per entry: the streams you fill in by hand.</p>
      {err && <p class="alert" role="alert">{err}</p>}
      {!streams && !err && <p class="loading">Loading…</p>}
      {streams && streams.length === 0 && (
        <p class="muted">
          No manual streams yet. Create a stream on your <a href={href(user, 'user')}>user device</a>, or give a stream the datatype <code>rating.stars</code> or <code>log.diary</code>.
        </p>
      )}
      <div class="cdb-quick">
        {streams?.map((s) => {
          const k = `${s.device}/${s.name}`;
          return (
            <article class="card" key={k} aria-label={s.nickname || s.name}>
              <h2 style={{ marginTop: 0 }}>
                <a href={href(user, s.device, s.name)}>{s.nickname || s.name}</a>
              </h2>
              {s.device !== 'user' && <p class="muted">{k}</p>}
              <EntryForm user={user} device={s.device} stream={s} compact onInserted={(_t, d) => setLast((m) => ({ ...m, [k]: showValue(d) }))} />
              {last[k] && <span class="sr-only">Last entered {last[k]}</span>}
            </article>
          );
        })}
      </div>
    </section>
  );
}
