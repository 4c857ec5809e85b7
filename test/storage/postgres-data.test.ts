import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStorage } from '../../src/storage';
import { PgDatapoints, dropStreamData, dropSubstreamData, insertOn } from '../../src/storage/postgres/data';
import { PgDb } from '../../src/storage/postgres/db';
import { migrationFiles } from '../../src/storage/postgres/migrate';
import { isQuery, piecesPlan, readPlan, runPiecesSync, runPlan, runPlanSync, lengthPlan, time2indexPlan } from '../../src/storage/postgres/reads';
import { DOWNLINK, type DatapointStorage, type InsertRule, type InsertTarget, MAIN, type Retention, type Sub } from '../../src/storage/types';

/**
 * The PostgreSQL datapoint engine against the shared PostgreSQL server (CDB_TEST_PG, else the
 * session's `pg_data` database), each test in its own schema migrated from
 * migrations/postgres/. Most tests run the same inserts through the SQLite engine too
 * and compare what both answer, text for text.
 */

const URI = process.env.CDB_TEST_PG ?? 'postgres://cdb@127.0.0.1:55432/pg_data';
const MIGRATION = migrationFiles().map((m) => readFileSync(m.file, 'utf8')).join(';\n');

/** Whether the server answers, asked synchronously (a child process) so the suites can be skipped at collection. */
function reachable(): string | undefined {
  const probe = `const pg = require('pg'); const c = new pg.Client({ connectionString: process.argv[1], connectionTimeoutMillis: 3000 });
    c.connect().then(() => c.query('SELECT 1')).then(() => c.end()).then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1); });`;
  const r = spawnSync(process.execPath, ['-e', probe, URI], { encoding: 'utf8', timeout: 10000, cwd: path.join(__dirname, '../..') });
  return r.status === 0 ? undefined : (r.stderr || 'no answer').trim();
}

const unreachable = reachable();
if (unreachable) console.warn(`postgres-data tests skipped: PostgreSQL at ${URI} is unreachable (${unreachable}); set CDB_TEST_PG to a database URI`);

