import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, createUser, keyAuth, makeApp } from '../helpers';
import { Buckets, addStored, numberAt } from '../../src/domain/datapoints/downsample';

let t: TestApp;
let key: string;
const AUTH = () => keyAuth(key);
let n = 0;

async function stream(points: unknown[], schema = '{}'): Promise<string> {
  const p = `/api/v1/crud/ds/user/s${++n}`;
  expect((await t.http.post(p).set('Authorization', AUTH()).send({ schema })).status).toBe(200);
  if (points.length) {
    const r = await t.http.post(`${p}/data`).set('Authorization', AUTH()).send(points);
    expect(r.status, r.text).toBe(200);
  }
  return p;
}
const get = (p: string, q: string) => t.http.get(`${p}/data?${q}`).set('Authorization', AUTH());

interface Bucket {
  t: number;
  d: { min: number; max: number; mean: number; count: number };
}

beforeAll(async () => {
  t = await makeApp();
  key = await createUser(t, 'ds');
});
afterAll(() => t.close());

describe('GET …/data?downsample=N', () => {
  it('answers min, max, mean and count per non-empty bucket of equal width over (t1, t2]', async () => {
    // t = 1..10, d = t * 10
    const p = await stream(Array.from({ length: 10 }, (_, i) => ({ t: i + 1, d: (i + 1) * 10 })));
    const r = await get(p, 't1=0.5&t2=10.5&downsample=5');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    // width 2: [0.5,2.5) [2.5,4.5) [4.5,6.5) [6.5,8.5) [8.5,10.5]
    expect(r.body).toEqual([
      { t: 0.5, d: { min: 10, max: 20, mean: 15, count: 2 } },
      { t: 2.5, d: { min: 30, max: 40, mean: 35, count: 2 } },
      { t: 4.5, d: { min: 50, max: 60, mean: 55, count: 2 } },
      { t: 6.5, d: { min: 70, max: 80, mean: 75, count: 2 } },
      { t: 8.5, d: { min: 90, max: 100, mean: 95, count: 2 } },
    ]);
  });

  it('keeps a spike visible in its bucket max', async () => {
    const pts = Array.from({ length: 1000 }, (_, i) => ({ t: 1000 + i, d: i === 567 ? 1e6 : 1 }));
    const p = await stream(pts);
    const r = await get(p, 'i1=0&i2=0&downsample=10');
    const b = r.body as Bucket[];
    expect(b).toHaveLength(10);
    expect(b.map((x) => x.d.max).filter((m) => m === 1e6)).toHaveLength(1);
    expect(b[5].d.max).toBe(1e6);
    expect(b.reduce((s, x) => s + x.d.count, 0)).toBe(1000);
  });

  it('defaults t2 to the last datapoint and t1 to the first, answers at most N buckets in time order', async () => {
    const p = await stream(Array.from({ length: 100 }, (_, i) => ({ t: 50 + i, d: i })));
    const r = await get(p, 't1=0&downsample=7');
    const b = r.body as Bucket[];
    expect(b.length).toBeLessThanOrEqual(7);
    expect(b[0].t).toBe(50);
    expect(b.reduce((s, x) => s + x.d.count, 0)).toBe(100);
    for (let i = 1; i < b.length; i++) expect(b[i].t).toBeGreaterThan(b[i - 1].t);
    expect(b[b.length - 1].d.max).toBe(99);
  });

  it('skips empty buckets and non-numeric values; booleans count as 0 and 1', async () => {
    const p = await stream([
      { t: 1, d: 5 },
      { t: 1.5, d: 'text' },
      { t: 2, d: true },
      { t: 2.1, d: { a: 1 } },
      { t: 2.2, d: null },
      { t: 9, d: false },
      { t: 10, d: -2.5 },
    ]);
    const r = await get(p, 't1=0.5&t2=10.5&downsample=5');
    expect(r.body).toEqual([
      { t: 0.5, d: { min: 1, max: 5, mean: 3, count: 2 } },
      { t: 8.5, d: { min: -2.5, max: 0, mean: -1.25, count: 2 } },
    ]);
  });

  it('applies the transform before bucketing', async () => {
    const p = await stream(Array.from({ length: 10 }, (_, i) => ({ t: i + 1, d: i + 1 })));
    const r = await get(p, `t1=0.5&t2=10.5&downsample=1&transform=${encodeURIComponent('if $ > 5 | $ * 2')}`);
    expect(r.body).toEqual([{ t: 0.5, d: { min: 12, max: 20, mean: 16, count: 5 } }]);
    const objects = await stream([{ t: 1, d: { x: 4 } }, { t: 2, d: { x: 6 } }]);
    const o = await get(objects, `i1=0&i2=0&downsample=3&transform=${encodeURIComponent('$["x"]')}`);
    expect(o.body.map((x: Bucket) => x.d.mean)).toEqual([4, 6]);
  });

  it('reads the downlink substream with downlink=true', async () => {
    const p = await stream([]);
    expect((await t.http.post(`${p}/data?downlink=true`).set('Authorization', AUTH()).send([{ t: 3, d: 7 }])).status).toBe(200);
    expect((await get(p, 'i1=0&i2=0&downsample=2&downlink=true')).body).toEqual([{ t: 3, d: { min: 7, max: 7, mean: 7, count: 1 } }]);
    expect((await get(p, 'i1=0&i2=0&downsample=2')).text).toBe('[]');
  });

  it('an empty range is []', async () => {
    const p = await stream([{ t: 1, d: 1 }]);
    const r = await get(p, 't1=100&downsample=10');
    expect(r.status).toBe(200);
    expect(r.text).toBe('[]');
  });

  it('an index range buckets from its first to its last datapoint', async () => {
    const p = await stream(Array.from({ length: 20 }, (_, i) => ({ t: i, d: i })).slice(1));
    const r = await get(p, 'i1=-10&i2=0&downsample=2');
    // the last 10 points are t = 10..19: width 4.5
    expect(r.body).toEqual([
      { t: 10, d: { min: 10, max: 14, mean: 12, count: 5 } },
      { t: 14.5, d: { min: 15, max: 19, mean: 17, count: 5 } },
    ]);
  });

  it.each(['0', '-1', '100001', '1.5', 'abc', '', '1e3'])('downsample=%s is a 400 with a clear message', async (v) => {
    const p = await stream([{ t: 1, d: 1 }]);
    const r = await get(p, `i1=0&i2=0&downsample=${v}`);
    expect(r.status).toBe(400);
    expect(Object.keys(r.body)).toEqual(['code', 'msg', 'ref']);
    expect(r.body.msg).toMatch(/^downsample must be a whole number of buckets from 1 to 100000/);
  });

  it('without a range it is the original range error', async () => {
    const p = await stream([{ t: 1, d: 1 }]);
    const r = await get(p, 'downsample=10');
    expect(r.status).toBe(400);
    expect(r.body.msg).toMatch(/^A range needs/);
  });

  it('without downsample the route answers exactly as before', async () => {
    const p = await stream([{ t: 1, d: 1 }, { t: 2, d: 2 }]);
    const r = await get(p, 'i1=0&i2=0');
    expect(r.text).toBe('[{"t":1,"d":1},{"t":2,"d":2}]');
  });

  it('a large read streams and gives other requests turns', async () => {
    const N = 60000;
    const p = await stream([]);
    for (let k = 0; k < N; k += 5000) {
      const body = Array.from({ length: 5000 }, (_, i) => ({ t: 1 + k + i, d: (k + i) % 100 }));
      expect((await t.http.post(`${p}/data`).set('Authorization', AUTH()).send(body)).status).toBe(200);
    }
    let versionDoneFirst = false;
    const big = get(p, 'i1=0&i2=0&downsample=100').then((r) => r);
    const small = t.http.get('/api/v1/meta/version').then(() => {
      versionDoneFirst = true;
    });
    const [r] = await Promise.all([big, small]);
    expect(r.status).toBe(200);
    const b = r.body as Bucket[];
    expect(b).toHaveLength(100);
    expect(b.reduce((s, x) => s + x.d.count, 0)).toBe(N);
    expect(b.every((x) => x.d.min === 0 && x.d.max === 99)).toBe(true);
    expect(versionDoneFirst).toBe(true);
  });
});

describe('reading stored text in place', () => {
  it.each(['0', '1', '-1', '23.456', '1700000000.123456', '0.30000000000000004', '1e-7', '-2.5e+30', '123456789012345678', '5e-324'])(
    'numberAt(%s) equals Number()',
    (s) => {
      expect(numberAt(`{"d":${s}}`, 5)).toBe(Number(s));
    },
  );

  it('addStored reads numbers, booleans and the o field, and skips the rest', () => {
    const b = new Buckets(1, 0, 10);
    for (const j of ['{"t":1,"d":2}', '{"t":2,"d":4,"o":"a/b"}', '{"t":3,"d":true}', '{"t":4,"d":"x"}', '{"t":5}', '{"d":9}', '{"t":6,"d":{"a":1}}'])
      addStored(b, j);
    // {"d":9} has t = 0, inside [0, 10]
    expect([b.min[0], b.max[0], b.sum[0], b.count[0]]).toEqual([1, 9, 16, 4]);
  });
});
