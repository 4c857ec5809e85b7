import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, api, apiUrl } from '../api';
import { live, liveState } from '../live';
import { loc, setQuery } from '../router';
import { EntryForm } from '../entry/EntryForm';
import { widgetFor } from '../entry/widgets';
import { Chart } from './Chart';
import { type ViewDef, compose, detectShape, viewsFor } from './choose';
import { fmtDuration, showValue } from './format';
import { timeTrue } from './stats';
import { type Loaded, apiGet, dataURL, loadLatest, loadSeries } from './load';
import { Bars, Scatter, TextList } from './Parts';
import { PRESETS, type RangeSpec, describeRange, fmtTime, fromLocalInput, isPreset, parseRange, toLocalInput, writeRange } from './range';
import { Table } from './Table';
import { type Bucket, type Datapoint, type Series, type StreamInfo, parseSchema, schemaType } from './types';
import './views.css';

const errText = (e: unknown) => (e instanceof ApiError || e instanceof Error ? e.message : String(e));

export interface StreamViewProps {
  user: string;
  device: string;
  stream: string;
  /** The stream's metadata when the page already has it (kept fresh after settings edits). */
  info?: StreamInfo;
  /** False when the page fetches the metadata itself (and shows its errors). */
  fetchInfo?: boolean;
}

