import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { wireJSON } from '../../src/domain/datapoints/service';
import {
  ChunkCorruptError,
  FLAG_DEFLATED,
  FORMAT_NUMERIC,
  FORMAT_RECORD,
  FORMAT_TEXT,
  type StoredPoint,
  decodeChunk,
  encodeChunk,
  firstAfter,
} from '../../src/storage/chunks';

/** The server's own wire form (t omitted when 0, d when null, o when empty), numbers as it writes them. */
function wire(t: number, d: unknown, o?: string): string {
  const dText = d === null ? null : typeof d === 'number' ? (Number.isFinite(d) ? String(d) : 'null') : JSON.stringify(d);
  return wireJSON(t, dText, o === undefined ? null : JSON.stringify(o));
}

const point = (t: number, d: unknown, o?: string): StoredPoint => ({ t, j: wire(t, d, o) });

/** Round trip through bytes: every view of the decoded chunk equals the input. */
function roundTrip(points: StoredPoint[]): number {
  const bytes = encodeChunk(points);
  const texts = points.map((p) => p.j);
  // Small ranges first, on fresh decodes: they are built alone, without the whole chunk.
  for (const [a, b] of [
    [0, 1],
    [points.length >> 1, (points.length >> 1) + 3],
    [points.length - 2, points.length],
  ]) {
    const from = Math.max(0, a);
    const to = Math.min(points.length, Math.max(from, b));
    expect(decodeChunk(bytes).wires(from, to)).toEqual(texts.slice(from, to));
    expect(decodeChunk(bytes).joined(from, to)).toBe(texts.slice(from, to).join(','));
  }
  const c = decodeChunk(bytes);
  expect(c.count).toBe(points.length);
  expect(c.format).toBe(bytes[0]);
  for (let i = 0; i < points.length; i++) {
    expect(Object.is(c.times[i], points[i].t)).toBe(true);
    expect(c.wire(i)).toBe(points[i].j);
  }
  expect(c.wires()).toEqual(points.map((p) => p.j));
  expect(c.joined()).toBe(points.map((p) => p.j).join(','));
  if (points.length > 1) {
    const a = points.length >> 1;
    expect(c.wires(a, points.length)).toEqual(points.slice(a).map((p) => p.j));
    expect(c.joined(1, a + 1)).toBe(
      points
        .slice(1, a + 1)
        .map((p) => p.j)
        .join(','),
    );
  }
  if (c.record !== null) {
    expect(c.format & ~FLAG_DEFLATED).toBe(FORMAT_RECORD);
    expect(c.numeric).toBeNull();
    for (let i = 0; i < points.length; i++) {
      const d = JSON.parse(points[i].j).d as Record<string, number>;
      expect(Object.keys(d)).toEqual(c.record.keys);
      c.record.keys.forEach((k, m) => expect(c.record!.columns[m][i]).toBe(d[k]));
    }
  }
  if (c.numeric !== null) {
    expect(c.format & ~FLAG_DEFLATED).toBe(FORMAT_NUMERIC);
    for (let i = 0; i < points.length; i++) expect(JSON.parse(points[i].j).d).toBe(c.numeric[i]);
  }
  return bytes[0] & ~FLAG_DEFLATED;
}

const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
const timeArb = fc.oneof(
  finite,
  fc.constantFrom(0, -0, 1, 1e-7, 5e-324, 1.7976931348623157e308, 1700000000.123, -1),
  fc.integer({ min: 1_600_000_000_000, max: 1_800_000_000_000 }).map((ms) => ms / 1000),
  fc.integer({ min: 1_600_000_000, max: 1_800_000_000 }),
);
const valueArb = fc.oneof(
  finite,
  fc.integer(),
  fc.integer({ min: -1e7, max: 1e7 }).map((k) => k / 100),
  fc.constantFrom(0, -0, 1e21, 1e-7, 123456789012345680000, 0.1 + 0.2, 2 ** 53, -(2 ** 60)),
);
const jsonArb = fc.oneof(
  fc.jsonValue(),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: 'binary' }),
  fc.boolean(),
  fc.constant(null),
  fc.record({ x: valueArb, y: valueArb, z: valueArb }),
);

