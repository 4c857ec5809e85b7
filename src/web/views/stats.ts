import type { Datapoint } from './types';

/** The original counted 0/1 as booleans and numeric strings as numbers in its view checks. */
export function asNumber(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return null;
}

/** Seconds spent true: each true datapoint counts until the next datapoint (like `ttrue`). */
export function timeTrue(points: readonly Datapoint[]): { trueS: number; totalS: number } {
  let trueS = 0;
  for (let i = 0; i + 1 < points.length; i++) {
    if (points[i].d === true || points[i].d === 1) trueS += (points[i + 1].t ?? 0) - (points[i].t ?? 0);
  }
  const totalS = points.length > 1 ? (points[points.length - 1].t ?? 0) - (points[0].t ?? 0) : 0;
  return { trueS, totalS };
}

export function pearson(xs: readonly number[], ys: readonly number[]): number {
  const n = Math.min(xs.length, ys.length);
  let sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  for (let i = 0; i < n; i++) {
    sx += xs[i]; sy += ys[i]; sxx += xs[i] * xs[i]; syy += ys[i] * ys[i]; sxy += xs[i] * ys[i];
  }
  const cov = sxy - (sx * sy) / n;
  const den = Math.sqrt((sxx - (sx * sx) / n) * (syy - (sy * sy) / n));
  return den === 0 ? NaN : cov / den;
}

/** A round bucket width giving about `target` buckets over [min, max]. */
export function niceStep(min: number, max: number, target = 20): number {
  const span = max - min;
  if (!(span > 0)) return 1;
  const raw = span / target;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const m = raw / p;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

/** Keys of `map(bucket(..), count)` look like "[0,10)": sort them by their lower bound. */
export function bucketLow(key: string): number {
  const m = /^\[([^,]+),/.exec(key);
  return m ? Number(m[1]) : NaN;
}
