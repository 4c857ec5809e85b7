import type { Datapoint } from '../../pipescript/datapoint';

/** The most buckets one downsampling read may ask for. */
export const MAX_BUCKETS = 100000;

/**
 * Min, max, sum and count per bucket of equal width over [lo, hi], in flat typed arrays: a read of
 * millions of datapoints adds to numbers in place and allocates nothing per datapoint.
 */
export class Buckets {
  readonly min: Float64Array;
  readonly max: Float64Array;
  readonly sum: Float64Array;
  readonly count: Float64Array;
  private readonly scale: number;

  constructor(
    readonly n: number,
    readonly lo: number,
    readonly hi: number,
  ) {
    this.min = new Float64Array(n).fill(Infinity);
    this.max = new Float64Array(n).fill(-Infinity);
    this.sum = new Float64Array(n);
    this.count = new Float64Array(n);
    this.scale = hi > lo ? n / (hi - lo) : 0;
  }

  get width(): number {
    return this.hi > this.lo ? (this.hi - this.lo) / this.n : 0;
  }

  /** Adds one value at time t; values outside [lo, hi] (a transform may move time) are dropped. */
  add(t: number, v: number): void {
    if (!(t >= this.lo && t <= this.hi) || !Number.isFinite(v)) return;
    let k = Math.floor((t - this.lo) * this.scale);
    if (k >= this.n) k = this.n - 1;
    if (v < this.min[k]) this.min[k] = v;
    if (v > this.max[k]) this.max[k] = v;
    this.sum[k] += v;
    this.count[k]++;
  }

  /** Adds a datapoint object (transformed reads): numbers as they are, booleans as 0/1, others skipped. */
  addDatapoint(dp: Datapoint): void {
    const d = dp.d;
    if (typeof d === 'number') this.add(dp.t, d);
    else if (typeof d === 'boolean') this.add(dp.t, d ? 1 : 0);
  }

  /** The non-empty buckets as datapoints (the CSV form), in time order. */
  *datapoints(): Generator<Datapoint> {
    const w = this.width;
    for (let k = 0; k < this.n; k++) {
      const c = this.count[k];
      if (c > 0) yield { t: this.lo + k * w, d: { min: this.min[k], max: this.max[k], mean: this.sum[k] / c, count: c } };
    }
  }

  /** The non-empty buckets as JSON texts, `size` per chunk, in time order. */
  *json(size = 1000): Generator<string[]> {
    const w = this.width;
    let out: string[] = [];
    for (let k = 0; k < this.n; k++) {
      const c = this.count[k];
      if (c === 0) continue;
      const t = this.lo + k * w;
      out.push(
        `{"t":${num(t)},"d":{"min":${num(this.min[k])},"max":${num(this.max[k])},"mean":${num(this.sum[k] / c)},"count":${c}}}`,
      );
      if (out.length >= size) {
        yield out;
        out = [];
      }
    }
    if (out.length > 0) yield out;
  }
}

/** JSON has no Infinity (a sum can overflow): those become null rather than invalid JSON. */
const num = (x: number): string => (Number.isFinite(x) ? String(x) : 'null');

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/** End of the number scanned by the last numberAt call. */
let scanEnd = 0;

/**
 * Reads the JSON number starting at `i` without making a substring when it is exact in a double:
 * up to 15 significant digits with a decimal exponent of at most 22 is Clinger's fast path, where
 * one multiplication or division of two exact doubles is correctly rounded — the same value
 * Number() gives. Anything longer falls back to Number() on the slice. NaN when there is no number.
 */
export function numberAt(s: string, i: number): number {
  const start = i;
  let neg = false;
  if (s.charCodeAt(i) === 45) {
    neg = true;
    i++;
  }
  let m = 0;
  let digits = 0;
  let exp = 0;
  let c = s.charCodeAt(i);
  if (!(c >= 48 && c <= 57)) {
    scanEnd = start;
    return NaN;
  }
  for (; c >= 48 && c <= 57; c = s.charCodeAt(++i)) {
    if (digits > 0 || c !== 48) digits++;
    m = m * 10 + (c - 48);
  }
  if (c === 46) {
    for (c = s.charCodeAt(++i); c >= 48 && c <= 57; c = s.charCodeAt(++i)) {
      if (digits > 0 || c !== 48) digits++;
      m = m * 10 + (c - 48);
      exp--;
    }
  }
  let slow = digits > 15;
  if (c === 101 || c === 69) {
    c = s.charCodeAt(++i);
    let eneg = false;
    if (c === 43 || c === 45) {
      eneg = c === 45;
      c = s.charCodeAt(++i);
    }
    let e = 0;
    for (; c >= 48 && c <= 57; c = s.charCodeAt(++i)) e = e * 10 + (c - 48);
    exp += eneg ? -e : e;
  }
  scanEnd = i;
  if (!slow && (exp > 22 || exp < -22)) slow = true;
  if (slow) return Number(s.slice(start, i));
  const v = exp < 0 ? m / POW10[-exp] : m * POW10[exp];
  return neg ? -v : v;
}

/**
 * Adds one stored wire-form datapoint (`{"t":…,"d":…[,"o":…]}`) to the buckets: the numeric and
 * boolean shapes are read straight from the text; anything else (t = 0, strings, objects) is
 * parsed, and non-numeric values are skipped.
 */
export function addStored(b: Buckets, j: string): void {
  // '{"t":' then the number, then ',"d":'.
  if (j.charCodeAt(2) === 116 && j.charCodeAt(4) === 58) {
    const t = numberAt(j, 5);
    let i = scanEnd;
    if (t === t && j.charCodeAt(i) === 44 && j.charCodeAt(i + 2) === 100 && j.charCodeAt(i + 4) === 58) {
      i += 5;
      const c = j.charCodeAt(i);
      if ((c >= 48 && c <= 57) || c === 45) {
        const v = numberAt(j, i);
        const e = j.charCodeAt(scanEnd);
        if (v === v && (e === 125 || e === 44)) b.add(t, v);
        return;
      }
      if (c === 116 && j.startsWith('true', i)) return b.add(t, 1);
      if (c === 102 && j.startsWith('false', i)) return b.add(t, 0);
      // A string, object, array or null: not a number, skipped without parsing.
      if (c === 34 || c === 123 || c === 91 || c === 110) return;
    } else if (t === t && j.charCodeAt(i) === 125) return; // d is null
  }
  const x = JSON.parse(j) as { t?: number; d?: unknown };
  b.addDatapoint({ t: x.t ?? 0, d: x.d === undefined ? null : (x.d as Datapoint['d']) });
}
