/**
 * The stream page's time range, kept in the URL so a reload or a shared link shows the same data.
 *
 * URL forms: `?range=1h|1d|1w|2w|1M|3M|1y|all`, `?t1=<s>&t2=<s>` (absolute, seconds),
 * `?last=<n>` (the last n datapoints), nothing (the original's default, resolved against the data).
 */
export type RangeSpec =
  | { kind: 'default' }
  | { kind: 'preset'; preset: Preset }
  | { kind: 'abs'; t1: number; t2: number }
  | { kind: 'last'; n: number };

export const PRESETS = {
  '1h': { label: 'Last hour', seconds: 3600 },
  '1d': { label: 'Last day', seconds: 86400 },
  '1w': { label: 'Last week', seconds: 7 * 86400 },
  '2w': { label: 'Last 2 weeks', seconds: 14 * 86400 },
  '1M': { label: 'Last month', seconds: 30 * 86400 },
  '3M': { label: 'Last 3 months', seconds: 91 * 86400 },
  '1y': { label: 'Last year', seconds: 365 * 86400 },
  all: { label: 'Everything', seconds: Infinity },
} as const;
export type Preset = keyof typeof PRESETS;

export function isPreset(s: string): s is Preset {
  return Object.prototype.hasOwnProperty.call(PRESETS, s);
}

export function parseRange(q: URLSearchParams): RangeSpec {
  const r = q.get('range');
  if (r && isPreset(r)) return { kind: 'preset', preset: r };
  const last = q.get('last');
  if (last !== null && /^\d+$/.test(last) && Number(last) > 0) return { kind: 'last', n: Number(last) };
  const t1 = q.get('t1');
  const t2 = q.get('t2');
  if (t1 !== null && t2 !== null && Number.isFinite(Number(t1)) && Number.isFinite(Number(t2)) && Number(t2) > Number(t1)) {
    return { kind: 'abs', t1: Number(t1), t2: Number(t2) };
  }
  return { kind: 'default' };
}

/** Writes the range into a copy of `q`, removing the other range keys. */
export function writeRange(q: URLSearchParams, r: RangeSpec): URLSearchParams {
  const out = new URLSearchParams(q);
  for (const k of ['range', 'last', 't1', 't2']) out.delete(k);
  if (r.kind === 'preset') out.set('range', r.preset);
  else if (r.kind === 'last') out.set('last', String(r.n));
  else if (r.kind === 'abs') {
    out.set('t1', trimNum(r.t1));
    out.set('t2', trimNum(r.t2));
  }
  return out;
}

function trimNum(x: number): string {
  return String(Math.round(x * 1000) / 1000);
}

/** A concrete read: a time window (t1 exclusive, t2 inclusive) or an index window. */
export type Window = { kind: 'time'; t1: number; t2: number } | { kind: 'index'; i1: number; i2: number };

/** How many datapoints the original's default shows when the recent weeks are dense. */
export const DENSE_POINTS = 1000;
export const DEFAULT_SECONDS = 14 * 86400;

/**
 * The original's default: about the last two weeks, or the last 1,000 datapoints when those weeks
 * hold more than that (dense) or nothing at all (a stream that stopped being written).
 * `countSince` answers how many datapoints are newer than a timestamp.
 */
export function resolveDefault(now: number, inLastWeeks: number): Window {
  if (inLastWeeks > DENSE_POINTS || inLastWeeks === 0) return { kind: 'index', i1: -DENSE_POINTS, i2: 0 };
  return { kind: 'time', t1: now - DEFAULT_SECONDS, t2: now };
}

export function windowOf(r: RangeSpec, now: number): Window | null {
  switch (r.kind) {
    case 'preset': {
      const s = PRESETS[r.preset].seconds;
      return s === Infinity ? { kind: 'index', i1: 0, i2: 0 } : { kind: 'time', t1: now - s, t2: now };
    }
    case 'abs':
      return { kind: 'time', t1: r.t1, t2: r.t2 };
    case 'last':
      return { kind: 'index', i1: -r.n, i2: 0 };
    default:
      return null;
  }
}

export function describeRange(r: RangeSpec): string {
  switch (r.kind) {
    case 'preset':
      return PRESETS[r.preset].label;
    case 'abs':
      return `${fmtTime(r.t1)} – ${fmtTime(r.t2)}`;
    case 'last':
      return `Last ${r.n.toLocaleString()} datapoints`;
    default:
      return 'Recent (about two weeks, or the last 1,000 datapoints)';
  }
}

export function fmtTime(t: number): string {
  const d = new Date(t * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** `datetime-local` input value ↔ seconds. */
export function toLocalInput(t: number): string {
  return fmtTime(t).replace(' ', 'T');
}
export function fromLocalInput(s: string): number | null {
  const ms = new Date(s).getTime();
  return Number.isFinite(ms) ? ms / 1000 : null;
}
