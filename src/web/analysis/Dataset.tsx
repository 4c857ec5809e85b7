import { useEffect, useState } from 'preact/hooks';
import { ApiError, type UserStream, api, getJSON } from '../api';
import { loc, setQuery } from '../router';
import { Chart } from '../views/Chart';
import { detectShape } from '../views/choose';
import { downloadText } from '../views/download';
import { toCSV, toJSON } from '../views/format';
import { Bars, Scatter, TextList } from '../views/Parts';
import { fromLocalInput, toLocalInput } from '../views/range';
import { Table } from '../views/Table';
import type { Datapoint, Series } from '../views/types';
import { type Column, type DatasetSpec, DT_PRESETS, MAX_COLUMNS, buildQuery, defaultSpec, parseSpec, pythonCode } from './query';
import '../views/views.css';

const errText = (e: unknown) => (e instanceof ApiError || e instanceof Error ? e.message : String(e));
const INTERPOLATORS = ['closest', 'before', 'after', 'sum', 'count', 'average'];

/** Build a T- or X-dataset from up to ten streams, run it, and see it through the views. */
export default function Dataset({ user }: { user: string }) {
  const [spec, setSpec] = useState<DatasetSpec>(() => parseSpec(loc.value.query.get('ds')) ?? defaultSpec());
  const [streams, setStreams] = useState<UserStream[]>([]);
  const [interps, setInterps] = useState<string[]>(INTERPOLATORS);
  const [rows, setRows] = useState<Datapoint[] | null>(null);
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const [tab, setTab] = useState<'chart' | 'table' | 'scatter'>('chart');

  useEffect(() => {
    api.listUserStreams(user, { visible: true }).then(setStreams, () => {});
    api.interpolators().then((m) => setInterps(Object.keys(m).sort()), () => {});
  }, [user]);

  const up = (p: Partial<DatasetSpec>) => setSpec((s) => ({ ...s, ...p }));
  const setCol = (i: number, p: Partial<Column>) => setSpec((s) => ({ ...s, columns: s.columns.map((c, j) => (j === i ? { ...c, ...p } : c)) }));
  const query = buildQuery(spec);

  async function run(e: Event) {
    e.preventDefault();
    setBusy(true);
    setErr('');
    setQuery({ ds: JSON.stringify(spec) });
    try {
      setRows(await getJSON<Datapoint[]>('query/dataset', { method: 'POST', body: query }));
    } catch (x) {
      setRows(null);
      setErr(errText(x));
    } finally {
      setBusy(false);
    }
  }

  const paths = streams.map((s) => `${user}/${s.device}/${s.name}`);
  const shape = rows ? detectShape({}, rows, true) : null;
  const series: Series | null = rows ? { kind: 'points', points: rows, total: rows.length, truncated: false } : null;
  const fields = shape && (shape.kind === 'numobject' || shape.kind === 'aggregate') ? shape.fields : undefined;

  return (
    <section>
      <h1>Analysis</h1>
      <p class="muted">Put several streams side by side in one table: one row per time step (T-dataset) or per datapoint of a reference stream (X-dataset).</p>
      <datalist id="cdb-streams">{paths.map((p) => <option key={p} value={p} />)}</datalist>
      <form class="card" onSubmit={run} aria-label="Dataset">
        <fieldset>
          <legend>Rows</legend>
          <div class="presets" role="radiogroup" aria-label="Dataset kind">
            <button type="button" role="radio" aria-checked={spec.kind === 'T'} aria-pressed={spec.kind === 'T'} onClick={() => up({ kind: 'T' })}>Every time step (T)</button>
            <button type="button" role="radio" aria-checked={spec.kind === 'X'} aria-pressed={spec.kind === 'X'} onClick={() => up({ kind: 'X' })}>Each datapoint of a stream (X)</button>
          </div>
          <div class="row">
            <label class="cdb-inline">From <input type="datetime-local" step="1" value={toLocalInput(spec.t1)} onInput={(e) => { const t = fromLocalInput((e.currentTarget as HTMLInputElement).value); if (t !== null) up({ t1: t }); }} /></label>
            <label class="cdb-inline">To <input type="datetime-local" step="1" value={toLocalInput(spec.t2)} onInput={(e) => { const t = fromLocalInput((e.currentTarget as HTMLInputElement).value); if (t !== null) up({ t2: t }); }} /></label>
          </div>
          {spec.kind === 'T' ? (
            <div class="row" style={{ marginTop: '.5rem' }}>
              <label class="cdb-inline">
                Step
                <select value={DT_PRESETS.some(([, v]) => v === spec.dt) ? String(spec.dt) : 'custom'} onChange={(e) => { const v = (e.currentTarget as HTMLSelectElement).value; if (v !== 'custom') up({ dt: Number(v) }); }}>
                  {DT_PRESETS.map(([l, v]) => <option key={v} value={String(v)}>{l}</option>)}
                  <option value="custom">custom…</option>
                </select>
              </label>
              <label class="cdb-inline">seconds <input type="number" min={0.001} step="any" value={spec.dt} onInput={(e) => up({ dt: Number((e.currentTarget as HTMLInputElement).value) })} style={{ width: '8rem' }} /></label>
            </div>
          ) : (
            <div class="row" style={{ marginTop: '.5rem' }}>
              <label class="cdb-inline" style={{ flex: '1 1 16rem' }}>Reference stream <input list="cdb-streams" value={spec.x} onInput={(e) => up({ x: (e.currentTarget as HTMLInputElement).value })} placeholder="user/device/stream" /></label>
              <label class="cdb-inline" style={{ flex: '1 1 12rem' }}>transform <input class="mono" value={spec.xtransform} onInput={(e) => up({ xtransform: (e.currentTarget as HTMLInputElement).value })} /></label>
            </div>
          )}
        </fieldset>
        <fieldset>
          <legend>Columns ({spec.columns.length} of {MAX_COLUMNS})</legend>
          <div class="cdb-cols">
            {spec.columns.map((c, i) => (
              <div class="cdb-col" key={i} role="group" aria-label={`Column ${i + 1}`}>
                <div><label for={`col-name-${i}`}>Name</label><input id={`col-name-${i}`} value={c.name} placeholder={c.stream.split('/').pop() || `col${i + 1}`} onInput={(e) => setCol(i, { name: (e.currentTarget as HTMLInputElement).value })} /></div>
                <div><label for={`col-stream-${i}`}>Stream</label><input id={`col-stream-${i}`} list="cdb-streams" value={c.stream} placeholder="user/device/stream" onInput={(e) => setCol(i, { stream: (e.currentTarget as HTMLInputElement).value })} /></div>
                <div>
                  <label for={`col-int-${i}`}>Interpolator</label>
                  <select id={`col-int-${i}`} value={c.interpolator} onChange={(e) => setCol(i, { interpolator: (e.currentTarget as HTMLSelectElement).value })}>
                    {(interps.includes(c.interpolator) ? interps : [c.interpolator, ...interps]).map((x) => <option key={x}>{x}</option>)}
                  </select>
                </div>
                <div><label for={`col-tr-${i}`}>Transform</label><input id={`col-tr-${i}`} class="mono" value={c.transform} onInput={(e) => setCol(i, { transform: (e.currentTarget as HTMLInputElement).value })} /></div>
                <button type="button" aria-label={`Remove column ${i + 1}`} disabled={spec.columns.length < 2} onClick={() => setSpec((s) => ({ ...s, columns: s.columns.filter((_, j) => j !== i) }))}>✕</button>
              </div>
            ))}
          </div>
          <button type="button" disabled={spec.columns.length >= MAX_COLUMNS} onClick={() => up({ columns: [...spec.columns, { name: '', stream: '', interpolator: 'closest', transform: '' }] })} style={{ marginTop: '.5rem' }}>
            Add column
          </button>
        </fieldset>
        <div class="field">
          <label for="cdb-post">Post-transform (PipeScript run on each row)</label>
          <input id="cdb-post" class="mono" value={spec.posttransform} onInput={(e) => up({ posttransform: (e.currentTarget as HTMLInputElement).value })} />
        </div>
        <button type="submit" class="primary" disabled={busy}>{busy ? 'Running…' : 'Run dataset'}</button>
        {err && <p class="alert" role="alert">{err}</p>}
      </form>

      {rows && series && (
        <div class="card" data-testid="dataset-result">
          <div class="head">
            <h2 style={{ margin: 0 }}>{rows.length.toLocaleString()} rows</h2>
            <div class="row">
              <button type="button" onClick={() => downloadText('dataset.csv', toCSV(rows), 'text/csv')}>Download CSV</button>
              <button type="button" onClick={() => downloadText('dataset.json', toJSON(rows), 'application/json')}>Download JSON</button>
            </div>
          </div>
          <div class="cdb-tabs" role="tablist" aria-label="Dataset views">
            {(['chart', 'table', ...(fields && fields.length === 2 ? ['scatter'] : [])] as const).map((t) => (
              <button key={t} type="button" role="tab" aria-selected={tab === t} onClick={() => setTab(t as typeof tab)}>
                {t === 'chart' ? 'Chart' : t === 'table' ? 'Table' : 'Correlation'}
              </button>
            ))}
          </div>
          <div role="tabpanel">
            {tab === 'table' || !shape ? (
              <Table series={series} label="Dataset" />
            ) : tab === 'scatter' && fields ? (
              <Scatter points={rows} fields={fields} label="Dataset" />
            ) : shape.kind === 'aggregate' ? (
              <Bars points={rows} keys="plain" label="Dataset" />
            ) : shape.kind === 'text' || shape.kind === 'category' ? (
              <TextList points={rows} />
            ) : shape.kind === 'number' || shape.kind === 'numobject' || shape.kind === 'boolean' ? (
              <Chart series={series} mode={shape.kind === 'boolean' ? 'bool' : 'line'} fields={fields} label="Dataset chart" />
            ) : (
              <Table series={series} label="Dataset" />
            )}
          </div>
        </div>
      )}

      <div class="card">
        <details>
          <summary>Query as JSON (POST /api/v1/query/dataset)</summary>
          <pre class="cdb-code" data-testid="query-json">{JSON.stringify(query, null, 2)}</pre>
        </details>
        <details>
          <summary>Python code (connectordb client)</summary>
          <pre class="cdb-code">{pythonCode(spec, location.origin, user)}</pre>
        </details>
      </div>
    </section>
  );
}
