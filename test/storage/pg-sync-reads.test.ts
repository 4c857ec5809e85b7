import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStorage } from '../../src/storage';
import { PgDatapoints } from '../../src/storage/postgres/data';
import { PgDb } from '../../src/storage/postgres/db';
import { resolveStream } from '../../src/storage/postgres/meta';
import { migrate } from '../../src/storage/postgres/migrate';
import { type PgSyncReads, openPgSyncReads } from '../../src/storage/postgres/sync';
import { type ChunkPiece, DOWNLINK, type InsertRule, MAIN, type Sub, type SyncReads } from '../../src/storage/types';
import { PG_BASE, pgReachable } from './pg-probe';

/**
 * PgSyncReads (the query pipeline's synchronous reads on PostgreSQL) against the SQLite engine's
 * own SyncReads over the same inserts: every answer must be the same, text for text.
 */

const up = pgReachable();
if (!up) console.warn(`pg-sync-reads tests skipped: PostgreSQL is unreachable at ${PG_BASE} (set CDB_TEST_PG)`);

const withSchema = (schema: string): string => `${PG_BASE}${PG_BASE.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;

function rule(points: { t: number; d: unknown }[]): InsertRule {
  return {
    prepare: () => {
      let bytes = 0;
      const stored = points.map((p) => {
        const j = JSON.stringify(p);
        bytes += j.length;
        return { t: p.t, j };
      });
      return { points: stored, bytes };
    },
    maxStreamBytes: 0,
    maxDeviceBytes: 0,
    quotaError: (w) => new Error(w),
  };
}

function flatten(it: Iterator<ChunkPiece>): { wires: string[]; numeric: number[] | null } {
  const wires: string[] = [];
  let numeric: number[] | null = [];
  for (let r = it.next(); !r.done; r = it.next()) {
    const pc = r.value;
    wires.push(...pc.chunk.wires(pc.from, pc.to));
    if (pc.chunk.numeric && numeric) numeric.push(...pc.chunk.numeric.subarray(pc.from, pc.to));
    else numeric = null;
  }
  return { wires, numeric };
}

describe.skipIf(!up)('PostgreSQL synchronous reads', () => {
  const schema = `t_pgsync_${process.pid}_${Date.now().toString(36)}`;
  let dir: string;
  let sq: SqliteStorage;
  let db: PgDb;
  let reads: PgSyncReads;
  let pgIds: number[];
  let sqIds: number[];
  let pgData: PgDatapoints;

  // Stream 0: numeric, 3 sealed chunks and a 500-point tail. Stream 1: objects and strings with
  // repeated timestamps (text chunks), and a downlink.
  const numeric = Array.from({ length: 3500 }, (_, i) => ({ t: 1000 + i * 0.5, d: i % 7 === 0 ? -(i + 1) / 3 : i }));
  const mixed = Array.from({ length: 2300 }, (_, i) => ({ t: 5000 + Math.floor(i / 3), d: i % 2 ? { x: i, s: 'é' + i } : 'v' + i }));
  const down = [
    { t: 1, d: true },
    { t: 2, d: null },
  ];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cdb-pgsync-'));
    sq = SqliteStorage.open(path.join(dir, 'db.sqlite3'));
    const user = { name: 'u', nickname: '', email: 'u@x', description: '', icon: '', public: false, role: 'user', password: 'x', password_salt: '', password_scheme: 'argon2id' };
    const device = { name: 'd', nickname: '', description: '', icon: '', apikey: 'k', enabled: true, public: false, role: 'user', visible: true, user_editable: true };
    const st = (name: string) => ({ name, nickname: '', description: '', icon: '', schema: '{}', datatype: '', ephemeral: false, downlink: true });
    const u = await sq.meta.createUser(user, [{ device, streams: [st('s0'), st('s1')] }], []);
    const d = (await sq.devices.get(u.id, 'd'))!;
    sqIds = [(await sq.streams.get(d.id, 's0'))!.id, (await sq.streams.get(d.id, 's1'))!.id];

    const admin = new pg.Client({ connectionString: PG_BASE });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    db = new PgDb({ uri: withSchema(schema), max: 2 });
    await migrate(db);
    const pu = await db.query<{ id: number }>(`INSERT INTO users (name, email, role, password) VALUES ('u', 'u@x', 'user', 'x') RETURNING id`);
    const pd = await db.query<{ id: number }>(`INSERT INTO devices (user_id, name, apikey, enabled) VALUES ($1, 'd', 'k', true) RETURNING id`, [pu.rows[0].id]);
    pgIds = [];
    for (const name of ['s0', 's1']) {
      pgIds.push((await db.query<{ id: number }>(`INSERT INTO streams (device_id, name, downlink) VALUES ($1, $2, true) RETURNING id`, [pd.rows[0].id, name])).rows[0].id);
    }
    pgData = new PgDatapoints(db);
    const both = async (s: number, sub: Sub, pts: { t: number; d: unknown }[]) => {
      await pgData.insertDatapoints({ streamId: pgIds[s], deviceId: pd.rows[0].id, sub }, rule(pts));
      await sq.data.insertDatapoints({ streamId: sqIds[s], deviceId: d.id, sub }, rule(pts));
    };
    for (let i = 0; i < numeric.length; i += 700) await both(0, MAIN, numeric.slice(i, i + 700));
    await both(1, MAIN, mixed);
    await both(1, DOWNLINK, down);
    reads = openPgSyncReads({ uri: withSchema(schema), timeoutMs: 5000 });
  });

  afterAll(async () => {
    await reads?.close();
    await db?.close();
    await sq?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    const admin = new pg.Client({ connectionString: PG_BASE });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  });

  const sync = (): SyncReads => sq.sync;

  it('answers length for every substream like the SQLite engine, 0 for one never written', () => {
    for (const s of [0, 1]) for (const sub of [MAIN, DOWNLINK] as Sub[]) expect(reads.length(pgIds[s], sub)).toBe(sync().length(sqIds[s], sub));
    expect(reads.length(pgIds[0], MAIN)).toBe(3500);
    expect(reads.length(999999, MAIN)).toBe(0);
  });

  it('answers time2index like the SQLite engine on chunk edges, inside chunks, in the tail and outside', () => {
    for (const s of [0, 1]) {
      const pts = s === 0 ? numeric : mixed;
      const probes = [-1, 0, 1e15, ...pts.filter((_, i) => i % 97 === 0 || i % 1000 < 2 || i % 1000 > 998).flatMap((p) => [p.t, p.t - 0.25, p.t + 0.25])];
      for (const t of probes) expect([t, reads.time2index(pgIds[s], MAIN, t)]).toEqual([t, sync().time2index(sqIds[s], MAIN, t)]);
    }
  });

  it('reads every range the same, across chunk edges and into the tail', () => {
    for (const s of [0, 1]) {
      const n = sync().length(sqIds[s], MAIN);
      for (const [i1, i2] of [
        [0, n],
        [0, 1],
        [999, 1001],
        [1000, 2000],
        [2999, 3100],
        [n - 3, n],
        [n, n + 5],
        [17, 1717],
      ]) {
        expect(reads.read(pgIds[s], MAIN, i1, i2)).toEqual(sync().read(sqIds[s], MAIN, i1, i2));
      }
    }
    expect(reads.read(pgIds[1], DOWNLINK, 0, 2)).toEqual(['{"t":1,"d":true}', '{"t":2,"d":null}']);
  });

  it('hands out pieces with numeric chunks as typed arrays and the same texts', () => {
    const a = flatten(reads.pieces(pgIds[0], MAIN, 0, 3000));
    const b = flatten(sync().pieces!(sqIds[0], MAIN, 0, 3000));
    expect(a.wires).toEqual(b.wires);
    expect(a.numeric).toEqual(numeric.slice(0, 3000).map((p) => p.d));
    for (const [i1, i2] of [
      [0, 3500],
      [500, 3200],
      [3400, 3500],
    ]) {
      expect(flatten(reads.pieces(pgIds[0], MAIN, i1, i2)).wires).toEqual(flatten(sync().pieces!(sqIds[0], MAIN, i1, i2)).wires);
      expect(flatten(reads.pieces(pgIds[1], MAIN, i1, i2)).wires).toEqual(flatten(sync().pieces!(sqIds[1], MAIN, i1, i2)).wires);
    }
  });

  it('fetches the next batch while the current one is consumed, and a consumer that stops early leaves the bridge usable', () => {
    const before = { ...reads.bridge.stats };
    const it = reads.pieces(pgIds[0], MAIN, 0, 3500);
    const first = it.next();
    expect(first.done).toBe(false);
    it.return?.();
    expect(reads.length(pgIds[0], MAIN)).toBe(3500);
    expect(reads.bridge.stats.restarts).toBe(before.restarts);
    // FETCH chunks a statement: 3 chunks and the tail, then the layout check past the tail.
    const all = flatten(reads.pieces(pgIds[0], MAIN, 0, 3500));
    expect(all.wires).toHaveLength(3500);
  });

  it('resolves a stream with its device and user in one statement, like the async engine', async () => {
    for (const [u, d, s] of [
      ['u', 'd', 's0'],
      ['u', 'd', 's1'],
      ['u', 'd', 'nope'],
      ['u', 'nope', 's0'],
      ['nope', 'd', 's0'],
      ['U', 'd', 's0'],
    ]) {
      expect(reads.resolveStream(u, d, s)).toEqual(await resolveStream(db, u, d, s));
    }
    const r = reads.resolveStream('u', 'd', 's0');
    expect(r.stream).toMatchObject({ id: pgIds[0], name: 's0', downlink: true, keep_datapoints: 0, keep_seconds: 0 });
    expect(r.device).toMatchObject({ name: 'd', enabled: true });
  });
});
