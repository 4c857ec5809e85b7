import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { portOpen } from '../storage/pg-probe';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app';
import { type Config, defaultConfig } from '../../src/config';
import type { Services } from '../../src/domain';
import { hashPassword } from '../../src/domain/users/passwords';
import type { PubSub } from '../../src/pubsub';
import { OrderedPubSub } from '../../src/pubsub/ordered';
import { BusStartError, busKind, openBus } from '../../src/pubsub/select';
import { PgStorage } from '../../src/storage/postgres';
import { ADMIN, type TestApp, basic, keyAuth } from '../helpers';
import { Client, rest, within } from '../websocket/client';

/**
 * Two server instances in one test process on one PostgreSQL schema, each with its own storage
 * (pool, LISTEN connection), its own bus and its own HTTP/websocket listener: what two server
 * processes behind a proxy are, minus the process boundary. Run once with the NATS bus and once
 * with the LISTEN/NOTIFY fallback. Real servers: PostgreSQL (CDB_TEST_PG, default
 * postgres://cdb@127.0.0.1:55432/cluster_bus) and NATS (CDB_TEST_NATS, default
 * nats://127.0.0.1:14222, subjects under a prefix of this run); unreachable ones skip the cases.
 */
const PG_BASE = process.env.CDB_TEST_PG ?? 'postgres://cdb@127.0.0.1:55432/cluster_bus';
const NATS_URL = new URL(process.env.CDB_TEST_NATS ?? 'nats://127.0.0.1:14222');
const up = { nats: false, pg: false };


