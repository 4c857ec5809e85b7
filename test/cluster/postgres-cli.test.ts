import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stripComments } from '../../src/config/load';
import { writeExport } from '../ops/fixture';
import { readTree } from '../ops/util';
import { PG_BASE, basic, freshSchema, req, run, startReplica, stop, tmp, unreachableSync } from './cluster';

/**
 * The admin commands on a PostgreSQL-backed folder, as real processes of the built CLI (README
 * "Running several servers"): create from CONNECTORDB_SQL_* or --sqlbackend/--sqluri, backup →
 * pg_dump, dbinfo, export from SQLite then import into PostgreSQL, user and device commands.
 * Every test has a schema of its own in CDB_TEST_PG's database.
 */
const why = process.env.CDB_TEST_ENGINE === 'sqlite' ? 'runs in the PostgreSQL pass of npm test' : unreachableSync();
if (why) console.warn(`test/cluster/postgres-cli.test.ts skipped: ${why}`);

const schemas: Array<{ drop(): Promise<void> }> = [];
async function schema(): Promise<{ name: string; uri: string }> {
  const s = await freshSchema('cdb_cli');
  schemas.push(s);
  return s;
}
afterAll(async () => {
  for (const s of schemas) await s.drop();
});

const conf = (dir: string) => JSON.parse(stripComments(readFileSync(path.join(dir, 'connectordb.conf'), 'utf8'))) as { sql: { type: string; uri: string }; cookie: { authkey: string } };
const pgEnv = (uri: string) => ({ CONNECTORDB_SQL_TYPE: 'postgres', CONNECTORDB_SQL_URI: uri });