/** The stream page: range, transform, latest value, views, live updates, entry and downloads. */
export default function StreamView({ user, device, stream, info: given, fetchInfo = true }: StreamViewProps) {
  const path = `${user}/${device}/${stream}`;
  const query = loc.value.query;
  const range = parseRange(query);
  const rangeKey = writeRange(new URLSearchParams(), range).toString();
  const transform = query.get('transform') ?? '';
  const viewParam = query.get('view') ?? '';

  const [own, setInfo] = useState<StreamInfo | null>(null);
  const info = given ?? own;
  // The data read starts before the stream's metadata arrives; the schema joins it when it does.
  const infoSignal = useMemo(() => {
    let resolve: (i: StreamInfo) => void = () => {};
    const p = new Promise<StreamInfo>((r) => (resolve = r));
    return { p, resolve };
  }, [path]);
  if (info) infoSignal.resolve(info);
  const [infoErr, setInfoErr] = useState('');
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [loadErr, setLoadErr] = useState('');
  const [loading, setLoading] = useState(true);
  const [latest, setLatest] = useState<Datapoint | null>(null);
  const [reload, setReload] = useState(0);
  const chartWidth = useRef(1200);
  // Live datapoints that arrive while the range is being read are kept and joined afterwards.
  const loadingRef = useRef(true);
  const pendingRef = useRef<Datapoint[]>([]);
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    setInfo(null);
    setInfoErr('');
    if (fetchInfo) api.getStream(user, device, stream).then(setInfo, (e) => setInfoErr(errText(e)));
    loadLatest(get, path).then(setLatest, () => setLatest(null));
  }, [path]);

  useEffect(() => {
    let gone = false;
    setLoading(true);
    setLoadErr('');
    loadingRef.current = true;
    pendingRef.current = [];
    const width = box.current?.clientWidth ?? chartWidth.current;
    loadSeries(get, { path, range, transform, numeric: infoSignal.p.then((i) => isNumericSchema(i.schema)), buckets: Math.max(200, Math.min(4000, Math.round(width))) }).then(
      (l) => {
        if (gone) return;
        const last = lastTime(l.series);
        const late = pendingRef.current.filter((p) => (p.t ?? 0) > last);
        loadingRef.current = false;
        pendingRef.current = [];
        setLoaded(late.length && range.kind !== 'abs' ? { ...l, series: appendSeries(l.series, late) } : l);
        setLoading(false);
      },
      (e) => {
        if (gone) return;
        loadingRef.current = false;
        setLoaded(null);
        setLoadErr(errText(e));
        setLoading(false);
      },
    );
    return () => {
      gone = true;
    };
  }, [path, rangeKey, transform, reload]);

  // Live: the raw stream feeds the latest value; the (transformed) stream feeds the views.
  const follows = range.kind !== 'abs';
  useEffect(() => {
    const offRaw = live.subscribe(path, (data) => {
      if (data.length) setLatest(data[data.length - 1]);
      if (!transform) append(data);
    });
    const offT = transform ? live.subscribe(path, (data) => append(data), transform) : () => {};
    const offRe = live.onReconnect(() => setReload((n) => n + 1));
    function append(data: Datapoint[]) {
      if (!follows || !data.length) return;
      if (loadingRef.current) {
        pendingRef.current.push(...data);
        return;
      }
      setLoaded((l) => (l ? { ...l, series: appendSeries(l.series, data) } : l));
    }
    return () => {
      offRaw();
      offT();
      offRe();
    };
  }, [path, transform, follows]);

  const schema = useMemo(() => parseSchema(info?.schema ?? '{}'), [info?.schema]);
  const points = loaded?.series.kind === 'points' ? loaded.series.points : bucketsAsPoints(loaded?.series);
  const shape = useMemo(() => detectShape(schema, points, !!transform, info?.datatype ?? ''), [schema, points, transform, info?.datatype]);
  const views = viewsFor(shape, points);
  const view = views.find((v) => v.id === viewParam) ?? views[0];

  if (infoErr) {
    return (
      <section>
        <h1>{stream}</h1>
        <p class="alert" role="alert">{infoErr}</p>
      </section>
    );
  }
  const entryCard = info && (
    <div class="card">
      <h2>Insert</h2>
      {info.ephemeral && <p class="muted">Ephemeral stream: datapoints are not stored, only sent to live subscribers (this page shows them as they arrive).</p>}
      <EntryForm user={user} device={device} stream={info} />
    </div>
  );
  // Streams filled in by hand put their form first, where a thumb reaches it on a phone.
  const manual = !!info && !info.downlink && (device === 'user' || widgetFor(info.datatype) !== 'form');
  const label = info?.nickname || stream;
  return (
    <section class="cdb-stream" ref={box}>
      <div class="head">
        <div>
          <h1>{label}</h1>
          <p class="muted">
            {path}
            {info?.datatype ? ` · ${info.datatype}` : ''}
            {info?.ephemeral ? ' · ephemeral' : ''}
            {info?.downlink ? ' · downlink' : ''}
          </p>
          {info?.description && <p>{info.description}</p>}
        </div>
        <div class="cdb-latest" aria-live="polite">
          <div class="muted">Latest value <LiveDot /></div>
          <div class="cdb-latest-v" data-testid="latest">{latest ? showValue(latest.d) : '—'}</div>
          <div class="muted">{latest ? fmtTime(latest.t ?? 0) : 'no data yet'}</div>
        </div>
      </div>

      {manual && entryCard}
      <RangeControl range={range} />
      <TransformBox transform={transform} error={transform ? loadErr : ''} />

      {/* Only once the stream's metadata is in, whoever fetches it (this view or the page, which
          shows its own error instead of this view): for a stream that cannot be read, the data
          read may fail first, and its message would flash before the one that names the reason. */}
      {loadErr && !transform && info && <p class="alert" role="alert">{loadErr}</p>}
      {loading && !loaded && <p class="loading">Loading…</p>}
      {loaded && (
        <div class="card">
          <p class="muted cdb-summary">
            {describeSeries(loaded.series)} · {describeRange(range)}
          </p>
          <ViewTabs views={views} current={view} />
          <ViewPanel
            view={view}
            series={loaded.series}
            points={points}
            path={path}
            transform={transform}
            loaded={loaded}
            label={label}
            onZoom={(t1, t2) => setQuery(Object.fromEntries(writeRange(query, { kind: 'abs', t1, t2 })))}
          />
          <Downloads path={path} loaded={loaded} transform={transform} name={stream} />
        </div>
      )}

      {info && !manual && entryCard}
    </section>
  );
}

