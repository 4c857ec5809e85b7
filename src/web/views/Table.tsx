import { useState } from 'preact/hooks';
import { bucketsToCSV, columnsOf, fmtDuration, showValue, toCSV, toJSON } from './format';
import { fmtTime } from './range';
import type { Series } from './types';

const ROW = 30;
const VISIBLE = 14;

export interface TableProps {
  series: Series;
  label: string;
  /** Show numbers as durations (for `ttrue` results and the like). */
  durations?: boolean;
}

async function copy(text: string, done: (m: string) => void) {
  try {
    await navigator.clipboard.writeText(text);
    done('Copied');
  } catch {
    done('Copy failed: the browser refused the clipboard');
  }
}

/** A virtualised table: only the rows in view are in the DOM, so 5,000 rows scroll smoothly. */
export function Table({ series, label, durations }: TableProps) {
  const [top, setTop] = useState(0);
  const [note, setNote] = useState('');
  const isBuckets = series.kind === 'buckets';
  const rows = series.kind === 'buckets' ? series.buckets.length : series.points.length;
  const cols = series.kind === 'points' ? columnsOf(series.points) : null;
  const head = isBuckets ? ['Time', 'Min', 'Mean', 'Max', 'Count'] : cols ? ['Time', ...cols] : ['Time', 'Value'];
  // Newest first: the latest datapoints are what people look for.
  const first = Math.max(0, Math.floor(top / ROW) - 2);
  const last = Math.min(rows, first + VISIBLE + 4);
  const cells = (r: number): string[] => {
    const i = rows - 1 - r;
    if (series.kind === 'buckets') {
      const b = series.buckets[i];
      return [fmtTime(b.t), showValue(b.d.min), showValue(b.d.mean), showValue(b.d.max), String(b.d.count)];
    }
    const p = series.points[i];
    const t = fmtTime(p.t ?? 0);
    if (cols) {
      const d = (p.d ?? {}) as Record<string, unknown>;
      return [t, ...cols.map((c) => showValue(d[c]))];
    }
    return [t, durations && typeof p.d === 'number' ? fmtDuration(p.d) : showValue(p.d)];
  };
  const csv = () => (series.kind === 'buckets' ? bucketsToCSV(series.buckets) : toCSV(series.points));
  const json = () => (series.kind === 'buckets' ? JSON.stringify(series.buckets) : toJSON(series.points));
  const trs = [];
  for (let r = first; r < last; r++) {
    trs.push(
      <tr key={r} style={{ position: 'absolute', top: `${r * ROW}px`, height: `${ROW}px`, left: 0, right: 0 }} aria-rowindex={r + 2}>
        {cells(r).map((c, j) => (
          <td key={j} title={c}>{c}</td>
        ))}
      </tr>,
    );
  }
  return (
    <div class="cdb-table">
      <div class="row cdb-table-tools">
        <span>{rows.toLocaleString()} rows{isBuckets ? ' (time buckets)' : ''}</span>
        <button type="button" onClick={() => copy(csv(), setNote)}>Copy CSV</button>
        <button type="button" onClick={() => copy(json(), setNote)}>Copy JSON</button>
        <span role="status" aria-live="polite">{note}</span>
      </div>
      <div
        class="cdb-table-scroll"
        style={{ height: `${Math.min(rows, VISIBLE) * ROW + ROW + 2}px` }}
        onScroll={(e) => setTop((e.currentTarget as HTMLDivElement).scrollTop)}
        tabIndex={0}
        role="region"
        aria-label={`${label}, table`}
      >
        <table aria-rowcount={rows + 1} style={{ ['--cols' as string]: String(head.length) }}>
          <thead>
            <tr>
              {head.map((h) => (
                <th key={h} scope="col">{h}</th>
              ))}
            </tr>
          </thead>
          <tbody style={{ position: 'relative', display: 'block', height: `${rows * ROW}px` }}>{trs}</tbody>
        </table>
      </div>
    </div>
  );
}