// Every step is a process of the built CLI (2-3 s each on a loaded machine).
describe.skipIf(!!why)('connectordb CLI on PostgreSQL', { timeout: 180_000 }, () => {
  it('create with CONNECTORDB_SQL_TYPE/URI writes a folder pointing at PostgreSQL (no SQLite file) and creates the admin there', async () => {
    const s = await schema();
    const dir = path.join(tmp('cdb-pgcli-'), 'db');
    const r = run(['create', dir, '--user', 'boss:bosspw'], pgEnv(s.uri));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('on PostgreSQL postgres://');
    expect(readdirSync(dir)).toEqual(['connectordb.conf']);
    expect(conf(dir).sql).toMatchObject({ type: 'postgres', uri: s.uri });
    // The folder alone is enough from now on: no variables.
    const ls = run(['user', 'ls', dir, '--json'], {});
    expect(ls.status, ls.stderr).toBe(0);
    expect(JSON.parse(ls.stdout)).toEqual([expect.objectContaining({ name: 'boss', role: 'admin', public: false })]);
    // And a server on a copy of it lets the admin in.
    const srv = await startReplica(dir, {});
    try {
      expect((await req(srv.url, 'GET', '/api/v1/crud/boss', basic('boss', 'bosspw'))).status).toBe(200);
    } finally {
      await stop(srv);
    }
  });

  it("create --sqlbackend postgres --sqluri URL (the original's flag, with the URL beside it); a server it cannot reach is named, and no folder is left", async () => {
    const s = await schema();
    const dir = path.join(tmp('cdb-pgcli-'), 'db');
    const r = run(['create', dir, '--sqlbackend', 'postgres', '--sqluri', s.uri, '--user', 'boss:pw'], {});
    expect(r.status, r.stderr).toBe(0);
    expect(conf(dir).sql).toMatchObject({ type: 'postgres', uri: s.uri });
    expect(JSON.parse(run(['user', 'ls', dir, '--json'], {}).stdout)).toHaveLength(1);

    const none = path.join(tmp('cdb-pgcli-'), 'db');
    // No URL: the original's sql.hostname/port/username keys (here a port nothing listens on).
    const bad = run(['create', none, '--sqlbackend', 'postgres', '--user', 'boss:pw'], { CONNECTORDB_SQL_PORT: '1' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('Cannot open the PostgreSQL database postgres://postgres@localhost:1/connectordb');
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(none)).toBe(false);
  });

  it('create refuses a PostgreSQL database that already has users, and leaves no folder behind', async () => {
    const s = await schema();
    const first = path.join(tmp('cdb-pgcli-'), 'db');
    expect(run(['create', first, '--user', 'boss:pw'], pgEnv(s.uri)).status).toBe(0);
    const second = path.join(tmp('cdb-pgcli-'), 'db');
    const r = run(['create', second, '--user', 'other:pw'], pgEnv(s.uri));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('already holds 1 user(s)');
    expect(r.stderr).toContain('copy the connectordb.conf');
    expect(existsSync(second)).toBe(false);
    expect(JSON.parse(run(['user', 'ls', first, '--json'], {}).stdout).map((u: { name: string }) => u.name)).toEqual(['boss']);
  });

  it('dbinfo prints the connection string without its password, and the figures', async () => {
    const s = await schema();
    // Trust authentication ignores the password, which must still never be printed.
    const u = new URL(s.uri);
    u.password = 's3cret-pw';
    const dir = path.join(tmp('cdb-pgcli-'), 'db');
    expect(run(['create', dir, '--user', 'boss:pw'], pgEnv(u.toString())).status).toBe(0);
    const r = run(['dbinfo', dir], {});
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('s3cret');
    const info = JSON.parse(r.stdout) as { database: string; users: number; devices: number; streams: number };
    expect(info.database.startsWith(`postgres://${u.username}@${u.host}${u.pathname}`)).toBe(true);
    expect(info).toMatchObject({ users: 1, devices: 2, streams: 1 });
  });

  it('backup refuses on PostgreSQL with the exact pg_dump command, which works, and a restore command, which brings the data back', async () => {
    const s = await schema();
    const u = new URL(s.uri);
    u.password = 's3cret-pw';
    const dir = path.join(tmp('cdb-pgcli-'), 'db');
    expect(run(['create', dir, '--user', 'boss:pw'], pgEnv(u.toString())).status).toBe(0);
    const file = path.join(tmp('cdb-pgdump-'), 'cdb.dump');
    const r = run(['backup', dir, file], {});
    expect(r.status).toBe(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr).not.toContain('s3cret');
    expect(existsSync(file)).toBe(false);
    const base = new URL(PG_BASE);
    const db = `postgres://${base.username}@${base.host}${base.pathname}`;
    const dump = `pg_dump --format=custom --schema=${s.name} --file=${file} ${db}`;
    const restore = `pg_restore --clean --if-exists --no-owner --dbname=${db} ${file}`;
    expect(r.stderr).toContain(`  ${dump}\n`);
    expect(r.stderr).toContain(`  ${restore}\n`);
    expect(r.stderr).toContain('PGPASSWORD');

    const sh = (cmd: string) => spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
    const d = sh(dump);
    expect(d.status, d.stderr).toBe(0);
    const before = JSON.parse(run(['dbinfo', dir], {}).stdout) as Record<string, unknown>;
    // Lose the data, then restore it with the printed command.
    expect(run(['user', 'rm', dir, 'boss'], {}).status).toBe(0);
    expect(JSON.parse(run(['dbinfo', dir], {}).stdout)).toMatchObject({ users: 0 });
    const rs = sh(restore);
    expect(rs.status, rs.stderr).toBe(0);
    expect(JSON.parse(run(['dbinfo', dir], {}).stdout)).toEqual(before);
    expect(run(['user', 'ls', dir, '--json'], {}).stdout).toContain('"boss"');
  });

  it('moves a SQLite database over: export from the SQLite folder, create on PostgreSQL, import; the new folder exports the same files', async () => {
    const s = await schema();
    const root = tmp('cdb-pgmove-');
    const old = path.join(root, 'old');
    // A SQLite folder with data (an export of the original, with several users and streams).
    expect(run(['import', old, writeExport(path.join(root, 'fixture'))], {}).status).toBe(0);
    expect(existsSync(path.join(old, 'db.sqlite3'))).toBe(true);
    // README "Running several servers", moving an existing SQLite database over:
    const exp = path.join(root, 'export');
    const e1 = run(['export', old, exp], {});
    expect(e1.status, e1.stderr).toBe(0);
    const neu = path.join(root, 'cluster');
    const c = run(['create', neu], pgEnv(s.uri));
    expect(c.status, c.stderr).toBe(0);
    const i = run(['import', neu, exp], {});
    expect(i.status, i.stderr).toBe(0);
    expect(readdirSync(neu)).toEqual(['connectordb.conf']);
    const again = path.join(root, 'again');
    expect(run(['export', neu, again], {}).status).toBe(0);
    expect(readTree(again)).toEqual(readTree(exp));
    expect(JSON.parse(run(['dbinfo', neu], {}).stdout)).toMatchObject({ users: 3 });
    rmSync(root, { recursive: true, force: true });
  });

  it('user and device commands act on the PostgreSQL database; a server on a copy of the folder sees them', async () => {
    const s = await schema();
    const dir = path.join(tmp('cdb-pgcli-'), 'db');
    expect(run(['create', dir, '--user', 'boss:pw'], pgEnv(s.uri)).status).toBe(0);
    expect(run(['user', 'add', dir, 'alice', '--email', 'alice@example.org'], {}, 'alice-pw\n').status).toBe(0);
    expect(run(['user', 'mkadmin', dir, 'alice'], {}).status).toBe(0);
    expect(run(['user', 'passwd', dir, 'alice', 'alice-pw2'], {}).status).toBe(0);
    const key = run(['device', 'add', dir, 'alice/sensor'], {}).stdout.trim();
    expect(key).toMatch(/^[0-9a-f-]{36}$/);
    const newKey = run(['device', 'reset-apikey', dir, 'alice/sensor'], {}).stdout.trim();
    expect(newKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(newKey).not.toBe(key);
    expect(JSON.parse(run(['device', 'ls', dir, 'alice', '--json'], {}).stdout).map((d: { name: string }) => d.name).sort()).toEqual(['meta', 'sensor', 'user']);
    const srv = await startReplica(dir, {});
    try {
      expect((await req(srv.url, 'GET', '/api/v1/crud/alice', basic('alice', 'alice-pw2'))).status).toBe(200);
      expect(JSON.parse((await req(srv.url, 'GET', '/api/v1/crud/alice', basic('alice', 'alice-pw2'))).text)).toMatchObject({ role: 'admin' });
      expect((await req(srv.url, 'GET', '/api/v1/?q=this', basic('', newKey))).text).toBe('alice/sensor');
      expect((await req(srv.url, 'GET', '/api/v1/?q=this', basic('', key))).status).toBe(401);
    } finally {
      await stop(srv);
    }
    expect(run(['user', 'rm', dir, 'alice'], {}).status).toBe(0);
    expect(JSON.parse(run(['user', 'ls', dir, '--json'], {}).stdout).map((u: { name: string }) => u.name)).toEqual(['boss']);
  });
});