/** Sorted timestamps like the server stores, with runs of equal ones. */
const sortedTimes = (n: fc.Arbitrary<number>) =>
  fc.array(n, { maxLength: 300 }).map((ts) => ts.sort((a, b) => a - b));

describe('chunk codec round trips', () => {
  it('gives back numeric points exactly, times bit for bit and wire text byte for byte', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(timeArb, valueArb), { minLength: 1, maxLength: 300 }), (ps) => {
        roundTrip(ps.map(([t, d]) => point(t, d)));
      }),
      { numRuns: 300 },
    );
  });

  it('gives back sorted millisecond timestamps with 2-decimal values in the numeric format', () => {
    fc.assert(
      fc.property(
        sortedTimes(fc.integer({ min: 1_600_000_000_000, max: 1_600_000_100_000 }).map((ms) => ms / 1000)),
        fc.array(fc.integer({ min: -100000, max: 100000 }), { minLength: 300, maxLength: 300 }),
        (ts, ks) => {
          if (ts.length === 0) return;
          expect(roundTrip(ts.map((t, i) => point(t, ks[i] / 100)))).toBe(FORMAT_NUMERIC);
        },
      ),
    );
  });

  it('gives back any JSON value, unicode, escapes, nested objects, nulls and o fields', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(timeArb, jsonArb, fc.option(fc.string({ unit: 'grapheme' }), { nil: undefined })), { maxLength: 200 }),
        (ps) => {
          roundTrip(ps.map(([t, d, o]) => point(t, d, o)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives back objects of numbers with the same keys, in the record format when the text allows', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ unit: 'grapheme', maxLength: 6 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.tuple(timeArb, fc.array(valueArb, { minLength: 5, maxLength: 5 })), { minLength: 1, maxLength: 100 }),
        (keys, rows) => {
          roundTrip(rows.map(([t, vs]) => point(t, Object.fromEntries(keys.map((k, m) => [k, vs[m]])))));
        },
      ),
      { numRuns: 300 },
    );
    const xyz = Array.from({ length: 500 }, (_, i) => point(1_600_000_000 + i / 8, { x: (i % 17) / 4, y: -i, z: 9.81 }));
    expect(roundTrip(xyz)).toBe(FORMAT_RECORD);
  });

  it('gives back arbitrary strings as texts, lone surrogates included', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(finite, fc.string({ unit: 'binary' })), { maxLength: 100 }), (ps) => {
        roundTrip(ps.map(([t, j]) => ({ t, j })));
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(timeArb, fc.string({ unit: 'binary' })), { maxLength: 100 }), (ps) => {
        roundTrip(ps.map(([t, s]) => ({ t, j: (t === 0 ? '{' : '{"t":' + t + ',') + '"d":"' + s + '"}' })));
      }),
    );
    roundTrip([
      { t: 1, j: '{"t":1,"d":"\ud800"}' },
      { t: 2, j: '{"t":2,"d":"\udc00x"}' },
    ]);
    roundTrip([
      { t: 1, j: '\ud800' },
      { t: 2, j: 'a\udc00b' },
      { t: 3, j: '{"t":3,"d":"😀"}' },
    ]);
  });

  it('gives back regular data that packs into less than a byte per point', () => {
    const steady = Array.from({ length: 1000 }, (_, i) => point(1_600_000_000 + i, 7));
    expect(encodeChunk(steady).length).toBeLessThan(100);
    expect(roundTrip(steady)).toBe(FORMAT_NUMERIC);
    expect(roundTrip(Array.from({ length: 1000 }, (_, i) => point(1_600_000_000 + i, i)))).toBe(FORMAT_NUMERIC);
    expect(roundTrip(Array.from({ length: 1000 }, () => point(5, true)))).toBe(FORMAT_TEXT);
  });

  it('keeps t of 0, -0 timestamps, equal timestamps and an empty chunk', () => {
    expect(roundTrip([point(0, 1), point(0, 2.5), point(0, -3)])).toBe(FORMAT_NUMERIC);
    expect(roundTrip([point(5, 1), point(5, 1), point(5, 1)])).toBe(FORMAT_NUMERIC);
    roundTrip([{ t: -0, j: '{"d":1}' }, point(1, 2)]);
    roundTrip([point(0, null), point(0, 'x'), point(0, { a: [1, { b: null }] }, 'dev/x')]);
    expect(roundTrip([])).toBe(FORMAT_TEXT);
  });
});

