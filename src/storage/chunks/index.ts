/**
 * The datapoint chunk codec: a sealed run of datapoints as bytes and back, with no knowledge of
 * SQL, HTTP or services. The byte format is described in README.md next to this file.
 */
import zlib from 'node:zlib';
import { ByteReader, ByteWriter, ChunkCorruptError, crc32 } from './bytes';
import { type Column, POW10, decodeColumn, encodeColumn } from './columns';
import type { ByteSink } from './sink';
import { columnWireBytes, columnWires, columnWiresInto, prefixLengths, prefixedWires, prefixedWiresText, type WireBytes, type WireText } from './wire';

export type { WireBytes } from './wire';

export { ChunkCorruptError } from './bytes';
export { ByteSink } from './sink';

/** A datapoint as stored: its timestamp and its exact wire-form JSON text. */
export interface StoredPoint {
  readonly t: number;
  readonly j: string;
}

/** Wire texts kept as text (deflated): strings, booleans, nulls, writer `o`, mixed shapes. */
export const FORMAT_TEXT = 0x01;
/** Every datapoint `{"t":number,"d":number}`: timestamps and values as columns. */
export const FORMAT_NUMERIC = 0x02;
/** Every datapoint `{"t":number,"d":{"k1":number,…}}` with the same keys in the same order: one column per key. */
export const FORMAT_RECORD = 0x03;
/** Set on the format byte when the body after the header is raw-deflated. */
export const FLAG_DEFLATED = 0x80;

/** The values of a record chunk, one column per key, in the keys' order in the wire text. */
export interface RecordColumns {
  readonly keys: readonly string[];
  readonly columns: readonly Float64Array[];
}

export interface DecodedChunk {
  /** The chunk's first byte: a FORMAT_* kind, possibly with FLAG_DEFLATED. */
  readonly format: number;
  readonly count: number;
  /** Timestamps in index order (non-decreasing as the server stores them). */
  readonly times: Float64Array;
  /** The values when every point is `{"t":…,"d":number}`, else null. */
  readonly numeric: Float64Array | null;
  /** The values when every point is `{"t":…,"d":{same keys: numbers}}`, else null. */
  readonly record: RecordColumns | null;
  /** Point i's wire text, identical to the stored string. */
  wire(i: number): string;
  /** Wire texts of points [from, to). */
  wires(from?: number, to?: number): string[];
  /** Wire texts of points [from, to) joined by ',': the inside of a JSON array, '' when empty. */
  joined(from?: number, to?: number): string;
  /**
   * Appends the UTF-8 bytes of joined(from, to) to `sink`: what a range read writes to the
   * socket. Numeric and record chunks write them straight from their columns, without a string.
   */
  writeJoined(sink: ByteSink, from?: number, to?: number): void;
  /**
   * The whole chunk's texts as UTF-8 bytes joined by ',', with where each text starts, when every
   * text is ASCII (so byte offsets are character offsets); null otherwise. A new buffer each call,
   * for a cache to keep.
   */
  wireBytes(): WireBytes | null;
}

export interface EncodeOptions {
  /** Store as text even when the points are numeric (tests, benchmarks). */
  text?: boolean;
  /** zlib level for the deflate pass (default 6). */
  level?: number;
}

const TEXT_LATIN1 = 0;
const TEXT_UTF8 = 1;
const TEXT_UTF16 = 2;
/** 3–5: the same encodings, each text stored without its `{"t":T` prefix, which the decoder writes from the times. */
const TEXT_LATIN1_REST = 3;
const ENCODINGS = ['latin1', 'utf8', 'utf16le', 'latin1', 'utf8', 'utf16le'] as const;

const NOT_LATIN1 = /[\u0100-\uffff]/;
const NOT_ASCII = /[\u0080-\uffff]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** More keys than this and a record chunk stops paying for itself. */
const MAX_KEYS = 32;
/** Points per chunk the decoder accepts: a bound on what a corrupt count can make it allocate. */
export const MAX_CHUNK_POINTS = 1 << 24;

