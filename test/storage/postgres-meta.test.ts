import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app';
import { defaultConfig } from '../../src/config';
import { hashPassword } from '../../src/domain/users/passwords';
import { logStreamRow } from '../../src/domain/metalog';
import { openFolder } from '../../src/ops/open';
import { startServer } from '../../src/server';
import { StorageOpenError, openStorage } from '../../src/storage';
import { StorageConflict } from '../../src/storage/errors';
import { PgStorage } from '../../src/storage/postgres';
import { migrationFiles } from '../../src/storage/postgres/migrate';
import { type InsertRule, type LogEntry, MAIN, NEW_USER, type NewDeviceTree, type NewUser, type Sub } from '../../src/storage/types';

/**
 * The PostgreSQL engine's metadata half against a real server: CDB_TEST_PG (a database URI) or
 * the shared test server, in a database of this file's own (`pg_meta`), one schema per test.
 */
const SERVER = process.env.CDB_TEST_PG ?? 'postgres://cdb@127.0.0.1:55432/postgres';
const OWN_DB = !process.env.CDB_TEST_PG;
const DBNAME = 'pg_meta';

const withDb = (uri: string, db: string): string => {
  const u = new URL(uri);
  u.pathname = `/${db}`;
  return u.toString();
};
const BASE = OWN_DB ? withDb(SERVER, DBNAME) : SERVER;

/** Decided before collection so the whole file is skipped, with a reason, when there is no server. */
function reachable(): boolean {
  const r = spawnSync(process.execPath, ['-e', `const pg=require('pg');const c=new pg.Client({connectionString:process.argv[1],connectionTimeoutMillis:3000});c.connect().then(()=>c.end()).then(()=>process.exit(0),()=>process.exit(1))`, SERVER], {
    cwd: process.cwd(),
    timeout: 10_000,
  });
  return r.status === 0;
}
const PG_UP = reachable();
if (!PG_UP) console.warn(`postgres-meta.test.ts skipped: PostgreSQL is not reachable at ${SERVER} (set CDB_TEST_PG to a database URI)`);

let admin: pg.Client;
let seq = 0;
const schemas: string[] = [];

/** A fresh schema name and the URI selecting it. */
function schemaUri(): { schema: string; uri: string } {
  const schema = `t_${process.pid}_${Date.now().toString(36)}_${seq++}`;
  schemas.push(schema);
  const u = new URL(BASE);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return { schema, uri: u.toString() };
}

async function fresh(pool = 4): Promise<{ st: PgStorage; uri: string; schema: string }> {
  const { schema, uri } = schemaUri();
  await admin.query(`CREATE SCHEMA ${schema}`);
  return { st: await PgStorage.open({ uri, pool }), uri, schema };
}

const user = (name: string, over: Partial<NewUser> = {}): NewUser => ({
  name,
  nickname: '',
  email: `${name.toLowerCase()}@example.com`,
  description: '',
  icon: '',
  public: false,
  role: 'user',
  password: 'hash',
  password_salt: '',
  password_scheme: 'argon2id',
  ...over,
});
const device = (name: string, apikey: string, streams: string[] = [], pub = false): NewDeviceTree => ({
  device: { name, nickname: '', description: '', icon: '', apikey, enabled: true, public: pub, role: 'user', visible: true, user_editable: true },
  streams: streams.map((s) => ({ name: s, nickname: '', description: '', icon: '', schema: '{"type":"number"}', datatype: '', ephemeral: false, downlink: false })),
});
/** Appends datapoints at t, t+1, … (restamped past the last one, as the meta log is). */
const rule = (n: number, t0 = 1000): InsertRule => ({
  prepare: (info) => {
    const points = Array.from({ length: n }, (_, i) => {
      const t = Math.max(t0 + i, info.last_t);
      return { t, j: `{"t":${t},"d":${i}}` };
    });
    return { points, bytes: points.reduce((a, p) => a + p.j.length, 0) };
  },
  maxStreamBytes: 0,
  maxDeviceBytes: 0,
  quotaError: () => new Error('quota'),
});
const { device_id: _unused, ...LOG_STREAM } = logStreamRow(0);
const logEntry = (userId: number): LogEntry => ({ userId, rule: rule(1), logStream: LOG_STREAM });