const get = apiGet;

function LiveDot() {
  const s = liveState.value;
  const text = s === 'open' ? 'live' : s === 'connecting' ? 'reconnecting' : 'offline';
  return (
    <span class="live-dot" data-state={s} data-testid="live-state">
      {text}
    </span>
  );
}

function bucketsAsPoints(s: Series | undefined): Datapoint[] {
  if (!s || s.kind !== 'buckets') return [];
  return s.buckets.map((b) => ({ t: b.t, d: b.d.mean }));
}

/** New live datapoints join the series; downsampled series get one-point buckets. */
export function appendSeries(s: Series, data: Datapoint[]): Series {
  if (s.kind === 'points') {
    const points = s.points.concat(data);
    return { ...s, points, total: s.total + data.length };
  }
  const add: Bucket[] = [];
  for (const p of data) {
    const v = typeof p.d === 'number' ? p.d : typeof p.d === 'boolean' ? Number(p.d) : null;
    if (v !== null) add.push({ t: p.t ?? 0, d: { min: v, max: v, mean: v, count: 1 } });
  }
  return { ...s, buckets: s.buckets.concat(add), total: s.total + data.length };
}

function isNumericSchema(schema: string): boolean {
  const t = schemaType(parseSchema(schema));
  return t === 'number' || t === 'integer' || t === 'boolean';
}

function lastTime(s: Series): number {
  if (s.kind === 'buckets') return s.buckets.length ? s.buckets[s.buckets.length - 1].t : -Infinity;
  return s.points.length ? (s.points[s.points.length - 1].t ?? 0) : -Infinity;
}

function describeSeries(s: Series): string {
  if (s.kind === 'buckets') return `${s.total.toLocaleString()} datapoints, drawn as ${s.buckets.length.toLocaleString()} min/mean/max buckets`;
  if (s.truncated) return `the latest ${s.points.length.toLocaleString()} of ${s.total.toLocaleString()} datapoints`;
  return `${s.points.length.toLocaleString()} datapoint${s.points.length === 1 ? '' : 's'}`;
}

function RangeControl({ range }: { range: RangeSpec }) {
  const now = Date.now() / 1000;
  const [t1, setT1] = useState(() => toLocalInput(range.kind === 'abs' ? range.t1 : now - 86400));
  const [t2, setT2] = useState(() => toLocalInput(range.kind === 'abs' ? range.t2 : now));
  const [n, setN] = useState(() => String(range.kind === 'last' ? range.n : 1000));
  const [err, setErr] = useState('');
  const set = (r: RangeSpec) => {
    const all = writeRange(new URLSearchParams(location.search), r);
    const out: Record<string, string | undefined> = { range: undefined, last: undefined, t1: undefined, t2: undefined };
    for (const [k, v] of all) if (k in out) out[k] = v;
    setErr('');
    setQuery(out);
  };
  return (
    <fieldset class="cdb-range">
      <legend>Time range: {describeRange(range)}</legend>
      <div class="presets" role="group" aria-label="Preset ranges">
        <button type="button" aria-pressed={range.kind === 'default'} onClick={() => set({ kind: 'default' })}>Recent</button>
        {Object.entries(PRESETS).map(([k, p]) => (
          <button key={k} type="button" aria-pressed={range.kind === 'preset' && range.preset === k} onClick={() => isPreset(k) && set({ kind: 'preset', preset: k })}>
            {p.label.replace('Last ', '')}
          </button>
        ))}
      </div>
      <details open={range.kind === 'abs' || range.kind === 'last'}>
        <summary>Custom range</summary>
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            const a = fromLocalInput(t1), b = fromLocalInput(t2);
            if (a === null || b === null || b <= a) return setErr('The end must be a valid time after the start.');
            set({ kind: 'abs', t1: a, t2: b });
          }}
        >
          <label class="cdb-inline">From <input type="datetime-local" step="1" value={t1} onInput={(e) => setT1((e.currentTarget as HTMLInputElement).value)} /></label>
          <label class="cdb-inline">To <input type="datetime-local" step="1" value={t2} onInput={(e) => setT2((e.currentTarget as HTMLInputElement).value)} /></label>
          <button type="submit">Show range</button>
        </form>
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            const k = Number(n);
            if (!Number.isInteger(k) || k < 1) return setErr('The number of datapoints must be a whole number above 0.');
            set({ kind: 'last', n: k });
          }}
        >
          <label class="cdb-inline">Last <input type="number" min={1} step={1} value={n} onInput={(e) => setN((e.currentTarget as HTMLInputElement).value)} style={{ width: '8rem' }} /> datapoints</label>
          <button type="submit">Show</button>
        </form>
        {err && <p class="alert" role="alert">{err}</p>}
      </details>
    </fieldset>
  );
}

