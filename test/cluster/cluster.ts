import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ENV, MAIN, ROOT, type Server, startServer } from '../ops/cli';

/**
 * Real processes for the cluster tests: the built server (`node dist/main.js`) on a schema of a
 * real PostgreSQL with a real NATS, and Debian's nginx in front, all on loopback ports.
 *
 * Where: CDB_TEST_PG (a postgres:// URL of a database this test may create schemas in) and
 * CDB_TEST_NATS (nats://host:port), exported by .ci/run; without them the shared servers of the
 * development machine. Unreachable, the tests are skipped and say why.
 */
export const PG_BASE = process.env.CDB_TEST_PG ?? 'postgres://cdb@127.0.0.1:55432/cluster_ops';
export const NATS_URL = process.env.CDB_TEST_NATS ?? 'nats://127.0.0.1:14222';
export const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));

export const tmp = (prefix: string): string => mkdtempSync(path.join(tmpdir(), prefix));

/**
 * Why the cluster cannot be tested here, or undefined when PostgreSQL and NATS both answer. Asked
 * in a child process, so a test file decides at load time (describe.skipIf) without top-level await.
 */
export function unreachableSync(): string | undefined {
  const script = [
    `const pg = require(${JSON.stringify(require.resolve('pg'))});`,
    `const net = require('node:net');`,
    `(async () => {`,
    `  const c = new pg.Client({ connectionString: process.env.PG, connectionTimeoutMillis: 3000 });`,
    `  try { await c.connect(); await c.query('SELECT 1'); } catch (e) { console.log('PG ' + e.message); process.exit(0); } finally { c.end().catch(() => {}); }`,
    `  const u = new URL(process.env.NATS);`,
    `  const s = net.connect({ host: u.hostname, port: Number(u.port || 4222) });`,
    `  const t = setTimeout(() => { console.log('NATS timeout'); process.exit(0); }, 3000);`,
    `  s.once('data', (b) => { clearTimeout(t); if (!String(b).startsWith('INFO')) console.log('NATS no INFO'); process.exit(0); });`,
    `  s.once('error', (e) => { console.log('NATS ' + e.message); process.exit(0); });`,
    `})();`,
  ].join('\n');
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, PG: PG_BASE, NATS: NATS_URL }, timeout: 15000 });
  const out = (r.stdout ?? '').trim();
  if (r.status !== 0) return `could not check PostgreSQL and NATS: ${r.stderr}`;
  if (out.startsWith('PG ')) return `PostgreSQL at ${redact(PG_BASE)} is unreachable (${out.slice(3)}): set CDB_TEST_PG`;
  if (out.startsWith('NATS ')) return `NATS at ${NATS_URL} is unreachable (${out.slice(5)}): set CDB_TEST_NATS`;
  return undefined;
}

const redact = (uri: string): string => {
  const u = new URL(uri);
  if (u.password) u.password = '***';
  return u.toString();
};