/** Encodes points (in index order) as one chunk. Every chunk decodes to exactly its input. */
export function encodeChunk(points: readonly StoredPoint[], opts: EncodeOptions = {}): Uint8Array {
  const n = points.length;
  if (n > MAX_CHUNK_POINTS) throw new RangeError(`a chunk holds at most ${MAX_CHUNK_POINTS} datapoints, not ${n}`);
  const times = new Float64Array(n);
  for (let i = 0; i < n; i++) times[i] = points[i].t;
  const js: string[] = new Array(n);
  for (let i = 0; i < n; i++) js[i] = points[i].j;
  const all = js.join(',');
  if (!opts.text && n > 0) {
    const starts = dStarts(points);
    if (starts !== null) {
      const c = columnar(points, starts, times, all);
      if (c !== null) return frame(c.format, c.body, c.deflate ? opts.level : -1);
    }
  }
  const w = new ByteWriter(64 + 2 * all.length);
  w.uvarint(n);
  const tc = encodeColumn(w, times);
  const prefixes = prefixLengths(tc, js);
  let texts = js;
  let text = all;
  let enc = !NOT_LATIN1.test(all) ? TEXT_LATIN1 : !LONE_SURROGATE.test(all) ? TEXT_UTF8 : TEXT_UTF16;
  if (prefixes !== null) {
    texts = new Array(n);
    for (let i = 0; i < n; i++) texts[i] = js[i].slice(prefixes[i]);
    text = texts.join('');
    // Prefixes are ASCII: the rests need the same encoding as the whole texts, or a narrower one.
    enc = (enc === TEXT_UTF16 && !LONE_SURROGATE.test(text) ? TEXT_UTF8 : enc) + TEXT_LATIN1_REST;
  }
  w.byte(enc);
  for (let i = 0; i < n; i++) w.uvarint(texts[i].length);
  w.bytes(Buffer.from(text, ENCODINGS[enc]));
  return frame(FORMAT_TEXT, w.finish(), opts.level);
}

/** Where each text's d value starts, when every text is `{"t":…,"d":…}` or `{"d":…}`. */
function dStarts(points: readonly StoredPoint[]): Int32Array | null {
  const n = points.length;
  const starts = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const j = points[i].j;
    if (j.charCodeAt(2) === 100) starts[i] = 5;
    else {
      const k = j.indexOf(',"d":', 5);
      if (k < 0) return null;
      starts[i] = k + 5;
    }
  }
  return starts;
}

/**
 * The numeric or record body when the points have that shape and the decoder's regenerated wire
 * text equals the stored texts exactly; null to store them as text.
 */
function columnar(points: readonly StoredPoint[], starts: Int32Array, times: Float64Array, all: string): { format: number; body: Uint8Array; deflate: boolean } | null {
  const n = points.length;
  const c0 = points[0].j.charCodeAt(starts[0]);
  let format: number;
  let values: Float64Array[];
  let keys: string[] | null = null;
  if ((c0 >= 48 && c0 <= 57) || c0 === 45) {
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const j = points[i].j;
      const x = parseNumber(j, starts[i], j.length - 1);
      if (!Number.isFinite(x)) return null;
      v[i] = x;
    }
    format = FORMAT_NUMERIC;
    values = [v];
  } else if (c0 === 123) {
    keys = recordKeys(points[0].j, starts[0]);
    if (keys === null) return null;
    const v = recordValues(points, starts, keys);
    if (v === null) return null;
    format = FORMAT_RECORD;
    values = v;
  } else {
    return null;
  }
  const w = new ByteWriter(16 + 4 * n * values.length);
  w.uvarint(n);
  const tc = encodeColumn(w, times);
  let keyBytes: Uint8Array[] | null = null;
  if (keys !== null) {
    keyBytes = keys.map((k) => Buffer.from(JSON.stringify(k), 'latin1'));
    w.uvarint(keys.length);
    for (const k of keyBytes) {
      w.uvarint(k.length);
      w.bytes(k);
    }
  }
  const cols = values.map((v) => encodeColumn(w, v));
  // Equal joined texts and equal lengths mean every text is equal.
  const wt = columnWires(tc, cols, keyBytes);
  if (wt.text !== all) return null;
  for (let i = 0; i < n; i++) if (wt.offs[i + 1] - wt.offs[i] - 1 !== points[i].j.length) return null;
  return { format, body: w.finish(), deflate: !(tc.packed && cols.every((c) => c.packed)) };
}

