import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, createUser, keyAuth, makeApp, onPostgres } from '../helpers';

let t: TestApp;
let key: string;

beforeAll(async () => {
  t = await makeApp();
  key = await createUser(t, 'alice', 'pw', { public: false });
});
afterAll(() => t.close());

const post = (p: string, body: unknown) => t.http.post(`${p}/data`).set('Authorization', keyAuth(key)).send(body as object);

describe('concurrent single-datapoint inserts (group commit)', () => {
  it('each insert is all-or-nothing on its own: a refused one among many leaves the others stored', async () => {
    const p = '/api/v1/crud/alice/user/gc';
    expect((await t.http.post(p).set('Authorization', keyAuth(key)).send({ schema: '{"type":"number"}' })).status).toBe(200);
    expect((await post(p, [{ t: 100, d: 0 }])).status).toBe(200);
    const bodies: unknown[] = [];
    // Equal timestamps are allowed, so the order the requests arrive in does not matter.
    for (let i = 1; i <= 30; i++) bodies.push([{ t: 200, d: i }]);
    bodies[10] = [{ t: 50, d: 1 }]; // older than what is stored: refused
    bodies[20] = [{ t: 500, d: 'not a number' }]; // fails the schema: refused
    const rs = await Promise.all(bodies.map((b) => post(p, b)));
    const failed = rs.map((r, i) => [i, r.status] as const).filter(([, s]) => s !== 200);
    expect(failed.map(([i]) => i)).toEqual([10, 20]);
    expect(rs[10].body.msg).toBe('Greater timestamp already exists for the stream. Insert Failed.');
    const len = await t.http.get(`${p}/data?q=length`).set('Authorization', keyAuth(key));
    expect(len.text).toBe('29');
    const all = await t.http.get(`${p}/data?i1=0&i2=0`).set('Authorization', keyAuth(key));
    const ds = (all.body as { d: number }[]).map((x) => x.d).sort((a, b) => a - b);
    expect(ds).toEqual([0, ...Array.from({ length: 30 }, (_, i) => i + 1).filter((i) => i !== 11 && i !== 21)]);
  });

  // SQLite only: three concurrent POSTs of t = 1, 2, 3 to each stream expect arrival order. On
  // PostgreSQL the first lookups of a request (stream path, permissions) are real round trips, so
  // a later request can reach the substream lock first and the older timestamp is refused (403),
  // as between two server processes; with warm caches the order holds there too.
  it.skipIf(onPostgres)('inserts into different streams arriving together are all stored', async () => {
    const paths = Array.from({ length: 8 }, (_, i) => `/api/v1/crud/alice/user/multi${i}`);
    for (const p of paths) expect((await t.http.post(p).set('Authorization', keyAuth(key)).send({})).status).toBe(200);
    const rs = await Promise.all(paths.flatMap((p) => [1, 2, 3].map((k) => post(p, [{ t: k, d: k }]))));
    expect(rs.every((r) => r.status === 200)).toBe(true);
    for (const p of paths) {
      const n = await t.http.get(`${p}/data?q=length`).set('Authorization', keyAuth(key));
      expect(n.text).toBe('3');
    }
  });
});
