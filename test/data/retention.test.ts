import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, createUser, keyAuth, makeApp } from '../helpers';

let t: TestApp;
let key: string;
let n = 0;
const A = () => keyAuth(key);

const mk = async (body: Record<string, unknown>, app = t, auth = A()) => {
  const p = `/api/v1/crud/rita/user/r${++n}`;
  const r = await app.http.post(p).set('Authorization', auth).send(body);
  return { p, r };
};
const post = (p: string, body: unknown, app = t, auth = A()) => app.http.post(`${p}/data`).set('Authorization', auth).send(body as object);
const get = (p: string, q: string, app = t, auth = A()) => app.http.get(`${p}/data?${q}`).set('Authorization', auth);
const pts = (count: number, start: number, t0 = 1000) => Array.from({ length: count }, (_, i) => ({ t: t0 + start + i, d: start + i }));

beforeAll(async () => {
  t = await makeApp();
  key = await createUser(t, 'rita', 'pw', { public: false });
});
afterAll(() => t.close());

describe('retention', () => {
  it('appears in the stream JSON only when set, and can be changed and removed', async () => {
    const { p, r } = await mk({ schema: '{}' });
    expect(r.body).not.toHaveProperty('retention');
    const { r: r2, p: p2 } = await mk({ schema: '{}', retention: { datapoints: 100 } });
    expect(r2.status).toBe(200);
    expect(r2.body.retention).toEqual({ datapoints: 100 });
    expect((await t.http.get(p2).set('Authorization', A())).body.retention).toEqual({ datapoints: 100 });
    const u = await t.http.put(p).set('Authorization', A()).send({ retention: { seconds: 3600, datapoints: 5 } });
    expect(u.status).toBe(200);
    expect(u.body.retention).toEqual({ datapoints: 5, seconds: 3600 });
    const list = await t.http.get('/api/v1/crud/rita/user?q=ls').set('Authorization', A());
    expect(list.body.find((s: { name: string }) => s.name === p.split('/').pop()).retention).toEqual({ datapoints: 5, seconds: 3600 });
    const cleared = await t.http.put(p).set('Authorization', A()).send({ retention: null });
    expect(cleared.body).not.toHaveProperty('retention');
  });

  it('refuses a malformed retention with 400 and a message', async () => {
    for (const bad of [{ datapoints: -1 }, { datapoints: 1.5 }, { seconds: 'x' }, { days: 3 }, 7, [1]]) {
      const { r } = await mk({ schema: '{}', retention: bad });
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect(r.body.msg).toMatch(/^retention must be/);
    }
  });

  it('keeps at most N datapoints: whole chunks at insert, exactly after the sweep', async () => {
    const { p } = await mk({ schema: '{}', retention: { datapoints: 2000 } });
    const all = pts(5000, 0);
    for (let i = 0; i < all.length; i += 500) {
      expect((await post(p, all.slice(i, i + 500))).status).toBe(200);
      const len = Number((await get(p, 'q=length')).text);
      expect(len).toBeLessThanOrEqual(Math.max(i + 500, 3000));
      expect(len).toBeGreaterThanOrEqual(Math.min(i + 500, 2000));
    }
    const before = Number((await get(p, 'q=length')).text);
    const whole = await get(p, 'i1=0&i2=0');
    expect(whole.body).toEqual(all.slice(all.length - before));
    await t.services.data.sweepRetention();
    expect((await get(p, 'q=length')).text).toBe('2000');
    expect((await get(p, 'i1=0&i2=0')).text).toBe(JSON.stringify(all.slice(3000)));
    expect((await get(p, `q=time2index&t=${all[3000].t}`)).text).toBe('1');
  });

  it('keeps only datapoints newer than D seconds', async () => {
    const now = Date.now() / 1000;
    const { p } = await mk({ schema: '{}', retention: { seconds: 100 } });
    const all = Array.from({ length: 3000 }, (_, i) => ({ t: now - 3000 + i, d: i }));
    expect((await post(p, all)).status).toBe(200);
    // Whole chunks older than 100 s went at insert already.
    expect(Number((await get(p, 'q=length')).text)).toBeLessThanOrEqual(1000);
    await t.services.data.sweepRetention(now);
    expect((await get(p, 'i1=0&i2=0')).body).toEqual(all.filter((x) => x.t > now - 100));
  });

  it('the config sets it for every stream without its own', async () => {
    const app = await makeApp((c) => {
      c.retention.datapoints = 1500;
    });
    try {
      const k = await createUser(app, 'rita', 'pw', { public: false });
      const { p } = await mk({ schema: '{}' }, app, keyAuth(k));
      const own = await mk({ schema: '{}', retention: { datapoints: 10 } }, app, keyAuth(k));
      expect((await post(p, pts(4000, 0), app, keyAuth(k))).status).toBe(200);
      expect((await post(own.p, pts(50, 0), app, keyAuth(k))).status).toBe(200);
      await app.services.data.sweepRetention();
      expect((await get(p, 'q=length', app, keyAuth(k))).text).toBe('1500');
      expect((await get(own.p, 'q=length', app, keyAuth(k))).text).toBe('10');
      // The stream JSON still has the original's shape.
      expect((await app.http.get(p).set('Authorization', keyAuth(k))).body).not.toHaveProperty('retention');
    } finally {
      await app.close();
    }
  });
});

describe('storage figures', () => {
  it('GET /api/v1/meta/dbinfo gives admins datapoints, chunks and bytes per stream; others get 403', async () => {
    const { p } = await mk({ schema: '{}' });
    await post(p, pts(2500, 0));
    const r = await t.http.get('/api/v1/meta/dbinfo').set('Authorization', 'Basic ' + Buffer.from('test:test').toString('base64'));
    expect(r.status).toBe(200);
    const s = r.body.substreams.find((x: { stream: string }) => x.stream === `rita/user/${p.split('/').pop()}`);
    expect(s).toMatchObject({ substream: 'main', datapoints: 2500, chunks: 2, tail: 500 });
    expect(s.bytes).toBeGreaterThan(0);
    expect(s.bytes_per_datapoint).toBeCloseTo(s.bytes / 2500, 1);
    expect(r.body.bytes).toBeGreaterThan(0);
    expect(r.body.datapoints).toBeGreaterThanOrEqual(2500);
    const denied = await t.http.get('/api/v1/meta/dbinfo').set('Authorization', A());
    expect(denied.status).toBe(403);
    expect(denied.body.msg).toBe('Only an admin may read the database figures');
  });
});
