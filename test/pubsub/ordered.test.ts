import { readFileSync } from 'node:fs';
import { portOpen } from '../storage/pg-probe';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Datapoint } from '../../src/pipescript/datapoint';
import type { PublishedBatch, PubSub } from '../../src/pubsub';
import { NatsPubSub } from '../../src/pubsub/nats';
import { type BusSource, OrderedPubSub } from '../../src/pubsub/ordered';
import { PgNotifyPubSub } from '../../src/pubsub/pgnotify';
import { storageSource } from '../../src/pubsub/source';
import { ADMIN, type TestApp, makeApp } from '../helpers';

/**
 * The reorder step in front of the two networked buses, with real servers: NATS (CDB_TEST_NATS,
 * default nats://127.0.0.1:14222) and PostgreSQL LISTEN/NOTIFY (CDB_TEST_PG, default
 * postgres://cdb@127.0.0.1:55432/cluster_bus, one schema for this file). The datapoints a gap is
 * read back from live in a real store: a SQLite app whose stream the batches describe (the bus
 * only needs a store with those indexes; the cluster test runs it all on PostgreSQL).
 */
const NATS_URL = new URL(process.env.CDB_TEST_NATS ?? 'nats://127.0.0.1:14222');
const PG_BASE = process.env.CDB_TEST_PG ?? 'postgres://cdb@127.0.0.1:55432/cluster_bus';
const SCHEMA = `bus_ordered_${process.pid}`;
const PG_URI = `${PG_BASE}${PG_BASE.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${SCHEMA}`)}`;


/** Filled in beforeAll; a case whose server is unreachable skips itself with the reason logged. */
const up = { nats: false, pg: false };
async function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let t: TestApp;
let source: BusSource;
let sid = 0;
/** What the store holds: batches of 3 datapoints at indexes 0, 3, 6, … */
let stored: PublishedBatch[] = [];
const PATH = 'test/user/s';

beforeAll(async () => {
  const pgUrl = new URL(PG_BASE);
  up.nats = await portOpen(NATS_URL.hostname, Number(NATS_URL.port || 4222));
  up.pg = await portOpen(pgUrl.hostname, Number(pgUrl.port || 5432));
  if (!up.nats) console.warn(`ordered.test: NATS at ${NATS_URL.href} unreachable (CDB_TEST_NATS): the NATS cases are skipped`);
  if (!up.pg) console.warn(`ordered.test: PostgreSQL at ${PG_BASE} unreachable (CDB_TEST_PG): the LISTEN/NOTIFY cases are skipped`);
  t = await makeApp();
  source = storageSource(t.storage);
  if (up.pg) {
    const c = new pg.Client({ connectionString: PG_BASE });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await c.query(`CREATE SCHEMA ${SCHEMA}`);
    await c.query(`SET search_path = ${SCHEMA}`);
    await c.query(readFileSync(path.join(__dirname, '..', '..', 'migrations', 'postgres', '001_init.sql'), 'utf8'));
    await c.end();
  }
}, 30_000);

afterAll(async () => {
  await t?.close();
  if (up.pg) {
    const c = new pg.Client({ connectionString: PG_BASE });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await c.end();
  }
});

/** An empty stream at PATH; `stored` forgets the old one. */
async function freshStream(): Promise<void> {
  await t.http.delete(`/api/v1/crud/${PATH}`).set('Authorization', ADMIN);
  const r = await t.http.post(`/api/v1/crud/${PATH}`).set('Authorization', ADMIN).send({});
  expect(r.status).toBe(200);
  sid = (await t.storage.resolveStream('test', 'user', 's')).stream!.id;
  stored = [];
}

async function insertStored(n: number): Promise<void> {
  for (let k = 0; k < n; k++) {
    const i = stored.length * 3;
    const data: Datapoint[] = [
      { t: 100 + i, d: i },
      { t: 101 + i, d: { x: i + 1 } },
      { t: 102 + i, d: `s${i + 2}` },
    ];
    const r = await t.http.post(`/api/v1/crud/${PATH}/data`).set('Authorization', ADMIN).send(data.map(({ t: tt, d }) => ({ t: tt, d })));
    expect(r.status).toBe(200);
    stored.push({ stream: PATH, data, index: i, sid });
  }
}

interface Pair {
  /** The writer's bus (process A) and a second writer (process C). */
  a: OrderedPubSub;
  c: OrderedPubSub;
  /** The subscriber's bus (process B). */
  b: OrderedPubSub;
  logs: string[];
  close(): Promise<void>;
}

type Opener = (log: (m: string) => void) => Promise<PubSub & { flush?(): Promise<void> }>;

const natsOpen: Opener = (log) => NatsPubSub.connect({ hostname: NATS_URL.hostname, port: Number(NATS_URL.port || 4222), subjectPrefix: `cbtest${process.pid}`, log });
const pgOpen: Opener = (log) => PgNotifyPubSub.open({ uri: PG_URI, source, log });

async function three(open: Opener, gapMs = 200): Promise<Pair> {
  const logs: string[] = [];
  const log = (m: string) => logs.push(m);
  const wrap = async () => new OrderedPubSub(await open(log), source, { gapMs, log });
  const a = await wrap();
  const b = await wrap();
  const c = await wrap();
  return {
    a,
    b,
    c,
    logs,
    async close() {
      await Promise.all([a.close(), b.close(), c.close()]);
    },
  };
}

/** Subscribes on B and waits until its start (the stored length) is known. */
async function subscribeB(p: Pair, stream = PATH): Promise<PublishedBatch[]> {
  const got: PublishedBatch[] = [];
  p.b.subscribe(stream, (x) => got.push(x));
  await p.b.settled();
  return got;
}

/** The datapoints received, flattened with their indexes. */
const flat = (got: PublishedBatch[]) => got.filter((g) => g.index !== undefined).flatMap((g) => g.data.map((d, k) => ({ i: g.index! + k, d })));
const expectAll = (got: PublishedBatch[], from: number, to: number) => {
  const f = flat(got);
  expect(f.map((x) => x.i)).toEqual(Array.from({ length: to - from }, (_, k) => from + k));
  expect(f.map((x) => x.d)).toEqual(stored.flatMap((s) => s.data).slice(from, to));
};

for (const [name, open, server] of [
  ['NATS', natsOpen, 'nats'],
  ['LISTEN/NOTIFY', pgOpen, 'pg'],
] as const) {
  describe(`reorder step over ${name}`, () => {
    beforeEach((ctx) => {
      if (!up[server]) ctx.skip();
    });

    it('delivers the batches of two writer processes in index order, once each, whatever order they arrive in', async () => {
      await freshStream();
      const p = await three(open);
      const got = await subscribeB(p);
      await insertStored(12);
      // A published the even batches, C the odd ones; C's arrive first.
      for (let k = 11; k >= 0; k -= 2) p.c.publish(stored[k]);
      for (let k = 0; k < 12; k += 2) p.a.publish(stored[k]);
      await waitFor(() => flat(got).length === 36, 'every datapoint on B');
      await sleep(50);
      expectAll(got, 0, 36);
      // One message per insert, as one process sends.
      expect(got.length).toBe(12);
      expect(got.map((g) => g.index)).toEqual(stored.map((s) => s.index));
      expect(p.logs.filter((l) => l.includes('gap'))).toEqual([]);
      await p.close();
    });

    it('reads a batch that never arrives back from storage after the gap timeout, and drops it when it turns up late', async () => {
      await freshStream();
      const p = await three(open, 100);
      const got = await subscribeB(p);
      await insertStored(4);
      p.a.publish(stored[0]);
      p.a.publish(stored[1]);
      // stored[2] is lost (core NATS is at most once; its writer may have died after the commit).
      const t0 = Date.now();
      p.a.publish(stored[3]);
      await waitFor(() => flat(got).length === 12, 'the gap filled from storage');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
      expectAll(got, 0, 12);
      p.c.publish(stored[2]);
      await sleep(100);
      expectAll(got, 0, 12);
      await p.close();
    });

    it('starts a subscription at the stored length: older batches arriving later are not delivered', async () => {
      await freshStream();
      await insertStored(2);
      const p = await three(open);
      const got = await subscribeB(p);
      await insertStored(1);
      p.a.publish(stored[0]);
      p.a.publish(stored[2]);
      await waitFor(() => flat(got).length === 3, 'the batch after the start');
      await sleep(50);
      expectAll(got, 6, 9);
      await p.close();
    });

    it('delivers batches without an index (ephemeral streams, the meta log) at once, even behind a gap', async () => {
      await freshStream();
      const p = await three(open, 300);
      const got = await subscribeB(p);
      await insertStored(2);
      p.a.publish(stored[1]);
      const eph: PublishedBatch = { stream: PATH, data: [{ t: 5, d: 'live only' }] };
      p.c.publish(eph);
      await waitFor(() => got.length === 1, 'the ephemeral batch');
      expect(got[0]).toEqual(eph);
      p.a.publish(stored[0]);
      await waitFor(() => got.length === 3, 'the held batches');
      expectAll(got, 0, 6);
      await p.close();
    });

    it('continues after the substream shrank, and restarts at 0 on a stream created again at the path', async () => {
      await freshStream();
      const p = await three(open);
      const got = await subscribeB(p);
      await insertStored(3);
      for (const s of stored) p.a.publish(s);
      await waitFor(() => flat(got).length === 9, 'the first batches');
      // A range delete moves the end back to 3: the next insert is index 3, with newer timestamps.
      expect((await t.http.delete(`/api/v1/crud/${PATH}/data?i1=3&i2=0`).set('Authorization', ADMIN)).status).toBe(200);
      expect((await t.http.post(`/api/v1/crud/${PATH}/data`).set('Authorization', ADMIN).send([{ t: 500, d: 'after delete' }])).status).toBe(200);
      const after: PublishedBatch = { stream: PATH, data: [{ t: 500, d: 'after delete' }], index: 3, sid };
      p.c.publish(after);
      // Counted by content: on a loaded machine a gap fill may have merged the first batches.
      const last = () => JSON.stringify(got[got.length - 1]);
      await waitFor(() => last() === JSON.stringify(after), 'the batch after the shrink');
      const before = got.length;
      // Deleted and created again: a new stream id whose indexes start at 0; the old id's batches are dropped.
      const oldSid = sid;
      // PostgreSQL never hands out an id twice; SQLite would reuse the highest one: a filler stream takes it.
      await t.http.delete(`/api/v1/crud/${PATH}`).set('Authorization', ADMIN);
      await t.http.post(`/api/v1/crud/test/user/filler${oldSid}`).set('Authorization', ADMIN).send({});
      await freshStream();
      expect(sid).toBeGreaterThan(oldSid);
      expect((await t.http.post(`/api/v1/crud/${PATH}/data`).set('Authorization', ADMIN).send([{ t: 1, d: 'new stream' }])).status).toBe(200);
      const renewed: PublishedBatch = { stream: PATH, data: [{ t: 1, d: 'new stream' }], index: 0, sid };
      p.a.publish(renewed);
      // From the same publisher, so it arrives after the new stream's batch: from another one it
      // may arrive first, when nothing yet says the stream is gone, and is rightly delivered.
      p.a.publish({ stream: PATH, data: [{ t: 600, d: 'old stream' }], index: 4, sid: oldSid });
      await waitFor(() => got.length === before + 1, 'the new stream');
      await sleep(100);
      expect(got[before]).toEqual(renewed);
      expect(got.length).toBe(before + 1);
      await p.close();
    });

    it("delivers the publishing process's own batch synchronously, with the very object published", async () => {
      await freshStream();
      const p = await three(open);
      const got = await subscribeB(p);
      await insertStored(2);
      p.b.publish(stored[0]);
      expect(got.length).toBe(1);
      expect(got[0]).toBe(stored[0]);
      p.b.publish(stored[1]);
      expect(got[1]).toBe(stored[1]);
      await p.close();
    });
  });
}

describe('LISTEN/NOTIFY bus', () => {
  beforeEach((ctx) => {
    if (!up.pg) ctx.skip();
  });

  it("carries a burst of inserts in few notices, on the schema's own channel", async () => {
    await freshStream();
    const logs: string[] = [];
    const a = await PgNotifyPubSub.open({ uri: PG_URI, source, log: (m) => logs.push(m) });
    const b = await PgNotifyPubSub.open({ uri: PG_URI, source });
    expect(a.channel).toBe(`cdb_data.${SCHEMA}`);
    const got: PublishedBatch[] = [];
    b.subscribe(PATH, (x) => got.push(x));
    await insertStored(50);
    for (const s of stored) a.publish(s);
    await a.sent();
    await waitFor(() => got.length === 50, 'the burst');
    expect(got).toEqual(stored);
    // 50 notices, one NOTIFY for the first and the rest batched behind it.
    expect(a.stats.notices).toBe(50);
    expect(a.stats.notifies).toBeLessThan(10);
    // Contiguous notices of one path are read back together.
    expect(b.stats.reads).toBeLessThan(50);
    await a.close();
    await b.close();
  });

  it('drops a batch without an index too big for a notice, with a log line; smaller ones travel inline', async () => {
    const logs: string[] = [];
    const a = await PgNotifyPubSub.open({ uri: PG_URI, source, log: (m) => logs.push(m) });
    const b = await PgNotifyPubSub.open({ uri: PG_URI, source });
    const got: PublishedBatch[] = [];
    b.subscribe('x/y/eph', (x) => got.push(x));
    a.publish({ stream: 'x/y/eph', data: [{ t: 1, d: 'x'.repeat(9000) }] });
    const small: PublishedBatch = { stream: 'x/y/eph', data: [{ t: 2, d: 'ünï€ode 🚀', o: 'x/z' }] };
    a.publish(small);
    await a.sent();
    await waitFor(() => got.length === 1, 'the small batch');
    expect(got[0]).toEqual(small);
    expect(logs.some((l) => l.includes('too big for a notice'))).toBe(true);
    expect(a.stats.dropped).toBe(1);
    await a.close();
    await b.close();
  });

  it('does not hear the notices of another schema in the same database', async () => {
    const other = `${SCHEMA}_other`;
    const c = new pg.Client({ connectionString: PG_BASE });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${other} CASCADE; CREATE SCHEMA ${other}; SET search_path = ${other}`);
    await c.query(readFileSync(path.join(__dirname, '..', '..', 'migrations', 'postgres', '001_init.sql'), 'utf8'));
    const otherUri = `${PG_BASE}?options=${encodeURIComponent(`-c search_path=${other}`)}`;
    const a = await PgNotifyPubSub.open({ uri: otherUri, source });
    const b = await PgNotifyPubSub.open({ uri: PG_URI, source });
    const b2 = await PgNotifyPubSub.open({ uri: otherUri, source });
    const got: string[] = [];
    b.subscribe('x/y/eph', () => got.push('wrong schema'));
    b2.subscribe('x/y/eph', () => got.push('same schema'));
    a.publish({ stream: 'x/y/eph', data: [{ t: 1, d: 1 }] });
    await waitFor(() => got.length === 1, 'the delivery');
    await sleep(100);
    expect(got).toEqual(['same schema']);
    await Promise.all([a.close(), b.close(), b2.close()]);
    await c.query(`DROP SCHEMA ${other} CASCADE`);
    await c.end();
  });
});