const withSchema = (schema: string): string => `${URI}${URI.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;

let schemaSeq = 0;
/** A fresh migrated schema with one user, one device and `streams` streams; returns the PgDb and stream ids. */
async function freshSchema(streams = 2, max = 4): Promise<{ db: PgDb; schema: string; streamIds: number[]; deviceId: number }> {
  const schema = `t_pgdata_${process.pid}_${Date.now().toString(36)}_${schemaSeq++}`;
  const admin = new pg.Client({ connectionString: URI });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.query(`SET search_path = ${schema}`);
  await admin.query(MIGRATION);
  const u = await admin.query<{ id: number }>(`INSERT INTO users (name, email, role, password) VALUES ('u', 'u@x', 'user', 'x') RETURNING id`);
  const d = await admin.query<{ id: number }>(`INSERT INTO devices (user_id, name, apikey) VALUES ($1, 'd', 'k') RETURNING id`, [u.rows[0].id]);
  const ids: number[] = [];
  for (let i = 0; i < streams; i++) {
    const s = await admin.query<{ id: number }>(`INSERT INTO streams (device_id, name, downlink) VALUES ($1, $2, true) RETURNING id`, [d.rows[0].id, `s${i}`]);
    ids.push(s.rows[0].id);
  }
  await admin.end();
  return { db: new PgDb({ uri: withSchema(schema), max }), schema, streamIds: ids, deviceId: d.rows[0].id };
}

async function dropSchema(schema: string): Promise<void> {
  const admin = new pg.Client({ connectionString: URI });
  await admin.connect();
  await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  await admin.end();
}

interface P {
  t: number;
  d: unknown;
}

/** The service's rule in miniature: ordering and restamp against the stored last timestamp, wire text, quotas. */
function rule(points: readonly P[], opts: { restamp?: boolean; maxStreamBytes?: number; maxDeviceBytes?: number; fail?: Error } = {}): InsertRule {
  return {
    // Every call starts from the points as given: an engine may call it again (InsertRule).
    prepare: (info) => {
      const pts = points.map((p) => ({ ...p }));
      if (opts.fail) throw opts.fail;
      if (pts.length === 0) return { points: [], bytes: 0 };
      const e = info.length === 0 ? 0 : info.last_t;
      if (e > pts[0].t) {
        if (opts.restamp === false) throw new Error('Greater timestamp already exists for the stream. Insert Failed.');
        for (let i = 0; i < pts.length && pts[i].t <= e; i++) pts[i].t = e;
      }
      let bytes = 0;
      const stored = pts.map((p) => {
        const j = JSON.stringify({ t: p.t, d: p.d });
        bytes += j.length;
        return { t: p.t, j };
      });
      return { points: stored, bytes };
    },
    maxStreamBytes: opts.maxStreamBytes ?? 0,
    maxDeviceBytes: opts.maxDeviceBytes ?? 0,
    quotaError: (which) => new Error(`quota ${which}`),
  };
}

const series = (n: number, t0: number, f: (i: number) => unknown = (i) => i, dt = 1): P[] => Array.from({ length: n }, (_, i) => ({ t: t0 + i * dt, d: f(i) }));

async function all(it: AsyncIterableIterator<string[]>): Promise<string[]> {
  const out: string[] = [];
  for await (const b of it) out.push(...b);
  return out;
}
async function joined(it: AsyncIterableIterator<string>): Promise<string> {
  const parts: string[] = [];
  for await (const s of it) if (s !== '') parts.push(s);
  return parts.join(',');
}

/** The same operations on both engines, stream i of one mapped to stream i of the other. */
class Twin {
  constructor(
    readonly pgData: PgDatapoints,
    readonly sq: SqliteStorage,
    readonly pgIds: number[],
    readonly sqIds: number[],
    readonly pgDevice: number,
    readonly sqDevice: number,
  ) {}

  async insert(s: number, sub: Sub, points: readonly P[], opts: Parameters<typeof rule>[1] & { keep?: Retention } = {}): Promise<[PromiseSettledResult<number>, PromiseSettledResult<number>]> {
    const a = await Promise.allSettled([this.pgData.insertDatapoints({ streamId: this.pgIds[s], deviceId: this.pgDevice, sub, keep: opts.keep }, rule(points, opts))]);
    const b = await Promise.allSettled([this.sq.data.insertDatapoints({ streamId: this.sqIds[s], deviceId: this.sqDevice, sub, keep: opts.keep }, rule(points, opts))]);
    expect(a[0].status).toBe(b[0].status);
    if (a[0].status === 'fulfilled' && b[0].status === 'fulfilled') expect(a[0].value).toBe(b[0].value);
    return [a[0], b[0]];
  }

  async same(s: number, sub: Sub): Promise<void> {
    const p = this.pgIds[s];
    const q = this.sqIds[s];
    const n = await this.sq.data.length(q, sub);
    expect(await this.pgData.length(p, sub)).toBe(n);
    const want = await all(this.sq.data.readBatches(q, sub, 0, n));
    expect(await all(this.pgData.readBatches(p, sub, 0, n))).toEqual(want);
    expect(await joined(this.pgData.readJoined(p, sub, 0, n))).toBe(want.join(','));
    // Ranges around chunk edges and random ones.
    const edges = [0, 1, 998, 999, 1000, 1001, 1999, 2000, n - 1, n, n + 5];
    for (let k = 0; k < 12; k++) edges.push(Math.floor(Math.random() * (n + 1)));
    for (const i1 of edges) {
      for (const i2 of [i1, i1 + 1, i1 + 2, i1 + 1000, n]) {
        if (i1 < 0 || i2 < 0) continue;
        expect(await all(this.pgData.readBatches(p, sub, i1, i2))).toEqual(want.slice(i1, Math.min(i2, n)));
      }
    }
    // time2index on every distinct timestamp, between them and outside.
    const ts = [...new Set(want.map((w) => (JSON.parse(w) as { t: number }).t))];
    const probes = [-1, 0, ...ts, ...ts.map((t) => t + 0.5), ...ts.map((t) => t - 0.5), 1e15];
    const sample = probes.length > 300 ? probes.filter((_, i) => i % Math.ceil(probes.length / 300) === 0 || i < 3) : probes;
    for (const t of sample) expect([t, await this.pgData.time2index(p, sub, t)]).toEqual([t, await this.sq.data.time2index(q, sub, t)]);
    const [ps] = (await this.pgData.storageStats([p])).filter((x) => x.sub === sub);
    const [qs] = (await this.sq.data.storageStats([q])).filter((x) => x.sub === sub);
    expect(ps ? { ...ps, streamId: 0 } : undefined).toEqual(qs ? { ...qs, streamId: 0 } : undefined);
  }

  async deleteRange(s: number, sub: Sub, i1: number, i2: number): Promise<void> {
    const a = await this.pgData.deleteRange(this.pgIds[s], sub, i1, i2);
    const b = await this.sq.data.deleteRange(this.sqIds[s], sub, i1, i2);
    expect(a).toBe(b);
  }
}

describe.skipIf(unreachable !== undefined)('PostgreSQL datapoint engine', () => {
  let dir: string;
  let sq: SqliteStorage;
  let db: PgDb;
  let schema: string;
  let twin: Twin;
  let data: PgDatapoints;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cdb-pgdata-'));
    sq = SqliteStorage.open(path.join(dir, 'db.sqlite3'));
    const user = { name: 'u', nickname: '', email: 'u@x', description: '', icon: '', public: false, role: 'user', password: 'x', password_salt: '', password_scheme: 'argon2id' };
    const device = { name: 'd', nickname: '', description: '', icon: '', apikey: 'k', enabled: true, public: false, role: 'user', visible: true, user_editable: true };
    const st = (name: string) => ({ name, nickname: '', description: '', icon: '', schema: '{}', datatype: '', ephemeral: false, downlink: true });
    const u = await sq.meta.createUser(user, [{ device, streams: [st('s0'), st('s1')] }], []);
    const d = (await sq.devices.get(u.id, 'd'))!;
    const sqIds = [(await sq.streams.get(d.id, 's0'))!.id, (await sq.streams.get(d.id, 's1'))!.id];
    const f = await freshSchema(2);
    db = f.db;
    schema = f.schema;
    data = new PgDatapoints(db);
    twin = new Twin(data, sq, f.streamIds, sqIds, f.deviceId, d.id);
  });

  afterEach(async () => {
    await sq.close();
    rmSync(dir, { recursive: true, force: true });
    await db.close();
    await dropSchema(schema);
  });

  it('seals exactly at 1,000 points: 999 stay in the tail, the 1,000th seals them all', async () => {
    await twin.insert(0, MAIN, series(999, 1));
    let [s] = await data.storageStats([twin.pgIds[0]]);
    expect([s.chunks, s.tail, s.datapoints]).toEqual([0, 999, 999]);
    await twin.insert(0, MAIN, series(1, 1000));
    [s] = await data.storageStats([twin.pgIds[0]]);
    expect([s.chunks, s.tail, s.datapoints]).toEqual([1, 0, 1000]);
    await twin.insert(0, MAIN, series(1, 1001));
    [s] = await data.storageStats([twin.pgIds[0]]);
    expect([s.chunks, s.tail, s.datapoints]).toEqual([1, 1, 1001]);
    await twin.same(0, MAIN);
  });

  it('a batch of N+1 seals N and leaves one tail row; big batches go straight into chunks', async () => {
    await twin.insert(0, MAIN, series(1001, 1));
    expect((await data.storageStats([twin.pgIds[0]]))[0]).toMatchObject({ chunks: 1, tail: 1 });
    await twin.insert(0, MAIN, series(2500, 2000, (i) => i * 0.25));
    expect((await data.storageStats([twin.pgIds[0]]))[0]).toMatchObject({ chunks: 3, tail: 501, datapoints: 3501 });
    await twin.same(0, MAIN);
  });

  it('seals at 64 KB of wire text before 1,000 points', async () => {
    const big = 'x'.repeat(700);
    for (let k = 0; k < 5; k++) await twin.insert(0, MAIN, series(40, k * 100 + 1, (i) => `${big}${i}`));
    const [s] = await data.storageStats([twin.pgIds[0]]);
    expect(s.chunks).toBeGreaterThanOrEqual(2);
    await twin.same(0, MAIN);
  });

  it('restamps across a seal: points older than the tail take its last timestamp', async () => {
    await twin.insert(0, MAIN, series(990, 100));
    await twin.insert(0, MAIN, series(30, 50));
    await twin.insert(0, MAIN, series(5, 1, undefined, 0), { restamp: true });
    const [a] = await twin.insert(0, MAIN, series(1, 2), { restamp: false });
    expect(a.status).toBe('rejected');
    const rows = await all(data.readBatches(twin.pgIds[0], MAIN, 0, 2000));
    expect(rows.length).toBe(1025);
    expect(rows.slice(990).every((w) => (JSON.parse(w) as { t: number }).t === 1089)).toBe(true);
    await twin.same(0, MAIN);
  });

  it('keeps main and downlink substreams apart', async () => {
    await twin.insert(0, MAIN, series(1200, 1));
    await twin.insert(0, DOWNLINK, series(10, 5, (i) => ({ cmd: i })));
    await twin.insert(1, DOWNLINK, series(3, 1));
    expect(await data.length(twin.pgIds[0], DOWNLINK)).toBe(10);
    expect(await data.length(twin.pgIds[1], MAIN)).toBe(0);
    for (const [s, sub] of [[0, MAIN], [0, DOWNLINK], [1, MAIN], [1, DOWNLINK]] as const) await twin.same(s, sub);
  });

  it('stores objects, strings, nulls, booleans, unicode, t of 0 and equal timestamps byte for byte', async () => {
    const kinds = (i: number): unknown =>
      [null, `s${i}`, { x: i, y: -i / 3, z: 'q"\\' }, true, [1, 'two', null], '😀 é \u2028', 1e-7 * i, -0, 12345678901234.5, "it's '' \\' E'x'"][i % 10];
    await twin.insert(0, MAIN, series(5, 0, kinds, 0));
    await twin.insert(0, MAIN, series(1500, 0, kinds, 0));
    await twin.insert(0, MAIN, series(700, 0.001, (i) => ({ x: i, y: i * 2, z: i * 3 }), 0.001));
    await twin.insert(0, MAIN, series(900, 10, (i) => i + 0.01, 0.5));
    await twin.same(0, MAIN);
  });

  it('stores strings that mean something in array literals and SQL byte for byte through the one-round-trip insert', async () => {
    const kinds = (i: number): unknown =>
      ['NULL', '{a,b}', '"quoted", and, commas', '\\ back \\\\ slashes \\"', "it's '' \\' E'x'", '😀 é \u2028', { '{': '}', ',': 'NULL' }, null, '', ' '][i % 10];
    // Small batches after the first: each one a cdb_append call from the known state.
    for (let k = 0; k < 12; k++) await twin.insert(1, MAIN, series(3, k * 3, (i) => kinds(k * 3 + i), 1));
    await twin.same(1, MAIN);
  });

  it('time2index uses chunk boundaries then searches inside one chunk or the tail', async () => {
    // Runs of equal timestamps straddling chunk edges.
    await twin.insert(0, MAIN, series(2600, 1, (i) => i, 1).map((p, i) => ({ ...p, t: Math.floor(i / 7) })));
    expect(await data.time2index(twin.pgIds[0], MAIN, -5)).toBe(0);
    expect(await data.time2index(twin.pgIds[0], MAIN, 1e9)).toBe(2600);
    expect(await data.time2index(twin.pgIds[1], MAIN, 3)).toBe(0);
    await twin.same(0, MAIN);
  });

  it('deleteRange inside a chunk, across chunks and the tail, from the start, at the end and whole', async () => {
    await twin.insert(0, MAIN, series(3500, 1));
    await twin.deleteRange(0, MAIN, 10, 20);
    await twin.same(0, MAIN);
    await twin.deleteRange(0, MAIN, 500, 2200);
    await twin.same(0, MAIN);
    await twin.deleteRange(0, MAIN, 0, 300);
    await twin.same(0, MAIN);
    await twin.deleteRange(0, MAIN, 1400, 1800);
    await twin.same(0, MAIN);
    // The end went: the next insert orders against the new last point.
    await twin.insert(0, MAIN, series(5, 2))
    await twin.same(0, MAIN);
    await twin.insert(0, MAIN, series(1200, 4000));
    await twin.same(0, MAIN);
    await twin.deleteRange(0, MAIN, 0, 1e9);
    await twin.same(0, MAIN);
    expect(await data.length(twin.pgIds[0], MAIN)).toBe(0);
    await twin.insert(0, MAIN, series(3, 1));
    await twin.same(0, MAIN);
  });

  it('deleteRange writes its meta-log entries through the configured writer in its own transaction', async () => {
    const [a, b] = twin.pgIds;
    const entry = { userId: 1, rule: rule(series(1, 5)), logStream: { name: 'log', nickname: '', description: '', icon: '', schema: '{}', datatype: '', ephemeral: false, downlink: false } };
    await expect(data.deleteRange(a, MAIN, 0, 1, [entry])).rejects.toThrow('no meta-log writer');
    const logged = new PgDatapoints(db, { log: async (c, entries) => { for (const e of entries) await insertOn(c, { streamId: b, deviceId: twin.pgDevice, sub: MAIN }, e.rule); } });
    await twin.insert(0, MAIN, series(10, 1));
    expect(await logged.deleteRange(a, MAIN, 2, 4, [entry])).toBe(2);
    expect([await data.length(a, MAIN), await data.length(b, MAIN)]).toEqual([8, 1]);
    const failing = new PgDatapoints(db, { log: () => Promise.reject(new Error('log refused')) });
    await expect(failing.deleteRange(a, MAIN, 0, 8, [entry])).rejects.toThrow('log refused');
    expect(await data.length(a, MAIN)).toBe(8);
  });

  it('applies retention at insert by dropping whole sealed chunks', async () => {
    const keep = { datapoints: 1500, seconds: 0 };
    for (let k = 0; k < 6; k++) await twin.insert(0, MAIN, series(700, k * 700 + 1), { keep });
    const [s] = await data.storageStats([twin.pgIds[0]]);
    expect(s.datapoints).toBeLessThan(2600);
    expect(s.datapoints).toBeGreaterThanOrEqual(1500);
    await twin.same(0, MAIN);
    const old = { datapoints: 0, seconds: 3600 };
    await twin.insert(1, MAIN, series(2100, 1), { keep: old });
    await twin.same(1, MAIN);
    expect(await data.length(twin.pgIds[1], MAIN)).toBe(100);
  });

  it('sweeps retention exactly: the stream own limits, else the defaults', async () => {
    await twin.insert(0, MAIN, series(2345, 1));
    await twin.insert(1, MAIN, series(1200, 1));
    await twin.insert(1, DOWNLINK, series(50, 1));
    await db.query('UPDATE streams SET keep_datapoints = 1001 WHERE id = $1', [twin.pgIds[0]]);
    await sq.meta.updateStream(twin.sqIds[0], { keep_datapoints: 1001 }, false, []);
    const none = { datapoints: 0, seconds: 0 };
    expect(await data.sweepRetention(none, 5000)).toBe(await sq.data.sweepRetention(none, 5000));
    await twin.same(0, MAIN);
    expect(await data.length(twin.pgIds[0], MAIN)).toBe(1001);
    const defaults = { datapoints: 0, seconds: 100 };
    expect(await data.sweepRetention(defaults, 1000)).toBe(await sq.data.sweepRetention(defaults, 1000));
    for (const [s, sub] of [[0, MAIN], [1, MAIN], [1, DOWNLINK]] as const) await twin.same(s, sub);
    expect(await data.length(twin.pgIds[1], MAIN)).toBe(300);
  });

  it('checks the stream and device quotas and refuses a batch without touching the others of its group', async () => {
    const t = (s: number): InsertTarget => ({ streamId: twin.pgIds[s], deviceId: twin.pgDevice, sub: MAIN });
    const r = await Promise.allSettled([
      data.insertDatapoints(t(0), rule(series(2, 1))),
      data.insertDatapoints(t(0), rule(series(100, 5), { maxStreamBytes: 500 })),
      data.insertDatapoints(t(1), rule(series(3, 1))),
      data.insertDatapoints(t(1), rule(series(1, 9), { fail: new Error('refused') })),
      data.insertDatapoints(t(1), rule(series(10, 9), { maxDeviceBytes: 150 })),
      data.insertDatapoints(t(0), rule(series(1, 3))),
      data.insertDatapoints(t(0), rule([])),
    ]);
    expect(r.map((x) => (x.status === 'fulfilled' ? x.value : (x.reason as Error).message))).toEqual([0, 'quota stream', 0, 'refused', 'quota device', 2, -1]);
    expect(await data.length(twin.pgIds[0], MAIN)).toBe(3);
    expect(await data.length(twin.pgIds[1], MAIN)).toBe(3);
  });

  it('a first batch that stores nothing leaves no substream behind, like the SQLite engine', async () => {
    await twin.insert(0, MAIN, []);
    await twin.insert(0, DOWNLINK, series(2, 1), { fail: new Error('refused') });
    expect(await data.storageStats()).toEqual(await sq.data.storageStats());
    expect(await data.storageStats()).toEqual([]);
    await twin.insert(0, MAIN, series(2, 1));
    await twin.deleteRange(0, MAIN, 0, 2);
    await twin.insert(0, MAIN, []);
    expect((await data.storageStats()).map((x) => ({ ...x, streamId: 0 }))).toEqual((await sq.data.storageStats()).map((x) => ({ ...x, streamId: 0 })));
    await twin.same(0, MAIN);
  });

  it('insertOn joins the caller transaction; dropStreamData and dropSubstreamData remove data and summary', async () => {
    const id = twin.pgIds[0];
    await expect(
      db.tx(async (c) => {
        expect(await insertOn(c, { streamId: id, deviceId: twin.pgDevice, sub: MAIN }, rule(series(1500, 1)))).toBe(0);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await data.length(id, MAIN)).toBe(0);
    await db.tx(async (c) => {
      expect(await insertOn(c, { streamId: id, deviceId: twin.pgDevice, sub: MAIN }, rule(series(1500, 1)))).toBe(0);
      expect(await insertOn(c, { streamId: id, deviceId: twin.pgDevice, sub: DOWNLINK }, rule(series(5, 1)))).toBe(0);
      expect(await insertOn(c, { streamId: id, deviceId: twin.pgDevice, sub: MAIN }, rule(series(5, 1)))).toBe(1500);
    });
    expect(await data.length(id, MAIN)).toBe(1505);
    await db.tx((c) => dropSubstreamData(c, id, DOWNLINK));
    expect(await data.length(id, DOWNLINK)).toBe(0);
    expect(await data.length(id, MAIN)).toBe(1505);
    await db.tx((c) => dropStreamData(c, id));
    expect(await data.storageStats([id])).toEqual([]);
    const left = await db.query('SELECT (SELECT count(*) FROM datapoints) + (SELECT count(*) FROM chunks) AS n');
    expect(left.rows[0].n).toBe(0);
  });

  it('a streaming read misses nothing when a seal moves tail rows into a chunk between its pulls', async () => {
    const id = twin.pgIds[0];
    await twin.insert(0, MAIN, series(16 * 1000 + 1500, 1));
    const it = data.readBatches(id, MAIN, 0, 1e9);
    const got: string[] = [];
    let pulls = 0;
    for (let r = await it.next(); !r.done; r = await it.next()) {
      got.push(...r.value);
      // After the first chunk: the 500 tail rows at the end are sealed with 600 new points.
      if (++pulls === 1) await twin.insert(0, MAIN, series(600, 1e6));
    }
    // The read saw the length of its first statement: every point that existed then, once, in order.
    expect(got).toEqual((await all(sq.data.readBatches(twin.sqIds[0], MAIN, 0, 16 * 1000 + 1500))));
    await twin.same(0, MAIN);
  });

  it('a read stopped early leaves no statement running and the pool usable', async () => {
    const id = twin.pgIds[0];
    await twin.insert(0, MAIN, series(40 * 1000, 1));
    for (let k = 0; k < 3; k++) {
      for await (const b of data.readBatches(id, MAIN, 0, 40 * 1000)) {
        expect(b.length).toBe(1000);
        break;
      }
    }
    expect(db.pool.waitingCount).toBe(0);
    expect(await data.length(id, MAIN)).toBe(40000);
  });

  it('runs the read plans with a synchronous driver the same as the async one', async () => {
    await twin.insert(0, MAIN, series(2222, 1));
    const id = twin.pgIds[0];
    // A "synchronous" exec over rows fetched beforehand, as a worker-thread driver would answer.
    const cache = new Map<string, pg.QueryResultRow[]>();
    const record = async (plan: Generator<{ text: string; values: unknown[] }, unknown, pg.QueryResultRow[]>) => {
      let step = plan.next();
      while (!step.done) {
        const r = await db.query(step.value.text, step.value.values);
        cache.set(JSON.stringify(step.value), r.rows);
        step = plan.next(r.rows);
      }
      return step.value;
    };
    const exec = (q: { text: string; values: unknown[] }) => cache.get(JSON.stringify(q))!;
    expect(await record(lengthPlan(id, MAIN))).toBe(2222);
    expect(runPlanSync(exec, lengthPlan(id, MAIN))).toBe(2222);
    const want = await record(readPlan(id, MAIN, 5, 2100));
    expect(runPlanSync(exec, readPlan(id, MAIN, 5, 2100))).toEqual(want);
    expect((want as string[]).length).toBe(2095);
    const pieces = [...runPiecesSync(exec, piecesPlan(id, MAIN, 5, 2100))];
    expect(pieces.map((p) => p.chunk.wires(p.from, p.to)).flat()).toEqual(want);
    expect(pieces.length).toBe(3);
    expect(pieces[0].chunk.numeric).not.toBeNull();
    // Statements sent ahead, answered at once by a synchronous driver: the same pieces.
    const recordPieces = async (plan: ReturnType<typeof piecesPlan>) => {
      let step = plan.next();
      while (!step.done) {
        const v = step.value;
        if (isQuery(v)) {
          const r = await db.query(v.text, v.values);
          cache.set(JSON.stringify(v), r.rows);
          step = plan.next(r.rows);
        } else step = plan.next(undefined);
      }
    };
    await recordPieces(piecesPlan(id, MAIN, 5, 2100, 1, true));
    const ahead = [...runPiecesSync(exec, piecesPlan(id, MAIN, 5, 2100, 1, true))];
    expect(ahead.map((p) => p.chunk.wires(p.from, p.to)).flat()).toEqual(want);
    expect(await all(data.readBatches(id, MAIN, 5, 2100))).toEqual(want);
    await record(time2indexPlan(id, MAIN, 1500.5));
    expect(runPlanSync(exec, time2indexPlan(id, MAIN, 1500.5))).toBe(1500);
    expect(await runPlan(db, time2indexPlan(id, MAIN, 1500.5))).toBe(1500);
  });
});

describe.skipIf(unreachable !== undefined)('PostgreSQL datapoint engine, two processes', () => {
  let dbs: PgDb[] = [];
  let schema: string;
  let streamIds: number[];
  let deviceId: number;

  beforeAll(async () => {
    const f = await freshSchema(1, 6);
    schema = f.schema;
    streamIds = f.streamIds;
    deviceId = f.deviceId;
    dbs = [f.db, new PgDb({ uri: withSchema(schema), max: 6 })];
  });
  afterAll(async () => {
    for (const d of dbs) await d.close();
    if (schema) await dropSchema(schema);
  });

  it('two PgDb instances with concurrent writers end with every point once, in order, restamped, no gaps', async () => {
    const engines: DatapointStorage[] = dbs.map((d) => new PgDatapoints(d));
    const id = streamIds[0];
    const writers = 10;
    const perWriter = 60;
    const seen: { index: number; n: number }[] = [];
    let seq = 0;
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        const eng = engines[w % 2];
        for (let k = 0; k < perWriter; k++) {
          // Batch sizes 1…97 so seals happen under contention; timestamps deliberately behind.
          const n = k % 10 === 0 ? 97 : 1 + ((w * 7 + k) % 5);
          const t = seq++;
          const pts = series(n, t, (i) => `${w}:${k}:${i}`, 0);
          const index = await eng.insertDatapoints({ streamId: id, deviceId, sub: MAIN }, rule(pts));
          seen.push({ index, n });
        }
      }),
    );
    const total = seen.reduce((s, x) => s + x.n, 0);
    expect(await engines[0].length(id, MAIN)).toBe(total);
    // Indexes handed out tile [0, total) exactly.
    const sorted = [...seen].sort((a, b) => a.index - b.index);
    let next = 0;
    for (const x of sorted) {
      expect(x.index).toBe(next);
      next += x.n;
    }
    const rows = (await all(engines[1].readBatches(id, MAIN, 0, total))).map((j) => JSON.parse(j) as { t: number; d: string });
    expect(rows.length).toBe(total);
    expect(new Set(rows.map((r) => r.d)).size).toBe(total);
    for (let i = 1; i < rows.length; i++) expect(rows[i].t).toBeGreaterThanOrEqual(rows[i - 1].t);
    // Each writer's points appear in the order it wrote them.
    const last = new Map<number, number>();
    for (const r of rows) {
      const [w, k, i] = r.d.split(':').map(Number);
      const pos = k * 1000 + i;
      expect(pos).toBeGreaterThan(last.get(w) ?? -1);
      last.set(w, pos);
    }
    const [s] = await engines[0].storageStats([id]);
    expect(s.datapoints).toBe(total);
    expect(s.chunks).toBe(Math.floor(total / 1000));
  });

  it('an insert from a process whose last write another process has since followed is ruled on the real state', async () => {
    const [a, b] = dbs.map((d) => new PgDatapoints(d));
    const id = streamIds[0];
    await a.deleteRange(id, MAIN, 0, 1e9);
    expect(await a.insertDatapoints({ streamId: id, deviceId, sub: MAIN }, rule(series(3, 1)))).toBe(0);
    // A now knows the substream at length 3, last t 3; B writes after it.
    expect(await b.insertDatapoints({ streamId: id, deviceId, sub: MAIN }, rule([{ t: 10, d: 'b' }]))).toBe(3);
    // A's guess is stale: its insert is redone on the real state (index 4, restamped to B's 10).
    expect(await a.insertDatapoints({ streamId: id, deviceId, sub: MAIN }, rule([{ t: 5, d: 'a' }]))).toBe(4);
    expect(await all(a.readBatches(id, MAIN, 0, 10))).toEqual(['{"t":1,"d":0}', '{"t":2,"d":1}', '{"t":3,"d":2}', '{"t":10,"d":"b"}', '{"t":10,"d":"a"}']);
    // Refused on the real state too: without restamp, older than B's last is an error, and A's
    // known state (last t 3 before) would have let it through.
    expect(await b.insertDatapoints({ streamId: id, deviceId, sub: MAIN }, rule([{ t: 20, d: 'b2' }]))).toBe(5);
    await expect(a.insertDatapoints({ streamId: id, deviceId, sub: MAIN }, rule([{ t: 15, d: 'late' }], { restamp: false }))).rejects.toThrow(/Greater timestamp/);
    expect(await a.length(id, MAIN)).toBe(6);
  });

  it('an insert after another process deleted the data keeps its own timestamps (the stale guess restamped them)', async () => {
    const [a, b] = dbs.map((d) => new PgDatapoints(d));
    const id = streamIds[0];
    await a.deleteRange(id, MAIN, 0, 1e9);
    await a.insertDatapoints({ streamId: id, deviceId, sub: MAIN }, rule([{ t: 100, d: 1 }]));
    expect(await b.deleteRange(id, MAIN, 0, 1e9)).toBe(1);
    // A still guesses last t 100 and would restamp 50 to 100; the real state is empty.
    expect(await a.insertDatapoints({ streamId: id, deviceId, sub: MAIN }, rule([{ t: 50, d: 2 }]))).toBe(0);
    expect(await all(a.readBatches(id, MAIN, 0, 10))).toEqual(['{"t":50,"d":2}']);
  });

  it('a second insert into a substream this process wrote last takes one round trip (one call that locks, writes and commits)', async () => {
    const d = new PgDb({ uri: withSchema(schema), max: 2 });
    const sent: string[] = [];
    d.pool.on('connect', (client) => {
      const q = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
        const q0 = args[0] as string | { text?: string };
        sent.push(typeof q0 === 'string' ? q0 : String(q0.text));
        return q(...args);
      };
    });
    try {
      const eng = new PgDatapoints(d);
      const id = streamIds[0];
      const n0 = await eng.length(id, MAIN);
      await eng.insertDatapoints({ streamId: id, deviceId, sub: MAIN }, rule([{ t: 1000, d: 'x' }]));
      sent.length = 0;
      expect(await eng.insertDatapoints({ streamId: id, deviceId, sub: MAIN }, rule([{ t: 1001, d: 'y' }]))).toBe(n0 + 1);
      expect(sent).toHaveLength(1);
      expect(sent[0]).toMatch(/FROM cdb_append\(/);
    } finally {
      await d.close();
    }
  });

  it('a substream cleared while writers of two processes insert into it leaves no row behind', async () => {
    const engines = dbs.map((d) => new PgDatapoints(d));
    const id = streamIds[0];
    let stop = false;
    const writers = Array.from({ length: 6 }, async (_, w) => {
      let k = 0;
      while (!stop) {
        const n = k++ % 7 === 0 ? 400 : 3;
        await engines[w % 2].insertDatapoints({ streamId: id, deviceId, sub: DOWNLINK }, rule(series(n, k, (i) => `${w}:${i}`, 0)));
      }
    });
    for (let r = 0; r < 8; r++) {
      await new Promise((res) => setTimeout(res, 60));
      await dbs[r % 2].tx((c) => dropSubstreamData(c, id, DOWNLINK));
    }
    stop = true;
    await Promise.all(writers);
    // What is stored is exactly what the summary says: every index once, nothing orphaned.
    const q = await dbs[0].query(
      `SELECT s.base, s.length, s.sealed,
              (SELECT coalesce(sum(i2 - i1 + 1), 0)::int8 FROM chunks c WHERE c.stream_id = s.stream_id AND c.sub = s.sub) AS in_chunks,
              (SELECT count(*) FROM datapoints d WHERE d.stream_id = s.stream_id AND d.sub = s.sub) AS in_tail,
              (SELECT count(*) FROM datapoints d WHERE d.stream_id = s.stream_id AND d.sub = s.sub AND d.idx < s.sealed) AS stale
         FROM substreams s WHERE s.stream_id = $1 AND s.sub = $2`,
      [id, DOWNLINK],
    );
    const row = q.rows[0] as { base: number; length: number; sealed: number; in_chunks: number; in_tail: number; stale: number };
    expect(row.in_chunks + row.in_tail).toBe(row.length);
    expect(row.stale).toBe(0);
    const rows = await all(engines[1].readBatches(id, DOWNLINK, 0, row.length));
    expect(rows.length).toBe(row.length);
    // And the substream takes inserts again.
    expect(await engines[0].insertDatapoints({ streamId: id, deviceId, sub: DOWNLINK }, rule(series(1, 1e9)))).toBe(row.length);
  });
});
