import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import request from 'supertest';
import { buildApp } from '../../src/app';
import { SqliteStorage } from '../../src/storage';
import { CHUNK_POINTS } from '../../src/storage/sqlite/chunked';
import { type TestApp, createUser, keyAuth, makeApp, onPostgres } from '../helpers';
import { rng } from '../rng';

// Range reads of sealed chunks come from a cache of their wire bytes on SQLite (sql.read_cache_mb).
// Every answer is compared with the stored texts (what a fresh read answers); on PostgreSQL, which
// caches nothing, the same answers are checked and the cache figures are not.

type Pt = { t: number; d: unknown };
const wire = (pts: Pt[]) => '[' + pts.map((p) => JSON.stringify(p)).join(',') + ']';

/** got === want, reported as where they first differ (answers are megabytes long). */
function same(got: string, want: string, label: string): void {
  if (got === want) return;
  let i = 0;
  while (i < got.length && got[i] === want[i]) i++;
  expect(`${got.length} chars, at ${i}: ${got.slice(Math.max(0, i - 40), i + 40)}`, label).toBe(`${want.length} chars, at ${i}: ${want.slice(Math.max(0, i - 40), i + 40)}`);
}


/** Points in blocks of one chunk each: numbers, {x,y} records, ASCII strings, non-ASCII strings, booleans, raw doubles, a non-ASCII record key. */
function points(seed: number, count: number, t0 = 1_600_000_000_000, kinds = 7): Pt[] {
  const r = rng(seed);
  const out: Pt[] = [];
  let tm = t0;
  for (let i = 0; i < count; i++) {
    tm += r() < 0.05 ? 0 : 1000 + Math.round((r() - 0.5) * 100);
    let d: unknown;
    switch (Math.floor(i / CHUNK_POINTS) % kinds) {
      case 0:
        d = Math.round((r() - 0.5) * 4000) / 100;
        break;
      case 1:
        d = { x: Math.round(r() * 100) / 10, y: -Math.round(r() * 1e6) };
        break;
      case 2:
        d = `s${Math.round(r() * 1e6)}`;
        break;
      case 3:
        d = `é ${Math.round(r() * 1e6)} ✓`;
        break;
      case 4:
        d = r() < 0.5;
        break;
      case 5:
        d = (r() - 0.5) * 1e300;
        break;
      default:
        d = { 'ключ': Math.round(r() * 100) };
    }
    out.push({ t: tm / 1000, d });
  }
  return out;
}

async function user(app: TestApp, name: string): Promise<string> {
  return createUser(app, name, 'pw', { public: false });
}

function client(app: TestApp, key: string) {
  let n = 0;
  const auth = () => keyAuth(key);
  return {
    async stream(body: Record<string, unknown> = { schema: '{}' }): Promise<string> {
      const p = `/api/v1/crud/${app === undefined ? '' : ''}${this.user}/user/c${++n}`;
      const r = await app.http.post(p).set('Authorization', auth()).send(body);
      expect(r.status, r.text).toBe(200);
      return p;
    },
    user: '',
    async post(p: string, pts: Pt[], http = app.http): Promise<void> {
      for (let i = 0; i < pts.length; i += 5000) {
        const r = await http.post(`${p}/data`).set('Authorization', auth()).send(pts.slice(i, i + 5000));
        expect(r.status, r.text).toBe(200);
      }
    },
    get: (p: string, q: string, http = app.http) => http.get(`${p}/data?${q}`).set('Authorization', auth()),
    del: (p: string, q: string, http = app.http) => http.delete(`${p}/data?${q}`).set('Authorization', auth()),
  };
}

/** The answer of logical [a, b) the way the API reads i1/i2 (b = 0: to the end). */
const slice = (pts: Pt[], a: number, b: number) => pts.slice(a, b === 0 ? pts.length : b);

/** Index ranges of every shape on a stream of `len` points: whole chunks, partial ends, one point, the tail. */
const ranges = (len: number): [number, number][] =>
  ([
  [0, CHUNK_POINTS],
  [CHUNK_POINTS, 3 * CHUNK_POINTS],
  [17, CHUNK_POINTS + 3],
  [CHUNK_POINTS - 1, CHUNK_POINTS + 1],
  [2 * CHUNK_POINTS + 500, 2 * CHUNK_POINTS + 501],
  [3 * CHUNK_POINTS - 10, 6 * CHUNK_POINTS + 10],
  [5, len - 5],
  [len - 80, 0],
  [0, 0],
] as [number, number][]).filter(([a, b]) => b <= len && a < len);

