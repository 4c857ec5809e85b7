import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteSink, decodeChunk, encodeChunk } from '../../src/storage/chunks';
import { type Column, POW10 } from '../../src/storage/chunks/columns';
import { columnWires, columnWiresInto } from '../../src/storage/chunks/wire';

// Numeric and record chunks do not store their text: the decoder writes it from the columns, and
// the encoder kept the columnar format only when that text equalled the stored one. Chunks
// already on disk were checked against the first version of the number writers, so today's
// writers must produce exactly its bytes for every column, and the byte path exactly the UTF-8
// of the string path. The first version is kept here, verbatim, as the reference.

interface WireText {
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
function referenceWires(t: Column, cols: readonly Column[], keys: readonly Uint8Array[] | null, from = 0, to = t.values.length): WireText {
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

const col = (values: number[], scale: number): Column => {
  if (scale < 0) return { values: Float64Array.from(values), scale: -1, ints: null };
  return { values: Float64Array.from(values, (k) => k / POW10[scale]), scale, ints: Float64Array.from(values) };
};

/** A column as the codec keeps it: scaled integers (|k| ≤ 2^50, scale 0–9) or raw doubles. */
const column = (n: number) =>
  fc.oneof(
    fc.tuple(
      fc.array(
        fc.oneof(
          fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
          fc.integer({ min: 0, max: 99999 }),
          fc.constantFrom(0, 1, -1, 9, 10, 99, 100, 999, 1000, 9999, 10000, 99999999, 100000000, 2 ** 31, 2 ** 32, 1e12, 1600000000123, 2 ** 50, -(2 ** 50)),
          fc.double({ min: -(2 ** 50), max: 2 ** 50, noNaN: true }).map(Math.round).map((k) => (Object.is(k, -0) ? 0 : k)),
        ),
        { minLength: n, maxLength: n },
      ),
      fc.integer({ min: 0, max: 9 }),
    ).map(([ks, s]) => col(ks, s)),
    fc
      .array(fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(0, -0, 5e-324, 1e21, 1e-7, 123e-20, -1.5)), { minLength: n, maxLength: n })
      .map((v) => col(v, -1)),
  );

const sample = fc.integer({ min: 0, max: 40 }).chain((n) =>
  fc.record({
    n: fc.constant(n),
    t: column(n),
    cols: fc.array(column(n), { minLength: 1, maxLength: 3 }),
    record: fc.boolean(),
    from: fc.integer({ min: 0, max: n }),
    len: fc.integer({ min: 0, max: n }),
  }),
);

describe('wire text of columnar chunks', () => {
  it('is byte for byte what the first version of the writers wrote, offsets included', () => {
    fc.assert(
      fc.property(sample, ({ n, t, cols, record, from, len }) => {
        const to = Math.min(n, from + len);
        const keys = record ? cols.map((_, k) => Buffer.from(JSON.stringify(`k${k}`), 'latin1')) : null;
        const use = record ? cols : cols.slice(0, 1);
        const want = referenceWires(t, use, keys, from, to);
        const got = columnWires(t, use, keys, from, to);
        expect(got.text).toBe(want.text);
        expect([...got.offs]).toEqual([...want.offs]);
        // The byte path, into a sink that has to grow.
        const sink = new ByteSink(Buffer.alloc(1));
        sink.byte(33);
        columnWiresInto(sink, t, use, keys, from, to);
        expect(sink.bytesView().toString('latin1')).toBe('!' + want.text);
        expect(sink.bytesView().equals(Buffer.from('!' + want.text, 'utf8'))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('writes the boundaries of every digit group and scale', () => {
    const ks: number[] = [];
    for (let p = 0; p <= 15; p++) for (const d of [-1, 0, 1]) ks.push(10 ** p + d, -(10 ** p + d));
    ks.push(2 ** 50, -(2 ** 50), 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32);
    for (let s = 0; s <= 9; s++) {
      const c = col(ks.filter((k) => Math.abs(k) <= 2 ** 50), s);
      const t = col(Array.from({ length: c.values.length }, (_, i) => i), 0);
      expect(columnWires(t, [c], null).text, `scale ${s}`).toBe(referenceWires(t, [c], null).text);
    }
  });
});

/** Wire texts of every kind a chunk can hold: numbers, objects of numbers, strings (latin1 and not), booleans, writers. */
const text = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => String(d)),
  fc.integer({ min: -100000, max: 100000 }).map((k) => String(k / 100)),
  fc.record({ x: fc.integer({ min: -999, max: 999 }), y: fc.integer({ min: 0, max: 99 }) }).map((o) => `{"x":${o.x / 10},"y":${o.y}}`),
  fc.string({ maxLength: 6 }).map((s) => JSON.stringify(s)),
  fc.string({ unit: 'grapheme', maxLength: 4 }).map((s) => JSON.stringify(s)),
  fc.constantFrom('true', 'false', '"é"', '{"é":1}', '"\\ud800"'),
);
const points = fc
  .array(fc.tuple(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2e9 }), fc.double({ min: 1, max: 2e9, noNaN: true })), text, fc.boolean()), {
    minLength: 1,
    maxLength: 60,
  })
  .chain((ps) => {
    const same = fc.constantFrom(...ps.map((p) => p[1]));
    return fc.tuple(fc.constant(ps), same, fc.boolean());
  })
  .map(([ps, d, uniform]) => {
    let t = 0;
    return ps.map(([dt, own, writer]) => {
      t = dt === 0 && t === 0 ? 0 : Math.max(t, t + dt / 1e3);
      const dText = uniform ? d : own;
      const j = (t === 0 ? '{' : `{"t":${t},`) + `"d":${dText}` + (writer && !uniform ? ',"o":"a/b"' : '') + '}';
      return { t, j };
    });
  });

describe('DecodedChunk.writeJoined', () => {
  it('appends exactly the UTF-8 of joined(), for chunks of every format, before and after the text was built', () => {
    fc.assert(
      fc.property(points, fc.nat(), fc.nat(), (pts, a, b) => {
        const chunk = decodeChunk(encodeChunk(pts));
        const from = a % (pts.length + 1);
        const to = from + (b % (pts.length - from + 1));
        const sink = new ByteSink(Buffer.alloc(3));
        chunk.writeJoined(sink, from, to);
        const want = Buffer.from(pts.slice(from, to).map((p) => p.j).join(','), 'utf8');
        expect(sink.bytesView().equals(want)).toBe(true);
        chunk.joined();
        const again = new ByteSink(Buffer.alloc(0));
        chunk.writeJoined(again, from, to);
        expect(again.bytesView().equals(want)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
