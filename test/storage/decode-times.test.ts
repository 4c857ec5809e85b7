import { describe, expect, it } from 'vitest';
import { ChunkCorruptError, type StoredPoint, decodeChunk, decodeTimes, encodeChunk } from '../../src/storage/chunks';

// decodeTimes: the time column alone, for time lookups (src/storage/sqlite/chunked.ts time2index).

const pts = (n: number, d: (i: number) => unknown, step = 1.001): StoredPoint[] =>
  Array.from({ length: n }, (_, i) => {
    const t = i % 7 === 3 ? 0 : 1_600_000_000 + Math.round(i * step * 1000) / 1000;
    return { t, j: JSON.stringify(t === 0 ? { d: d(i) } : { t, d: d(i) }) };
  });

describe('decodeTimes', () => {
  it('gives the times decodeChunk gives, bit for bit, for numeric, record, text and deflated chunks', () => {
    const cases: [string, StoredPoint[], { text?: boolean }][] = [
      ['numeric', pts(1000, (i) => Math.round(Math.sin(i) * 1000) / 100), {}],
      ['raw doubles', pts(500, (i) => Math.sin(i) * 1e300, Math.PI), {}],
      ['record', pts(700, (i) => ({ x: i / 10, y: -i })), {}],
      ['strings', pts(900, (i) => `s${i} é ✓`), {}],
      ['numeric stored as text', pts(300, (i) => i), { text: true }],
      ['one point', pts(1, () => null), {}],
    ];
    for (const [name, p, opts] of cases) {
      const bytes = encodeChunk(p, opts);
      const want = decodeChunk(bytes).times;
      const got = decodeTimes(bytes);
      expect(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(want.buffer, want.byteOffset, want.byteLength)), name).toBe(true);
      expect(got.length, name).toBe(p.length);
    }
  });

  it('refuses a damaged chunk like decodeChunk', () => {
    const bytes = encodeChunk(pts(200, (i) => i / 4));
    for (const k of [0, 5, bytes.length - 6, bytes.length - 1]) {
      const bad = Uint8Array.from(bytes);
      bad[k] ^= 0x10;
      expect(() => decodeTimes(bad), `byte ${k}`).toThrow(ChunkCorruptError);
    }
    expect(() => decodeTimes(bytes.subarray(0, 3))).toThrow(ChunkCorruptError);
  });
});