function TransformBox({ transform, error }: { transform: string; error: string }) {
  const [text, setText] = useState(transform);
  useEffect(() => setText(transform), [transform]);
  return (
    <form
      class="cdb-transform"
      onSubmit={(e) => {
        e.preventDefault();
        setQuery({ transform: text.trim() || undefined, view: undefined });
      }}
    >
      <label for="cdb-transform">Transform (PipeScript)</label>
      <div class="row">
        <input
          id="cdb-transform"
          class="mono"
          value={text}
          placeholder='e.g. if $ > 5  ·  map(day, mean)'
          spellcheck={false}
          autocomplete="off"
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? 'cdb-transform-err' : undefined}
          onInput={(e) => setText((e.currentTarget as HTMLInputElement).value)}
          style={{ flex: '1 1 16rem', width: 'auto' }}
        />
        <button type="submit" class="primary">Apply</button>
        {transform && (
          <button type="button" onClick={() => setQuery({ transform: undefined, view: undefined })}>Clear</button>
        )}
      </div>
      {error && (
        <p class="alert" role="alert" id="cdb-transform-err" data-testid="transform-error">
          {error}
        </p>
      )}
    </form>
  );
}

function ViewTabs({ views, current }: { views: ViewDef[]; current: ViewDef }) {
  const refs = useRef<(HTMLButtonElement | null)[]>([]);
  const go = (i: number) => {
    const v = views[(i + views.length) % views.length];
    setQuery({ view: v.id });
    refs.current[(i + views.length) % views.length]?.focus();
  };
  return (
    <div class="cdb-tabs" role="tablist" aria-label="Views">
      {views.map((v, i) => (
        <button
          key={v.id}
          ref={(el) => {
            refs.current[i] = el;
          }}
          type="button"
          role="tab"
          id={`tab-${v.id}`}
          aria-selected={v.id === current.id}
          aria-controls="cdb-viewpanel"
          tabIndex={v.id === current.id ? 0 : -1}
          onClick={() => setQuery({ view: v.id })}
          onKeyDown={(e) => {
            if (e.key === 'ArrowRight') go(i + 1);
            else if (e.key === 'ArrowLeft') go(i - 1);
            else if (e.key === 'Home') go(0);
            else if (e.key === 'End') go(views.length - 1);
            else return;
            e.preventDefault();
          }}
        >
          {v.label}
        </button>
      ))}
    </div>
  );
}

interface PanelProps {
  view: ViewDef;
  series: Series;
  points: Datapoint[];
  path: string;
  transform: string;
  loaded: Loaded;
  label: string;
  onZoom: (t1: number, t2: number) => void;
}

