import { POW10, type Column } from './columns';
import type { ByteSink } from './sink';

/**
 * Comma-separated wire texts of points [from, to) of a chunk and where each starts: point i is
 * text[offs[i - from], offs[i - from + 1] - 1).
 */
export interface WireText {
  text: string;
  offs: Int32Array;
}

/** The same as bytes: point i is bytes[offs[i], offs[i + 1] - 1), the whole chunk's texts joined by ','. */
export interface WireBytes {
  bytes: Buffer;
  offs: Int32Array;
}

/**
 * The buffer texts are built in, with a DataView on it. The number writers store 4 bytes at a
 * time (a 4-digit group, or a short group and whatever follows it in the table entry) and move
 * on by the real length, so they may write up to 3 bytes past their end: later writes overwrite
 * those, and nothing past the final end is read. Every buffer size check leaves SLACK for that.
 */
let scratch = Buffer.allocUnsafe(1 << 16);
let view = new DataView(scratch.buffer, scratch.byteOffset, scratch.byteLength);
const SLACK = 8;

function ensureScratch(bytes: number): void {
  if (scratch.length >= bytes + SLACK) return;
  scratch = Buffer.allocUnsafe(2 * (bytes + SLACK));
  view = new DataView(scratch.buffer, scratch.byteOffset, scratch.byteLength);
}

/** Little-endian packed character codes of a short ASCII string (at most 4). */
function pack4(s: string): number {
  let v = 0;
  for (let k = 0; k < s.length; k++) v |= s.charCodeAt(k) << (8 * k);
  return v >>> 0;
}

/** 0..9999 as exactly 4 digits; as its shortest digits with their count. */
const D4 = new Uint32Array(10000);
const DS = new Uint32Array(10000);
const DL = new Uint8Array(10000);
for (let i = 0; i < 10000; i++) {
  D4[i] = pack4(String(i).padStart(4, '0'));
  DS[i] = pack4(String(i));
  DL[i] = String(i).length;
}
/** For scales 1–3: the fraction f (0 < f < 10^s) as `.` and its s digits without trailing zeros, with their count. */
const FRAC: Uint32Array[] = [];
const FRAC_LEN: Uint8Array[] = [];
for (let s = 1; s <= 3; s++) {
  const n = 10 ** s;
  FRAC[s] = new Uint32Array(n);
  FRAC_LEN[s] = new Uint8Array(n);
  for (let f = 1; f < n; f++) {
    const text = ('.' + String(f).padStart(s, '0')).replace(/0+$/, '');
    FRAC[s][f] = pack4(text);
    FRAC_LEN[s][f] = text.length;
  }
}

/** Writes y (0 ≤ y < 10^9) as exactly `len` digits, zero-padded on the left; returns the end. */
function writePadded(buf: Buffer, pos: number, y: number, len: number): number {
  let i = pos + len;
  while (i - pos >= 4) {
    const q = (y / 10000) | 0;
    i -= 4;
    view.setUint32(i, D4[y - q * 10000], true);
    y = q;
  }
  while (i > pos) {
    const q = (y / 10) | 0;
    buf[--i] = 48 + y - q * 10;
    y = q;
  }
  return pos + len;
}

/** The decimal digits of an integer 0 ≤ x ≤ 2^53; returns the end. */
function writeUint(pos: number, x: number): number {
  if (x < 1e4) {
    view.setUint32(pos, DS[x], true);
    return pos + DL[x];
  }
  if (x < 1e8) {
    const h = (x / 1e4) | 0;
    view.setUint32(pos, DS[h], true);
    pos += DL[h];
    view.setUint32(pos, D4[x - h * 1e4], true);
    return pos + 4;
  }
  const hi = Math.floor(x / 1e8);
  const lo = (x - hi * 1e8) | 0;
  pos = writeUint(pos, hi);
  const a = (lo / 1e4) | 0;
  view.setUint32(pos, D4[a], true);
  view.setUint32(pos + 4, D4[lo - a * 1e4], true);
  return pos + 8;
}

/**
 * `k / 10^s` the way String() writes it, for the values the encoder scaled: the digits of k with
 * the point put back and trailing zeros dropped. The encoder checks the result against the stored
 * text, so a case where this differs from String() is stored another way, never answered wrongly.
 * Chunks already stored were checked against this exact output: any change here must write the
 * same bytes for every k and s (test/storage/wire-bytes.test.ts holds the first version as reference).
 */