/** The keys of the first point's object when it is a flat object of numbers with latin1 keys. */
function recordKeys(j: string, from: number): string[] | null {
  let d: unknown;
  try {
    d = JSON.parse(j.slice(from, j.length - 1));
  } catch {
    return null;
  }
  if (d === null || typeof d !== 'object' || Array.isArray(d)) return null;
  const keys = Object.keys(d);
  if (keys.length === 0 || keys.length > MAX_KEYS) return null;
  for (const k of keys) {
    if (typeof (d as Record<string, unknown>)[k] !== 'number' || NOT_LATIN1.test(JSON.stringify(k))) return null;
  }
  return keys;
}

/** One column per key, parsed from texts `…"d":{K0:V0,K1:V1,…}}`; null at the first other shape. */
function recordValues(points: readonly StoredPoint[], starts: Int32Array, keys: readonly string[]): Float64Array[] | null {
  const n = points.length;
  const m = keys.length;
  const kt = keys.map((k) => JSON.stringify(k) + ':');
  const cols = keys.map(() => new Float64Array(n));
  for (let i = 0; i < n; i++) {
    const j = points[i].j;
    let pos = starts[i] + 1;
    for (let k = 0; k < m; k++) {
      if (!j.startsWith(kt[k], pos)) return null;
      pos += kt[k].length;
      const end = j.indexOf(k < m - 1 ? ',' : '}', pos);
      if (end < 0) return null;
      const x = parseNumber(j, pos, end);
      if (!Number.isFinite(x)) return null;
      cols[k][i] = x;
      pos = end + 1;
    }
    if (pos !== j.length - 1) return null;
  }
  return cols;
}

/**
 * Number(j.slice(from, end)) without the slice for plain decimals of at most 15 digits: k / 10^p
 * of exact doubles is the correctly rounded decimal, as Number() gives. Anything else goes
 * through Number(); the wire-text check after decides in any case.
 */
function parseNumber(j: string, from: number, end: number): number {
  let i = from;
  const neg = j.charCodeAt(i) === 45;
  if (neg) i++;
  let k = 0;
  let digits = 0;
  let dot = -1;
  for (; i < end; i++) {
    const c = j.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      k = k * 10 + (c - 48);
      digits++;
    } else if (c === 46 && dot < 0) {
      dot = i;
    } else {
      return +j.slice(from, end);
    }
  }
  if (digits === 0 || digits > 15) return +j.slice(from, end);
  const x = dot < 0 ? k : k / POW10[end - dot - 1];
  return neg ? -x : x;
}

/**
 * [format][uvarint body length, when deflated][body or deflated body][CRC-32 of all before, LE].
 * Level -1: do not try deflate.
 */
function frame(format: number, body: Uint8Array, level = 6): Uint8Array {
  let out: ByteWriter;
  const z = body.length > 32 && level >= 0 ? zlib.deflateRawSync(body, { level }) : null;
  if (z !== null && z.length + 4 < body.length) {
    out = new ByteWriter(z.length + 16);
    out.byte(format | FLAG_DEFLATED);
    out.uvarint(body.length);
    out.bytes(z);
  } else {
    out = new ByteWriter(body.length + 8);
    out.byte(format);
    out.bytes(body);
  }
  const c = crc32(out.finish());
  out.ensure(4);
  out.buf[out.pos++] = c & 0xff;
  out.buf[out.pos++] = (c >>> 8) & 0xff;
  out.buf[out.pos++] = (c >>> 16) & 0xff;
  out.buf[out.pos++] = c >>> 24;
  return out.finish().slice();
}

/** The format byte of an encoded chunk. */
export function chunkFormat(bytes: Uint8Array): number {
  if (bytes.length < 5) throw new ChunkCorruptError(`${bytes.length} bytes is too short`);
  return bytes[0];
}