/** The points a time range read t1/t2 answers: t1 < t ≤ t2. */
const inTime = (pts: Pt[], t1: number, t2: number) => pts.filter((x) => x.t > t1 && x.t <= t2);

let t: TestApp;
let c: ReturnType<typeof client>;
let key: string;
const stats = () => t.sqlite?.readCacheStats();

beforeAll(async () => {
  t = await makeApp();
  key = await user(t, 'cora');
  c = client(t, key);
  c.user = 'cora';
});
afterAll(() => t.close());

describe('range reads of cached chunks', () => {
  it('answer byte for byte what a fresh read answers: whole chunks and partial ends, index and time ranges, numbers, records, strings', async () => {
    const pts = points(1, 7 * CHUNK_POINTS + 77);
    const p = await c.stream();
    await c.post(p, pts);
    const len = pts.length;
    const times: [number, number][] = [
      [pts[1500].t, pts[3700].t],
      [pts[0].t - 1, pts[CHUNK_POINTS - 1].t],
      [pts[CHUNK_POINTS + 10].t, pts[6 * CHUNK_POINTS + 20].t],
      [pts[len - 300].t, pts[len - 1].t],
    ];
    for (let round = 0; round < 3; round++) {
      const before = stats();
      for (const [a, b] of ranges(len)) {
        const r = await c.get(p, `i1=${a}&i2=${b}`);
        expect(r.status).toBe(200);
        same(r.text, wire(slice(pts, a, b)), `round ${round} i1=${a}&i2=${b}`);
      }
      for (const [t1, t2] of times) same((await c.get(p, `t1=${t1}&t2=${t2}`)).text, wire(inTime(pts, t1, t2)), `round ${round} t ${t1} ${t2}`);
      const after = stats();
      if (after && before && round > 0) {
        // Everything cacheable is in after the first round: later rounds only hit.
        expect(after.hits).toBeGreaterThan(before.hits);
        expect(after.chunks).toBe(before.chunks);
      }
    }
    if (t.sqlite) {
      // Every chunk but the two non-ASCII ones (strings with é, the record with a Cyrillic key).
      expect(stats()!.chunks).toBe(5);
    }
  });

  it('a read of chunks all in the cache decodes nothing: each chunk is one hit', async () => {
    const pts = points(2, 3 * CHUNK_POINTS + 5, 1_600_000_000_000, 3);
    const p = await c.stream();
    await c.post(p, pts);
    same((await c.get(p, `i1=0&i2=${3 * CHUNK_POINTS}`)).text, wire(pts.slice(0, 3 * CHUNK_POINTS)), 'read');
    const s0 = stats();
    same((await c.get(p, `i1=10&i2=${3 * CHUNK_POINTS - 10}`)).text, wire(pts.slice(10, 3 * CHUNK_POINTS - 10)), 'read');
    const s1 = stats();
    if (s0 && s1) {
      expect(s1.hits - s0.hits).toBe(3);
      expect(s1.misses).toBe(s0.misses);
    }
  });
});

