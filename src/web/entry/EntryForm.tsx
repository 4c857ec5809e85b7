import { useState } from 'preact/hooks';
import { ApiError, api } from '../api';
import { showValue } from '../views/format';
import { fmtTime, fromLocalInput, toLocalInput } from '../views/range';
import { type JSONSchema, type StreamInfo, parseSchema, schemaType } from '../views/types';
import { initialValue, isSimple, widgetFor } from './widgets';

let uid = 0;
const nextId = (p: string) => `${p}-${++uid}`;

interface FieldProps {
  schema: JSONSchema;
  value: unknown;
  onChange: (v: unknown) => void;
  label: string;
  /** Enum buttons insert at once when given. */
  onPick?: (v: unknown) => void;
  busy?: boolean;
}

/** One control generated from a JSON schema; objects recurse into a fieldset. */
export function Field({ schema, value, onChange, label, onPick, busy }: FieldProps) {
  const [id] = useState(() => nextId('f'));
  const t = schemaType(schema);
  const hint = schema.description ? <div class="hint">{schema.description}</div> : null;
  if (schema.enum && schema.enum.length) {
    return (
      <fieldset>
        <legend>{label}</legend>
        <div class="presets" role="group">
          {schema.enum.map((e) => (
            <button
              type="button"
              key={JSON.stringify(e)}
              aria-pressed={JSON.stringify(value) === JSON.stringify(e)}
              disabled={busy}
              onClick={() => (onPick ? onPick(e) : onChange(e))}
            >
              {showValue(e)}
            </button>
          ))}
        </div>
        {hint}
      </fieldset>
    );
  }
  if (t === 'boolean') {
    return (
      <div class="field">
        <label class="check cdb-switch" for={id}>
          <input id={id} type="checkbox" role="switch" checked={value === true} onChange={(e) => onChange((e.currentTarget as HTMLInputElement).checked)} />
          <span>{label}: {value === true ? 'true' : 'false'}</span>
        </label>
        {hint}
      </div>
    );
  }
  if (t === 'number' || t === 'integer') {
    const ranged = schema.minimum !== undefined && schema.maximum !== undefined;
    return (
      <div class="field">
        <label for={id}>{label}</label>
        <div class="row">
          {ranged && (
            <input
              type="range"
              aria-label={`${label} (slider)`}
              min={schema.minimum}
              max={schema.maximum}
              step={t === 'integer' ? 1 : 'any'}
              value={typeof value === 'number' ? value : schema.minimum}
              onInput={(e) => onChange(Number((e.currentTarget as HTMLInputElement).value))}
              style={{ flex: '1 1 10rem', width: 'auto' }}
            />
          )}
          <input
            id={id}
            type="number"
            inputMode="decimal"
            step={t === 'integer' ? 1 : 'any'}
            min={schema.minimum}
            max={schema.maximum}
            value={typeof value === 'number' ? String(value) : ''}
            onInput={(e) => {
              const s = (e.currentTarget as HTMLInputElement).value;
              onChange(s === '' ? undefined : Number(s));
            }}
            style={ranged ? { flex: '0 1 8rem', width: 'auto' } : undefined}
          />
        </div>
        {hint}
      </div>
    );
  }
  if (t === 'string') {
    return (
      <div class="field">
        <label for={id}>{label}</label>
        <textarea id={id} rows={2} value={typeof value === 'string' ? value : ''} onInput={(e) => onChange((e.currentTarget as HTMLTextAreaElement).value)} />
        {hint}
      </div>
    );
  }
  if (t === 'object' && schema.properties && isSimple(schema)) {
    const obj = (value && typeof value === 'object' ? value : {}) as Record<string, unknown>;
    return (
      <fieldset>
        <legend>{label}</legend>
        {Object.entries(schema.properties).map(([k, p]) => (
          <Field key={k} schema={p} label={p.title || k} value={obj[k]} onChange={(v) => onChange({ ...obj, [k]: v })} busy={busy} />
        ))}
      </fieldset>
    );
  }
  return <JSONField label={label} value={value} onChange={onChange} />;
}

/** Anything the generator does not know: JSON typed by hand, checked as it is typed. */
function JSONField({ label, onChange }: { label: string; value: unknown; onChange: (v: unknown) => void }) {
  const [id] = useState(() => nextId('j'));
  const [text, setText] = useState('');
  const [bad, setBad] = useState('');
  return (
    <div class="field">
      <label for={id}>{label} (JSON)</label>
      <textarea
        id={id}
        class="mono"
        rows={3}
        value={text}
        aria-invalid={bad ? true : undefined}
        aria-describedby={`${id}-h`}
        onInput={(e) => {
          const s = (e.currentTarget as HTMLTextAreaElement).value;
          setText(s);
          try {
            onChange(s.trim() === '' ? undefined : JSON.parse(s));
            setBad('');
          } catch {
            onChange(INVALID);
            setBad('Not valid JSON yet');
          }
        }}
      />
      <div class="hint" id={`${id}-h`}>{bad || 'Any JSON value, e.g. 42, "text", true or {"a": 1}'}</div>
    </div>
  );
}

