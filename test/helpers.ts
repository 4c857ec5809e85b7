import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app';
import { type Config, defaultConfig } from '../src/config';
import type { Services } from '../src/domain';
import { Permissions, type PermissionsFile, defaultPermissions } from '../src/permissions';
import { hashPassword } from '../src/domain/users/passwords';
import { type Storage, SqliteStorage, openStorage } from '../src/storage';
import type { DB } from '../src/storage/sqlite/db';
import { TEST_POOL_SIZE, type TestSchema, freshSchema, onPostgres } from './engine';

export { onPostgres } from './engine';

export interface TestApp {
  app: FastifyInstance;
  services: Services;
  /** The engine of this run (test/engine.ts): SQLite, or PostgreSQL with CDB_TEST_ENGINE=postgres. */
  storage: Storage;
  /** SQLite run only: the SQLite engine and its raw handle, for tests about SQLite itself. */
  sqlite?: SqliteStorage;
  db?: DB;
  /** PostgreSQL run only: the app's own schema in the CDB_TEST_PG database (dropped by close()). */
  pg?: TestSchema;
  dir: string;
  config: Config;
  /** A supertest agent bound to the real listening HTTP server. */
  http: ReturnType<typeof request>;
  close(): Promise<void>;
}

export const basic = (user: string, pass: string): string => 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');
export const keyAuth = (key: string): string => basic('', key);

/**
 * The real app on a temp SQLite file, listening on a loopback port, with the admin `test`/`test`
 * the Python client's test suite expects. `failed_login_delay` is 0 unless a test sets it.
 * `perms` edits a copy of the default permissions before the app starts (limits, custom roles).
 * On the PostgreSQL run the app's database is a fresh schema of the CDB_TEST_PG database instead,
 * with a small pool (parallel workers share the server's connections).
 */
export async function makeApp(over: (c: Config) => void = () => {}, perms?: (p: PermissionsFile) => void): Promise<TestApp> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cdb-test-'));
  const config = defaultConfig(dir);
  config.failed_login_delay = 0;
  const pg = onPostgres ? await freshSchema() : undefined;
  if (pg) {
    config.sql.type = 'postgres';
    config.sql.uri = pg.uri;
    config.sql.pool = TEST_POOL_SIZE;
  }
  over(config);
  let storage: Storage;
  let sqlite: SqliteStorage | undefined;
  try {
    storage = pg ? await openStorage(config, { applicationName: 'cdb-test' }) : (sqlite = SqliteStorage.open(path.join(dir, 'db.sqlite3'), { readCacheBytes: Math.round(config.sql.read_cache_mb * 1024 * 1024) }));
  } catch (e) {
    await pg?.drop();
    throw e;
  }
  let permissions: Permissions | undefined;
  if (perms) {
    const file = defaultPermissions();
    perms(file);
    permissions = new Permissions(file);
  }
  const { app, services } = buildApp({ config, storage, permissions });
  const hash = await hashPassword('test');
  await services.users.insertUser({ name: 'test', email: 'test@localhost', password: 'test', role: 'admin', public: false }, hash);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const http = request(app.server);
  return {
    app,
    services,
    storage,
    sqlite,
    db: sqlite?.db,
    pg,
    dir,
    config,
    http,
    async close() {
      await app.close();
      await storage.close();
      await pg?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const ADMIN = basic('test', 'test');

/** Creates a user as the admin; returns the `user` device's API key. */
export async function createUser(t: TestApp, name: string, password = 'pw', extra: Record<string, unknown> = {}): Promise<string> {
  const r = await t.http
    .post(`/api/v1/crud/${name}`)
    .set('Authorization', ADMIN)
    .send({ email: `${name}@localhost`, password, role: 'user', public: true, ...extra });
  if (r.status !== 200) throw new Error(`create user ${name}: ${r.status} ${r.text}`);
  const d = await t.http.get(`/api/v1/crud/${name}/user`).set('Authorization', basic(name, password));
  return d.body.apikey as string;
}