/** A fresh schema in the test database; its URI selects it (search_path in `options`). */
export async function freshSchema(prefix: string): Promise<{ name: string; uri: string; drop(): Promise<void> }> {
  const name = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const run = async (sql: string) => {
    const c = new pg.Client({ connectionString: PG_BASE });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await run(`CREATE SCHEMA ${name}`);
  const u = new URL(PG_BASE);
  u.searchParams.set('options', `-c search_path=${name}`);
  return { name, uri: u.toString(), drop: () => run(`DROP SCHEMA IF EXISTS ${name} CASCADE`) };
}

export function run(args: string[], env: Record<string, string>, input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { input, encoding: 'utf8', env: { ...ENV, ...env }, timeout: 60000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface Replica extends Server {
  dir: string;
  port: number;
}

/** One replica as compose runs it: a copy of the shared config folder, `run` on it. */
export async function startReplica(shared: string, env: Record<string, string>): Promise<Replica> {
  const dir = path.join(tmp('cdb-replica-'), 'data');
  mkdirSync(dir);
  cpSync(path.join(shared, 'connectordb.conf'), path.join(dir, 'connectordb.conf'));
  const s = await startServer(['run', dir, '--host', '127.0.0.1', '--port', '0'], env);
  return { ...s, dir, port: Number(new URL(s.url).port) };
}

export function stop(s: { proc: ChildProcess; exit: Promise<number | null> }): Promise<unknown> {
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) return Promise.resolve();
  s.proc.kill('SIGTERM');
  return s.exit.catch(() => {});
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/**
 * docker/nginx.cluster.conf made runnable here: the upstream names (cdb1, cdb2) become the
 * replicas' loopback ports, `listen 80` a free loopback port, inside a main config that keeps
 * the pid, logs and temp files in `prefix`. `extra` adds lines to the websocket location.
 */
export function nginxConfig(prefix: string, listen: number, upstreams: number[], extra = ''): string {
  let site = readFileSync(path.join(ROOT, 'docker', 'nginx.cluster.conf'), 'utf8');
  upstreams.forEach((p, i) => {
    site = site.replace(`server cdb${i + 1}:3124`, `server 127.0.0.1:${p}`);
  });
  site = site.replace('listen 80;', `listen 127.0.0.1:${listen};`).replace('listen [::]:80;', '');
  if (extra) site = site.replace('location = /api/v1/websocket {', `location = /api/v1/websocket {\n        ${extra}`);
  const p = (f: string) => path.join(prefix, f);
  return [
    'daemon off;',
    'worker_processes 1;',
    `pid ${p('nginx.pid')};`,
    `error_log ${p('error.log')} warn;`,
    'events { worker_connections 512; }',
    'http {',
    `  access_log off;`,
    `  client_body_temp_path ${p('body')};`,
    `  proxy_temp_path ${p('proxy')};`,
    `  fastcgi_temp_path ${p('fastcgi')};`,
    `  uwsgi_temp_path ${p('uwsgi')};`,
    `  scgi_temp_path ${p('scgi')};`,
    site,
    '}',
    '',
  ].join('\n');
}

/** nginx runs unprivileged: as `postgres` (Debian's PostgreSQL user, as CI has it) when we are root. */
function asUser(cmd: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

/** A folder the unprivileged user owns (nginx writes its pid, logs and temp files there). */
export function nginxPrefix(): string {
  const dir = tmp('cdb-nginx-');
  if (process.getuid?.() === 0) {
    const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    chownSync(dir, Number(id.stdout.trim()), Number(gid.stdout.trim()));
  }
  chmodSync(dir, 0o755);
  return dir;
}

/** `nginx -t` on a config: [ok, output]. */
export function nginxTest(prefix: string, conf: string): [boolean, string] {
  const file = path.join(prefix, 'nginx.conf');
  writeFileSync(file, conf, { mode: 0o644 });
  const [cmd, args] = asUser(NGINX!, ['-e', path.join(prefix, 'error.log'), '-p', prefix, '-c', file, '-t']);
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return [r.status === 0, `${r.stdout}${r.stderr}`];
}

export interface Nginx {
  url: string;
  stop(): Promise<void>;
}

/** Starts nginx on the config in the foreground; stopped through its master pid. */
export async function startNginx(prefix: string, conf: string, listen: number): Promise<Nginx> {
  const [ok, out] = nginxTest(prefix, conf);
  if (!ok) throw new Error(`nginx -t failed:\n${out}`);
  const file = path.join(prefix, 'nginx.conf');
  const [cmd, args] = asUser(NGINX!, ['-e', path.join(prefix, 'error.log'), '-p', prefix, '-c', file]);
  const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr?.on('data', (b: Buffer) => (err += String(b)));
  const pidFile = path.join(prefix, 'nginx.pid');
  const end = Date.now() + 10000;
  for (;;) {
    if (existsSync(pidFile)) {
      const up = await new Promise<boolean>((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port: listen }, () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      });
      if (up) break;
    }
    if (proc.exitCode !== null || Date.now() > end) throw new Error(`nginx did not start: ${err}${existsSync(path.join(prefix, 'error.log')) ? readFileSync(path.join(prefix, 'error.log'), 'utf8') : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const master = Number(readFileSync(pidFile, 'utf8').trim());
  return {
    url: `http://127.0.0.1:${listen}`,
    async stop() {
      try {
        process.kill(master, 'SIGTERM');
      } catch {
        /* already gone */
      }
      if (proc.exitCode === null) await new Promise((r) => proc.once('exit', r));
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}

export const basic = (u: string, p: string): string => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');
export const keyAuth = (key: string): string => 'Basic ' + Buffer.from(`:${key}`).toString('base64');

export async function req(url: string, method: string, p: string, auth: string, body?: unknown): Promise<{ status: number; text: string }> {
  const r = await fetch(url + p, {
    method,
    headers: { authorization: auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, text: await r.text() };
}