export const INVALID = Symbol('invalid JSON');

/** Ten stars: one click inserts that rating (the original's `rating.stars`). */
export function Stars({ onPick, busy, value }: { onPick: (n: number) => void; busy?: boolean; value?: number }) {
  const [hover, setHover] = useState(0);
  const shown = hover || value || 0;
  return (
    <div class="cdb-stars" role="group" aria-label="Rating from 1 to 10 stars" onMouseLeave={() => setHover(0)}>
      {Array.from({ length: 10 }, (_, i) => i + 1).map((n) => (
        <button
          type="button"
          key={n}
          class={n <= shown ? 'on' : ''}
          aria-label={`${n} of 10 stars`}
          disabled={busy}
          onMouseEnter={() => setHover(n)}
          onFocus={() => setHover(n)}
          onBlur={() => setHover(0)}
          onClick={() => onPick(n)}
        >
          {n <= shown ? '★' : '☆'}
        </button>
      ))}
    </div>
  );
}

export interface EntryProps {
  user: string;
  device: string;
  stream: StreamInfo;
  /** Smaller layout for the quick-entry list. */
  compact?: boolean;
  onInserted?: (t: number, d: unknown) => void;
}

/** Enter one datapoint by hand: a form from the stream's schema, or its datatype's widget. */
export function EntryForm({ user, device, stream, compact, onInserted }: EntryProps) {
  const schema = parseSchema(stream.schema);
  const widget = widgetFor(stream.datatype);
  const [value, setValue] = useState<unknown>(() => initialValue(schema));
  const [custom, setCustom] = useState(false);
  const [when, setWhen] = useState(() => toLocalInput(Date.now() / 1000));
  const [busy, setBusy] = useState(false);
  const [picked, setPicked] = useState<number | undefined>(undefined);
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const [ids] = useState(() => ({ custom: nextId('c'), when: nextId('w'), diary: nextId('d') }));
  const label = stream.nickname || stream.name;

  async function insert(d: unknown) {
    if (d === INVALID) return setMsg({ ok: false, text: 'The value is not valid JSON.' });
    if (d === undefined) return setMsg({ ok: false, text: 'Enter a value first.' });
    let t = 0;
    if (custom) {
      const x = fromLocalInput(when);
      if (x === null) return setMsg({ ok: false, text: 'The custom time is not a valid date and time.' });
      t = x;
    }
    setBusy(true);
    setMsg(null);
    try {
      // POST without restamp: an older custom time is refused with the server's message.
      await api.insert(user, device, stream.name, [{ t, d }]);
      const at = t || Date.now() / 1000;
      setMsg({ ok: true, text: `Saved ${showValue(d)} at ${fmtTime(at)}` });
      onInserted?.(at, d);
      if (typeof d === 'number') setPicked(d);
      if (widget === 'diary' || schemaType(schema) === 'string') setValue('');
    } catch (e) {
      setMsg({ ok: false, text: e instanceof ApiError || e instanceof Error ? e.message : String(e) });
    } finally {
      setBusy(false);
    }
  }

  let body;
  let oneTap = false;
  if (widget === 'stars') {
    oneTap = true;
    body = <Stars busy={busy} value={picked} onPick={(n) => insert(n)} />;
  } else if (widget === 'diary') {
    body = (
      <div class="field">
        <label for={ids.diary}>Diary entry</label>
        <textarea id={ids.diary} rows={compact ? 3 : 6} value={typeof value === 'string' ? value : ''} onInput={(e) => setValue((e.currentTarget as HTMLTextAreaElement).value)} />
      </div>
    );
  } else {
    oneTap = !!(schema.enum && schema.enum.length);
    body = <Field schema={schema} value={value} onChange={setValue} label={`Value for ${label}`} onPick={(v) => insert(v)} busy={busy} />;
  }
  return (
    <form
      class={`cdb-entry${compact ? ' compact' : ''}`}
      aria-label={`Insert into ${label}`}
      onSubmit={(e) => {
        e.preventDefault();
        void insert(value);
      }}
    >
      {body}
      <div class="row">
        {!oneTap && (
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Saving…' : 'Insert'}
          </button>
        )}
        <label class="check" for={ids.custom} style={{ margin: 0 }}>
          <input id={ids.custom} type="checkbox" checked={custom} onChange={(e) => setCustom((e.currentTarget as HTMLInputElement).checked)} />
          <span>Custom time</span>
        </label>
        {custom && (
          <input
            id={ids.when}
            aria-label="Time of the datapoint"
            type="datetime-local"
            step="1"
            value={when}
            onInput={(e) => setWhen((e.currentTarget as HTMLInputElement).value)}
            style={{ width: 'auto' }}
          />
        )}
      </div>
      <div role="status" aria-live="polite">
        {msg && <p class={msg.ok ? 'success' : 'alert'}>{msg.text}</p>}
      </div>
    </form>
  );
}
