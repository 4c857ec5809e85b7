import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { firstRunPassword } from '../../src/main';
import { writeExport } from './fixture';
import { ENV, MAIN, cli, folderEnv, startServer as serve } from './cli';
import { onPostgres } from '../engine';
import { basic, tmp } from './util';

// Issue 13, "Things a new user ran into": the CLI as real processes (`node dist/main.js …`).

const newDb = (user = 'admin:adminpw'): string => {
  const dir = path.join(tmp('cdb-nu-'), 'db');
  expect(cli(['create', dir, '--user', user]).status).toBe(0);
  return dir;
};

// SQLite only: the folder lock that keeps a second server off the SQLite file; on PostgreSQL
// several servers share one database by design.
describe.skipIf(onPostgres)('one server per database folder', () => {
  it('a second run on the same folder is refused with a clear message while the first keeps serving', async () => {
    const dir = newDb();
    const s = await serve(['run', dir, '--host', '127.0.0.1', '--port', '0']);
    const second = cli(['run', dir, '--host', '127.0.0.1', '--port', '0']);
    expect(second.status).toBe(1);
    expect(second.stderr).toContain(`Another ConnectorDB server is already running on ${dir}`);
    expect(second.stderr).toContain('Stop it first');
    // Offline commands still work next to the server.
    expect(cli(['dbinfo', dir]).status).toBe(0);
    expect((await fetch(`${s.url}/api/v1/?q=this`, { headers: { authorization: basic('admin', 'adminpw') } })).status).toBe(200);
    s.proc.kill('SIGTERM');
    expect(await s.exit).toBe(0);
    // Released on exit: the next run starts.
    const again = await serve(['run', dir, '--host', '127.0.0.1', '--port', '0']);
    again.proc.kill('SIGTERM');
    expect(await again.exit).toBe(0);
  });

  it('the lock is not left stale by kill -9', async () => {
    const dir = newDb();
    const s = await serve(['run', dir, '--host', '127.0.0.1', '--port', '0']);
    s.proc.kill('SIGKILL');
    await s.exit;
    const next = await serve(['run', dir, '--host', '127.0.0.1', '--port', '0']);
    expect((await fetch(`${next.url}/api/v1/meta/version`)).status).toBe(200);
    next.proc.kill('SIGTERM');
    expect(await next.exit).toBe(0);
  });
});

