import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { writeExport } from './fixture';
import { onPostgres } from '../engine';
import { ENV, MAIN, cli, folderEnv, startServer } from './cli';
import { basic, tmp } from './util';


async function req(url: string, method: string, p: string, auth: string, body?: unknown): Promise<{ status: number; text: string }> {
  const r = await fetch(url + p, { method, headers: { authorization: auth }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, text: await r.text() };
}

// dist/ is built once for the whole suite by test/global-setup.ts.

describe('graceful shutdown of a real server process', () => {
  it('SIGTERM: the in-flight request completes, websockets get a close frame, exit 0, database checkpointed', async () => {
    const dir = path.join(tmp('cdb-proc-'), 'db');
    expect(cli(['create', dir, '--user', 'admin:adminpw']).status).toBe(0);
    const s = await startServer(['run', dir, '--host', '127.0.0.1', '--port', '0']);
    const auth = basic('admin', 'adminpw');
    expect((await req(s.url, 'POST', '/api/v1/crud/admin/user/s', auth, { schema: '{"type":"number"}' })).status).toBe(200);
    expect((await req(s.url, 'POST', '/api/v1/crud/admin/user/s/data', auth, [{ t: 1, d: 1 }])).status).toBe(200);

    // A websocket client, subscribed.
    const ws = new WebSocket(`${s.url.replace('http', 'ws')}/api/v1/websocket`, { headers: { authorization: auth } });
    await new Promise((r, j) => {
      ws.on('open', r);
      ws.on('error', j);
    });
    ws.send(JSON.stringify({ cmd: 'subscribe', arg: 'admin/user/s' }));
    const wsClosed = new Promise<number>((r) => ws.on('close', (code) => r(code)));

    // An insert whose body is still being uploaded when the signal arrives.
    const points = Array.from({ length: 5000 }, (_, i) => ({ t: 10 + i, d: i }));
    const body = Buffer.from(JSON.stringify(points));
    const u = new URL(s.url);
    const inFlight = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const r = http.request(
        { host: u.hostname, port: u.port, method: 'POST', path: '/api/v1/crud/admin/user/s/data', headers: { authorization: auth, 'content-length': body.length } },
        (res) => {
          let text = '';
          res.on('data', (c) => (text += String(c)));
          res.on('end', () => resolve({ status: res.statusCode!, text }));
        },
      );
      r.on('error', reject);
      r.write(body.subarray(0, 1000));
      setTimeout(() => r.end(body.subarray(1000)), 800);
    });
    await new Promise((r) => setTimeout(r, 300));
    s.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    // No new connections once shutting down.
    await expect(fetch(`${s.url}/api/v1/meta/version`)).rejects.toThrow();

    const done = await inFlight;
    expect(done).toEqual({ status: 200, text: 'ok' });
    expect(await s.exit).toBe(0);
    expect(await wsClosed).toBeGreaterThanOrEqual(1000);
    expect(s.out()).toContain('shutdown complete');

    // Checkpointed: the WAL was folded into the database file and removed (SQLite only: on
    // PostgreSQL the folder holds no database file).
    if (!onPostgres) {
      const file = path.join(dir, 'db.sqlite3');
      expect(!existsSync(`${file}-wal`) || statSync(`${file}-wal`).size === 0).toBe(true);
      const db = new Database(file, { readonly: true });
      try {
        expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      } finally {
        db.close();
      }
    }
    // Restarted, the data of the in-flight request is there.
    const s2 = await startServer(['run', dir, '--host', '127.0.0.1', '--port', '0']);
    expect((await req(s2.url, 'GET', '/api/v1/crud/admin/user/s/data?q=length', auth)).text).toBe('5001');
    s2.proc.kill('SIGINT');
    expect(await s2.exit).toBe(0);
  });

  it('`start` on an empty (volume) folder creates the admin, prints its password once, and stops on SIGINT', async () => {
    const dir = tmp('cdb-volume-');
    const s = await startServer(['start', dir, '--host', '127.0.0.1', '--port', '0']);
    const pw = /admin \/ (\S+)/.exec(s.out())![1];
    expect((await req(s.url, 'GET', '/api/v1/?q=this', basic('admin', pw))).text).toBe('admin/user');
    expect((await req(s.url, 'GET', '/api/v1/meta/version', '')).text).toBe('0.3.0');
    s.proc.kill('SIGINT');
    expect(await s.exit).toBe(0);
    // Second start: the folder exists, nothing is created.
    const s2 = await startServer(['start', dir, '--host', '127.0.0.1', '--port', '0']);
    expect(s2.out()).not.toContain('admin /');
    s2.proc.kill('SIGTERM');
    expect(await s2.exit).toBe(0);
  });
});