describe('the cache never answers what is no longer stored', () => {
  it('after deletes of index and time ranges: in a chunk, across chunks, from the start, to the end', async () => {
    let pts = points(3, 8 * CHUNK_POINTS + 40, 1_600_000_000_000, 3);
    const p = await c.stream();
    await c.post(p, pts);
    const readAll = async () => {
      const len = pts.length;
      for (const [a, b] of ranges(len)) same((await c.get(p, `i1=${a}&i2=${b}`)).text, wire(slice(pts, a, b)), `i1=${a}&i2=${b} of ${len}`);
      same((await c.get(p, 'i1=0&i2=0')).text, wire(pts), 'read');
      // Time lookups keep chunk timestamps: they too must see the delete.
      for (const [x, y] of [
        [10, len - 10],
        [CHUNK_POINTS - 5, 2 * CHUNK_POINTS + 5],
        [len - 700, len - 1],
      ].filter(([x, y]) => x >= 0 && y < len)) {
        same((await c.get(p, `t1=${pts[x].t}&t2=${pts[y].t}`)).text, wire(inTime(pts, pts[x].t, pts[y].t)), `t1=pts[${x}] t2=pts[${y}] of ${len}`);
      }
    };
    await readAll();
    for (const [a, b] of [
      [1500, 1510],
      [CHUNK_POINTS + 1, 3 * CHUNK_POINTS - 1],
      [0, 700],
      [2 * CHUNK_POINTS, 3 * CHUNK_POINTS],
    ]) {
      expect((await c.del(p, `i1=${a}&i2=${b}`)).status).toBe(200);
      pts = [...pts.slice(0, a), ...pts.slice(b)];
      await readAll();
    }
    const t1 = pts[1000].t;
    const t2 = pts[2600].t;
    expect((await c.del(p, `t1=${t1}&t2=${t2}`)).status).toBe(200);
    pts = pts.filter((x) => !(x.t > t1 && x.t <= t2));
    await readAll();
    expect((await c.del(p, `i1=${pts.length - 1500}&i2=${pts.length}`)).status).toBe(200);
    pts = pts.slice(0, pts.length - 1500);
    await readAll();
  });

  it('after retention drops whole chunks at insert and the sweep trims the rest', async () => {
    const p = await c.stream({ schema: '{}', retention: { datapoints: 2500 } });
    const all = points(4, 9 * CHUNK_POINTS, 1_600_000_000_000, 3);
    let sent = 0;
    // `sent` points were posted: the stream holds the last `len` of them.
    const check = async () => {
      const len = Number((await c.get(p, 'q=length')).text);
      const kept = all.slice(sent - len, sent);
      for (const [a, b] of [
        [0, 0],
        [10, len - 10],
        [0, Math.min(len, CHUNK_POINTS + 5)],
        [len - 3, 0],
      ]) {
        same((await c.get(p, `i1=${a}&i2=${b}`)).text, wire(slice(kept, a, b)), `after ${sent}: i1=${a}&i2=${b}`);
      }
      same((await c.get(p, `t1=${kept[5].t}&t2=${kept[len - 5].t}`)).text, wire(inTime(kept, kept[5].t, kept[len - 5].t)), 'read');
    };
    while (sent < all.length) {
      await c.post(p, all.slice(sent, sent + 1500));
      sent = Math.min(sent + 1500, all.length);
      await check();
    }
    await t.services.data.sweepRetention();
    expect(Number((await c.get(p, 'q=length')).text)).toBe(2500);
    await check();
    // Down to half of the last chunk: it is rewritten, and its new row takes its old id (the
    // highest rowid is reused), with other points.
    expect((await t.http.put(p).set('Authorization', keyAuth(key)).send({ retention: { datapoints: 500 } })).status).toBe(200);
    await t.services.data.sweepRetention();
    expect(Number((await c.get(p, 'q=length')).text)).toBe(500);
    await check();
  });

  it('after another server on the same database file deletes and rewrites the chunks', async () => {
    if (onPostgres) return;
    const pts = points(5, 6 * CHUNK_POINTS + 10, 1_600_000_000_000, 3);
    const p = await c.stream();
    await c.post(p, pts);
    const readAll = async (want: Pt[], label: string) => {
      for (const [a, b] of ranges(want.length)) same((await c.get(p, `i1=${a}&i2=${b}`)).text, wire(slice(want, a, b)), `${label} i1=${a}&i2=${b}`);
    };
    await readAll(pts, 'before');
    expect(stats()!.chunks).toBeGreaterThan(0);
    // A second server process's connection on the file (as a CLI command or a second `run` would).
    const storage2 = SqliteStorage.open(path.join(t.dir, 'db.sqlite3'));
    const { app: app2 } = buildApp({ config: t.config, storage: storage2 });
    await app2.listen({ host: '127.0.0.1', port: 0 });
    const http2 = request(app2.server);
    try {
      // A delete in the middle: later chunks move down; the rewritten ones keep nothing of the old.
      expect((await c.del(p, 'i1=1500&i2=2500', http2)).status).toBe(200);
      let want = [...pts.slice(0, 1500), ...pts.slice(2500)];
      await new Promise((r) => setTimeout(r, 20));
      await readAll(want, 'after a delete elsewhere');
      // Everything deleted and other values stored at the same times: the new chunks take the old
      // chunks' ids (SQLite reuses the highest rowids), with the same counts and times.
      expect((await c.del(p, `i1=0&i2=${want.length}`, http2)).status).toBe(200);
      // Other digits, same lengths: every chunk keeps its count, times and wire length, so only
      // the engine noticing the other connection's write can keep the old texts out.
      const digits = (x: Pt): Pt => ({ t: x.t, d: JSON.parse(JSON.stringify(x.d).replace(/[0-9]/g, (c) => String(1 + (Number(c) % 9)))) as unknown });
      want = pts.map(digits);
      expect(want.map((x) => JSON.stringify(x).length)).toEqual(pts.map((x) => JSON.stringify(x).length));
      await c.post(p, want, http2);
      await new Promise((r) => setTimeout(r, 20));
      await readAll(want, 'after a rewrite elsewhere');
    } finally {
      await app2.close();
      await storage2.close();
    }
  });
});