function writeScaled(buf: Buffer, pos: number, k: number, s: number): number {
  if (k < 0) {
    buf[pos++] = 45;
    k = -k;
  }
  if (s === 0) return writeUint(pos, k);
  const p = POW10[s];
  const ip = Math.floor(k / p);
  const fr = (k - ip * p) | 0;
  pos = writeUint(pos, ip);
  if (fr === 0) return pos;
  if (s <= 3) {
    view.setUint32(pos, FRAC[s][fr], true);
    return pos + FRAC_LEN[s][fr];
  }
  buf[pos++] = 46;
  // All s digits of the fraction, then its trailing zeros dropped (it is not 0, so a digit stays).
  pos = writePadded(buf, pos, fr, s);
  while (buf[pos - 1] === 48) pos--;
  return pos;
}

function writeString(buf: Buffer, pos: number, x: number): number {
  const s = String(x);
  for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i);
  return pos;
}

/** The longest String() of a double is 25 characters ("-1.2345678901234567e-300"). */
const MAX_NUMBER = 25;

/**
 * The wire texts of a columnar chunk, built in one buffer: `{"t":T,"d":D}` (t omitted when 0)
 * where D is the single column's value, or, with `keys` (JSON-quoted, latin1), the object
 * `{K0:V0,K1:V1,…}` of one value per column.
 */
export function columnWires(t: Column, cols: readonly Column[], keys: readonly Uint8Array[] | null, from = 0, to = t.values.length): WireText {
  const n = to - from;
  const offs = new Int32Array(n + 1);
  const pos = writeTexts(t, cols, keys, from, to, offs);
  offs[n] = pos;
  return { text: scratch.toString('latin1', 0, n > 0 ? pos - 1 : 0), offs };
}

/**
 * Appends the same texts joined by ',' to `sink` as bytes, straight from the columns (no string
 * in between): the UTF-8 of columnWires(…).text when every key is ASCII (the numbers always are).
 */
export function columnWiresInto(sink: ByteSink, t: Column, cols: readonly Column[], keys: readonly Uint8Array[] | null, from = 0, to = t.values.length): void {
  const pos = writeTexts(t, cols, keys, from, to, null);
  if (to > from) sink.bytes(scratch, 0, pos - 1);
}

/**
 * The wire texts of the whole chunk as one buffer of their bytes joined by ',' (latin1: the caller
 * uses it only when every key is ASCII, so these are the UTF-8 bytes too) with where each starts
 * (as in WireText, in bytes): what the SQLite engine's wire-bytes cache keeps.
 */
export function columnWireBytes(t: Column, cols: readonly Column[], keys: readonly Uint8Array[] | null): WireBytes {
  const n = t.values.length;
  const offs = new Int32Array(n + 1);
  const pos = writeTexts(t, cols, keys, 0, n, offs);
  offs[n] = pos;
  const len = n > 0 ? pos - 1 : 0;
  // Not from the Buffer pool: a kept buffer must not pin an 8 KB slab shared with others.
  const bytes = Buffer.allocUnsafeSlow(len);
  scratch.copy(bytes, 0, 0, len);
  return { bytes, offs };
}

/** Writes the texts of [from, to) into `scratch`, each followed by ','; `offs` gets where each starts. Returns the end. */
function writeTexts(t: Column, cols: readonly Column[], keys: readonly Uint8Array[] | null, from: number, to: number, offs: Int32Array | null): number {
  const n = to - from;
  let perPoint = 14 + 2 * MAX_NUMBER;
  if (keys !== null) for (const k of keys) perPoint += k.length + 2 + MAX_NUMBER;
  ensureScratch(n * perPoint);
  const buf = scratch;
  const tv = t.values;
  const ti = t.ints;
  const ts = t.scale;
  const m = cols.length;
  let pos = 0;
  for (let i = from; i < to; i++) {
    if (offs !== null) offs[i - from] = pos;
    if (tv[i] !== 0) {
      view.setUint32(pos, OPEN_T, true);
      buf[pos + 4] = 58; // :
      pos = ti !== null ? writeScaled(buf, pos + 5, ti[i], ts) : writeString(buf, pos + 5, tv[i]);
      view.setUint32(pos, COMMA_D, true);
      buf[pos + 4] = 58;
      pos += 5;
    } else {
      view.setUint32(pos, OPEN_D, true);
      buf[pos + 4] = 58;
      pos += 5;
    }
    if (keys === null) {
      const c = cols[0];
      pos = c.ints !== null ? writeScaled(buf, pos, c.ints[i], c.scale) : writeString(buf, pos, c.values[i]);
    } else {
      buf[pos++] = 123;
      for (let k = 0; k < m; k++) {
        if (k > 0) buf[pos++] = 44;
        const key = keys[k];
        for (let b = 0; b < key.length; b++) buf[pos++] = key[b];
        buf[pos++] = 58;
        const c = cols[k];
        pos = c.ints !== null ? writeScaled(buf, pos, c.ints[i], c.scale) : writeString(buf, pos, c.values[i]);
      }
      buf[pos++] = 125;
    }
    buf[pos++] = 125; // }
    buf[pos++] = 44; // ,
  }
  return pos;
}

