import { ByteReader, ByteWriter, ChunkCorruptError, INT_LIMIT, LITTLE_ENDIAN, unzigzag, uvarintLength, zigzag } from './bytes';

/**
 * A column of doubles, as stored: either every value is exactly `int / 10^scale` for a small
 * scale (decimal sensor readings, millisecond timestamps), kept as integers, or raw doubles.
 */
export interface Column {
  values: Float64Array;
  /** 0..MAX_SCALE when `ints` holds the scaled integers; -1 for raw doubles. */
  scale: number;
  ints: Float64Array | null;
  /** Set by the encoder when the column is bit-packed: deflate finds nothing left to remove. */
  packed?: boolean;
}

export const MAX_SCALE = 9;
export const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16];

const RAW = 0;
const DELTA = 1;
const BASE = 2;
const DOD = 3;
const PACK = 4;
const PACK_DELTA = 5;
/** Widest bit-packed field: the packing keeps at most 32 bits in flight in uint32 arithmetic. */
const MAX_WIDTH = 25;

const bitWidth = (x: number): number => (x === 0 ? 0 : x < 4294967296 ? 32 - Math.clz32(x) : 33);

/**
 * The smallest scale at which every value is exactly `k / 10^scale` with |k| ≤ INT_LIMIT, as the
 * decoder computes it (so the decoded double is bit-identical), or -1. -0 and non-finite values
 * are never scaled.
 */
function scaleOf(v: Float64Array): number {
  const n = v.length;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const x = v[i];
    if (!Number.isFinite(x) || Object.is(x, -0)) return -1;
    for (;;) {
      const k = Math.round(x * POW10[s]);
      if (Math.abs(k) <= INT_LIMIT && k / POW10[s] === x) break;
      if (++s > MAX_SCALE) return -1;
    }
  }
  return s;
}

function toInts(v: Float64Array, s: number): Float64Array | null {
  const n = v.length;
  const p = POW10[s];
  const ints = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const k = Math.round(v[i] * p);
    // A value exact at a smaller scale may leave the range at this one.
    if (Math.abs(k) > INT_LIMIT || k / p !== v[i]) return null;
    ints[i] = k;
  }
  return ints;
}

/** Appends the column; returns it as the decoder will see it. */
export function encodeColumn(w: ByteWriter, v: Float64Array): Column {
  const n = v.length;
  const s = n === 0 ? -1 : scaleOf(v);
  const ints = s < 0 ? null : toInts(v, s);
  if (ints === null) {
    writeRaw(w, v);
    return { values: v, scale: -1, ints: null };
  }
  // Pick the integer coding with the fewest bytes: plain deltas suit random walks, deltas above
  // the smallest one suit jittered sampling, delta-of-deltas suit steady sampling, bit-packing
  // (of the values or of the deltas) suits values spread evenly over a range.
  let sDelta = 0;
  let sDod = 0;
  let minD = Infinity;
  let maxD = -Infinity;
  let minK = ints[0];
  let maxK = ints[0];
  for (let i = 1; i < n; i++) {
    const k = ints[i];
    const d = k - ints[i - 1];
    sDelta += uvarintLength(zigzag(d));
    if (d < minD) minD = d;
    if (d > maxD) maxD = d;
    if (k < minK) minK = k;
    if (k > maxK) maxK = k;
    if (i >= 2) sDod += uvarintLength(zigzag(d - (ints[i - 1] - ints[i - 2])));
  }
  let sBase = Infinity;
  let wDelta = 99;
  if (n >= 2) {
    sBase = uvarintLength(zigzag(minD));
    for (let i = 1; i < n; i++) sBase += uvarintLength(ints[i] - ints[i - 1] - minD);
    sDod += uvarintLength(zigzag(ints[1] - ints[0]));
    wDelta = bitWidth(maxD - minD);
  }
  const wK = bitWidth(maxK - minK);
  const sPack = wK <= MAX_WIDTH ? uvarintLength(zigzag(minK)) + 1 + Math.ceil((n * wK) / 8) : Infinity;
  const sPackDelta = wDelta <= MAX_WIDTH ? uvarintLength(zigzag(minD)) + 1 + Math.ceil(((n - 1) * wDelta) / 8) : Infinity;
  const sizes = [Infinity, sDelta, sBase, sDod, sPack, sPackDelta];
  let mode = DELTA;
  for (let m = BASE; m <= PACK_DELTA; m++) if (sizes[m] < sizes[mode]) mode = m;
  w.byte(mode);
  w.byte(s);
  if (mode === PACK) {
    w.uvarint(zigzag(minK));
    w.byte(wK);
    pack(w, ints, 0, minK, wK, false);
    return { values: v, scale: s, ints, packed: true };
  }
  w.uvarint(zigzag(ints[0]));
  if (mode === DELTA) {
    for (let i = 1; i < n; i++) w.uvarint(zigzag(ints[i] - ints[i - 1]));
  } else if (mode === BASE) {
    w.uvarint(zigzag(minD));
    for (let i = 1; i < n; i++) w.uvarint(ints[i] - ints[i - 1] - minD);
  } else if (mode === PACK_DELTA) {
    w.uvarint(zigzag(minD));
    w.byte(wDelta);
    pack(w, ints, 1, minD, wDelta, true);
  } else if (mode === DOD && n >= 2) {
    w.uvarint(zigzag(ints[1] - ints[0]));
    for (let i = 2; i < n; i++) w.uvarint(zigzag(ints[i] - 2 * ints[i - 1] + ints[i - 2]));
  }
  return { values: v, scale: s, ints, packed: mode === PACK_DELTA };
}