describe('run, create and flags say what to do', () => {
  it('run on a missing folder says the folder does not exist (not a missing config file)', () => {
    const dir = path.join(tmp('cdb-nu-'), 'nope');
    const r = cli(['run', dir, '--port', '0']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`The database folder ${dir} does not exist.`);
    expect(r.stderr).toContain('connectordb create');
    expect(r.stderr).not.toContain('configuration file');
  });

  it('run on an empty folder refuses to serve a database nobody can log in to, and says how to create one', () => {
    const dir = tmp('cdb-nu-empty-');
    const r = cli(['run', dir, '--port', '0']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('is not a ConnectorDB database folder');
    expect(r.stderr).toContain(`connectordb create ${dir} --user NAME:PASSWORD`);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('create without --user says how to add an admin; run on it warns that nobody can log in', async () => {
    const dir = path.join(tmp('cdb-nu-'), 'db');
    const r = cli(['create', dir]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Nobody can log in yet');
    expect(r.stdout).toContain(`connectordb user add ${dir} NAME --email ADDRESS --role admin`);
    const s = await serve(['run', dir, '--host', '127.0.0.1', '--port', '0']);
    expect(s.out()).toContain('Nobody can log in yet');
    s.proc.kill('SIGTERM');
    expect(await s.exit).toBe(0);
  });

  it('--port eighty is refused with a message naming the flag, not NaN', () => {
    const dir = newDb();
    const r = cli(['run', dir, '--port', 'eighty']);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('--port must be a whole number from 0 to 65535, not "eighty"');
    expect(cli(['run', dir, '--port', '70000']).stderr).toContain('--port must be a whole number from 0 to 65535, not "70000"');
  });

  it('an unknown command says unknown command, suggests the nearest and exits 1', () => {
    const r = cli(['srart', 'x']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("error: unknown command 'srart'");
    expect(r.stderr).toContain('(Did you mean start?)');
    expect(r.stderr).not.toContain('too many arguments');
    const sub = cli(['user', 'lss', 'x']);
    expect(sub.status).toBe(1);
    expect(sub.stderr).toContain('(Did you mean ls?)');
    expect(cli(['--semver']).stdout.trim()).toBe('0.3.0');
  });
});

describe('passwords', () => {
  it('user passwd at a terminal reads the password without echoing it', () => {
    const dir = newDb();
    // A real pseudo-terminal: python's pty runs the command with a tty on stdin/stdout/stderr.
    const py = [
      'import os, pty, sys, time',
      'pid, fd = pty.fork()',
      'if pid == 0:',
      `    os.execv(sys.argv[1], [sys.argv[1], sys.argv[2], "user", "passwd", sys.argv[3], "admin"])`,
      'out = b""',
      'def read_until(s):',
      '    global out',
      '    end = time.time() + 30',
      '    while s not in out and time.time() < end:',
      '        try: out += os.read(fd, 1024)',
      '        except OSError: break',
      'read_until(b"Password:")',
      'os.write(fd, b"s3cret-typed\\r")',
      'read_until(b"changed")',
      '_, status = os.waitpid(pid, 0)',
      'sys.stdout.write(out.decode())',
      'sys.exit(os.waitstatus_to_exitcode(status))',
    ].join('\n');
    const r = spawnSync('python3', ['-c', py, process.execPath, MAIN, dir], { encoding: 'utf8', env: { ...ENV, ...folderEnv(['user', 'passwd', dir]) }, timeout: 60000 });
    expect(r.stdout).toContain('Password:');
    expect(r.stdout).toContain("Password of 'admin' changed");
    expect(r.stdout).not.toContain('s3cret-typed');
    expect(r.status, r.stderr).toBe(0);
  });

  it('passwords piped on stdin still work (not a terminal)', () => {
    const dir = newDb();
    expect(cli(['user', 'passwd', dir, 'admin'], 'piped-pw\n').status).toBe(0);
  });

  it('the first-run password is letters and digits only (never a leading -)', async () => {
    for (let i = 0; i < 2000; i++) expect(firstRunPassword()).toMatch(/^[A-Za-z0-9]{16}$/);
    const dir = tmp('cdb-nu-start-');
    const s = await serve(['start', dir, '--host', '127.0.0.1', '--port', '0']);
    const pw = /admin \/ (\S+)/.exec(s.out())![1];
    expect(pw).toMatch(/^[A-Za-z0-9]{16}$/);
    expect(await (await fetch(`${s.url}/api/v1/?q=this`, { headers: { authorization: basic('admin', pw) } })).text()).toBe('admin/user');
    s.proc.kill('SIGTERM');
    expect(await s.exit).toBe(0);
  });
});

describe('import', () => {
  it('a failed import removes the folder it created (and only what it created in an existing empty folder)', () => {
    const root = tmp('cdb-nu-imp-');
    const bad = path.join(root, 'bad');
    mkdirSync(bad);
    writeFileSync(path.join(bad, 'connectordb.json'), '{"Version": 99}');
    const dir = path.join(root, 'new');
    const r = cli(['import', dir, bad]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("Can't open the export version 99");
    expect(r.stderr).toContain('was removed again');
    expect(existsSync(dir)).toBe(false);
    const vol = path.join(root, 'volume');
    mkdirSync(vol);
    expect(cli(['import', vol, bad]).status).toBe(1);
    expect(existsSync(vol)).toBe(true);
    expect(readdirSync(vol)).toEqual([]);
  });

  it("the import summary says it skipped the meta devices (meta/log)", () => {
    const root = tmp('cdb-nu-imp-');
    const orig = writeExport(path.join(root, 'original'));
    const r = cli(['import', path.join(root, 'db'), orig]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('Imported 3 users');
    expect(r.stderr).toContain('Skipped 3 meta devices (meta/log, the original\'s log of operations): every user starts with a new, empty meta/log.');
  });
});