describe('chunk format choice', () => {
  it('stores numeric points in the numeric format and anything else as text', () => {
    const num = Array.from({ length: 1000 }, (_, i) => point(1_600_000_000 + i * 1.001, Math.round(Math.sin(i) * 10000) / 100));
    expect(encodeChunk(num)[0] & ~FLAG_DEFLATED).toBe(FORMAT_NUMERIC);
    expect(encodeChunk(num, { text: true })[0]).toBe(FORMAT_TEXT | FLAG_DEFLATED);
    expect(encodeChunk([point(1, 'a')])[0] & ~FLAG_DEFLATED).toBe(FORMAT_TEXT);
    expect(encodeChunk([point(1, 1, 'someone')])[0] & ~FLAG_DEFLATED).toBe(FORMAT_TEXT);
    expect(encodeChunk([point(1, null)])[0] & ~FLAG_DEFLATED).toBe(FORMAT_TEXT);
    expect(encodeChunk([point(1, true)])[0] & ~FLAG_DEFLATED).toBe(FORMAT_TEXT);
    expect(encodeChunk([point(1, { x: 1, y: 2 }), point(2, { x: 1, y: 2 })])[0] & ~FLAG_DEFLATED).toBe(FORMAT_RECORD);
  });

  it('stores as text objects whose keys, order or values differ, nested objects and non-latin1 keys', () => {
    const cases: unknown[][] = [
      [{ x: 1, y: 2 }, { y: 2, x: 1 }],
      [{ x: 1, y: 2 }, { x: 1 }],
      [{ x: 1 }, { x: 1, y: 2 }],
      [{ x: 1 }, { x: 'a' }],
      [{ x: 1 }, { x: null }],
      [{ x: { y: 1 } }, { x: { y: 2 } }],
      [{ ключ: 1 }, { ключ: 2 }],
      [{}, {}],
      [{ x: 1 }, 5],
      [5, { x: 1 }],
    ];
    for (const ds of cases) expect(roundTrip(ds.map((d, i) => point(i + 1, d)))).toBe(FORMAT_TEXT);
    expect(roundTrip([point(1, { x: 1 }, 'other/device'), point(2, { x: 2 })])).toBe(FORMAT_TEXT);
    expect(roundTrip([{ t: 1, j: '{"t":1,"d":{"x":1.0}}' }])).toBe(FORMAT_TEXT);
    expect(roundTrip([{ t: 1, j: '{"t":1,"d":{"x":1 }}' }])).toBe(FORMAT_TEXT);
  });

  it('stores as text a numeric-looking point whose text the server would not have written', () => {
    for (const j of ['{"t":1,"d":1.0}', '{"t":1,"d":1e2}', '{"t":1.50,"d":1}', '{"t":1,"d":-0}', '{"d":1,"t":1}', '{"t":1,"d":0x10}']) {
      const pts = [point(1, 2), { t: 1, j }];
      expect(roundTrip(pts)).toBe(FORMAT_TEXT);
    }
  });

  it('stores 1,000 jittered millisecond readings in at most 3 bytes per datapoint', () => {
    let t = 1_700_000_000;
    let v = 20;
    let seed = 1;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const pts: StoredPoint[] = [];
    for (let i = 0; i < 1000; i++) {
      t = Math.round((t + 1 + (rnd() - 0.5) * 0.1) * 1000) / 1000;
      v = Math.round((v + rnd() - 0.5) * 100) / 100;
      pts.push(point(t, v));
    }
    const bytes = encodeChunk(pts);
    expect(bytes.length).toBeLessThanOrEqual(3000);
    roundTrip(pts);
  });
});