/** The checked, inflated body of a chunk, its kind and count, and a reader positioned at its time column. */
function openBody(bytes: Uint8Array): { format: number; kind: number; body: Uint8Array; r: ByteReader; n: number } {
  const format = chunkFormat(bytes);
  const end = bytes.length - 4;
  const stored = (bytes[end] | (bytes[end + 1] << 8) | (bytes[end + 2] << 16) | (bytes[end + 3] << 24)) >>> 0;
  if (crc32(bytes.subarray(0, end)) !== stored) throw new ChunkCorruptError('checksum mismatch');
  const kind = format & ~FLAG_DEFLATED;
  if (kind !== FORMAT_TEXT && kind !== FORMAT_NUMERIC && kind !== FORMAT_RECORD) {
    throw new ChunkCorruptError(`unknown format byte 0x${format.toString(16)}`);
  }
  let body: Uint8Array;
  if (format & FLAG_DEFLATED) {
    const h = new ByteReader(bytes, 1, end);
    const len = h.uvarint();
    try {
      body = zlib.inflateRawSync(bytes.subarray(h.pos, end), { maxOutputLength: Math.max(len, 1) });
    } catch (e) {
      throw new ChunkCorruptError(`deflate stream: ${(e as Error).message}`);
    }
    if (body.length !== len) throw new ChunkCorruptError('inflated length mismatch');
  } else {
    // A copy (Buffer#slice would be a view): the wire texts are built later and the caller may
    // reuse its buffer meanwhile.
    body = Uint8Array.prototype.slice.call(bytes, 1, end);
  }
  const r = new ByteReader(body);
  const n = r.uvarint();
  // Not `n > body.length`: bit-packed columns of regular data (steady timestamps, a counter)
  // take less than a byte per point. No chunk the engine writes comes near this bound.
  if (n > MAX_CHUNK_POINTS) throw new ChunkCorruptError('count out of range');
  return { format, kind, body, r, n };
}

/**
 * Only the timestamps of a chunk (time lookups): the checks of decodeChunk up to its time column,
 * without decoding the values. The rest of the chunk is not checked here; reads decode it whole.
 */
export function decodeTimes(bytes: Uint8Array): Float64Array {
  const { r, n } = openBody(bytes);
  return decodeColumn(r, n).values;
}

