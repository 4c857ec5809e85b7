import { spawnSync } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageConflict } from '../../src/storage/errors';
import { PgStorage } from '../../src/storage/postgres';
import { migrationFiles } from '../../src/storage/postgres/migrate';
import type { NewDeviceTree, NewUser } from '../../src/storage/types';

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
});