const uriFor = (schema: string) => `${PG_BASE}${PG_BASE.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_BASE });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

interface Node {
  t: TestApp;
  services: Services;
  storage: PgStorage;
  bus: PubSub;
  close(): Promise<void>;
}

async function node(kind: 'nats' | 'pgnotify', schema: string, dir: string): Promise<Node> {
  const config: Config = defaultConfig(dir);
  config.failed_login_delay = 0;
  config.sql.type = 'postgres';
  config.sql.uri = uriFor(schema);
  if (kind === 'nats') {
    config.nats.hostname = NATS_URL.hostname;
    config.nats.port = Number(NATS_URL.port || 4222);
  }
  const storage = await PgStorage.open({ uri: config.sql.uri, pool: 4 });
  expect(busKind(config, storage)).toBe(kind);
  // A gap timeout above this loaded machine's worst delivery delay: a gap read back from storage
  // is delivered as one message, which would make the message-for-message comparisons flaky
  // (test/pubsub/ordered.test.ts covers the gap reads at the default 200 ms).
  const bus = await openBus(config, storage, { pgUri: config.sql.uri, subjectPrefix: `cbtest${process.pid}_${schema}`, gapMs: 1000 });
  const { app, services } = buildApp({ config, storage, bus });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const t = { app, services, storage, dir, config, http: request(app.server) } as unknown as TestApp;
  return {
    t,
    services,
    storage,
    bus,
    async close() {
      await app.close();
      await bus.close();
      await storage.close();
    },
  };
}

/** Waits until the bus knows where each subscription starts (a remote insert after it is delivered). */
const settled = async (n: Node) => {
  if (n.bus instanceof OrderedPubSub) await n.bus.settled();
};

for (const kind of ['nats', 'pgnotify'] as const) {
  describe(`two servers on one PostgreSQL, bus ${kind}`, () => {
    const schema = `cb_${kind}_${process.pid}`;
    let dir = '';
    let A: Node;
    let B: Node;
    let RA: ReturnType<typeof rest>;
    let RB: ReturnType<typeof rest>;
    const ALICE = basic('alice', 'pw');
    let dev1Key = '';
    const clients: Client[] = [];

    beforeAll(async () => {
      up.pg = await portOpen(new URL(PG_BASE).hostname, Number(new URL(PG_BASE).port || 5432));
      up.nats = await portOpen(NATS_URL.hostname, Number(NATS_URL.port || 4222));
      if (!up.pg) return void console.warn(`cluster/bus.test: PostgreSQL at ${PG_BASE} unreachable (CDB_TEST_PG): skipped`);
      if (kind === 'nats' && !up.nats) return void console.warn(`cluster/bus.test: NATS at ${NATS_URL.href} unreachable (CDB_TEST_NATS): the NATS cases are skipped`);
      await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
      dir = mkdtempSync(path.join(tmpdir(), 'cdb-cluster-'));
      // Both open the schema at once: the migrations run once, under their advisory lock.
      [A, B] = await Promise.all([node(kind, schema, dir), node(kind, schema, dir)]);
      await A.services.users.insertUser({ name: 'test', email: 'test@localhost', password: 'test', role: 'admin', public: false }, await hashPassword('test'));
      RA = rest(A.t);
      RB = rest(B.t);
      const r = await A.t.http.post('/api/v1/crud/alice').set('Authorization', ADMIN).send({ email: 'alice@localhost', password: 'pw', role: 'user', public: true });
      expect(r.status).toBe(200);
      dev1Key = await RA.createDevice('alice/dev1', ALICE);
      await RA.createStream('alice/user/s', ALICE);
      await RA.createStream('alice/user/many', ALICE);
      await RA.createStream('alice/user/eph', ALICE, { ephemeral: true });
      await RA.createStream('alice/dev1/light', ALICE, { downlink: true });
    }, 60_000);

    beforeEach((ctx) => {
      if (!up.pg || (kind === 'nats' && !up.nats)) ctx.skip();
    });

    afterEach(async () => {
      const cs = clients.splice(0);
      for (const c of cs) c.ws.terminate();
      await Promise.all(cs.map((c) => within(c.closed, 3000, 'close')));
    });

    afterAll(async () => {
      await A?.close();
      await B?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
      if (up.pg && A) await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    });

    async function connect(n: Node, auth: string, subs: [string, string?][]): Promise<Client> {
      const c = await Client.open(n.t, { headers: { authorization: auth } });
      clients.push(c);
      for (const [p, tr] of subs) c.subscribe(p, tr);
      // A barrier on the same connection: every subscribe before it has been processed.
      c.subscribe('alice/user/s', 'if $ == "never"');
      await waitCommands(n);
      await settled(n);
      return c;
    }

    /** Every websocket command so far has been handled (subscriptions registered on the bus). */
    async function waitCommands(n: Node): Promise<void> {
      await new Promise((r) => setTimeout(r, 50));
      await settled(n);
    }

    async function take(c: Client, n: number, ms = 5000): Promise<string[]> {
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push((await c.next(ms)).raw);
      return out;
    }

    it('a subscriber on B gets the inserts made through A, in order, with the messages a subscriber on A gets', async () => {
      const onA = await connect(A, ALICE, [['alice/user/s'], ['alice/user/s', 'if $ > 5']]);
      const onB = await connect(B, ALICE, [['alice/user/s'], ['alice/user/s', 'if $ > 5']]);
      for (const [k, v] of [1, 7, 3, 9].entries()) expect((await RA.insert('alice/user/s', ALICE, [{ t: 1001 + k, d: v }, { t: 1001.5 + k, d: v + 0.5 }])).status).toBe(200);
      // Raw for each insert, transformed for those with a value over 5.
      const a = await take(onA, 4 + 2);
      const b = await take(onB, 4 + 2);
      expect(b).toEqual(a);
      expect(b[0]).toBe('{"stream":"alice/user/s","data":[{"t":1001,"d":1},{"t":1001.5,"d":1.5}]}\n');
      expect(b).toContain('{"stream":"alice/user/s","transform":"if $ > 5","data":[{"t":1002,"d":7},{"t":1002.5,"d":7.5}]}\n');
      await new Promise((r) => setTimeout(r, 100));
      expect(onB.messages).toEqual([]);
    });

    it('concurrent writers through A and B into one stream: subscribers on both see every datapoint once, in index order', async () => {
      const onA = await connect(A, ALICE, [['alice/user/many']]);
      const onB = await connect(B, ALICE, [['alice/user/many']]);
      const start = await RA.length('alice/user/many', ALICE);
      // 20 clients, half through each server, PUT (restamped) and POST, 5 inserts each.
      const writers = Array.from({ length: 20 }, (_, w) =>
        (async () => {
          const R = w % 2 === 0 ? RA : RB;
          for (let k = 0; k < 5; k++) {
            const r = await R.insert('alice/user/many', ALICE, [{ t: 0, d: { w, k, i: 0 } }, { t: 0, d: { w, k, i: 1 } }], w % 4 < 2 ? 'put' : 'post');
            // POST refuses an older timestamp than the stored one (lost race with a PUT): retry as PUT.
            if (r.status !== 200) expect((await R.insert('alice/user/many', ALICE, [{ t: 0, d: { w, k, i: 0 } }, { t: 0, d: { w, k, i: 1 } }], 'put')).status).toBe(200);
          }
        })(),
      );
      await Promise.all(writers);
      const stored = await RA.data('alice/user/many', ALICE, `i1=${start}&i2=0`);
      expect(stored.length).toBe(200);
      for (const c of [onA, onB]) {
        const got: unknown[] = [];
        while (got.length < 200) {
          const m = await c.next(5000);
          got.push(...(m.json.data ?? []));
        }
        expect(got).toEqual(stored);
      }
      await new Promise((r) => setTimeout(r, 300));
      expect(onA.messages).toEqual([]);
      expect(onB.messages).toEqual([]);
    });

    it('downlinks, ephemeral streams and the meta log reach a subscriber on B from an insert through A', async () => {
      const owner = await connect(B, keyAuth(dev1Key), [['alice/dev1/light/downlink']]);
      const watcher = await connect(B, ALICE, [['alice/user/eph'], ['alice/meta/log'], ['alice/dev1/light']]);
      // alice/user is not the owner: the write lands in the downlink substream, with o.
      expect((await RA.insert('alice/dev1/light', ALICE, [{ t: 2000, d: true }])).status).toBe(200);
      expect((await owner.next()).raw).toBe('{"stream":"alice/dev1/light/downlink","data":[{"t":2000,"d":true,"o":"alice/user"}]}\n');
      // The owner acknowledges through A; the watcher on B sees it on the plain path.
      expect((await RA.insert('alice/dev1/light', keyAuth(dev1Key), [{ t: 2000, d: true, o: 'alice/user' }], 'put')).status).toBe(200);
      expect((await watcher.next()).raw).toBe('{"stream":"alice/dev1/light","data":[{"t":2000,"d":true}]}\n');
      // Ephemeral: published, never stored, no index.
      expect((await RA.insert('alice/user/eph', ALICE, [{ t: 5, d: 'live' }])).status).toBe(200);
      expect((await watcher.next()).raw).toBe('{"stream":"alice/user/eph","data":[{"t":5,"d":"live"}]}\n');
      expect(await RB.length('alice/user/eph', ALICE)).toBe(0);
      // Meta log: a device created through A.
      await RA.createDevice('alice/dev2', ALICE);
      const log = await watcher.next();
      expect(log.json.stream).toBe('alice/meta/log');
      expect(log.json.data?.[0]?.d).toEqual({ cmd: 'CreateDevice', arg: 'alice/dev2' });
    });

    /** Polls B until the request answers `status`; returns the milliseconds it took. */
    async function refusedWithin(req: () => Promise<{ status: number }>, status: number): Promise<number> {
      const t0 = Date.now();
      for (;;) {
        if ((await req()).status === status) return Date.now() - t0;
        if (Date.now() - t0 > 3000) throw new Error(`B still accepts after ${Date.now() - t0} ms`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }

    it('a key reset, a device deletion and a password change through A are refused by B within one second', async () => {
      const key = await RA.createDevice('alice/phone', ALICE);
      // B has the key cached (a login through B).
      expect((await B.t.http.get('/api/v1/crud/alice/phone').set('Authorization', keyAuth(key))).status).toBe(200);
      expect((await B.t.http.get('/api/v1/crud/alice/phone').set('Authorization', keyAuth(key))).status).toBe(200);
      const reset = await A.t.http.put('/api/v1/crud/alice/phone').set('Authorization', ALICE).send({ apikey: '' });
      expect(reset.status).toBe(200);
      const fresh = reset.body.apikey as string;
      expect(fresh).not.toBe(key);
      expect(await refusedWithin(() => B.t.http.get('/api/v1/crud/alice/phone').set('Authorization', keyAuth(key)), 401)).toBeLessThan(1000);
      expect((await B.t.http.get('/api/v1/crud/alice/phone').set('Authorization', keyAuth(fresh))).status).toBe(200);

      // Deleted through A: its key is refused by B, and its streams are gone for B's cached paths.
      await RA.createStream('alice/phone/temp', keyAuth(fresh));
      expect((await RB.insert('alice/phone/temp', keyAuth(fresh), [{ t: 1, d: 1 }])).status).toBe(200);
      expect((await A.t.http.delete('/api/v1/crud/alice/phone').set('Authorization', ALICE)).status).toBe(200);
      expect(await refusedWithin(() => B.t.http.get('/api/v1/crud/alice/phone').set('Authorization', keyAuth(fresh)), 401)).toBeLessThan(1000);
      expect((await RB.insert('alice/phone/temp', ALICE, [{ t: 2, d: 2 }])).status).toBe(403);

      // A password changed through A: B refuses the old one (it had verified it before).
      await A.t.http.post('/api/v1/crud/carol').set('Authorization', ADMIN).send({ email: 'carol@localhost', password: 'old', role: 'user', public: false });
      expect((await B.t.http.get('/api/v1/crud/carol').set('Authorization', basic('carol', 'old'))).status).toBe(200);
      expect((await A.t.http.put('/api/v1/crud/carol').set('Authorization', basic('carol', 'old')).send({ password: 'new' })).status).toBe(200);
      expect(await refusedWithin(() => B.t.http.get('/api/v1/crud/carol').set('Authorization', basic('carol', 'old')), 401)).toBeLessThan(1000);
      expect((await B.t.http.get('/api/v1/crud/carol').set('Authorization', basic('carol', 'new'))).status).toBe(200);
    });

    it('an unreachable NATS server at start is a clear error naming the address and the keys, not a silent retry loop', async () => {
      const port = await new Promise<number>((resolve) => {
        const s = net.createServer().listen(0, '127.0.0.1', () => {
          const a = s.address();
          s.close(() => resolve(typeof a === 'object' && a ? a.port : 1));
        });
      });
      const c = defaultConfig(dir);
      c.sql.type = 'postgres';
      c.nats.hostname = '127.0.0.1';
      c.nats.port = port;
      const e = await openBus(c, A.storage).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(BusStartError);
      expect((e as Error).message).toMatch(new RegExp(`^Cannot connect to the NATS server at 127.0.0.1:${port} \\(nats.hostname/nats.port`));
      expect((e as Error).message).toContain('leave nats.hostname empty');
    });

    it('a stream deleted and created again through A is delivered from its first datapoint on B', async () => {
      await RA.createStream('alice/user/again', ALICE);
      const onB = await connect(B, ALICE, [['alice/user/again']]);
      expect((await RA.insert('alice/user/again', ALICE, [{ t: 10, d: 'old' }])).status).toBe(200);
      expect((await onB.next()).json.data).toEqual([{ t: 10, d: 'old' }]);
      expect((await A.t.http.delete('/api/v1/crud/alice/user/again').set('Authorization', ALICE)).status).toBe(200);
      await RA.createStream('alice/user/again', ALICE);
      // Older timestamps than the old stream's: a new stream, not a late batch of the old one.
      expect((await RA.insert('alice/user/again', ALICE, [{ t: 1, d: 'new' }])).status).toBe(200);
      expect((await onB.next()).json.data).toEqual([{ t: 1, d: 'new' }]);
    });
  });
}