/** Decodes a chunk; throws ChunkCorruptError for anything that is not exactly what encodeChunk wrote. */
export function decodeChunk(bytes: Uint8Array): DecodedChunk {
  const { format, kind, body, r, n } = openBody(bytes);
  const t = decodeColumn(r, n);
  if (kind === FORMAT_NUMERIC) {
    const d = decodeColumn(r, n);
    if (r.pos !== r.end) throw new ChunkCorruptError('trailing bytes');
    return new Decoded(format, n, t, [d], null);
  }
  if (kind === FORMAT_RECORD) {
    const m = r.uvarint();
    if (m === 0 || m > MAX_KEYS) throw new ChunkCorruptError(`${m} record keys`);
    const keyBytes: Uint8Array[] = [];
    const keys: string[] = [];
    for (let k = 0; k < m; k++) {
      const b = r.take(r.uvarint());
      keyBytes.push(b);
      try {
        keys.push(JSON.parse(Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1')) as string);
      } catch {
        throw new ChunkCorruptError('record key is not a JSON string');
      }
      if (typeof keys[k] !== 'string') throw new ChunkCorruptError('record key is not a JSON string');
    }
    const cols: Column[] = [];
    for (let k = 0; k < m; k++) cols.push(decodeColumn(r, n));
    if (r.pos !== r.end) throw new ChunkCorruptError('trailing bytes');
    return new Decoded(format, n, t, cols, keyBytes, keys);
  }
  const enc = r.byte();
  if (enc >= ENCODINGS.length) throw new ChunkCorruptError(`unknown text encoding ${enc}`);
  if (enc >= TEXT_LATIN1_REST) {
    const lens = new Int32Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) total += lens[i] = r.uvarint();
    const raw = body.subarray(r.pos);
    if (enc === TEXT_LATIN1_REST) {
      if (total !== raw.length) throw new ChunkCorruptError('text length mismatch');
      const starts = new Int32Array(n + 1);
      for (let i = 0; i < n; i++) starts[i + 1] = starts[i] + lens[i];
      return new Decoded(format, n, t, null, null, null, (from, to) => prefixedWires(t, raw, starts, from, to), true);
    }
    const rests = Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString(ENCODINGS[enc]);
    if (total !== rests.length) throw new ChunkCorruptError('text length mismatch');
    return new Decoded(format, n, t, null, null, null, () => prefixedWiresText(t, rests, lens), false);
  }
  const offs = new Int32Array(n + 1);
  let o = 0;
  for (let i = 0; i < n; i++) {
    offs[i] = o;
    o += r.uvarint() + 1;
  }
  offs[n] = o;
  const raw = body.subarray(r.pos);
  const text = Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString(ENCODINGS[enc]);
  if (text.length !== (n > 0 ? o - 1 : 0)) throw new ChunkCorruptError('text length mismatch');
  return new Decoded(format, n, t, null, null, null, () => ({ text, offs }), false);
}

class Decoded implements DecodedChunk {
  readonly times: Float64Array;
  readonly numeric: Float64Array | null;
  readonly record: RecordColumns | null;

  constructor(
    readonly format: number,
    readonly count: number,
    private readonly tc: Column,
    private readonly cols: Column[] | null,
    private readonly keyBytes: Uint8Array[] | null,
    keys: string[] | null = null,
    private readonly make: ((from: number, to: number) => WireText) | null = null,
    /** `make` (or the columns) can build a part of the chunk's texts for less than the whole. */
    private readonly partial = make === null,
  ) {
    this.times = tc.values;
    this.numeric = cols !== null && keyBytes === null ? cols[0].values : null;
    this.record = cols !== null && keys !== null ? { keys, columns: cols.map((c) => c.values) } : null;
    this.asciiColumns = cols !== null && (keyBytes === null || keyBytes.every((b) => b.every((c) => c < 0x80)));
  }

  /** Columnar with ASCII keys: the texts' latin1 bytes are their UTF-8 bytes. */
  private readonly asciiColumns: boolean;

  private w: WireText | null = null;

  private build(from: number, to: number): WireText {
    return this.make !== null ? this.make(from, to) : columnWires(this.tc, this.cols!, this.keyBytes, from, to);
  }

  /**
   * Texts of [from, to) and the index their offsets start at. The whole chunk's texts are built
   * once and kept; a range read of a small part of a chunk builds only that part.
   */
  private text(from: number, to: number): [WireText, number] {
    if (this.w === null) {
      if (this.partial && 4 * (to - from) < this.count) return [this.build(from, to), from];
      this.w = this.build(0, this.count);
    }
    return [this.w, 0];
  }

  private range(from: number, to: number): void {
    if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && from <= to && to <= this.count)) {
      throw new RangeError(`chunk range [${from}, ${to}) outside [0, ${this.count})`);
    }
  }

  wire(i: number): string {
    this.range(i, i + 1);
    // One point at a time usually means all of them in turn: build the whole chunk once.
    if (this.w === null) this.w = this.build(0, this.count);
    const { text, offs } = this.w;
    return text.slice(offs[i], offs[i + 1] - 1);
  }

  wires(from = 0, to = this.count): string[] {
    this.range(from, to);
    const [{ text, offs }, base] = this.text(from, to);
    const out: string[] = new Array(to - from);
    for (let i = from; i < to; i++) out[i - from] = text.slice(offs[i - base], offs[i - base + 1] - 1);
    return out;
  }

  joined(from = 0, to = this.count): string {
    this.range(from, to);
    if (from === to) return '';
    const [{ text, offs }, base] = this.text(from, to);
    return text.slice(offs[from - base], offs[to - base] - 1);
  }

  writeJoined(sink: ByteSink, from = 0, to = this.count): void {
    this.range(from, to);
    // Texts already built (an edge chunk read again) are copied; columns are written directly.
    if (this.w === null && this.asciiColumns) columnWiresInto(sink, this.tc, this.cols!, this.keyBytes, from, to);
    else sink.string(this.joined(from, to));
  }

  wireBytes(): WireBytes | null {
    if (this.count === 0) return null;
    if (this.w === null && this.asciiColumns) return columnWireBytes(this.tc, this.cols!, this.keyBytes);
    const [{ text, offs }] = this.text(0, this.count);
    if (NOT_ASCII.test(text)) return null;
    const bytes = Buffer.allocUnsafeSlow(text.length);
    bytes.write(text, 0, 'latin1');
    return { bytes, offs };
  }
}

/** Index of the first time strictly greater than t in [from, to) (to when none): time lookups inside a chunk. */
export function firstAfter(times: Float64Array, t: number, from = 0, to = times.length): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid] > t) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
