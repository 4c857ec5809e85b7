import { describe, expect, it } from 'vitest';
import { type ChunkKey, WireCache } from '../../src/storage/sqlite/wirecache';

// The wire-bytes cache alone (its use by range reads: test/data/read-cache.test.ts).

/** Chunk `id` of `n` one-character texts "a,a,…" (as the engine's rows describe it). */
function chunk(id: number, n = 100): { key: ChunkKey; w: { bytes: Buffer; offs: Int32Array } } {
  const offs = new Int32Array(n + 1);
  for (let i = 0; i <= n; i++) offs[i] = 2 * i;
  return { key: { id, i1: id * n, i2: id * n + n - 1, t1: id, t2: id + 0.5, wire: n }, w: { bytes: Buffer.from(Array(n).fill('a').join(',')), offs } };
}
/** What one such entry is charged. */
const SIZE = (() => {
  const c = new WireCache(1 << 30);
  const { key, w } = chunk(0);
  c.put(key, w);
  return c.bytes;
})();

describe('WireCache', () => {
  it('keeps entries within its byte bound and answers them back', () => {
    const c = new WireCache(10 * SIZE);
    for (let id = 0; id < 50; id++) {
      const { key, w } = chunk(id);
      expect(c.put(key, w)).toBeDefined();
      expect(c.bytes).toBeLessThanOrEqual(10 * SIZE);
    }
    expect(c.size).toBe(10);
    const { key } = chunk(49);
    expect(c.get(key, true)!.bytes.toString()).toBe(chunk(49).w.bytes.toString());
  });

  it('keeps most of a working set a little bigger than itself read round and round (plain LRU would keep nothing)', () => {
    const c = new WireCache(40 * SIZE);
    for (let round = 0; round < 5; round++) {
      const h = c.hits;
      for (let id = 0; id < 44; id++) {
        const { key, w } = chunk(id);
        if (!c.get(key, true)) c.put(key, w);
      }
      if (round > 0) expect(c.hits - h).toBeGreaterThanOrEqual(30);
    }
  });

  it('lets a chunk read twice while in probation into the protected part', () => {
    const c = new WireCache(16 * SIZE);
    // 14 protected (7/8 of 16), then probation.
    for (let id = 0; id < 16; id++) c.put(chunk(id).key, chunk(id).w);
    c.get(chunk(15).key, true);
    // A run of new chunks turns probation over; the promoted one stays.
    for (let id = 100; id < 110; id++) c.put(chunk(id).key, chunk(id).w);
    expect(c.get(chunk(15).key, false)).toBeDefined();
    expect(c.bytes).toBeLessThanOrEqual(16 * SIZE);
  });

  it('a lookup without touch moves nothing', () => {
    const c = new WireCache(16 * SIZE);
    for (let id = 0; id < 16; id++) c.put(chunk(id).key, chunk(id).w);
    // Chunk 15 is in probation: looked up without touch it is not promoted, and goes first.
    expect(c.get(chunk(15).key, false)).toBeDefined();
    for (let id = 100; id < 103; id++) c.put(chunk(id).key, chunk(id).w);
    expect(c.get(chunk(15).key, false)).toBeUndefined();
  });

  it('is a miss, and forgets the entry, when the row read differs in count, times or wire length', () => {
    const c = new WireCache(16 * SIZE);
    for (const change of [{ i2: 98 }, { t1: 7 }, { t2: 9 }, { wire: 101 }]) {
      const { key, w } = chunk(3);
      c.put(key, w);
      expect(c.get({ ...key, ...change }, true), JSON.stringify(change)).toBeUndefined();
      expect(c.get(key, true)).toBeUndefined();
    }
    expect(c.size).toBe(0);
    expect(c.bytes).toBe(0);
  });

  it('refuses a chunk bigger than an eighth of it, and texts that do not match their row', () => {
    const big = chunk(1, 1000);
    expect(new WireCache(4 * SIZE).put(big.key, big.w)).toBeUndefined();
    const { key, w } = chunk(2);
    expect(new WireCache(16 * SIZE).put({ ...key, wire: 99 }, w)).toBeUndefined();
  });

  it('clear() empties it', () => {
    const c = new WireCache(16 * SIZE);
    for (let id = 0; id < 16; id++) c.put(chunk(id).key, chunk(id).w);
    c.clear();
    expect(c.size).toBe(0);
    expect(c.bytes).toBe(0);
    expect(c.get(chunk(3).key, true)).toBeUndefined();
  });
});