describe('configuration at start (real process)', () => {
  it('an invalid configuration stops the server with a clear message and exit 1', () => {
    const dir = path.join(tmp('cdb-badconf-'), 'db');
    expect(cli(['create', dir]).status).toBe(0);
    writeFileSync(path.join(dir, 'connectordb.conf'), '{"insert_limit_bytes": 50, "redis": {"port": 6380}}');
    const r = cli(['run', dir, '--port', '0']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('Invalid configuration');
    expect(r.stderr).toContain('The limit of single insert has to be at least 100 bytes.');
    const env = spawnSync(process.execPath, [MAIN, 'run', dir], { encoding: 'utf8', env: { ...ENV, ...folderEnv(['run', dir]), CONNECTORDB_PORT: 'eighty' } });
    expect(env.status).toBe(1);
    expect(env.stderr).toContain('Environment variable CONNECTORDB_PORT must be a number, not "eighty"');
  });

  it('environment overrides the file and flags override the environment; obsolete keys only warn', async () => {
    const dir = path.join(tmp('cdb-envconf-'), 'db');
    expect(cli(['create', dir]).status).toBe(0);
    // On PostgreSQL the original's `nats` section configures the bus: `redis` is unused on both engines.
    const unused = onPostgres ? '"redis": {"port": 6380}' : '"nats": {"port": 4223}';
    writeFileSync(path.join(dir, 'connectordb.conf'), `{"port": 1, "hostname": "127.0.0.1", ${unused}}`);
    const s = await startServer(['run', dir], { CONNECTORDB_PORT: '0' });
    expect(s.out()).toContain(`Ignoring options of the original ConnectorDB that this server does not use: ${onPostgres ? 'redis' : 'nats'}`);
    s.proc.kill('SIGTERM');
    expect(await s.exit).toBe(0);
    const s2 = await startServer(['run', dir, '--port', '0'], { CONNECTORDB_PORT: '1' });
    s2.proc.kill('SIGTERM');
    expect(await s2.exit).toBe(0);
  });

  it('refuses to open a ConnectorDB 0.3 database file in place', () => {
    const dir = path.join(tmp('cdb-orig-'), 'db');
    mkdirSync(dir, { recursive: true });
    const db = new Database(path.join(dir, 'db.sqlite3'));
    db.exec('CREATE TABLE connectordbmeta (key TEXT, value TEXT)');
    db.close();
    const r = cli(['run', dir, '--port', '0']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('is a database of the original ConnectorDB 0.3');
  });

  it('write config / write permissions produce files the server starts with', async () => {
    const dir = path.join(tmp('cdb-write-'), 'db');
    mkdirSync(dir, { recursive: true });
    expect(cli(['write', 'config', path.join(dir, 'connectordb.conf')]).status).toBe(0);
    expect(cli(['write', 'permissions', path.join(dir, 'permissions.conf')]).status).toBe(0);
    expect(cli(['write', 'permissions', path.join(dir, 'permissions.conf')]).stderr).toContain('already exists');
    const conf = readFileSync(path.join(dir, 'connectordb.conf'), 'utf8');
    writeFileSync(path.join(dir, 'connectordb.conf'), conf.replace('"permissions": "default"', '"permissions": "permissions.conf"'));
    const s = await startServer(['run', dir, '--host', '127.0.0.1', '--port', '0']);
    expect((await req(s.url, 'GET', '/api/v1/meta/version', '')).status).toBe(200);
    s.proc.kill('SIGTERM');
    expect(await s.exit).toBe(0);
  });
});

describe('admin, export/import and backup commands (real processes)', () => {
  it('user and device commands', () => {
    const dir = path.join(tmp('cdb-cli-'), 'db');
    expect(cli(['create', dir]).status).toBe(0);
    const add = cli(['user', 'add', dir, 'ann', '--email', 'ann@x', '--role', 'admin'], 'ann-password\n');
    expect(add.status, add.stderr).toBe(0);
    const ls = JSON.parse(cli(['user', 'ls', dir, '--json']).stdout);
    expect(ls).toEqual([{ name: 'ann', email: 'ann@x', role: 'admin', public: false, devices: 2, password_scheme: 'argon2id' }]);
    expect(cli(['user', 'ls', dir]).stdout).toMatch(/^NAME\s+EMAIL\s+ROLE/);
    expect(cli(['user', 'passwd', dir, 'ann'], 'new-password\n').status).toBe(0);
    expect(cli(['user', 'rmadmin', dir, 'ann']).status).toBe(0);
    expect(JSON.parse(cli(['user', 'ls', dir, '--json', '--role', 'user']).stdout)[0].name).toBe('ann');
    expect(cli(['user', 'mkadmin', dir, 'ann']).status).toBe(0);
    expect(cli(['user', 'role', dir, 'ann', 'nope']).stderr).toContain("The role 'nope' does not exist");
    const key = cli(['device', 'add', dir, 'ann/thermo']).stdout.trim();
    expect(key).toMatch(/^[0-9a-f-]{36}$/);
    const key2 = cli(['device', 'reset-apikey', dir, 'ann/thermo']).stdout.trim();
    expect(key2).toMatch(/^[0-9a-f-]{36}$/);
    expect(key2).not.toBe(key);
    expect(JSON.parse(cli(['device', 'ls', dir, 'ann', '--json']).stdout).map((d: { name: string }) => d.name)).toEqual(['user', 'meta', 'thermo']);
    expect(cli(['device', 'rm', dir, 'ann/thermo']).status).toBe(0);
    expect(cli(['device', 'rm', dir, 'ann/thermo']).stderr).toContain("Device 'ann/thermo' does not exist");
    expect(JSON.parse(cli(['dbinfo', dir]).stdout)).toMatchObject({ users: 1, devices: 2, streams: 1 });
    expect(cli(['user', 'rm', dir, 'ann']).status).toBe(0);
    expect(JSON.parse(cli(['user', 'ls', dir, '--json']).stdout)).toEqual([]);
  }, 120_000);

  it('import, export (with progress) and backup while the server runs', async () => {
    const root = tmp('cdb-cli-xi-');
    const orig = writeExport(path.join(root, 'original'));
    const dir = path.join(root, 'db');
    const imp = cli(['import', dir, orig]);
    expect(imp.status, imp.stderr).toBe(0);
    expect(imp.stderr).toContain('Imported 3 users, 5 devices, 6 streams');
    const again = cli(['import', dir, orig]);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('Nothing was imported');

    const s = await startServer(['run', dir, '--host', '127.0.0.1', '--port', '0']);
    expect((await req(s.url, 'GET', '/api/v1/?q=this', basic('alice', 'alice-pw'))).text).toBe('alice/user');
    // SQLite only: `backup` copies the SQLite file; on PostgreSQL it points to pg_dump.
    if (!onPostgres) {
      const bak = cli(['backup', dir, path.join(root, 'backup.db')]);
      expect(bak.status, bak.stderr).toBe(0);
    }
    const exp = cli(['export', dir, path.join(root, 'exported')]);
    expect(exp.status, exp.stderr).toBe(0);
    expect(exp.stderr).toMatch(/export \d+% [\d,]+ datapoints/);
    s.proc.kill('SIGTERM');
    expect(await s.exit).toBe(0);
    const user = JSON.parse(readFileSync(path.join(root, 'exported', 'alice', 'user.json'), 'utf8'));
    expect(user.password_scheme).toBe('argon2id'); // rehashed at the login above
    expect(JSON.parse(readFileSync(path.join(root, 'exported', 'bob', 'user.json'), 'utf8')).password_scheme).toBe('SHA512');
  });
});
