process.env.TZ = 'UTC';

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app';
import { defaultConfig } from '../../src/config';
import { hashPassword } from '../../src/domain/users/passwords';
import { type Storage, SqliteStorage } from '../../src/storage';
import { PgStorage } from '../../src/storage/postgres';
import { PgSyncReads } from '../../src/storage/postgres/sync';
import { ADMIN } from '../helpers';
import { PG_BASE, pgReachable } from './pg-probe';

/**
 * The query pipeline on PostgreSQL (PgSyncReads): the real app on PgStorage and the real app on
 * SQLite get the same inserts and the same transform reads, merges, datasets and feed requests,
 * and must answer byte for byte alike.
 */

const up = pgReachable();
if (!up) console.warn(`postgres-sync tests skipped: PostgreSQL is unreachable at ${PG_BASE} (set CDB_TEST_PG)`);

const withSchema = (schema: string): string => `${PG_BASE}${PG_BASE.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;

interface Side {
  app: FastifyInstance;
  storage: Storage;
  http: ReturnType<typeof request>;
}

async function serve(storage: Storage, dir: string): Promise<Side> {
  const config = defaultConfig(dir);
  config.failed_login_delay = 0;
  const { app, services } = buildApp({ config, storage });
  await services.users.insertUser({ name: 'test', email: 'test@localhost', password: 'test', role: 'admin', public: false }, await hashPassword('test'));
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, storage, http: request(app.server) };
}

describe.skipIf(!up)('the query pipeline on PostgreSQL answers like on SQLite', () => {
  const schema = `t_pgsyncapp_${process.pid}_${Date.now().toString(36)}`;
  let dir: string;
  let sqlite: Side;
  let postgres: Side;
  let sync: PgSyncReads;

  // 5,000 numbers (5 chunks), 2,600 objects (2 chunks and a tail), 300 strings (tail only).
  const num = Array.from({ length: 5000 }, (_, i) => ({ t: 1000 + i, d: (i * 7919) % 100 }));
  const obj = Array.from({ length: 2600 }, (_, i) => ({ t: 1000 + i * 2 + 0.5, d: { a: i % 13, b: i % 2 === 0 } }));
  const txt = Array.from({ length: 300 }, (_, i) => ({ t: 3000 + i * 10, d: `v${i} é` }));

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cdb-pgsyncapp-'));
    const admin = new pg.Client({ connectionString: PG_BASE });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    const uri = withSchema(schema);
    // The engine's own wiring: PgStorage opens its PgSyncReads itself.
    const pgStorage = await PgStorage.open({ uri, pool: 4, applicationName: 'cdb-test' });
    expect(pgStorage.sync).toBeInstanceOf(PgSyncReads);
    sync = pgStorage.sync as PgSyncReads;
    postgres = await serve(pgStorage, path.join(dir, 'pg'));
    sqlite = await serve(SqliteStorage.open(path.join(dir, 'db.sqlite3')), dir);
    for (const side of [sqlite, postgres]) {
      for (const [name, points] of [
        ['num', num],
        ['obj', obj],
        ['txt', txt],
      ] as const) {
        const c = await side.http.post(`/api/v1/crud/test/user/${name}`).set('Authorization', ADMIN).send({});
        expect(c.status, c.text).toBe(200);
        for (let i = 0; i < points.length; i += 1000) {
          const r = await side.http.post(`/api/v1/crud/test/user/${name}/data`).set('Authorization', ADMIN).send(points.slice(i, i + 1000));
          expect(r.status, r.text).toBe(200);
        }
      }
    }
  });

  afterAll(async () => {
    for (const side of [sqlite, postgres]) {
      if (!side) continue;
      await side.app.close();
      await side.storage.close();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
    const admin = new pg.Client({ connectionString: PG_BASE });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  });

  async function both(method: 'get' | 'post', url: string, body?: unknown): Promise<string> {
    const answers = await Promise.all(
      [sqlite, postgres].map(async (side) => {
        const req = side.http[method](url).set('Authorization', ADMIN);
        const r = body === undefined ? await req : await req.send(body as object);
        // Error bodies carry a random `ref`.
        return { status: r.status, text: r.text.replace(/"ref":"[0-9a-f-]+"/, '"ref":"…"') };
      }),
    );
    expect(answers[1], `${method} ${url}`).toEqual(answers[0]);
    return answers[0].text;
  }

  it('runs transforms over index and time reads, chunks and tail alike', async () => {
    expect(JSON.parse(await both('get', `/api/v1/crud/test/user/num/data?i1=0&i2=0&transform=${encodeURIComponent('sum | if last')}`))).toEqual([
      { t: 5999, d: num.reduce((s, p) => s + p.d, 0) },
    ]);
    for (const q of [
      `i1=-1500&i2=0&transform=${encodeURIComponent('if $ > 90')}`,
      `t1=1999.5&t2=4321&transform=${encodeURIComponent('$ * 2 + 1')}`,
      `t1=0&limit=25&transform=${encodeURIComponent('if $ < 10')}`,
      `i1=10&i2=4990&transform=${encodeURIComponent('mean | if last')}`,
      `i1=0&i2=0&downsample=7&transform=${encodeURIComponent('$ + 1')}`,
    ]) {
      await both('get', `/api/v1/crud/test/user/num/data?${q}`);
    }
    await both('get', `/api/v1/crud/test/user/obj/data?i1=0&i2=0&transform=${encodeURIComponent('$("a") | if $ > 10')}`);
    await both('get', `/api/v1/crud/test/user/txt/data?t1=3500&transform=${encodeURIComponent('count | if last')}`);
    // A transform that fails midway: the same truncated answer on both.
    await both('get', `/api/v1/crud/test/user/obj/data?i1=0&i2=0&transform=${encodeURIComponent('$ + 1')}`);
    // The PostgreSQL side really ran on the synchronous bridge.
    expect(sync.bridge.stats.queries).toBeGreaterThan(5);
  });

  it('serves plain reads without blocking on the synchronous bridge', async () => {
    const before = sync.bridge.stats.queries;
    await both('get', '/api/v1/crud/test/user/num/data?t1=1500&t2=4500');
    await both('get', '/api/v1/crud/test/user/obj/data?i1=-100&i2=0');
    await both('get', '/api/v1/crud/test/user/num/data?i1=0&i2=0&downsample=10');
    expect(sync.bridge.stats.queries).toBe(before);
  });

  it('merges streams in time order', async () => {
    const text = await both('post', '/api/v1/query/merge', [
      { stream: 'test/user/num', i1: -800 },
      { stream: 'test/user/obj', t1: 5000, transform: '$("a")' },
      { stream: 'test/user/txt', t1: 4000, t2: 5500 },
    ]);
    expect(JSON.parse(text).length).toBeGreaterThan(800);
  });

  it('builds a T-dataset and an X-dataset', async () => {
    const t = await both('post', '/api/v1/query/dataset', {
      t1: 1500,
      t2: 5500,
      dt: 7.5,
      dataset: {
        x: { stream: 'test/user/num', interpolator: 'closest' },
        y: { stream: 'test/user/obj', interpolator: 'before', transform: '$("b")' },
        z: { merge: [{ stream: 'test/user/txt' }, { stream: 'test/user/num', t1: 5500 }], interpolator: 'closest' },
      },
    });
    expect(JSON.parse(t).length).toBeGreaterThan(500);
    const x = await both('post', '/api/v1/query/dataset', {
      stream: 'test/user/txt',
      i1: 20,
      i2: 280,
      dataset: { n: { stream: 'test/user/num', interpolator: 'sum' }, o: { stream: 'test/user/obj', interpolator: 'closest' } },
    });
    expect(JSON.parse(x)).toHaveLength(260);
  });

  it('answers the errors of the pipeline the same: unknown streams, bad transforms, bad datasets', async () => {
    await both('post', '/api/v1/query/merge', [{ stream: 'test/user/nope' }]);
    await both('post', '/api/v1/query/dataset', { t1: 0, t2: 10, dt: 1, dataset: { x: { stream: 'nobody/user/num' } } });
    await both('get', `/api/v1/crud/test/user/num/data?i1=0&i2=0&transform=${encodeURIComponent('sum |')}`);
  });

  it('serves the Atom feed', async () => {
    const feed = await both('get', '/api/v1/feed/test/user/txt');
    expect(feed).toContain('v299 é');
  });
});
