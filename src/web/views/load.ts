import { getJSON, getText } from '../api';
import { type RangeSpec, type Window, DEFAULT_SECONDS, resolveDefault, windowOf } from './range';
import type { Bucket, Datapoint, Series } from './types';

/** GET a JSON answer from the public API; rejects with an error whose message is the server's `msg`. */
export type GetJSON = (url: string) => Promise<unknown>;

/** Above this many datapoints in range a numeric view asks the server to downsample. */
export const DOWNSAMPLE_ABOVE = 5000;
/** Datapoints read for views that cannot be downsampled (tables, text) when the range is bigger. */
export const MAX_RAW = 5000;

export interface LoadRequest {
  path: string;
  range: RangeSpec;
  transform: string;
  downlink?: boolean;
  /** Buckets to ask for when downsampling; about one per horizontal pixel of the chart. */
  buckets: number;
  now?: number;
  /** Resolves true when the stream's schema says every value is a number or boolean. */
  numeric?: Promise<boolean>;
}

export interface Loaded {
  series: Series;
  window: Window;
  /** Time span of what was read, for the chart's x scale. */
  t1?: number;
  t2?: number;
}

export function dataURL(path: string, params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '' && v !== false) q.set(k, String(v));
  return `/api/v1/crud/${path}/data?${q.toString()}`;
}

function windowParams(w: Window): Record<string, number> {
  return w.kind === 'time' ? { t1: w.t1, t2: w.t2 } : { i1: w.i1, i2: w.i2 };
}

/**
 * Reads what the stream page shows for a range: every datapoint when there are few, the server's
 * min/max/mean buckets when there are many numbers, the latest MAX_RAW datapoints otherwise.
 * Counting first (length and time2index are index lookups) keeps a million-point range from
 * ever travelling to the browser.
 */
export async function loadSeries(get: GetJSON, req: LoadRequest): Promise<Loaded> {
  const now = req.now ?? Date.now() / 1000;
  const dl = req.downlink || undefined;
  const base = (extra: Record<string, string | number | boolean | undefined>) => dataURL(req.path, { ...extra, downlink: dl });
  const t2i = async (t: number) => Number(await get(base({ q: 'time2index', t })));
  const transform = req.transform.trim() || undefined;

  // Every count the window needs is asked at once, beside the schema hint: one round trip.
  const fixed = windowOf(req.range, now);
  const lengthP = get(base({ q: 'length' })).then(Number);
  const sinceP = fixed ? null : t2i(now - DEFAULT_SECONDS);
  const boundsP = fixed?.kind === 'time' ? Promise.all([t2i(fixed.t1), t2i(fixed.t2)]) : null;
  const [length, since, bounds, numericSchema] = await Promise.all([lengthP, sinceP, boundsP, transform ? false : (req.numeric ?? false)]);

  let window: Window;
  let a: number, b: number;
  if (fixed) {
    window = fixed;
    if (bounds) [a, b] = bounds;
    else if (fixed.kind === 'index') {
      a = fixed.i1 < 0 ? Math.max(0, fixed.i1 + length) : Math.min(fixed.i1, length);
      b = fixed.i2 <= 0 ? fixed.i2 + length : Math.min(fixed.i2, length);
    } else [a, b] = [0, length];
  } else {
    window = resolveDefault(now, length - (since ?? 0));
    if (window.kind === 'time') [a, b] = [since ?? 0, length];
    else [a, b] = [Math.max(0, length + window.i1), length];
  }
  const count = Math.max(0, b - a);

  if (count <= DOWNSAMPLE_ABOVE) {
    const points = (await get(base({ ...windowParams(window), transform }))) as Datapoint[];
    return { series: { kind: 'points', points, total: points.length, truncated: false }, window };
  }
  // Big range: numbers (by schema, or by a look at the newest datapoints) are downsampled.
  let numeric = numericSchema;
  if (!numeric) {
    const probe = (await get(base({ i1: Math.max(a, b - 20), i2: b, transform }))) as Datapoint[];
    numeric = probe.length > 0 && probe.every((p) => typeof p.d === 'number' || typeof p.d === 'boolean' || p.d === undefined);
  }
  if (numeric) {
    const buckets = (await get(base({ ...windowParams(window), transform, downsample: req.buckets }))) as Bucket[];
    return { series: { kind: 'buckets', buckets, total: count }, window };
  }
  const points = (await get(base({ i1: b - MAX_RAW, i2: b, transform }))) as Datapoint[];
  return { series: { kind: 'points', points, total: count, truncated: true }, window };
}

/** The newest datapoint of the (sub)stream, raw. */
export async function loadLatest(get: GetJSON, path: string, downlink = false): Promise<Datapoint | null> {
  const r = (await get(dataURL(path, { i1: -1, i2: 0, downlink: downlink || undefined }))) as Datapoint[];
  return r.length ? r[r.length - 1] : null;
}

/** GetJSON over the shell's REST client (cookie auth, readable ApiError); counts come back as numbers. */
export const apiGet: GetJSON = (url) => {
  const [p, q] = url.replace(/^\/api\/v1\//, '').split('?');
  const query = Object.fromEntries(new URLSearchParams(q ?? ''));
  return query.q === 'length' || query.q === 'time2index' ? getText(p, { query }).then(Number) : getJSON<unknown>(p, { query });
};
