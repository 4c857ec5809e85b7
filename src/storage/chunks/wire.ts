import { POW10, type Column } from './columns';

/**
 * Comma-separated wire texts of points [from, to) of a chunk and where each starts: point i is
 * text[offs[i - from], offs[i - from + 1] - 1).
 */
export interface WireText {
  text: string;
  offs: Int32Array;
}

let scratch = Buffer.allocUnsafe(1 << 16);

/** "00".."99" as character codes. */
const DIG2 = new Uint8Array(200);
for (let i = 0; i < 100; i++) {
  DIG2[2 * i] = 48 + ((i / 10) | 0);
  DIG2[2 * i + 1] = 48 + (i % 10);
}

function digits32(y: number): number {
  return y < 10 ? 1 : y < 100 ? 2 : y < 1e3 ? 3 : y < 1e4 ? 4 : y < 1e5 ? 5 : y < 1e6 ? 6 : y < 1e7 ? 7 : y < 1e8 ? 8 : y < 1e9 ? 9 : 10;
}

/** Writes y (0 ≤ y < 2^31) as exactly `len` digits, zero-padded on the left; returns the end. */
function writePadded(buf: Buffer, pos: number, y: number, len: number): number {
  let i = pos + len;
  while (y >= 100) {
    const q = (y / 100) | 0;
    const r = (y - q * 100) << 1;
    buf[--i] = DIG2[r + 1];
    buf[--i] = DIG2[r];
    y = q;
  }
  if (y >= 10) {
    buf[--i] = DIG2[(y << 1) + 1];
    buf[--i] = DIG2[y << 1];
  } else {
    buf[--i] = 48 + y;
  }
  while (i > pos) buf[--i] = 48;
  return pos + len;
}

function writeUint(buf: Buffer, pos: number, x: number): number {
  if (x < 2147483648) return writePadded(buf, pos, x | 0, digits32(x | 0));
  const hi = Math.floor(x / 1e8);
  return writePadded(buf, writeUint(buf, pos, hi), x - hi * 1e8, 8);
}

/**
 * `k / 10^s` the way String() writes it, for the values the encoder scaled: the digits of k with
 * the point put back and trailing zeros dropped. The encoder checks the result against the stored
 * text, so a case where this differs from String() is stored another way, never answered wrongly.
 */
function writeScaled(buf: Buffer, pos: number, k: number, s: number): number {
  if (k < 0) {
    buf[pos++] = 45;
    k = -k;
  }
  if (s === 0) return writeUint(buf, pos, k);
  const p = POW10[s];
  const ip = Math.floor(k / p);
  let fr = (k - ip * p) | 0;
  pos = writeUint(buf, pos, ip);
  if (fr === 0) return pos;
  let digits = s;
  for (let q = (fr / 10) | 0; q * 10 === fr; q = (fr / 10) | 0) {
    fr = q;
    digits--;
  }
  buf[pos++] = 46;
  return writePadded(buf, pos, fr, digits);
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
  let perPoint = 14 + 2 * MAX_NUMBER;
  if (keys !== null) for (const k of keys) perPoint += k.length + 2 + MAX_NUMBER;
  if (scratch.length < n * perPoint) scratch = Buffer.allocUnsafe(n * perPoint * 2);
  const buf = scratch;
  const offs = new Int32Array(n + 1);
  const tv = t.values;
  const ti = t.ints;
  const ts = t.scale;
  const m = cols.length;
  let pos = 0;
  for (let i = from; i < to; i++) {
    offs[i - from] = pos;
    buf[pos++] = 123; // {
    buf[pos++] = 34; // "
    if (tv[i] !== 0) {
      buf[pos++] = 116; // t
      buf[pos++] = 34;
      buf[pos++] = 58; // :
      pos = ti !== null ? writeScaled(buf, pos, ti[i], ts) : writeString(buf, pos, tv[i]);
      buf[pos++] = 44; // ,
      buf[pos++] = 34;
    }
    buf[pos++] = 100; // d
    buf[pos++] = 34;
    buf[pos++] = 58;
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
  offs[n] = pos;
  return { text: buf.toString('latin1', 0, n > 0 ? pos - 1 : 0), offs };
}

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
  if (scratch.length < 64) scratch = Buffer.allocUnsafe(1 << 16);
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
  if (scratch.length < need) scratch = Buffer.allocUnsafe(need * 2);
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
  if (scratch.length < n * (7 + MAX_NUMBER)) scratch = Buffer.allocUnsafe(n * (7 + MAX_NUMBER) * 2);
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