describe('decoded chunks', () => {
  it('keep their texts when the caller reuses the buffer it decoded from', () => {
    for (const pts of [
      Array.from({ length: 50 }, (_, i) => point(1_600_000_000 + i, i / 4)),
      Array.from({ length: 50 }, (_, i) => point(1_600_000_000 + i, { x: i, y: 2 })),
      [point(1, 'a'), point(2, 'b')],
    ]) {
      const buf = Buffer.from(encodeChunk(pts));
      const c = decodeChunk(buf);
      buf.fill(0);
      expect(c.wires()).toEqual(pts.map((p) => p.j));
    }
  });
});

describe('corrupt chunks', () => {
  const samples = [
    Array.from({ length: 200 }, (_, i) => point(1_600_000_000 + i, i / 4)),
    Array.from({ length: 200 }, (_, i) => point(1_600_000_000 + i, { x: i, s: 'é' + i })),
    [point(1, 2)],
    Array.from({ length: 300 }, (_, i) => point(1_600_000_000 + i, 7)),
  ];

  it('refuses every truncation with a ChunkCorruptError', () => {
    for (const pts of samples) {
      const bytes = encodeChunk(pts);
      for (let len = 0; len < bytes.length; len++) expect(() => decodeChunk(bytes.subarray(0, len))).toThrow(ChunkCorruptError);
    }
  });

  it('refuses every flipped bit with a ChunkCorruptError', () => {
    for (const pts of samples) {
      const bytes = encodeChunk(pts);
      for (let i = 0; i < bytes.length; i++) {
        for (let bit = 0; bit < 8; bit += 3) {
          const bad = bytes.slice();
          bad[i] ^= 1 << bit;
          expect(() => decodeChunk(bad)).toThrow(ChunkCorruptError);
        }
      }
    }
  });

  it('refuses an unknown format byte and trailing bytes even with a valid checksum', async () => {
    const { crc32 } = await import('../../src/storage/chunks/bytes');
    const reseal = (body: Uint8Array) => {
      const out = new Uint8Array(body.length + 4);
      out.set(body);
      new DataView(out.buffer).setUint32(body.length, crc32(body), true);
      return out;
    };
    const bytes = encodeChunk([point(1, 2)]);
    const body = bytes.subarray(0, bytes.length - 4);
    const unknown = body.slice();
    unknown[0] = 0x07;
    expect(() => decodeChunk(reseal(unknown))).toThrow(/unknown format byte 0x7/);
    const longer = new Uint8Array(body.length + 1);
    longer.set(body);
    expect(() => decodeChunk(reseal(longer))).toThrow(ChunkCorruptError);
  });

  it('refuses ranges outside the chunk', () => {
    const c = decodeChunk(encodeChunk([point(1, 2), point(2, 3)]));
    expect(() => c.wire(2)).toThrow(RangeError);
    expect(() => c.wires(1, 0)).toThrow(RangeError);
    expect(() => c.joined(0, 3)).toThrow(RangeError);
    expect(c.joined(1, 1)).toBe('');
  });
});

describe('firstAfter', () => {
  it('finds the first timestamp strictly after t', () => {
    const ts = new Float64Array([1, 2, 2, 2, 3]);
    expect(firstAfter(ts, 0)).toBe(0);
    expect(firstAfter(ts, 2)).toBe(4);
    expect(firstAfter(ts, 1.5)).toBe(1);
    expect(firstAfter(ts, 3)).toBe(5);
    expect(firstAfter(ts, 2, 0, 2)).toBe(2);
  });
});