function ViewPanel({ view, series, points, path, transform, loaded, label, onZoom }: PanelProps) {
  const [derived, setDerived] = useState<{ key: string; points?: Datapoint[]; err?: string } | null>(null);
  const script = view.script ? compose(transform, view.script) : null;
  const w = loaded.window;
  const key = `${path}|${script}|${JSON.stringify(w)}`;
  useEffect(() => {
    if (!script) return;
    let gone = false;
    const params = w.kind === 'time' ? { t1: w.t1, t2: w.t2 } : { i1: w.i1, i2: w.i2 };
    get(dataURL(path, { ...params, transform: script })).then(
      (p) => !gone && setDerived({ key, points: p as Datapoint[] }),
      (e) => !gone && setDerived({ key, err: errText(e) }),
    );
    return () => {
      gone = true;
    };
  }, [key]);

  const title = `${label}: ${view.label}`;
  let body;
  if (script) {
    if (!derived || derived.key !== key) body = <p class="loading">Computing…</p>;
    else if (derived.err) body = <p class="alert" role="alert">{derived.err}</p>;
    else {
      const pts = derived.points ?? [];
      const s: Series = { kind: 'points', points: pts, total: pts.length, truncated: false };
      body =
        view.render === 'bars' ? (
          <Bars points={pts} keys={view.keys ?? 'plain'} label={title} />
        ) : (
          <>
            <Chart series={s} mode="line" label={title} />
            <details><summary>Show as table</summary><Table series={s} label={title} /></details>
          </>
        );
    }
  } else {
    switch (view.render) {
      case 'line':
      case 'bool':
        body = (
          <>
            <Chart series={series} mode={view.render} fields={view.fields} label={title} onZoom={onZoom} />
            {view.render === 'bool' && series.kind === 'points' && <TimeTrue points={series.points} />}
            <p class="muted cdb-hint">Drag across the chart to zoom in; the server is asked again for the selected range.</p>
            <details><summary>Show as table</summary><Table series={series} label={title} /></details>
          </>
        );
        break;
      case 'list':
        body = <TextList points={points} />;
        break;
      case 'scatter':
        body = <Scatter points={points} fields={view.fields ?? []} label={title} />;
        break;
      case 'bars':
        body = <Bars points={points} keys={view.keys ?? 'plain'} label={title} />;
        break;
      default:
        body = <Table series={series} label={title} />;
    }
  }
  return (
    <div id="cdb-viewpanel" role="tabpanel" aria-labelledby={`tab-${view.id}`} data-view={view.id}>
      {script && (
        <p class="cdb-script">
          PipeScript: <code>{script}</code>{' '}
          <button type="button" onClick={() => setQuery({ transform: script, view: undefined })}>Use as transform</button>
        </p>
      )}
      {series.kind === 'buckets' && !script && <p class="muted cdb-hint">Downsampled on the server: the band spans each bucket's min to max, the line is its mean.</p>}
      {body}
    </div>
  );
}

function TimeTrue({ points }: { points: Datapoint[] }) {
  const { trueS, totalS } = timeTrue(points);
  return (
    <p data-testid="time-true">
      True for <strong>{fmtDuration(trueS)}</strong> of {fmtDuration(totalS)}
      {totalS > 0 ? ` (${Math.round((trueS / totalS) * 100)}%)` : ''}.
    </p>
  );
}

function Downloads({ path, loaded, transform, name }: { path: string; loaded: Loaded; transform: string; name: string }) {
  const w = loaded.window;
  const params = { ...(w.kind === 'time' ? { t1: w.t1, t2: w.t2 } : { i1: w.i1, i2: w.i2 }), transform: transform || undefined };
  // Both come straight from the API, streamed by the server, so a million datapoints download
  // without passing through this page's memory.
  return (
    <div class="row cdb-downloads">
      <span class="muted">Download this range{transform ? ' (transformed)' : ''}:</span>
      <a class="btn" href={apiUrl(`crud/${path}/data.csv`, params)} download={`${name}.csv`}>CSV</a>
      <a class="btn" href={apiUrl(`crud/${path}/data`, params)} download={`${name}.json`}>JSON</a>
    </div>
  );
}
