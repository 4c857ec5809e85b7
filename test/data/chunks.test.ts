import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CHUNK_BYTES, CHUNK_POINTS } from '../../src/storage/sqlite/chunked';
import { type TestApp, createUser, keyAuth, makeApp } from '../helpers';

let t: TestApp;
let key: string;
let n = 0;
let path = '';
const AUTH = () => keyAuth(key);

const post = (p: string, body: unknown, q = '') => t.http.post(`${p}/data${q}`).set('Authorization', AUTH()).send(body as object);
const put = (p: string, body: unknown) => t.http.put(`${p}/data`).set('Authorization', AUTH()).send(body as object);
const get = (p: string, q: string) => t.http.get(`${p}/data?${q}`).set('Authorization', AUTH());

/** The wire text the original would send for these datapoints. */
const wire = (pts: unknown[]) => '[' + pts.map((p) => JSON.stringify(p)).join(',') + ']';

/**
 * How the stream's substream is laid out in the engine's tables (both engines share the layout:
 * sealed rows in `chunks`, the tail one row per datapoint in `datapoints`).
 */
async function layout(p: string, sub = 0): Promise<{ chunks: number; tail: number; sizes: number[] }> {
  const name = p.split('/').pop()!;
  let rows: { i1: number; i2: number }[];
  let tail: number;
  if (t.pg) {
    const s = t.pg.schema;
    const id = (await t.pg.query<{ id: number }>(`SELECT id FROM ${s}.streams WHERE name = $1`, [name])).rows[0].id;
    rows = (await t.pg.query<{ i1: number; i2: number }>(`SELECT i1::int, i2::int FROM ${s}.chunks WHERE stream_id = $1 AND sub = $2 ORDER BY i1`, [id, sub])).rows;
    tail = (await t.pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${s}.datapoints WHERE stream_id = $1 AND sub = $2`, [id, sub])).rows[0].n;
  } else {
    const db = t.db!;
    const id = (db.prepare('SELECT id FROM streams WHERE name = ?').get(name) as { id: number }).id;
    rows = db.prepare('SELECT i1, i2 FROM chunks WHERE stream_id = ? AND sub = ? ORDER BY i1').all(id, sub) as { i1: number; i2: number }[];
    tail = (db.prepare('SELECT count(*) AS n FROM datapoints WHERE stream_id = ? AND sub = ?').get(id, sub) as { n: number }).n;
  }
  return { chunks: rows.length, tail, sizes: rows.map((r) => r.i2 - r.i1 + 1) };
}

const pts = (count: number, start = 0, d: (i: number) => unknown = (i) => i) =>
  Array.from({ length: count }, (_, i) => ({ t: 1000 + start + i, d: d(start + i) }));

/** Every way of reading the stream answers the same datapoints as `all`, byte for byte. */
async function expectReads(p: string, all: { t: number; d?: unknown }[], q = '') {
  const whole = await get(p, `i1=0&i2=0${q}`);
  expect(whole.status).toBe(200);
  expect(whole.text).toBe(wire(all));
  expect((await get(p, `q=length${q}`)).text).toBe(String(all.length));
  for (const [a, b] of [
    [0, 1],
    [CHUNK_POINTS - 1, CHUNK_POINTS + 1],
    [CHUNK_POINTS, CHUNK_POINTS + 3],
    [3, all.length - 2],
    [-5, 0],
  ]) {
    const r = await get(p, `i1=${a}&i2=${b}${q}`);
    const lo = a < 0 ? Math.max(0, all.length + a) : Math.min(a, all.length);
    const hi = b <= 0 ? all.length + b : Math.min(b, all.length);
    if (hi < lo || (a > 0 && a >= all.length)) continue;
    expect(r.text, `i1=${a}&i2=${b}`).toBe(wire(all.slice(lo, hi)));
  }
}

beforeAll(async () => {
  t = await makeApp();
  key = await createUser(t, 'carol', 'pw', { public: false });
});
afterAll(() => t.close());
beforeEach(async () => {
  path = `/api/v1/crud/carol/user/c${++n}`;
  expect((await t.http.post(path).set('Authorization', AUTH()).send({ schema: '{}', downlink: true })).status).toBe(200);
});

describe('sealing chunks', () => {
  it('exactly one full chunk is sealed and leaves no tail', async () => {
    const all = pts(CHUNK_POINTS);
    expect((await post(path, all)).status).toBe(200);
    expect(await layout(path)).toEqual({ chunks: 1, tail: 0, sizes: [CHUNK_POINTS] });
    await expectReads(path, all);
  });

  it('one more than a chunk leaves one tail row', async () => {
    const all = pts(CHUNK_POINTS + 1);
    expect((await post(path, all)).status).toBe(200);
    expect(await layout(path)).toEqual({ chunks: 1, tail: 1, sizes: [CHUNK_POINTS] });
    await expectReads(path, all);
  });

  it('single inserts seal when the tail fills, in the inserting request', async () => {
    const all = pts(CHUNK_POINTS + 2);
    for (let i = 0; i < CHUNK_POINTS - 1; i += 100) expect((await post(path, all.slice(i, Math.min(i + 100, CHUNK_POINTS - 1)))).status).toBe(200);
    expect(await layout(path)).toEqual({ chunks: 0, tail: CHUNK_POINTS - 1, sizes: [] });
    expect((await post(path, [all[CHUNK_POINTS - 1]])).status).toBe(200);
    expect(await layout(path)).toEqual({ chunks: 1, tail: 0, sizes: [CHUNK_POINTS] });
    expect((await post(path, all.slice(CHUNK_POINTS))).status).toBe(200);
    await expectReads(path, all);
  });

  it('a big batch goes straight into chunks', async () => {
    const all = pts(3 * CHUNK_POINTS + 17);
    expect((await post(path, all)).status).toBe(200);
    expect(await layout(path)).toEqual({ chunks: 3, tail: 17, sizes: [CHUNK_POINTS, CHUNK_POINTS, CHUNK_POINTS] });
    await expectReads(path, all);
  });

  it('a chunk seals early once its wire text reaches the byte cap', async () => {
    const big = 'x'.repeat(10_000);
    const all = pts(20, 0, () => big);
    expect((await post(path, all)).status).toBe(200);
    const per = Math.ceil(CHUNK_BYTES / JSON.stringify(all[0]).length);
    expect((await layout(path)).sizes[0]).toBe(per);
    await expectReads(path, all);
  });

  it('restamping across a seal keeps the stored timestamps', async () => {
    const first = pts(CHUNK_POINTS - 2, 0, (i) => i).map((p) => ({ ...p, t: 500 }));
    expect((await post(path, first)).status).toBe(200);
    const late = [{ t: 1, d: 'a' }, { t: 2, d: 'b' }, { t: 3, d: 'c' }, { t: 600, d: 'd' }];
    expect((await put(path, late)).status).toBe(200);
    expect((await layout(path)).chunks).toBe(1);
    const expected = [...first, { t: 500, d: 'a' }, { t: 500, d: 'b' }, { t: 500, d: 'c' }, { t: 600, d: 'd' }];
    await expectReads(path, expected);
    // Ordering is still enforced against the tail and the chunk.
    expect((await post(path, [{ t: 599, d: 1 }])).status).toBe(403);
  });

  it('main and downlink substreams seal separately', async () => {
    const main = pts(CHUNK_POINTS + 5, 0, (i) => i * 2);
    const down = pts(CHUNK_POINTS * 2, 0, (i) => ({ cmd: i }));
    expect((await post(path, main)).status).toBe(200);
    expect((await post(path, down, '?downlink=true')).status).toBe(200);
    expect(await layout(path, 0)).toEqual({ chunks: 1, tail: 5, sizes: [CHUNK_POINTS] });
    expect(await layout(path, 1)).toEqual({ chunks: 2, tail: 0, sizes: [CHUNK_POINTS, CHUNK_POINTS] });
    await expectReads(path, main);
    await expectReads(path, down, '&downlink=true');
  });

  it('objects, strings, booleans, nulls, t of 0 and equal timestamps read back byte-identical', async () => {
    const mixed: { t: number; d?: unknown }[] = [];
    for (let i = 0; i < CHUNK_POINTS + 50; i++) {
      const k = i % 7;
      const t = i < 10 ? 0 : 100 + Math.floor(i / 3);
      const d = [{ x: i, y: [1, 'two', null], z: { deep: true } }, 'str "quoted" \u00e9 \u{1F600}', null, true, -0.5e-7, 1e21, i][k];
      mixed.push(d === null ? { t } : { t, d });
    }
    // t of 0 is stamped with the time of the insert: store it with explicit zero-free stamps instead.
    const stored = mixed.map((p, i) => (i < 10 ? { ...p, t: 50 } : p));
    expect((await post(path, stored)).status).toBe(200);
    const expect_ = stored.map((p) => ('d' in p ? p : { t: p.t }));
    await expectReads(path, expect_);
    // Time lookups over equal timestamps name the first datapoint after them.
    expect((await get(path, 'q=time2index&t=50')).text).toBe('10');
    expect((await get(path, 'q=time2index&t=49')).text).toBe('0');
    const r = await get(path, 't1=100&t2=101');
    expect(r.text).toBe(wire(expect_.filter((p) => p.t > 100 && p.t <= 101)));
  });

  it('time ranges across chunk boundaries match a scan', async () => {
    const all = pts(CHUNK_POINTS * 3 + 10).map((p, i) => ({ ...p, t: 10 + Math.floor(i / 4) * 0.25 }));
    expect((await post(path, all)).status).toBe(200);
    for (const [t1, t2] of [
      [9, 10],
      [10, 11],
      [260, 260.5],
      [259.75, 510],
      [500, 0],
      [1e9, 0],
    ]) {
      const r = await get(path, `t1=${t1}&t2=${t2}`);
      const exp = all.filter((p) => p.t > t1 && (t2 === 0 || p.t <= t2));
      expect(r.text, `${t1}..${t2}`).toBe(exp.length ? wire(exp) : '[]');
      const ti = await get(path, `q=time2index&t=${t1}`);
      expect(Number(ti.text)).toBe(all.findIndex((p) => p.t > t1) === -1 ? all.length : all.findIndex((p) => p.t > t1));
    }
  });

  it('transforms over chunks see the same values as over rows', async () => {
    const all = pts(CHUNK_POINTS * 2 + 3, 0, (i) => Math.round(Math.sin(i) * 10000) / 100);
    expect((await post(path, all)).status).toBe(200);
    const sum = all.reduce((a, p) => a + (p.d as number), 0);
    const r = await get(path, `i1=0&i2=0&transform=${encodeURIComponent('sum | if last')}`);
    expect(r.body[0].d).toBeCloseTo(sum, 6);
    const r2 = await get(path, `i1=0&i2=0&transform=${encodeURIComponent('$ > 50')}`);
    expect(r2.body.map((x: { d: boolean }) => x.d)).toEqual(all.map((p) => (p.d as number) > 50));
  });
});

describe('chunk codec as the engine uses it', () => {
  it('decodes a chunk of perfectly regular numbers (1 s apart, a counter), which packs below a byte per point', async () => {
    const { encodeChunk, decodeChunk } = await import('../../src/storage/chunks');
    const points = Array.from({ length: CHUNK_POINTS }, (_, i) => ({ t: 4000 + i, j: `{"t":${4000 + i},"d":${3000 + i}}` }));
    const c = decodeChunk(encodeChunk(points));
    expect(c.count).toBe(CHUNK_POINTS);
    expect(c.wires()).toEqual(points.map((p) => p.j));
  });
});
