import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as admin from '../../src/ops/admin';
import { backupDatabase } from '../../src/storage/sqlite/backup';
import { openFolder } from '../../src/ops/open';
import { onPostgres } from '../engine';
import { basic, freshFolder, serve, tmp } from './util';

/**
 * The status a request answers once the server has learnt of the admin command's change. SQLite
 * notices another connection's write on the next request (PRAGMA data_version), so the first
 * answer must already be `want`. On PostgreSQL the notice of another process's commit arrives by
 * LISTEN/NOTIFY a few ms later, and until then a cached API-key login may still pass: it retries
 * for up to 3 s and returns the last status.
 */
async function statusOnceNoticed(send: () => PromiseLike<{ status: number }>, want: number): Promise<number> {
  const until = Date.now() + (onPostgres ? 3000 : 0);
  for (;;) {
    const { status } = await send();
    if (status === want || Date.now() >= until) return status;
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('admin commands (the original shell, non-interactive)', () => {
  let served: Awaited<ReturnType<typeof freshFolder>>;
  let srv: Awaited<ReturnType<typeof serve>>;
  /** The admin commands' own connection, as a separate `node dist/main.js user …` process has. */
  let o: Awaited<ReturnType<typeof openFolder>>;
  beforeAll(async () => {
    served = await freshFolder();
    srv = await serve(served);
    o = await openFolder(served.dir, { env: {} });
  });
  afterAll(async () => {
    await srv.close();
    await o.close();
    await served.close();
  });

  it('adds, lists and removes users; the new user can log in', async () => {
    const key = await admin.addUser(o.svc, { name: 'root', email: 'root@localhost', password: 'r00t', role: 'admin' });
    await admin.addUser(o.svc, { name: 'eve', email: 'eve@x', password: 'evepw', public: true });
    expect((await admin.listUsers(o.svc)).map((u) => [u.name, u.role, u.devices])).toEqual([
      ['root', 'admin', 2],
      ['eve', 'user', 2],
    ]);
    expect((await admin.listUsers(o.svc, { role: 'admin' })).map((u) => u.name)).toEqual(['root']);
    expect((await srv.http.get('/api/v1/?q=this').set('Authorization', basic('root', 'r00t'))).text).toBe('root/user');
    expect((await srv.http.get('/api/v1/?q=this').set('Authorization', basic('', key))).text).toBe('root/user');
    await expect(admin.addUser(o.svc, { name: 'EVE', email: 'e2@x', password: 'p' })).rejects.toThrow('User with this email or username already exists');
    await expect(admin.addUser(o.svc, { name: 'bad name', email: 'e3@x', password: 'p' })).rejects.toThrow(/Invalid user name/);
    await expect(admin.addUser(o.svc, { name: 'x1', email: 'not-an-email', password: 'p' })).rejects.toThrow(/Invalid Email Address/);
    await expect(admin.addUser(o.svc, { name: 'x2', email: 'x2@x', password: 'p', role: 'king' })).rejects.toThrow(/The role 'king' does not exist/);
    await expect(admin.addUser(o.svc, { name: 'x3', email: 'x3@x', password: '' })).rejects.toThrow(/must not be empty/);
    await admin.removeUser(o.svc, 'eve');
    expect((await admin.listUsers(o.svc)).map((u) => u.name)).toEqual(['root']);
    await expect(admin.removeUser(o.svc, 'eve')).rejects.toThrow("User 'eve' does not exist");
  });

  it('sets a password and a role; the server sees it at once', async () => {
    await admin.addUser(o.svc, { name: 'frank', email: 'frank@x', password: 'old', public: true });
    expect((await srv.http.get('/api/v1/?q=this').set('Authorization', basic('frank', 'old'))).status).toBe(200);
    await admin.setPassword(o.svc, 'frank', 'new');
    expect((await srv.http.get('/api/v1/?q=this').set('Authorization', basic('frank', 'old'))).status).toBe(401);
    expect((await srv.http.get('/api/v1/?q=this').set('Authorization', basic('frank', 'new'))).status).toBe(200);
    const before = await srv.http.get('/api/v1/crud/root').set('Authorization', basic('frank', 'new'));
    expect(before.status).not.toBe(200);
    await admin.setRole(o.svc, 'frank', 'admin');
    expect((await o.svc.core.users.get('frank'))!.role).toBe('admin');
    const after = await srv.http.get('/api/v1/crud/root').set('Authorization', basic('frank', 'new'));
    expect(after.status).toBe(200);
    await expect(admin.setRole(o.svc, 'frank', 'emperor')).rejects.toThrow(/does not exist/);
    await admin.setRole(o.svc, 'frank', 'user');
    expect((await o.svc.core.users.get('frank'))!.role).toBe('user');
  });

  it('adds, lists and removes devices and resets API keys', async () => {
    const key = await admin.addDevice(o.svc, 'frank/sensor', { nickname: 'S' });
    expect((await srv.http.get('/api/v1/?q=this').set('Authorization', basic('', key))).text).toBe('frank/sensor');
    expect((await admin.listDevices(o.svc, 'frank')).map((d) => d.name)).toEqual(['user', 'meta', 'sensor']);
    const fresh = await admin.resetApikey(o.svc, 'frank/sensor');
    expect(fresh).not.toBe(key);
    expect(await statusOnceNoticed(() => srv.http.get('/api/v1/?q=this').set('Authorization', basic('', key)), 401)).toBe(401);
    expect((await srv.http.get('/api/v1/?q=this').set('Authorization', basic('', fresh))).text).toBe('frank/sensor');
    const userKey = await admin.resetApikey(o.svc, 'frank');
    expect((await srv.http.get('/api/v1/?q=this').set('Authorization', basic('', userKey))).text).toBe('frank/user');
    await expect(admin.resetApikey(o.svc, 'frank/meta')).rejects.toThrow('The meta device has no API key');
    await expect(admin.addDevice(o.svc, 'frank/sensor')).rejects.toThrow(/already exists/);
    await expect(admin.addDevice(o.svc, 'frank/user')).rejects.toThrow(/created with its user/);
    await expect(admin.removeDevice(o.svc, 'frank/user')).rejects.toThrow('user device cannot be deleted');
    await admin.removeDevice(o.svc, 'frank/sensor');
    expect(await statusOnceNoticed(() => srv.http.get('/api/v1/?q=this').set('Authorization', basic('', fresh)), 401)).toBe(401);
    expect(await admin.dbinfo(o.svc)).toEqual({ users: 2, devices: 4, streams: 2 });
  });
});

// SQLite only: `backup` copies the SQLite file (on PostgreSQL it points to pg_dump).
describe.skipIf(onPostgres)('backup', () => {
  it('copies the live database consistently while it is being written', async () => {
    const o = await freshFolder();
    const srv = await serve(o);
    try {
      await admin.addUser(o.svc, { name: 'w', email: 'w@x', password: 'w', public: true });
      const as = basic('w', 'w');
      await srv.http.post('/api/v1/crud/w/user/s').set('Authorization', as).send({ schema: '{"type":"number"}' });
      let stop = false;
      let n = 0;
      const writer = (async () => {
        while (!stop) {
          const batch = Array.from({ length: 500 }, (_, i) => ({ t: 1000 + n * 500 + i, d: i }));
          const r = await srv.http.post('/api/v1/crud/w/user/s/data').set('Authorization', as).send(batch);
          expect(r.status).toBe(200);
          n++;
        }
      })();
      while (n < 3) await new Promise((r) => setTimeout(r, 10));
      const file = path.join(tmp('cdb-bak-'), 'backup.sqlite3');
      // A second connection, as `node dist/main.js backup DIR FILE` opens while the server runs.
      const other = await openFolder(o.dir, { env: {} });
      try {
        await backupDatabase(other.sqlite!.db, file);
      } finally {
        await other.close();
      }
      stop = true;
      await writer;
      expect(existsSync(file)).toBe(true);
      expect(existsSync(`${file}.partial`)).toBe(false);
      expect(existsSync(`${file}-wal`)).toBe(false);
      expect(statSync(file).size).toBeGreaterThan(0);
      const copy = new Database(file, { readonly: true });
      try {
        expect(copy.pragma('integrity_check', { simple: true })).toBe('ok');
      } finally {
        await copy.close();
      }
      // The copy opens as a database folder and holds whole inserts only.
      const restoreDir = tmp('cdb-restore-');
      const { copyFileSync, writeFileSync } = await import('node:fs');
      copyFileSync(file, path.join(restoreDir, 'db.sqlite3'));
      writeFileSync(path.join(restoreDir, 'connectordb.conf'), '{}');
      const r = await openFolder(restoreDir, { env: {} });
      try {
        const u = (await r.svc.core.users.get('w'))!;
        const s = (await r.svc.core.streams.get((await r.svc.core.devices.get(u.id, 'user'))!.id, 's'))!;
        const len = await r.svc.core.data.length(s.id, 0);
        expect(len % 500).toBe(0);
        expect(len).toBeGreaterThanOrEqual(1500);
      } finally {
        await r.close();
      }
      await expect(backupDatabase(o.sqlite!.db, file)).rejects.toThrow(/already exists/);
    } finally {
      await srv.close();
      await o.close();
    }
  });
});