/** (ints[i] or ints[i] - ints[i-1]) - base for i ≥ from, in `width` bits each, least significant first. */
function pack(w: ByteWriter, ints: Float64Array, from: number, base: number, width: number, delta: boolean): void {
  const n = ints.length;
  w.ensure(Math.ceil(((n - from) * width) / 8) + 4);
  const out = w.buf;
  let p = w.pos;
  let acc = 0;
  let bits = 0;
  for (let i = from; i < n; i++) {
    const x = (delta ? ints[i] - ints[i - 1] : ints[i]) - base;
    acc = (acc | (x << bits)) >>> 0;
    bits += width;
    while (bits >= 8) {
      out[p++] = acc & 0xff;
      acc >>>= 8;
      bits -= 8;
    }
  }
  if (bits > 0) out[p++] = acc;
  w.pos = p;
}

/**
 * Raw doubles, each XORed with the previous one and split into 8 byte planes (least significant
 * first): neighbouring readings share sign, exponent and top mantissa bits, so the high planes
 * become runs of zeros that the deflate pass removes.
 */
function writeRaw(w: ByteWriter, v: Float64Array): void {
  const n = v.length;
  w.byte(RAW);
  w.ensure(8 * n);
  const src = new Uint8Array(v.buffer, v.byteOffset, 8 * n);
  const out = w.buf;
  const base = w.pos;
  for (let b = 0; b < 8; b++) {
    const bb = LITTLE_ENDIAN ? b : 7 - b;
    const o = base + b * n;
    if (n > 0) out[o] = src[bb];
    for (let i = 1; i < n; i++) out[o + i] = src[i * 8 + bb] ^ src[(i - 1) * 8 + bb];
  }
  w.pos += 8 * n;
}

let POS = 0;

/** uvarint at POS (module state keeps the hot loops free of allocations and calls that do not inline). */
function uv(buf: Uint8Array, end: number): number {
  const p = POS;
  if (p < end) {
    const b = buf[p];
    if (b < 0x80) {
      POS = p + 1;
      return b;
    }
  }
  return uvSlow(buf, end);
}

function uvSlow(buf: Uint8Array, end: number): number {
  const r = new ByteReader(buf, POS, end);
  const x = r.uvarint();
  POS = r.pos;
  return x;
}

const unzz = (u: number): number => (u < 4294967296 ? (u >>> 1) ^ -(u & 1) : unzigzag(u));

export function decodeColumn(r: ByteReader, n: number): Column {
  const mode = r.byte();
  if (mode === RAW) {
    const planes = r.take(8 * n);
    const values = new Float64Array(n);
    const dst = new Uint8Array(values.buffer);
    for (let b = 0; b < 8; b++) {
      const bb = LITTLE_ENDIAN ? b : 7 - b;
      const o = b * n;
      if (n > 0) dst[bb] = planes[o];
      for (let i = 1; i < n; i++) dst[i * 8 + bb] = planes[o + i] ^ dst[(i - 1) * 8 + bb];
    }
    return { values, scale: -1, ints: null };
  }
  if (mode < DELTA || mode > PACK_DELTA) throw new ChunkCorruptError(`unknown column coding ${mode}`);
  const s = r.byte();
  if (s > MAX_SCALE) throw new ChunkCorruptError(`scale ${s} out of range`);
  if (n === 0) throw new ChunkCorruptError('scaled column without values');
  const ints = new Float64Array(n);
  const values = new Float64Array(n);
  const buf = r.buf;
  const end = r.end;
  POS = r.pos;
  if (mode === PACK) {
    const base = unzz(uv(buf, end));
    r.pos = POS;
    unpack(r, ints, 0, base, r.byte(), false);
    return scaled(ints, values, s);
  }
  let k = unzz(uv(buf, end));
  ints[0] = k;
  if (mode === PACK_DELTA) {
    const base = unzz(uv(buf, end));
    r.pos = POS;
    unpack(r, ints, 1, base, r.byte(), true);
    return scaled(ints, values, s);
  }
  if (mode === DELTA) {
    for (let i = 1; i < n; i++) ints[i] = k += unzz(uv(buf, end));
  } else if (mode === BASE) {
    const base = n >= 2 ? unzz(uv(buf, end)) : 0;
    for (let i = 1; i < n; i++) ints[i] = k += base + uv(buf, end);
  } else if (mode === DOD && n >= 2) {
    let d = unzz(uv(buf, end));
    ints[1] = k += d;
    for (let i = 2; i < n; i++) ints[i] = k += d += unzz(uv(buf, end));
  }
  r.pos = POS;
  return scaled(ints, values, s);
}

function unpack(r: ByteReader, ints: Float64Array, from: number, base: number, width: number, delta: boolean): void {
  if (width > MAX_WIDTH) throw new ChunkCorruptError(`packed width ${width}`);
  const n = ints.length;
  const bytes = r.take(Math.ceil(((n - from) * width) / 8));
  const mask = width === 0 ? 0 : 2 ** width - 1;
  let p = 0;
  let acc = 0;
  let bits = 0;
  let k = from > 0 ? ints[0] : 0;
  for (let i = from; i < n; i++) {
    while (bits < width) {
      acc = (acc | (bytes[p++] << bits)) >>> 0;
      bits += 8;
    }
    const x = (acc & mask) + base;
    acc >>>= width;
    bits -= width;
    ints[i] = delta ? (k += x) : x;
  }
}

function scaled(ints: Float64Array, values: Float64Array, s: number): Column {
  const n = ints.length;
  const p10 = POW10[s];
  let bad = false;
  for (let i = 0; i < n; i++) {
    const x = ints[i];
    bad ||= !(x <= INT_LIMIT && x >= -INT_LIMIT);
    values[i] = x / p10;
  }
  if (bad) throw new ChunkCorruptError('scaled value out of range');
  return { values, scale: s, ints };
}