/** `{"t"`, `,"d"` and `{"d"` as little-endian words. */
const OPEN_T = pack4('{"t"');
const COMMA_D = pack4(',"d"');
const OPEN_D = pack4('{"d"');

/** `{"t":T` (or `{` when t is 0) for point i, as the decoder writes it; returns the end. */
function writePrefix(buf: Buffer, pos: number, t: Column, i: number): number {
  buf[pos++] = 123;
  const x = t.values[i];
  if (x !== 0) {
    buf[pos++] = 34;
    buf[pos++] = 116;
    buf[pos++] = 34;
    buf[pos++] = 58;
    pos = t.ints !== null ? writeScaled(buf, pos, t.ints[i], t.scale) : writeString(buf, pos, x);
  }
  return pos;
}

/**
 * How long each text's timestamp prefix is when every text starts with `{"t":T` (`{` at t = 0)
 * exactly as the decoder would write it, else null: the text chunk then stores only the rests.
 */
export function prefixLengths(t: Column, texts: readonly string[]): Int32Array | null {
  const n = texts.length;
  const lens = new Int32Array(n);
  ensureScratch(64);
  const buf = scratch;
  for (let i = 0; i < n; i++) {
    const end = writePrefix(buf, 0, t, i);
    const j = texts[i];
    if (j.length < end) return null;
    for (let k = 0; k < end; k++) if (j.charCodeAt(k) !== buf[k]) return null;
    lens[i] = end;
  }
  return lens;
}

/** The wire texts of a latin1 text chunk stored without timestamp prefixes: prefix + rest per point. */
export function prefixedWires(t: Column, rests: Uint8Array, restStarts: Int32Array, from = 0, to = restStarts.length - 1): WireText {
  const n = to - from;
  const need = restStarts[to] - restStarts[from] + n * (7 + MAX_NUMBER);
  ensureScratch(need);
  const buf = scratch;
  const offs = new Int32Array(n + 1);
  let pos = 0;
  let r = restStarts[from];
  for (let i = from; i < to; i++) {
    offs[i - from] = pos;
    pos = writePrefix(buf, pos, t, i);
    const len = restStarts[i + 1] - r;
    if (len > 32) {
      buf.set(rests.subarray(r, r + len), pos);
      pos += len;
      r += len;
    } else {
      for (let k = 0; k < len; k++) buf[pos++] = rests[r++];
    }
    buf[pos++] = 44;
  }
  offs[n] = pos;
  return { text: buf.toString('latin1', 0, n > 0 ? pos - 1 : 0), offs };
}

/** The texts of a non-latin1 text chunk stored without timestamp prefixes: prefix + rest, joined. */
export function prefixedWiresText(t: Column, rests: string, restLens: Int32Array): WireText {
  const n = restLens.length;
  ensureScratch(n * (7 + MAX_NUMBER));
  const buf = scratch;
  const pre = new Int32Array(n + 1);
  let pos = 0;
  for (let i = 0; i < n; i++) {
    pre[i] = pos;
    pos = writePrefix(buf, pos, t, i);
  }
  pre[n] = pos;
  const prefixes = buf.toString('latin1', 0, pos);
  const parts: string[] = new Array(n);
  const offs = new Int32Array(n + 1);
  let r = 0;
  let o = 0;
  for (let i = 0; i < n; i++) {
    const len = restLens[i];
    parts[i] = prefixes.slice(pre[i], pre[i + 1]) + rests.slice(r, r + len);
    r += len;
    offs[i] = o;
    o += pre[i + 1] - pre[i] + len + 1;
  }
  offs[n] = o;
  return { text: parts.join(','), offs };
}
