import type { Bucket, Datapoint } from './types';

/** Columns for a table or CSV: objects with a few keys get one column per key. */
export function columnsOf(points: readonly Datapoint[], maxKeys = 12): string[] | null {
  const keys = new Set<string>();
  const n = Math.min(points.length, 500);
  for (let i = 0; i < n; i++) {
    const d = points[points.length - 1 - i].d;
    if (!d || typeof d !== 'object' || Array.isArray(d)) return null;
    for (const k of Object.keys(d)) {
      keys.add(k);
      if (keys.size > maxKeys) return null;
    }
  }
  return keys.size ? [...keys] : null;
}

function csvCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

/** CSV with a `t` column (seconds) and either one `d` column or one column per object key. */
export function toCSV(points: readonly Datapoint[]): string {
  const cols = columnsOf(points);
  const head = cols ? ['t', ...cols] : ['t', 'd'];
  const lines = [head.map(csvCell).join(',')];
  for (const p of points) {
    const t = String(p.t ?? 0);
    if (cols) {
      const d = (p.d ?? {}) as Record<string, unknown>;
      lines.push([t, ...cols.map((c) => csvCell(d[c]))].join(','));
    } else lines.push(t + ',' + csvCell(p.d));
  }
  return lines.join('\n') + '\n';
}

export function bucketsToCSV(b: readonly Bucket[]): string {
  return 't,min,mean,max,count\n' + b.map((x) => `${x.t},${x.d.min},${x.d.mean},${x.d.max},${x.d.count}`).join('\n') + '\n';
}

export function toJSON(points: readonly Datapoint[]): string {
  return JSON.stringify(points);
}

/** A short human text for a value: numbers trimmed, strings as is, the rest as JSON. */
export function showValue(v: unknown): string {
  if (v === undefined || v === null) return '—';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return JSON.stringify(v);
}

export function fmtDuration(s: number): string {
  if (s < 60) return `${Math.round(s * 10) / 10} s`;
  if (s < 3600) return `${Math.round(s / 6) / 10} min`;
  if (s < 86400) return `${Math.round(s / 360) / 10} h`;
  return `${Math.round(s / 8640) / 10} days`;
}