async function readAll(st: PgStorage, id: number, sub: Sub = MAIN): Promise<string[]> {
  const out: string[] = [];
  for await (const b of st.data.readBatches(id, sub, 0, await st.data.length(id, sub))) out.push(...b);
  return out;
}

/** The user with the two automatic devices (meta without a key, as the service creates it). */
const defaultDevices = (key: string): NewDeviceTree[] => [device('user', key, ['s1', 's2']), { ...device('meta', ''), streams: [] }];

describe.skipIf(!PG_UP)('PostgreSQL engine: migrations and metadata', () => {
  beforeAll(async () => {
    if (OWN_DB) {
      const c = new pg.Client({ connectionString: SERVER });
      await c.connect();
      await c.query(`CREATE DATABASE ${DBNAME}`).catch((e: { code?: string }) => {
        if (e.code !== '42P04') throw e; // duplicate_database: made by an earlier run
      });
      await c.end();
    }
    admin = new pg.Client({ connectionString: BASE });
    await admin.connect();
  });

  afterAll(async () => {
    if (!admin) return;
    for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
    await admin.end();
  });

  it('applies each migration exactly once when four processes open the database at once', async () => {
    const { schema, uri } = schemaUri();
    await admin.query(`CREATE SCHEMA ${schema}`);
    const all = await Promise.all([0, 1, 2, 3].map(() => PgStorage.open({ uri, pool: 2 })));
    const r = await admin.query(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`);
    expect(r.rows.map((x: { version: number }) => x.version)).toEqual(migrationFiles().map((m) => m.version));
    for (const st of all) expect(await st.users.count()).toBe(0);
    await Promise.all(all.map((st) => st.close()));
    // Opening again applies nothing.
    const again = await PgStorage.open({ uri, pool: 1 });
    expect((await admin.query(`SELECT count(*)::int AS n FROM ${schema}.schema_migrations`)).rows[0].n).toBe(migrationFiles().length);
    await again.close();
  });

  it('creates the schema named by search_path when it does not exist yet', async () => {
    const { schema, uri } = schemaUri();
    const st = await PgStorage.open({ uri, pool: 1 });
    expect(await st.users.count()).toBe(0);
    expect((await admin.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [schema])).rowCount).toBe(1);
    await st.close();
  });

  it('reads users, devices and streams back as the SQLite engine returns them', async () => {
    const { st } = await fresh();
    try {
      const u = await st.meta.createUser(user('Alice', { public: true }), defaultDevices('key-a'), []);
      expect(u).toMatchObject({ name: 'Alice', email: 'alice@example.com', public: true, role: 'user' });
      expect(typeof u.id).toBe('number');
      expect(await st.users.get('Alice')).toEqual(u);
      expect(await st.users.get('alice')).toBeUndefined();
      expect(await st.users.getById(u.id)).toEqual(u);
      expect(await st.users.findLogin('ALICE')).toEqual(u);
      expect(await st.users.findLogin('Alice@Example.COM')).toEqual(u);
      expect(await st.users.findLogin('nobody')).toBeUndefined();
      expect(await st.users.nameTaken('aLiCe')).toBe(true);
      expect(await st.users.nameTaken('bob')).toBe(false);
      expect(await st.users.emailTakenBy('ALICE@example.com')).toEqual(u);
      expect(await st.users.list()).toEqual([u]);
      expect(await st.users.count()).toBe(1);

      const devs = await st.devices.listForUser(u.id);
      expect(devs.map((d) => d.name)).toEqual(['user', 'meta']);
      const d = devs[0];
      expect(d).toEqual({
        id: d.id,
        user_id: u.id,
        name: 'user',
        nickname: '',
        description: '',
        icon: '',
        apikey: 'key-a',
        enabled: true,
        public: false,
        role: 'user',
        visible: true,
        user_editable: true,
      });
      expect(await st.devices.get(u.id, 'user')).toEqual(d);
      expect(await st.devices.getById(d.id)).toEqual(d);
      expect(await st.devices.getByApikey('key-a')).toEqual(d);
      expect(await st.devices.getByApikey('')).toBeUndefined();
      expect(await st.devices.getByApikey('key-b')).toBeUndefined();
      expect(await st.devices.count()).toBe(2);
      expect(await st.devices.countForUser(u.id)).toBe(2);
      expect(await st.devices.countPrivateForUser(u.id)).toBe(2);

      const ss = await st.streams.listForDevice(d.id);
      expect(ss.map((s) => s.name)).toEqual(['s1', 's2']);
      expect(ss[0]).toEqual({
        id: ss[0].id,
        device_id: d.id,
        name: 's1',
        nickname: '',
        description: '',
        icon: '',
        schema: '{"type":"number"}',
        datatype: '',
        ephemeral: false,
        downlink: false,
        keep_datapoints: 0,
        keep_seconds: 0,
      });
      expect(await st.streams.get(d.id, 's1')).toEqual(ss[0]);
      expect(await st.streams.getById(ss[1].id)).toEqual(ss[1]);
      expect(await st.streams.count()).toBe(2);
      expect(await st.streams.countForDevice(d.id)).toBe(2);
      const us = await st.streams.listForUser(u.id);
      expect(us.map((s) => [s.device_name, s.name, s.device_public, s.device_visible])).toEqual([
        ['user', 's1', false, true],
        ['user', 's2', false, true],
      ]);

      expect(await st.resolveStream('Alice', 'user', 's2')).toEqual({ user: u, device: d, stream: ss[1] });
      expect(await st.resolveStream('Alice', 'user', 'nope')).toEqual({ user: u, device: d, stream: undefined });
      expect(await st.resolveStream('Alice', 'nope', 's1')).toEqual({ user: u });
      expect(await st.resolveStream('nobody', 'user', 's1')).toEqual({});
    } finally {
      await st.close();
    }
  });

  it('lists a device’s streams in byte order of their names, as SQLite does', async () => {
    const { st } = await fresh();
    try {
      const u = await st.meta.createUser(user('Bo'), [device('dev', 'k-bo', ['b', 'B', '_x', 'a-1', 'a_1', 'Z'])], []);
      const d = (await st.devices.get(u.id, 'dev'))!;
      expect((await st.streams.listForDevice(d.id)).map((s) => s.name)).toEqual(['B', 'Z', '_x', 'a-1', 'a_1', 'b'].sort());
    } finally {
      await st.close();
    }
  });

  it('creates, updates and deletes devices and streams, cascading below', async () => {
    const { st } = await fresh();
    try {
      const u = await st.meta.createUser(user('Carl'), defaultDevices('key-c'), []);
      const dev = await st.meta.createDevice(u.id, device('phone', 'key-p', ['gps'], true), []);
      expect(dev).toMatchObject({ name: 'phone', public: true, apikey: 'key-p', user_id: u.id });
      expect(await st.devices.countPrivateForUser(u.id)).toBe(2);
      const s = await st.meta.createStream(
        { device_id: dev.id, name: 'temp', nickname: 'T', description: '', icon: '', schema: '{}', datatype: 'x', ephemeral: true, downlink: true, keep_datapoints: 10, keep_seconds: 1.5 },
        [],
      );
      expect(s).toMatchObject({ name: 'temp', ephemeral: true, downlink: true, keep_datapoints: 10, keep_seconds: 1.5 });

      await st.meta.updateUser(u.id, { nickname: 'carl', public: true }, []);
      expect(await st.users.getById(u.id)).toMatchObject({ nickname: 'carl', public: true });
      await st.meta.updateDevice(dev.id, { apikey: 'key-p2', enabled: false }, []);
      expect(await st.devices.getByApikey('key-p')).toBeUndefined();
      expect(await st.devices.getByApikey('key-p2')).toMatchObject({ id: dev.id, enabled: false });
      await st.meta.updateStream(s.id, { downlink: false, keep_datapoints: 0 }, true, []);
      expect(await st.streams.getById(s.id)).toMatchObject({ downlink: false, keep_datapoints: 0, keep_seconds: 1.5 });
      await st.meta.updateUser(u.id, {}, []);

      await st.meta.deleteStream(s.id, []);
      expect(await st.streams.getById(s.id)).toBeUndefined();
      await st.meta.deleteDevice(dev.id, []);
      expect(await st.devices.getById(dev.id)).toBeUndefined();
      expect(await st.streams.count()).toBe(2);
      await st.meta.deleteUser(u.id, []);
      expect([await st.users.count(), await st.devices.count(), await st.streams.count()]).toEqual([0, 0, 0]);
    } finally {
      await st.close();
    }
  });

  it('refuses duplicates with StorageConflict naming what was taken', async () => {
    const { st } = await fresh();
    try {
      const u = await st.meta.createUser(user('Dora'), defaultDevices('key-d'), []);
      await expect(st.meta.createUser(user('DORA', { email: 'other@example.com' }), [], [])).rejects.toEqual(new StorageConflict('user'));
      await expect(st.meta.createUser(user('Dora2', { email: 'DORA@example.com' }), [], [])).rejects.toEqual(new StorageConflict('user'));
      await expect(st.meta.createDevice(u.id, device('user', 'other'), [])).rejects.toEqual(new StorageConflict('device'));
      await expect(st.meta.createDevice(u.id, device('x', 'key-d'), [])).rejects.toEqual(new StorageConflict('device'));
      const d = (await st.devices.get(u.id, 'user'))!;
      await expect(st.meta.createStream({ ...(await st.streams.get(d.id, 's1'))!, id: undefined } as never, [])).rejects.toEqual(new StorageConflict('stream'));
      // Nothing of a refused write stays: the device tree with a clashing stream is not half there.
      await expect(st.meta.createDevice(u.id, { ...device('y', 'key-y'), streams: [...device('y', '', ['a', 'a']).streams] }, [])).rejects.toEqual(new StorageConflict('stream'));
      expect(await st.devices.get(u.id, 'y')).toBeUndefined();
    } finally {
      await st.close();
    }
  });

  it('gives StorageConflict to the loser when two instances race for one name', async () => {
    const { st: a, uri } = await fresh();
    const b = await PgStorage.open({ uri, pool: 2 });
    try {
      for (let i = 0; i < 5; i++) {
        const r = await Promise.allSettled([a.meta.createUser(user(`race${i}`), defaultDevices(`ka${i}`), []), b.meta.createUser(user(`Race${i}`, { email: `x${i}@e.com` }), defaultDevices(`kb${i}`), [])]);
        const ok = r.filter((x) => x.status === 'fulfilled');
        const bad = r.filter((x): x is PromiseRejectedResult => x.status === 'rejected');
        expect(ok).toHaveLength(1);
        expect(bad).toHaveLength(1);
        expect(bad[0].reason).toEqual(new StorageConflict('user'));
      }
      expect(await a.users.count()).toBe(5);
      expect(await a.devices.count()).toBe(10);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('runs onChange after local writes, failed ones included', async () => {
    const { st } = await fresh();
    try {
      let n = 0;
      st.onChange(() => n++);
      await st.meta.createUser(user('Eve'), [], []);
      const after = n;
      expect(after).toBeGreaterThan(0);
      await expect(st.meta.createUser(user('eve'), [], [])).rejects.toBeInstanceOf(StorageConflict);
      expect(n).toBeGreaterThan(after);
    } finally {
      await st.close();
    }
  });

  it('tells instance B of a write through instance A within a second', async () => {
    const { st: a, uri } = await fresh();
    const b = await PgStorage.open({ uri, pool: 2 });
    try {
      let seen = 0;
      b.onChange(() => seen++);
      b.pollChanges();
      expect(seen).toBe(0); // listening: polls report nothing
      const t0 = Date.now();
      await a.meta.createUser(user('Fay'), [], []);
      while (seen === 0 && Date.now() - t0 < 1000) await new Promise((r) => setTimeout(r, 5));
      expect(seen).toBeGreaterThan(0);
      expect(Date.now() - t0).toBeLessThan(1000);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('reports a change on every poll while the listening connection is down, and listens again', async () => {
    const { st: a, uri } = await fresh();
    const b = await PgStorage.open({ uri, pool: 2 });
    try {
      let seen = 0;
      b.onChange(() => seen++);
      const pid = await b.listenerPid();
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      const t0 = Date.now();
      while (seen === 0 && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 5));
      expect(seen).toBeGreaterThan(0); // the drop itself is a change
      // Down (or just back): polls bypass the caches until it listens again.
      const end = Date.now() + 5000;
      while ((await b.listenerPid()) === undefined && Date.now() < end) {
        const before = seen;
        b.pollChanges();
        expect(seen).toBe(before + 1);
        await new Promise((r) => setTimeout(r, 10));
      }
      const pid2 = await b.listenerPid();
      expect(pid2).toBeDefined();
      expect(pid2).not.toBe(pid);
      const before = seen;
      b.pollChanges();
      expect(seen).toBe(before);
      await a.meta.createUser(user('Gus'), [], []);
      const t1 = Date.now();
      while (seen === before && Date.now() - t1 < 1000) await new Promise((r) => setTimeout(r, 5));
      expect(seen).toBeGreaterThan(before);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('pings, measures its size, and shares one transaction inside exclusive()', async () => {
    const { st } = await fresh();
    try {
      await st.ping();
      const sz = await st.sizes();
      expect(sz.datapoints).toBe(0);
      expect(sz.databaseBytes).toBeGreaterThan(0);
      await expect(
        st.exclusive('write', async () => {
          await st.meta.createUser(user('Hal'), [], []);
          expect(await st.users.get('Hal')).toBeDefined();
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect(await st.users.get('Hal')).toBeUndefined();
      await st.exclusive('write', () => st.meta.createUser(user('Ida'), [], []));
      expect(await st.users.get('Ida')).toBeDefined();
    } finally {
      await st.close();
    }
  });

  it('writes meta-log entries in the same transaction, re-creating the log stream when it was deleted', async () => {
    const { st } = await fresh();
    try {
      const u = await st.meta.createUser(user('Ken'), defaultDevices('key-k'), [logEntry(NEW_USER)]);
      const meta = (await st.devices.get(u.id, 'meta'))!;
      const log = (await st.streams.get(meta.id, 'log'))!;
      expect(log).toMatchObject({ name: 'log', schema: LOG_STREAM.schema, icon: 'material:assignment' });
      expect(await st.data.length(log.id, MAIN)).toBe(1);
      const dev = await st.meta.createDevice(u.id, device('d2', 'key-k2', ['x']), [logEntry(u.id)]);
      expect(await st.data.length(log.id, MAIN)).toBe(2);
      await st.meta.deleteStream(log.id, []);
      await st.meta.updateDevice(dev.id, { nickname: 'n' }, [logEntry(u.id)]);
      const log2 = (await st.streams.get(meta.id, 'log'))!;
      expect(log2.id).not.toBe(log.id);
      expect(await readAll(st, log2.id)).toHaveLength(1);
      // A refused log insert refuses the whole write.
      const refuse: LogEntry = { ...logEntry(u.id), rule: { ...rule(1), prepare: () => { throw new Error('no'); } } };
      await expect(st.meta.updateUser(u.id, { nickname: 'never' }, [refuse])).rejects.toThrow('no');
      expect((await st.users.getById(u.id))!.nickname).toBe('');
      // No meta device: no entry, and the write still goes through.
      await st.meta.deleteDevice(meta.id, []);
      await st.meta.updateUser(u.id, { nickname: 'k' }, [logEntry(u.id)]);
      expect((await st.users.getById(u.id))!.nickname).toBe('k');
    } finally {
      await st.close();
    }
  });

  it('removes the datapoints of deleted streams, devices and users, and of cleared substreams', async () => {
    const { st, schema } = await fresh();
    const rows = async (id: number) =>
      (await admin.query(`SELECT (SELECT count(*) FROM ${schema}.datapoints WHERE stream_id = $1)::int + (SELECT count(*) FROM ${schema}.chunks WHERE stream_id = $1)::int AS n`, [id])).rows[0].n as number;
    try {
      const u = await st.meta.createUser(user('Lea'), [device('a', 'key-la', ['s1', 's2']), device('b', 'key-lb', ['s3'])], []);
      const a = (await st.devices.get(u.id, 'a'))!;
      const b = (await st.devices.get(u.id, 'b'))!;
      const [s1, s2] = await st.streams.listForDevice(a.id);
      const [s3] = await st.streams.listForDevice(b.id);
      for (const s of [s1, s2, s3]) {
        await st.data.insertDatapoints({ streamId: s.id, deviceId: s.device_id, sub: MAIN }, rule(1500));
        await st.data.insertDatapoints({ streamId: s.id, deviceId: s.device_id, sub: 1 }, rule(10));
      }
      expect(await st.data.length(s1.id, MAIN)).toBe(1500);
      expect((await st.sizes()).datapoints).toBe(3 * 1510);

      await st.meta.updateStream(s1.id, { downlink: false }, true, []);
      expect([await st.data.length(s1.id, MAIN), await st.data.length(s1.id, 1)]).toEqual([1500, 0]);
      await st.meta.clearSubstream(s1.id, MAIN, []);
      expect(await st.data.length(s1.id, MAIN)).toBe(0);
      expect(await rows(s1.id)).toBe(0);

      expect(await rows(s2.id)).toBeGreaterThan(0);
      await st.meta.deleteStream(s2.id, []);
      expect(await rows(s2.id)).toBe(0);
      await st.meta.deleteDevice(b.id, []);
      expect(await rows(s3.id)).toBe(0);

      await st.data.insertDatapoints({ streamId: s1.id, deviceId: a.id, sub: MAIN }, rule(5));
      await st.meta.deleteUser(u.id, []);
      expect(await rows(s1.id)).toBe(0);
      expect((await st.sizes()).datapoints).toBe(0);
    } finally {
      await st.close();
    }
  });

  it('serves the REST basics as a real app on PostgreSQL', async () => {
    const { st } = await fresh();
    const dir = mkdtempSync(path.join(tmpdir(), 'cdb-pgmeta-'));
    const config = defaultConfig(dir);
    config.failed_login_delay = 0;
    const { app, services } = buildApp({ config, storage: st });
    try {
      await services.users.insertUser({ name: 'test', email: 'test@localhost', password: 'test', role: 'admin', public: false }, await hashPassword('test'));
      await app.listen({ host: '127.0.0.1', port: 0 });
      const http = request(app.server);
      const admin = 'Basic ' + Buffer.from('test:test').toString('base64');
      let r = await http.post('/api/v1/crud/alice').set('Authorization', admin).send({ email: 'alice@localhost', password: 'pw', role: 'user', public: true });
      expect(r.status).toBe(200);
      const auth = 'Basic ' + Buffer.from('alice:pw').toString('base64');
      r = await http.post('/api/v1/crud/alice/phone').set('Authorization', auth).send({ nickname: 'Phone' });
      expect(r.status).toBe(200);
      const key = r.body.apikey as string;
      expect(key).toBeTruthy();
      r = await http.post('/api/v1/crud/alice/phone/temp').set('Authorization', auth).send({ schema: '{"type":"number"}' });
      expect(r.status).toBe(200);
      const keyAuth = 'Basic ' + Buffer.from(`:${key}`).toString('base64');
      r = await http.post('/api/v1/crud/alice/phone/temp/data').set('Authorization', keyAuth).send([{ t: 1, d: 1.5 }, { t: 2, d: 2 }, { t: 3, d: -3 }]);
      expect(r.status).toBe(200);
      r = await http.get('/api/v1/crud/alice/phone/temp/data?i1=0&i2=0').set('Authorization', auth);
      expect(r.status).toBe(200);
      expect(r.body).toEqual([{ t: 1, d: 1.5 }, { t: 2, d: 2 }, { t: 3, d: -3 }]);
      r = await http.get('/api/v1/crud/alice/phone/temp/data?q=length').set('Authorization', auth);
      expect(r.text).toBe('3');
      r = await http.get('/api/v1/crud/alice/phone/temp/data?t1=1.5&t2=10').set('Authorization', auth);
      expect(r.body).toEqual([{ t: 2, d: 2 }, { t: 3, d: -3 }]);
      // Refused: the same name again, and an out-of-order datapoint.
      r = await http.post('/api/v1/crud/alice/phone').set('Authorization', auth).send({});
      expect(r.status).toBe(403);
      expect(r.body.msg).toBe('Device with this name already exists');
      r = await http.post('/api/v1/crud/alice/phone/temp/data').set('Authorization', keyAuth).send([{ t: 0.5, d: 1 }]);
      expect(r.status).toBe(403);
      expect(r.body.msg).toMatch(/^Greater timestamp already exists/);
      // The meta log recorded the creates.
      r = await http.get('/api/v1/crud/alice/meta/log/data?i1=0&i2=0').set('Authorization', auth);
      expect(r.status).toBe(200);
      expect((r.body as { d: { cmd: string } }[]).map((x) => x.d.cmd)).toEqual(expect.arrayContaining(['CreateDevice', 'CreateStream']));
      r = await http.delete('/api/v1/crud/alice/phone').set('Authorization', auth);
      expect(r.status).toBe(200);
      r = await http.get('/api/v1/crud/alice/phone/temp').set('Authorization', auth);
      expect(r.status).toBe(404);
    } finally {
      await app.close();
      await st.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('two apps on one database: a key reset, a password change and a device delete through A are refused by B within a second', async () => {
    const { st: a, uri } = await fresh();
    const b = await PgStorage.open({ uri, pool: 3 });
    const dir = mkdtempSync(path.join(tmpdir(), 'cdb-pgmeta-'));
    const config = defaultConfig(dir);
    config.failed_login_delay = 0;
    const A = buildApp({ config, storage: a });
    const B = buildApp({ config, storage: b });
    try {
      await A.services.users.insertUser({ name: 'test', email: 'test@localhost', password: 'test', role: 'admin', public: false }, await hashPassword('test'));
      await A.app.listen({ host: '127.0.0.1', port: 0 });
      await B.app.listen({ host: '127.0.0.1', port: 0 });
      const ha = request(A.app.server);
      const hb = request(B.app.server);
      const basicAuth = (u: string, p: string) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');
      expect((await ha.post('/api/v1/crud/bob').set('Authorization', basicAuth('test', 'test')).send({ email: 'bob@localhost', password: 'pw', role: 'user', public: true })).status).toBe(200);
      const dev = await ha.post('/api/v1/crud/bob/phone').set('Authorization', basicAuth('bob', 'pw')).send({});
      const key = dev.body.apikey as string;
      const refusedWithin = async (auth: string, url: string): Promise<number> => {
        const t0 = Date.now();
        for (;;) {
          const r = await hb.get(url).set('Authorization', auth);
          if (r.status !== 200) return Date.now() - t0;
          if (Date.now() - t0 > 1000) throw new Error(`B still accepts ${url} after 1 s`);
          await new Promise((res) => setTimeout(res, 10));
        }
      };
      // B has logged the key and the password in (its caches hold them).
      expect((await hb.get('/api/v1/crud/bob/phone').set('Authorization', basicAuth('', key))).status).toBe(200);
      expect((await hb.get('/api/v1/crud/bob').set('Authorization', basicAuth('bob', 'pw'))).status).toBe(200);

      const reset = await ha.put('/api/v1/crud/bob/phone').set('Authorization', basicAuth('bob', 'pw')).send({ apikey: '' });
      expect(reset.status).toBe(200);
      expect(await refusedWithin(basicAuth('', key), '/api/v1/crud/bob/phone')).toBeLessThan(1000);
      const key2 = reset.body.apikey as string;
      expect((await hb.get('/api/v1/crud/bob/phone').set('Authorization', basicAuth('', key2))).status).toBe(200);

      expect((await ha.put('/api/v1/crud/bob').set('Authorization', basicAuth('bob', 'pw')).send({ password: 'pw2' })).status).toBe(200);
      expect(await refusedWithin(basicAuth('bob', 'pw'), '/api/v1/crud/bob')).toBeLessThan(1000);

      expect((await ha.delete('/api/v1/crud/bob/phone').set('Authorization', basicAuth('bob', 'pw2'))).status).toBe(200);
      expect(await refusedWithin(basicAuth('', key2), '/api/v1/crud/bob/phone')).toBeLessThan(1000);
    } finally {
      await A.app.close();
      await B.app.close();
      await a.close();
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('starts a server and opens a folder for offline commands from a config that names PostgreSQL', async () => {
    const { schema, uri } = schemaUri();
    await admin.query(`CREATE SCHEMA ${schema}`);
    const dir = mkdtempSync(path.join(tmpdir(), 'cdb-pgmeta-'));
    try {
      writeFileSync(path.join(dir, 'connectordb.conf'), JSON.stringify({ sql: { type: 'postgres', uri, pool: 3 } }));
      const o = await openFolder(dir, { env: {} });
      expect(o.storage.kind).toBe('postgres');
      expect(o.sqlite).toBeUndefined();
      await o.svc.users.insertUser({ name: 'root', email: 'root@localhost', password: 'pw', role: 'admin', public: false }, await hashPassword('pw'));
      await o.close();
      const config = (await import('../../src/config/load')).loadConfig(dir, { env: {} });
      config.port = 0;
      config.hostname = '127.0.0.1';
      const s = await startServer(config, { logger: pino({ level: 'silent' }) });
      try {
        expect(s.storage.kind).toBe('postgres');
        const r = await fetch(`${s.url.replace('localhost', '127.0.0.1')}/api/v1/crud/root`, { headers: { Authorization: 'Basic ' + Buffer.from('root:pw').toString('base64') } });
        expect(r.status).toBe(200);
        expect(((await r.json()) as { name: string }).name).toBe('root');
      } finally {
        await s.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names a missing database in one line', async () => {
    const config = defaultConfig('.');
    config.sql.type = 'postgres';
    config.sql.uri = withDb(SERVER, 'no_such_db_pg_meta');
    const e = await openStorage(config).then(
      () => null,
      (x: Error) => x,
    );
    expect(e).toBeInstanceOf(StorageOpenError);
    expect(e!.message).toMatch(/^Cannot open the PostgreSQL database postgres:\/\/.*\/no_such_db_pg_meta \(sql\.uri\): database "no_such_db_pg_meta" does not exist/);
    expect(e!.message).not.toContain('\n');
  });
});

describe('PostgreSQL engine: a server that cannot be reached', () => {
  it('fails at open with one line naming the setting and the reason, the password hidden', async () => {
    const config = defaultConfig('.');
    config.sql.type = 'postgres';
    config.sql.uri = 'postgres://cdb:secret@127.0.0.1:1/cdb';
    const e = await openStorage(config).then(
      () => null,
      (x: Error) => x,
    );
    expect(e).toBeInstanceOf(StorageOpenError);
    expect(e!.message).toMatch(/^Cannot open the PostgreSQL database postgres:\/\/cdb:\*\*\*@127\.0\.0\.1:1\/cdb \(sql\.uri\): .*ECONNREFUSED/);
    expect(e!.message).not.toContain('secret');
    expect(e!.message).not.toContain('\n');
    const keys = defaultConfig('.');
    keys.sql.type = 'postgres';
    keys.sql.uri = '';
    keys.sql.hostname = '127.0.0.1';
    keys.sql.port = 1;
    const e2 = await openStorage(keys).then(
      () => null,
      (x: Error) => x,
    );
    expect(e2!.message).toMatch(/^Cannot open the PostgreSQL database postgres:\/\/postgres@127\.0\.0\.1:1\/connectordb \(sql\.hostname\/sql\.port\/sql\.username\/sql\.password\/sql\.database\): /);
  });
});