describe('the cache is bounded and scan-resistant', () => {
  let small: TestApp;
  let sc: ReturnType<typeof client>;
  beforeAll(async () => {
    small = await makeApp((cfg) => void (cfg.sql.read_cache_mb = 1));
    sc = client(small, await user(small, 'sam'));
    sc.user = 'sam';
  });
  afterAll(() => small.close());

  it('a read of more than 64 chunks adds nothing and moves nothing; small reads stay within the bound and answer right after evictions', async () => {
    const pts = points(6, 80 * CHUNK_POINTS + 3, 1_600_000_000_000, 1);
    const p = await sc.stream();
    await sc.post(p, pts);
    const s = () => small.sqlite?.readCacheStats();
    same((await sc.get(p, 'i1=0&i2=0')).text, wire(pts), 'read');
    if (small.sqlite) expect(s()!.chunks).toBe(0);
    // Ten chunks in: a scan afterwards leaves exactly them.
    for (let k = 0; k < 10; k++) same((await sc.get(p, `i1=${k * CHUNK_POINTS + 1}&i2=${(k + 1) * CHUNK_POINTS - 1}`)).text, wire(pts.slice(k * CHUNK_POINTS + 1, (k + 1) * CHUNK_POINTS - 1)), 'read');
    const filled = s();
    same((await sc.get(p, `i1=0&i2=${70 * CHUNK_POINTS}`)).text, wire(pts.slice(0, 70 * CHUNK_POINTS)), 'read');
    if (filled) {
      expect(filled.chunks).toBe(10);
      const after = s()!;
      expect(after.chunks).toBe(10);
      expect(after.bytes).toBe(filled.bytes);
    }
    const h0 = s();
    for (let k = 0; k < 10; k++) await sc.get(p, `i1=${k * CHUNK_POINTS}&i2=${(k + 1) * CHUNK_POINTS}`);
    if (h0) expect(s()!.misses).toBe(h0.misses);
    // Every chunk read in small reads, twice: the cache holds what its megabyte allows, no more.
    for (let round = 0; round < 2; round++) {
      for (let a = 0; a < pts.length; a += 5 * CHUNK_POINTS - 7) {
        const b = Math.min(a + 5 * CHUNK_POINTS, pts.length);
        same((await sc.get(p, `i1=${a}&i2=${b}`)).text, wire(pts.slice(a, b)), 'read');
        const now = s();
        if (now) expect(now.bytes).toBeLessThanOrEqual(now.maxBytes);
      }
    }
    if (small.sqlite) {
      expect(s()!.maxBytes).toBe(1024 * 1024);
      expect(s()!.chunks).toBeGreaterThan(10);
      expect(s()!.chunks).toBeLessThan(40);
    }
  });

  it('read_cache_mb 0 turns it off and answers the same', async () => {
    const off = await makeApp((cfg) => void (cfg.sql.read_cache_mb = 0));
    try {
      const oc = client(off, await user(off, 'otto'));
      oc.user = 'otto';
      const pts = points(7, 4 * CHUNK_POINTS + 9);
      const p = await oc.stream();
      await oc.post(p, pts);
      for (let round = 0; round < 2; round++) for (const [a, b] of ranges(pts.length)) same((await oc.get(p, `i1=${a}&i2=${b}`)).text, wire(slice(pts, a, b)), 'read');
      if (off.sqlite) expect(off.sqlite.readCacheStats().chunks).toBe(0);
    } finally {
      await off.close();
    }
  });
});
