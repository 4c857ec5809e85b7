import { useEffect, useRef } from 'preact/hooks';
import { showValue } from './format';
import { seriesColors } from '../palette';
import { fmtTime } from './range';
import { asNumber, bucketLow, pearson } from './stats';
import type { Datapoint } from './types';

const DAY = 86400;

function keyLabel(k: string, kind: 'day' | 'week' | 'bucket' | 'plain'): string {
  // `day` counts days since 1970-01-01 and `week` weeks since Monday 1970-01-05 (server time zone).
  if (kind === 'day') return new Date(Number(k) * DAY * 1000).toISOString().slice(0, 10);
  if (kind === 'week') return 'week of ' + new Date((Number(k) * 7 + 4) * DAY * 1000).toISOString().slice(0, 10);
  if (kind === 'bucket') {
    // bucket() labels carry float noise ("[67.60000000000001,67.8)"): round for reading.
    const m = /^\[([^,]+),([^)]+)\)$/.exec(k);
    if (m) return `${round(Number(m[1]))} – ${round(Number(m[2]))}`;
  }
  return k === '' ? '(empty)' : k;
}

const round = (x: number) => String(Number(x.toPrecision(10)));

/** Bars for one object of numbers, such as the result of `map(…, count)`; doubles as its own table. */
export function Bars({ points, keys, label, max = 40 }: { points: Datapoint[]; keys: 'day' | 'week' | 'bucket' | 'plain'; label: string; max?: number }) {
  const last = points[points.length - 1];
  const obj = last && last.d && typeof last.d === 'object' && !Array.isArray(last.d) ? (last.d as Record<string, unknown>) : null;
  if (!obj) return <p class="muted">No values to count in this range.</p>;
  let entries = Object.entries(obj).map(([k, v]) => [k, asNumber(v) ?? 0] as [string, number]);
  if (keys === 'plain') entries.sort((a, b) => b[1] - a[1]);
  else if (keys === 'bucket') entries.sort((a, b) => bucketLow(a[0]) - bucketLow(b[0]));
  else entries.sort((a, b) => Number(a[0]) - Number(b[0]));
  const hidden = Math.max(0, entries.length - max);
  if (keys === 'day' || keys === 'week') entries = entries.slice(-max);
  else entries = entries.slice(0, max);
  const top = Math.max(...entries.map((e) => Math.abs(e[1])), 1e-12);
  return (
    <div class="cdb-bars">
      <table aria-label={label}>
        <thead class="sr-only">
          <tr><th scope="col">Key</th><th scope="col">Value</th></tr>
        </thead>
        <tbody>
          {entries.map(([k, v]) => (
            <tr key={k}>
              <th scope="row">{keyLabel(k, keys)}</th>
              <td>
                <span class="cdb-bar" style={{ width: `${(Math.abs(v) / top) * 100}%` }} aria-hidden="true" />
                <span class="cdb-bar-v">{showValue(v)}</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {hidden > 0 && <p class="muted">{hidden} more not shown.</p>}
    </div>
  );
}

/** Free text, newest first. */
export function TextList({ points, limit = 300 }: { points: Datapoint[]; limit?: number }) {
  const shown = points.slice(-limit).reverse();
  return (
    <ol class="cdb-list" reversed>
      {shown.map((p, i) => (
        <li key={`${p.t}-${i}`}>
          <time>{fmtTime(p.t ?? 0)}</time>
          <span>{showValue(p.d)}</span>
        </li>
      ))}
    </ol>
  );
}

/** Scatter of two numeric fields with Pearson's r (the original's correlation view). */
export function Scatter({ points, fields, label }: { points: Datapoint[]; fields: string[]; label: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const xs: number[] = [], ys: number[] = [];
  for (const p of points) {
    const d = p.d as Record<string, unknown> | undefined;
    const x = d ? asNumber(d[fields[0]]) : null, y = d ? asNumber(d[fields[1]]) : null;
    if (x !== null && y !== null) { xs.push(x); ys.push(y); }
  }
  const r = pearson(xs, ys);
  useEffect(() => {
    const c = ref.current;
    if (!c) return;
    const w = (c.width = c.clientWidth * devicePixelRatio), h = (c.height = c.clientHeight * devicePixelRatio);
    const g = c.getContext('2d');
    if (!g || !xs.length) return;
    const [x0, x1] = [Math.min(...xs), Math.max(...xs)], [y0, y1] = [Math.min(...ys), Math.max(...ys)];
    const pad = 10 * devicePixelRatio;
    g.clearRect(0, 0, w, h);
    g.fillStyle = seriesColors()[0] + 'aa';
    for (let i = 0; i < xs.length; i++) {
      const px = pad + ((xs[i] - x0) / (x1 - x0 || 1)) * (w - 2 * pad), py = h - pad - ((ys[i] - y0) / (y1 - y0 || 1)) * (h - 2 * pad);
      g.fillRect(px - 2, py - 2, 4, 4);
    }
  });
  return (
    <figure class="cdb-scatter">
      <canvas ref={ref} role="img" aria-label={`${label}: ${fields[1]} against ${fields[0]}`} />
      <figcaption>
        {fields[1]} against {fields[0]}: Pearson r = <strong>{Number.isFinite(r) ? r.toFixed(3) : 'undefined'}</strong> over {xs.length} points
      </figcaption>
    </figure>
  );
}
