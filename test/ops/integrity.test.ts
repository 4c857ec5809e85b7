import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app';
import { defaultConfig } from '../../src/config';
import { startServer } from '../../src/server';
import { hashPassword } from '../../src/domain/users/passwords';
import { SqliteStorage } from '../../src/storage';
import { openDatabase } from '../../src/storage/sqlite/db';
import { onPostgres } from '../engine';
import { type TestApp, createUser, makeApp } from '../helpers';
import { asUser, expectError, expectOk, mkStream } from '../api/util';

/** Issue 13: a damaged database file, a full disk, and answers that fail part way. */

const quiet = () => pino({ level: 'silent' });

/** A database folder with enough rows to span many pages; returns the config. */
function filledFolder() {
  const dir = mkdtempSync(path.join(tmpdir(), 'cdb-damage-'));
  const config = defaultConfig(dir);
  config.port = 0;
  config.hostname = '127.0.0.1';
  const db = openDatabase(path.join(dir, 'db.sqlite3'));
  db.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, v TEXT)');
  const ins = db.prepare('INSERT INTO filler (v) VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < 20000; i++) ins.run(`row ${i} `.repeat(10));
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return config;
}

// SQLite only: damaged SQLite files and PRAGMA quick_check at start.
describe.skipIf(onPostgres)('database integrity at start', () => {
  it('a database damaged in the middle is refused at start, naming the file, quick_check and backup/restore', async () => {
    const config = filledFolder();
    const file = path.join(config.dir, 'db.sqlite3');
    const size = statSync(file).size;
    const fd = openSync(file, 'r+');
    // Garbage over a few pages in the middle of the filler table's B-tree.
    writeSync(fd, Buffer.alloc(4096 * 3, 0xa5), 0, 4096 * 3, Math.floor(size / 2 / 4096) * 4096);
    closeSync(fd);
    const err = await startServer(config, { logger: quiet() }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).not.toBeNull();
    expect(err!.message).toContain(`The database file ${file} is damaged (PRAGMA quick_check: `);
    expect(err!.message).toMatch(/connectordb backup.*copy the backup to/);
    rmSync(config.dir, { recursive: true, force: true });
  });

  it('sql.quick_check false skips the check (for very large files the operator checks otherwise)', async () => {
    const config = filledFolder();
    config.sql.quick_check = false;
    const file = path.join(config.dir, 'db.sqlite3');
    const fd = openSync(file, 'r+');
    const size = statSync(file).size;
    writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, Math.floor(size / 2 / 4096) * 4096);
    closeSync(fd);
    const s = await startServer(config, { logger: quiet() });
    await s.close();
    rmSync(config.dir, { recursive: true, force: true });
  });

  it('a healthy database starts after the check', async () => {
    const config = filledFolder();
    const s = await startServer(config, { logger: quiet() });
    const r = await fetch(`${s.url.replace('localhost', '127.0.0.1')}/api/v1/meta/version`);
    expect(r.status).toBe(200);
    await s.close();
    rmSync(config.dir, { recursive: true, force: true });
  });
});

// SQLite only: SQLite's max_page_count stands in for a full disk (SQLITE_FULL).
describe.skipIf(onPostgres)('a full disk', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp();
    await createUser(t, 'alice');
  });
  afterAll(() => t.close());

  it('an insert that finds the disk full (SQLITE_FULL) answers 507 "disk full", stores nothing, and the server goes on', async () => {
    const alice = asUser(t, 'alice');
    await mkStream(alice, 'alice/user/full');
    expectOk(await alice.post('/api/v1/crud/alice/user/full/data', [{ t: 1, d: 'small' }]));
    // SQLite's page limit stands in for the disk: no more pages than there are now.
    const db = t.db!;
    db.pragma('wal_checkpoint(TRUNCATE)');
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages}`);
    const big = Array.from({ length: 2000 }, (_, i) => ({ t: 2 + i, d: 'x'.repeat(2000) }));
    expectError(await alice.post('/api/v1/crud/alice/user/full/data', big), 507, /disk is full: nothing of this request was stored/);
    db.pragma('max_page_count = 1073741823');
    expect((await alice.get('/api/v1/crud/alice/user/full/data?q=length')).text).toBe('1');
    expectOk(await alice.post('/api/v1/crud/alice/user/full/data', [{ t: 5000, d: 'after' }]));
  });
});

// SQLite only: closes the SQLite handle between two chunks of a streamed answer.
describe.skipIf(onPostgres)('an answer that fails part way', () => {
  it('a streamed read whose storage fails after the first bytes logs an error and cuts the connection', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cdb-cut-'));
    const lines: string[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk, _enc, cb) {
          lines.push(String(chunk));
          cb();
        },
      }),
    );
    const config = defaultConfig(dir);
    const storage = SqliteStorage.open(path.join(dir, 'db.sqlite3'));
    const db = storage.db;
    const hash = await hashPassword('test');
    const { app, services } = buildApp({ config, storage, logger });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const t = { app, services, storage, db, dir, config, http: request(app.server) } as unknown as TestApp;
    try {
      await services.users.insertUser({ name: 'test', email: 'test@localhost', password: 'test', role: 'admin', public: false }, hash);
      await createUser(t, 'alice');
      const alice = asUser(t, 'alice');
      await mkStream(alice, 'alice/user/long');
      for (let k = 0; k < 40000; k += 10000) {
        expectOk(await alice.post('/api/v1/crud/alice/user/long/data', Array.from({ length: 10000 }, (_, i) => ({ t: 1 + k + i, d: k + i }))));
      }
      const port = (app.server.address() as { port: number }).port;
      const outcome = await new Promise<string>((resolve) => {
        const r = http.get({ host: '127.0.0.1', port, path: '/api/v1/crud/alice/user/long/data?i1=0&i2=0', headers: { authorization: 'Basic ' + Buffer.from('alice:pw').toString('base64') } }, (res) => {
          let first = true;
          res.on('data', () => {
            // The storage goes away between two chunks of the answer.
            if (first) db.close();
            first = false;
          });
          res.on('end', () => resolve('ended'));
          res.on('error', () => resolve('cut'));
          res.on('aborted', () => resolve('cut'));
        });
        r.on('error', () => resolve('cut'));
      });
      expect(outcome).toBe('cut');
      const logged = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.msg.startsWith('streamed answer failed part way'));
      expect(logged.length).toBe(1);
      expect(logged[0].level).toBe(50);
    } finally {
      await app.close();
      if (db.open) db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
