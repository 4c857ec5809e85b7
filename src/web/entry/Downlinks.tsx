import { useEffect, useState } from 'preact/hooks';
import { ApiError, type UserStream, api } from '../api';
import { live, liveState } from '../live';
import { href } from '../router';
import { showValue } from '../views/format';
import { apiGet, loadLatest } from '../views/load';
import { fmtTime } from '../views/range';
import { type Datapoint, parseSchema, schemaType } from '../views/types';
import { Field, INVALID } from './EntryForm';
import { initialValue } from './widgets';
import '../views/views.css';

const errText = (e: unknown) => (e instanceof ApiError || e instanceof Error ? e.message : String(e));

/** Every downlink stream of the user, each with a control that requests a value. */
export default function Downlinks({ user }: { user: string }) {
  const [streams, setStreams] = useState<UserStream[] | null>(null);
  const [me, setMe] = useState('');
  const [err, setErr] = useState('');
  useEffect(() => {
    api.listUserStreams(user, { downlink: true }).then(setStreams, (e) => setErr(errText(e)));
    api.whoami().then((w) => setMe(w.trim()), () => setMe(''));
  }, [user]);
  return (
    <section>
      <div class="head">
        <div>
          <h1>Downlinks</h1>
          <p class="muted">Streams that accept commands. A control writes the requested value; the device acknowledges by writing the value it applied.</p>
        </div>
        <span class="live-dot" data-state={liveState.value}>{liveState.value === 'open' ? 'live' : liveState.value}</span>
      </div>
      {err && <p class="alert" role="alert">{err}</p>}
      {!streams && !err && <p class="loading">Loading…</p>}
      {streams && streams.length === 0 && <p class="muted">No downlink streams yet. Turn on "downlink" in a stream's settings to control it from here.</p>}
      <div class="cdb-dl-grid">
        {streams?.map((s) => <DownlinkCard key={`${s.device}/${s.name}`} user={user} stream={s} me={me} />)}
      </div>
    </section>
  );
}

function DownlinkCard({ user, stream, me }: { user: string; stream: UserStream; me: string }) {
  const path = `${user}/${stream.device}/${stream.name}`;
  const schema = parseSchema(stream.schema);
  const [requested, setRequested] = useState<Datapoint | null>(null);
  const [acked, setAcked] = useState<Datapoint | null>(null);
  const [value, setValue] = useState<unknown>(() => initialValue(schema));
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  // The owner device's own writes go to the main stream unless the downlink is named (rest-api §8.1).
  const own = me === `${user}/${stream.device}`;

  useEffect(() => {
    loadLatest(get, path, true).then(setRequested, () => {});
    loadLatest(get, path).then(setAcked, () => {});
    const a = live.subscribe(`${path}/downlink`, (d) => d.length && setRequested(d[d.length - 1]));
    const b = live.subscribe(path, (d) => d.length && setAcked(d[d.length - 1]));
    return () => {
      a();
      b();
    };
  }, [path]);

  async function send(v: unknown) {
    if (v === undefined || v === INVALID) return setMsg({ ok: false, text: 'Choose a valid value first.' });
    setBusy(true);
    setMsg(null);
    try {
      await api.insert(user, stream.device, stream.name, [{ t: 0, d: v }], { downlink: own || undefined });
      setMsg({ ok: true, text: `Requested ${showValue(v)}` });
    } catch (e) {
      setMsg({ ok: false, text: errText(e) });
    } finally {
      setBusy(false);
    }
  }

  const t = schemaType(schema);
  const label = stream.nickname || stream.name;
  let control;
  if (t === 'boolean' && !schema.enum) {
    const on = value === true;
    control = (
      <label class="check cdb-switch">
        <input
          type="checkbox"
          role="switch"
          checked={on}
          disabled={busy}
          onChange={(e) => {
            const v = (e.currentTarget as HTMLInputElement).checked;
            setValue(v);
            void send(v);
          }}
        />
        <span>{label}: {on ? 'on' : 'off'}</span>
      </label>
    );
  } else if (schema.enum && schema.enum.length) {
    control = (
      <div class="row">
        <label class="cdb-inline">
          {label}
          <select value={JSON.stringify(value)} onChange={(e) => setValue(JSON.parse((e.currentTarget as HTMLSelectElement).value))}>
            <option value="null" disabled>Choose…</option>
            {schema.enum.map((x) => (
              <option key={JSON.stringify(x)} value={JSON.stringify(x)}>{showValue(x)}</option>
            ))}
          </select>
        </label>
        <button type="button" class="primary" disabled={busy} onClick={() => send(value)}>Send</button>
      </div>
    );
  } else {
    control = (
      <form onSubmit={(e) => (e.preventDefault(), void send(value))}>
        <Field schema={schema} value={value} onChange={setValue} label={`Requested ${label}`} busy={busy} />
        <button type="submit" class="primary" disabled={busy}>Send</button>
      </form>
    );
  }
  return (
    <article class="card" data-stream={path} aria-label={`Downlink ${path}`}>
      <h2><a href={href(user, stream.device, stream.name)}>{label}</a></h2>
      <p class="muted">{stream.device}/{stream.name}</p>
      <dl class="cdb-dl-state" aria-live="polite">
        <dt>Requested</dt>
        <dd data-testid="requested">{requested ? showValue(requested.d) : '—'}{requested?.t ? <span class="muted"> · {fmtTime(requested.t)}</span> : null}</dd>
        <dt>Acknowledged</dt>
        <dd data-testid="acknowledged">{acked ? showValue(acked.d) : '—'}{acked?.t ? <span class="muted"> · {fmtTime(acked.t)}</span> : null}</dd>
      </dl>
      {control}
      <div role="status" aria-live="polite">{msg && <p class={msg.ok ? 'success' : 'alert'}>{msg.text}</p>}</div>
    </article>
  );
}

const get = apiGet;
