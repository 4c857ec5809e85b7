/**
 * The datapoint chunk codec: a sealed run of datapoints as bytes and back, with no knowledge of
 * SQL, HTTP or services. The byte format is described in README.md next to this file.
 */
import zlib from 'node:zlib';
import { ByteReader, ByteWriter, ChunkCorruptError, crc32 } from './bytes';
import { type Column, POW10, decodeColumn, encodeColumn } from './columns';
import { numericWires, type WireText } from './wire';

export { ChunkCorruptError } from './bytes';

/** A datapoint as stored: its timestamp and its exact wire-form JSON text. */
export interface StoredPoint {
  readonly t: number;
  readonly j: string;
}

/** Wire texts kept as text (deflated): strings, objects, booleans, nulls, writer `o`, mixed. */
export const FORMAT_TEXT = 0x01;
/** Every datapoint `{"t":number,"d":number}`: timestamps and values as columns. */
export const FORMAT_NUMERIC = 0x02;
/** Set on the format byte when the body after the header is raw-deflated. */
export const FLAG_DEFLATED = 0x80;

export interface DecodedChunk {
  /** The chunk's first byte: FORMAT_TEXT or FORMAT_NUMERIC, possibly with FLAG_DEFLATED. */
  readonly format: number;
  readonly count: number;
  /** Timestamps in index order (non-decreasing as the server stores them). */
  readonly times: Float64Array;
  /** The values when the chunk is numeric (every point `{"t":…,"d":number}`), else null. */
  readonly numeric: Float64Array | null;
  /** Point i's wire text, identical to the stored string. */
  wire(i: number): string;
  /** Wire texts of points [from, to). */
  wires(from?: number, to?: number): string[];
  /** Wire texts of points [from, to) joined by ',': the inside of a JSON array, '' when empty. */
  joined(from?: number, to?: number): string;
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

const NOT_LATIN1 = /[\u0100-\uffff]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Encodes points (in index order) as one chunk. Every chunk decodes to exactly its input. */
export function encodeChunk(points: readonly StoredPoint[], opts: EncodeOptions = {}): Uint8Array {
  const n = points.length;
  const times = new Float64Array(n);
  for (let i = 0; i < n; i++) times[i] = points[i].t;
  let all = '';
  if (n > 0) {
    const js: string[] = new Array(n);
    for (let i = 0; i < n; i++) js[i] = points[i].j;
    all = js.join(',');
  }
  if (!opts.text && n > 0) {
    const values = numericValues(points);
    if (values !== null) {
      const w = new ByteWriter(16 + 4 * n);
      w.uvarint(n);
      const tc = encodeColumn(w, times);
      const dc = encodeColumn(w, values);
      // The decoder regenerates the wire text from the columns; keep this codec only when that
      // gives back the stored text exactly.
      if (numericWires(tc, dc).text === all) return frame(FORMAT_NUMERIC, w.finish(), opts.level);
    }
  }
  const w = new ByteWriter(64 + 2 * all.length);
  w.uvarint(n);
  encodeColumn(w, times);
  const enc = !NOT_LATIN1.test(all) ? TEXT_LATIN1 : !LONE_SURROGATE.test(all) ? TEXT_UTF8 : TEXT_UTF16;
  w.byte(enc);
  for (let i = 0; i < n; i++) w.uvarint(points[i].j.length);
  w.bytes(Buffer.from(all, enc === TEXT_LATIN1 ? 'latin1' : enc === TEXT_UTF8 ? 'utf8' : 'utf16le'));
  return frame(FORMAT_TEXT, w.finish(), opts.level);
}

/** The values of `{"t":…,"d":<number>}` texts as candidates, or null when a text has another shape. */
function numericValues(points: readonly StoredPoint[]): Float64Array | null {
  const n = points.length;
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const j = points[i].j;
    let from: number;
    if (j.charCodeAt(2) === 100) from = 5;
    else {
      from = j.indexOf(',"d":', 5);
      if (from < 0) return null;
      from += 5;
    }
    const c = j.charCodeAt(from);
    if (!((c >= 48 && c <= 57) || c === 45)) return null;
    const x = parseNumber(j, from, j.length - 1);
    if (!Number.isFinite(x)) return null;
    v[i] = x;
  }
  return v;
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

/** [format][uvarint body length, when deflated][body or deflated body][CRC-32 of all before, LE]. */
function frame(format: number, body: Uint8Array, level = 6): Uint8Array {
  let out: ByteWriter;
  const z = body.length > 32 ? zlib.deflateRawSync(body, { level }) : null;
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

/** Decodes a chunk; throws ChunkCorruptError for anything that is not exactly what encodeChunk wrote. */
export function decodeChunk(bytes: Uint8Array): DecodedChunk {
  const format = chunkFormat(bytes);
  const end = bytes.length - 4;
  const stored = (bytes[end] | (bytes[end + 1] << 8) | (bytes[end + 2] << 16) | (bytes[end + 3] << 24)) >>> 0;
  if (crc32(bytes.subarray(0, end)) !== stored) throw new ChunkCorruptError('checksum mismatch');
  const kind = format & ~FLAG_DEFLATED;
  if (kind !== FORMAT_TEXT && kind !== FORMAT_NUMERIC) throw new ChunkCorruptError(`unknown format byte 0x${format.toString(16)}`);
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
    body = bytes.subarray(1, end);
  }
  const r = new ByteReader(body);
  const n = r.uvarint();
  if (n > body.length) throw new ChunkCorruptError('count out of range');
  const t = decodeColumn(r, n);
  if (kind === FORMAT_NUMERIC) {
    const d = decodeColumn(r, n);
    if (r.pos !== r.end) throw new ChunkCorruptError('trailing bytes');
    return new Decoded(format, n, t.values, d.values, null, t, d);
  }
  const enc = r.byte();
  if (enc > TEXT_UTF16) throw new ChunkCorruptError(`unknown text encoding ${enc}`);
  const offs = new Int32Array(n + 1);
  let o = 0;
  for (let i = 0; i < n; i++) {
    offs[i] = o;
    o += r.uvarint() + 1;
  }
  offs[n] = o;
  const raw = body.subarray(r.pos);
  const text = Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString(
    enc === TEXT_LATIN1 ? 'latin1' : enc === TEXT_UTF8 ? 'utf8' : 'utf16le',
  );
  if (text.length !== (n > 0 ? o - 1 : 0)) throw new ChunkCorruptError('text length mismatch');
  return new Decoded(format, n, t.values, null, { text, offs }, t, null);
}

class Decoded implements DecodedChunk {
  constructor(
    readonly format: number,
    readonly count: number,
    readonly times: Float64Array,
    readonly numeric: Float64Array | null,
    private w: WireText | null,
    private readonly tc: Column,
    private readonly dc: Column | null,
  ) {}

  private text(): WireText {
    if (this.w === null) this.w = numericWires(this.tc, this.dc!);
    return this.w;
  }

  private range(from: number, to: number): void {
    if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && from <= to && to <= this.count)) {
      throw new RangeError(`chunk range [${from}, ${to}) outside [0, ${this.count})`);
    }
  }

  wire(i: number): string {
    this.range(i, i + 1);
    const { text, offs } = this.text();
    return text.slice(offs[i], offs[i + 1] - 1);
  }

  wires(from = 0, to = this.count): string[] {
    this.range(from, to);
    const { text, offs } = this.text();
    const out: string[] = new Array(to - from);
    for (let i = from; i < to; i++) out[i - from] = text.slice(offs[i], offs[i + 1] - 1);
    return out;
  }

  joined(from = 0, to = this.count): string {
    this.range(from, to);
    if (from === to) return '';
    const { text, offs } = this.text();
    return text.slice(offs[from], offs[to] - 1);
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
