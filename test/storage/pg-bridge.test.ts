import { createHash } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgSyncBridge, SyncQueryError } from '../../src/storage/postgres/bridge';
import { PG_BASE, pgReachable } from './pg-probe';

// Unreachable, the file is skipped and says so (the PostgreSQL run of .ci/run always has one).
const BASE = PG_BASE;
const up = pgReachable();
if (!up) console.warn(`pg-bridge tests skipped: PostgreSQL is unreachable at ${BASE} (set CDB_TEST_PG)`);

const workerOf = (b: PgSyncBridge): Worker => (b as unknown as { live: { worker: Worker } }).live.worker;
const pid = (b: PgSyncBridge): number => b.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')[0].pid;

describe.skipIf(!up)('the synchronous PostgreSQL bridge', () => {
  let admin: pg.Client;
  let b: PgSyncBridge;

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: BASE });
    await admin.connect();
    b = new PgSyncBridge({ uri: BASE, timeoutMs: 5000 });
  });
  afterAll(async () => {
    await b?.close();
    await admin?.end();
  });

  it('answers a statement synchronously with int8 as numbers and the values bound', () => {
    const rows = b.query('SELECT 42::int8 AS n, $1::text AS s, $2::float8 AS f, true AS yes, NULL::text AS none', ['é"x', 1.5]);
    expect(rows).toEqual([{ n: 42, s: 'é"x', f: 1.5, yes: true, none: null }]);
    expect(b.query('SELECT 1 AS a, 2 AS b', [], true)).toEqual([[1, 2]]);
  });

  it('throws the server error with its SQLSTATE and keeps the connection', () => {
    const before = pid(b);
    let err: unknown;
    try {
      b.query('SELECT * FROM no_such_table');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SyncQueryError);
    expect((err as SyncQueryError).code).toBe('42P01');
    expect((err as Error).message).toMatch(/no_such_table/);
    expect(pid(b)).toBe(before);
  });

  it('gives up on a query after the timeout with a clear error, and the next call works', () => {
    const quick = new PgSyncBridge({ uri: BASE, timeoutMs: 300 });
    try {
      // The first answer may take a new worker's start-up on top of the timeout; later ones not.
      const first = pid(quick);
      const t0 = performance.now();
      expect(() => quick.query('SELECT pg_sleep(5)')).toThrow(/PostgreSQL did not answer within 300 ms/);
      const waited = performance.now() - t0;
      expect(waited).toBeGreaterThanOrEqual(290);
      expect(waited).toBeLessThan(3000);
      const second = pid(quick);
      expect(second).not.toBe(first);
      expect(quick.stats.restarts).toBe(1);
    } finally {
      void quick.close();
    }
  });

  it('fails the query whose connection was terminated, and reconnects on the next one', async () => {
    const first = pid(b);
    await admin.query('SELECT pg_terminate_backend($1)', [first]);
    // The worker may learn of it while idle or from the next statement: at most one failure.
    let failures = 0;
    let now = 0;
    for (let i = 0; i < 2 && now === 0; i++) {
      try {
        now = pid(b);
      } catch (e) {
        expect(e).toBeInstanceOf(SyncQueryError);
        failures++;
      }
    }
    expect(failures).toBeLessThanOrEqual(1);
    expect(now).toBeGreaterThan(0);
    expect(now).not.toBe(first);
  });

  it('runs a query sent ahead again when its worker died before answering it', async () => {
    const first = pid(b);
    const t = b.send('SELECT pg_backend_pid() AS pid, pg_sleep(0.2)');
    await workerOf(b).terminate();
    await new Promise((r) => setImmediate(r));
    const again = b.take(t) as { pid: number }[];
    expect(again[0].pid).not.toBe(first);
    expect(pid(b)).toBe(again[0].pid);
  });

  it('keeps the answers sent ahead of other consumers when one query times out', () => {
    const quick = new PgSyncBridge({ uri: BASE, timeoutMs: 400 });
    try {
      pid(quick);
      const ahead = quick.send('SELECT $1::int AS v', [7]);
      const slow = quick.send('SELECT pg_sleep(5)');
      const lost = quick.send('SELECT $1::int AS v', [8]);
      expect(() => quick.take(slow)).toThrow(/did not answer within 400 ms/);
      // The first answer had arrived before the timeout; the third, queued behind the slow one
      // on the discarded worker, runs again on the new one.
      const sent = quick.stats.queries;
      expect(quick.take(lost)).toEqual([{ v: 8 }]);
      expect(quick.stats.queries).toBe(sent + 1);
      expect(quick.take(ahead)).toEqual([{ v: 7 }]);
      expect(() => quick.take(ahead)).toThrow(/already answered/);
    } finally {
      void quick.close();
    }
  });

  it('bounds the answers waiting unclaimed, and runs an evicted one again when it is taken', () => {
    const tickets = Array.from({ length: 50 }, (_, i) => b.send('SELECT $1::int AS v', [i]));
    const before = b.stats.queries;
    // Taking the last reads every earlier answer off the port; only the newest 32 are kept.
    expect(b.take(tickets[49])).toEqual([{ v: 49 }]);
    for (let i = 0; i < 49; i++) expect(b.take(tickets[i])).toEqual([{ v: i }]);
    expect(b.stats.queries - before).toBe(49 - 32);
  });

  it('runs a sent query ahead while the caller works, answers each ticket with its own rows, and discards dropped ones', () => {
    const a = b.send('SELECT $1::int AS v', [1]);
    const c = b.send('SELECT $1::int AS v', [2]);
    const d = b.send('SELECT $1::int AS v, pg_sleep(0.05)', [3]);
    expect(b.take(c)).toEqual([{ v: 2 }]);
    b.drop(d);
    expect(b.take(a)).toEqual([{ v: 1 }]);
    expect(b.query('SELECT $1::int AS v', [4])).toEqual([{ v: 4 }]);
    expect(() => b.take(d)).toThrow(/already answered, dropped or forgotten/);
  });

  it('hands bytea over as Buffers, big ones intact', async () => {
    const rows = b.query<{ small: Buffer; big: Buffer; sum: string }>(
      "SELECT '\\x0102ff'::bytea AS small, convert_to(repeat('abcdefgh', 1048576), 'UTF8') AS big, md5(repeat('abcdefgh', 1048576)) AS sum",
    );
    expect(Buffer.isBuffer(rows[0].small)).toBe(true);
    expect([...rows[0].small]).toEqual([1, 2, 255]);
    expect(Buffer.isBuffer(rows[0].big)).toBe(true);
    expect(rows[0].big.length).toBe(8 * 1048576);
    expect(createHash('md5').update(rows[0].big).digest('hex')).toBe(rows[0].sum);
    // Many small blobs in one answer each come back as their own Buffer.
    const many = b.query<{ i: number; data: Buffer }>("SELECT i, decode(lpad(to_hex(i), 8, '0'), 'hex') AS data FROM generate_series(1, 2000) i");
    expect(many).toHaveLength(2000);
    expect(many.every((r) => Buffer.isBuffer(r.data) && r.data.readUInt32BE(0) === r.i)).toBe(true);
  });

  it('returns big results whole', () => {
    const rows = b.query<[number, string]>("SELECT i::int8, '{\"t\":' || i || ',\"d\":' || i || '}' FROM generate_series(1, 200000) i", [], true);
    expect(rows).toHaveLength(200000);
    expect(rows[199999]).toEqual([200000, '{"t":200000,"d":200000}']);
  });

  it('fails fast with a clear error when the server cannot be reached, and never hangs', () => {
    const nowhere = new PgSyncBridge({ uri: 'postgres://cdb@127.0.0.1:1/postgres', timeoutMs: 3000 });
    try {
      const t0 = performance.now();
      expect(() => nowhere.query('SELECT 1')).toThrow(/ECONNREFUSED|connect/);
      expect(performance.now() - t0).toBeLessThan(3000);
      // The next call tries again (and fails the same way), it does not wait on a dead worker.
      expect(() => nowhere.query('SELECT 1')).toThrow(/ECONNREFUSED|connect/);
    } finally {
      void nowhere.close();
    }
  });
});
