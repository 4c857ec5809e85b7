import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { stripComments } from '../../src/config/load';
import { ENV, MAIN, ROOT } from '../ops/cli';
import { NATS_URL, NGINX, type Nginx, basic, freePort, freshSchema, keyAuth, nginxConfig, nginxPrefix, req, startNginx, tmp, unreachableSync } from './cluster';

/**
 * Two real server processes on one PostgreSQL schema and one NATS, set up with the commands and
 * variables of docker/compose.cluster.yaml (init's `create`, then each replica's copy + `run`),
 * and Debian's nginx with docker/nginx.cluster.conf in front of them (unprivileged, loopback).
 */
const why =
  process.env.CDB_TEST_ENGINE === 'sqlite'
    ? 'runs in the PostgreSQL pass of npm test'
    : (unreachableSync() ?? (NGINX ? undefined : 'nginx is not installed (apt-get install nginx)'));
if (why) console.warn(`test/cluster/processes.test.ts skipped: ${why}`);

type Compose = { services: Record<string, { command: string[]; environment: Record<string, string> }> };
const compose = parse(readFileSync(path.join(ROOT, 'docker', 'compose.cluster.yaml'), 'utf8'), { merge: true }) as Compose;

/** A compose command run here: our node and build, folders for the volumes, loopback. */
function localCommand(cmd: string[], dirs: Record<string, string>): string {
  // Compose's interpolation first: `$$` is a literal `$` for the container's shell.
  let sh = cmd[2].replaceAll('$$', '$');
  for (const [from, to] of Object.entries(dirs)) sh = sh.replaceAll(from, to);
  return sh.replaceAll('node dist/main.js', `${process.execPath} ${MAIN}`).replace('--host 0.0.0.0', '--host 127.0.0.1');
}

/** The replicas' environment from the compose file, pointed at the test's PostgreSQL schema and NATS. */
function replicaEnv(uri: string): Record<string, string> {
  const env = { ...compose.services.cdb1.environment };
  const nats = new URL(NATS_URL);
  env.CONNECTORDB_SQL_URI = uri;
  env.CONNECTORDB_SQL_POOL = '4';
  env.CONNECTORDB_NATS_HOSTNAME = nats.hostname;
  env.CONNECTORDB_NATS_PORT = nats.port || '4222';
  // The test's NATS has no accounts.
  delete env.CONNECTORDB_NATS_USERNAME;
  delete env.CONNECTORDB_NATS_PASSWORD;
  // nginx runs on loopback here (a private Docker network there).
  env.CONNECTORDB_TRUST_PROXY = 'loopback';
  env.CONNECTORDB_PORT = '0';
  env.CONNECTORDB_FAILED_LOGIN_DELAY = '0';
  for (const v of Object.values(env)) expect(v).not.toContain('${');
  return env;
}

interface Proc {
  name: string;
  proc: ChildProcess;
  url: string;
  port: number;
  out: () => string;
  exit: Promise<number | null>;
}

function startReplica(name: string, shared: string, uri: string): Promise<Proc> {
  const data = path.join(tmp(`cdb-${name}-`), 'data');
  mkdirSync(data);
  const cmd = localCommand(compose.services.cdb1.command, { '/cluster-config': shared, '/data': data });
  const proc = spawn('sh', ['-c', cmd], { env: { ...ENV, ...replicaEnv(uri) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exit = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    const onData = (b: Buffer) => {
      out += String(b);
      const m = /is serving .* at (http:\/\/[^"\s]+)/.exec(out);
      if (m) {
        const url = m[1].replace('localhost', '127.0.0.1');
        resolve({ name, proc, url, port: Number(new URL(url).port), out: () => out, exit });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    void exit.then((code) => reject(new Error(`${name} exited with ${code}:\n${out}`)));
    setTimeout(() => reject(new Error(`${name} did not start:\n${out}`)), 30000);
  });
}

const ADMIN_PW = 'cluster-admin-pw';
const auth = basic('admin', ADMIN_PW);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const uniq = () => Math.random().toString(36).slice(2, 8);

/** One request on a keep-alive agent of its own (clients are independent, like real ones). */
function send(url: string, agent: http.Agent, method: string, p: string, a: string, body: string): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const r = http.request(
      { host: u.hostname, port: u.port, method, path: p, agent, headers: { authorization: a, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += String(c)));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    r.end(body);
  });
}

interface Point {
  t: number;
  d: { c: number; k: number };
}

/** Every stored datapoint of a stream, read through `url`. */
async function readAll(url: string, p: string): Promise<Point[]> {
  const r = await req(url, 'GET', `${p}/data?i1=0&i2=0`, auth);
  expect(r.status, r.text).toBe(200);
  return JSON.parse(r.text) as Point[];
}

/** Each acknowledged datapoint exactly once, in timestamp order, each client's in the order it wrote them. */
function checkStream(stored: Point[], acked: Set<string>, maybe: Set<string> = new Set()): void {
  const seen = new Map<string, number>();
  for (const p of stored) seen.set(`${p.d.c}:${p.d.k}`, (seen.get(`${p.d.c}:${p.d.k}`) ?? 0) + 1);
  const dup = [...seen].filter(([, n]) => n > 1);
  expect(dup, 'duplicates').toEqual([]);
  const missing = [...acked].filter((k) => !seen.has(k));
  expect(missing, 'acknowledged but missing').toEqual([]);
  const extra = [...seen.keys()].filter((k) => !acked.has(k) && !maybe.has(k));
  expect(extra, 'stored but refused').toEqual([]);
  for (let i = 1; i < stored.length; i++) expect(stored[i].t, `t at ${i}`).toBeGreaterThanOrEqual(stored[i - 1].t);
  const last = new Map<number, number>();
  for (const p of stored) {
    expect(p.d.k, `client ${p.d.c} order`).toBeGreaterThan(last.get(p.d.c) ?? -1);
    last.set(p.d.c, p.d.k);
  }
}

describe.skipIf(!!why)('two server processes on one PostgreSQL and one NATS, nginx in front', { timeout: 180_000 }, () => {
  let schema: Awaited<ReturnType<typeof freshSchema>>;
  let shared = '';
  let a: Proc;
  let b: Proc;
  let nginx: Nginx;
  const procs: Proc[] = [];

  beforeAll(async () => {
    schema = await freshSchema('cdb_cluster');
    // compose's `init`: create into the (empty) config volume, once.
    shared = path.join(tmp('cdb-cluster-config-'), 'config');
    mkdirSync(shared);
    const init = localCommand(compose.services.init.command, { '/data': shared });
    const env = { ...ENV, ...replicaEnv(schema.uri), CDB_ADMIN_PASSWORD: ADMIN_PW };
    const r = spawnSync('sh', ['-c', init], { env, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    // Run twice (compose up again): the config is there, nothing happens.
    const before = readFileSync(path.join(shared, 'connectordb.conf'), 'utf8');
    expect(spawnSync('sh', ['-c', init], { env, encoding: 'utf8' }).status).toBe(0);
    expect(readFileSync(path.join(shared, 'connectordb.conf'), 'utf8')).toBe(before);
    expect(JSON.parse(stripComments(before)).sql).toMatchObject({ type: 'postgres', uri: schema.uri });

    [a, b] = await Promise.all([startReplica('cdb1', shared, schema.uri), startReplica('cdb2', shared, schema.uri)]);
    procs.push(a, b);
    const prefix = nginxPrefix();
    const listen = await freePort();
    // Test-only: which replica took the websocket.
    nginx = await startNginx(prefix, nginxConfig(prefix, listen, [a.port, b.port], 'add_header X-Cdb-Upstream $upstream_addr always;'), listen);
  }, 120000);

  afterAll(async () => {
    await nginx?.stop();
    for (const p of procs) {
      if (p.proc.exitCode === null && p.proc.signalCode === null) {
        p.proc.kill('SIGTERM');
        await p.exit.catch(() => {});
      }
    }
    await schema?.drop();
  });

  it('both replicas serve the admin created by init; a session cookie from one is valid on the other (shared secrets); nginx balances reads and inserts', async () => {
    for (const s of [a, b]) expect((await req(s.url, 'GET', '/api/v1/crud/admin', auth)).status).toBe(200);
    const login = await fetch(`${a.url}/api/v1/login`, { headers: { authorization: auth }, redirect: 'manual' });
    expect(login.status).toBeLessThan(400);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    expect(cookie).toMatch(/^connectordb-session=./);
    const onB = await fetch(`${b.url}/api/v1/crud/admin`, { headers: { cookie } });
    expect(onB.status).toBe(200);
    // Round robin through nginx reaches both.
    for (let i = 0; i < 4; i++) expect((await req(nginx.url, 'GET', '/api/v1/crud/admin', auth)).status).toBe(200);
    // Inserts through nginx (its data location, never retried) land once, whichever replica took them.
    const p = `/api/v1/crud/admin/user/via${uniq()}`;
    expect((await req(nginx.url, 'POST', p, auth, { schema: '{"type":"number"}' })).status).toBe(200);
    for (let i = 0; i < 6; i++) expect((await req(nginx.url, i % 2 ? 'PUT' : 'POST', `${p}/data`, auth, [{ t: 100 + i, d: i }])).status).toBe(200);
    expect((await req(a.url, 'GET', `${p}/data?i1=0&i2=0`, auth)).text).toBe(JSON.stringify(Array.from({ length: 6 }, (_, i) => ({ t: 100 + i, d: i }))));
  });

  it('a websocket subscribed through nginx (landing on one replica) receives, in order, what is inserted through the other', async () => {
    const p = `/api/v1/crud/admin/user/ws${uniq()}`;
    expect((await req(a.url, 'POST', p, auth, { schema: '{}' })).status).toBe(200);
    const ws = new WebSocket(`${nginx.url.replace('http', 'ws')}/api/v1/websocket`, { headers: { authorization: auth } });
    let upstream = '';
    ws.on('upgrade', (res) => (upstream = String(res.headers['x-cdb-upstream'] ?? '')));
    await new Promise((r, j) => {
      ws.once('open', r);
      ws.once('error', j);
    });
    const got: Array<{ stream: string; data: Array<{ t: number; d: unknown }> }> = [];
    ws.on('message', (m) => got.push(JSON.parse(String(m))));
    ws.send(JSON.stringify({ cmd: 'subscribe', arg: p.slice('/api/v1/crud/'.length) }));
    const here = upstream.endsWith(`:${a.port}`) ? a : upstream.endsWith(`:${b.port}`) ? b : undefined;
    expect(here, `nginx upstream ${upstream}`).toBeDefined();
    const other = here === a ? b : a;
    // No reply to a subscribe: probe through the other replica until the subscription is live.
    let t = 1000;
    const end = Date.now() + 10000;
    while (got.length === 0) {
      expect(Date.now()).toBeLessThan(end);
      expect((await req(other.url, 'PUT', `${p}/data`, auth, [{ t: ++t, d: 'probe' }])).status).toBe(200);
      await sleep(100);
    }
    const n = got.length;
    for (let i = 0; i < 20; i++) expect((await req(other.url, 'POST', `${p}/data`, auth, [{ t: 2000 + 2 * i, d: i }, { t: 2001 + 2 * i, d: i + 0.5 }])).status).toBe(200);
    const until = Date.now() + 5000;
    while (got.length < n + 20 && Date.now() < until) await sleep(20);
    ws.close();
    const batches = got.slice(n);
    expect(batches).toHaveLength(20);
    expect(batches.every((m) => m.stream === p.slice('/api/v1/crud/'.length))).toBe(true);
    expect(batches.flatMap((m) => m.data.map((x) => x.d))).toEqual(Array.from({ length: 20 }, (_, i) => [i, i + 0.5]).flat());
  });

  it('20 clients writing one stream through both replicas at once (POST and PUT): every acknowledged datapoint once, in order', async () => {
    const p = `/api/v1/crud/admin/user/many${uniq()}`;
    expect((await req(a.url, 'POST', p, auth, { schema: '{}' })).status).toBe(200);
    const acked = new Set<string>();
    let refused = 0;
    let ok = 0;
    const t0 = 1_800_000_000;
    await Promise.all(
      Array.from({ length: 20 }, async (_, c) => {
        const agents = [new http.Agent({ keepAlive: true }), new http.Agent({ keepAlive: true })];
        const method = c % 2 === 0 ? 'POST' : 'PUT';
        for (let k = 0; k < 30; k++) {
          const s = (c + k) % 2 === 0 ? a : b;
          // 1-3 datapoints, timestamps that interleave with the other clients'.
          const pts = Array.from({ length: 1 + ((c + k) % 3) }, (_, j) => ({ t: t0 + k + c / 100 + j / 1000, d: { c, k: k * 10 + j } }));
          const r = await send(s.url, agents[(c + k) % 2], method, `${p}/data`, auth, JSON.stringify(pts));
          if (r.status === 200) {
            ok++;
            for (const x of pts) acked.add(`${c}:${x.d.k}`);
          } else {
            // Only POST may be refused, and only by the ordering rule: never a 5xx.
            expect(method, r.text).toBe('POST');
            expect(r.status, r.text).toBe(403);
            expect(r.text).toContain('Greater timestamp already exists');
            refused++;
          }
        }
        for (const ag of agents) ag.destroy();
      }),
    );
    expect(ok).toBeGreaterThanOrEqual(10 * 30);
    const stored = await readAll(b.url, p);
    checkStream(stored, acked);
    expect(stored).toHaveLength(acked.size);
    expect(JSON.parse((await req(a.url, 'GET', `${p}/data?q=length`, auth)).text)).toBe(acked.size);
    // Index reads agree with the whole read, through either replica.
    const mid = JSON.parse((await req(a.url, 'GET', `${p}/data?i1=100&i2=110`, auth)).text) as Point[];
    expect(mid).toEqual(stored.slice(100, 110));
    expect(ok + refused).toBe(20 * 30);
  });

  it('a key reset through one replica is refused by the other within 1 s', async () => {
    const dev = `d${uniq()}`;
    const created = await req(a.url, 'POST', `/api/v1/crud/admin/${dev}`, auth, {});
    expect(created.status, created.text).toBe(200);
    const oldKey = (JSON.parse(created.text) as { apikey: string }).apikey;
    // B has logged the key in (and cached whatever it caches).
    for (let i = 0; i < 3; i++) expect((await req(b.url, 'GET', '/api/v1/?q=this', keyAuth(oldKey))).text).toBe(`admin/${dev}`);
    const reset = await req(a.url, 'PUT', `/api/v1/crud/admin/${dev}`, auth, { apikey: '' });
    expect(reset.status, reset.text).toBe(200);
    const newKey = (JSON.parse(reset.text) as { apikey: string }).apikey;
    const at = Date.now();
    let refusedAfter = -1;
    while (Date.now() - at < 3000) {
      const r = await req(b.url, 'GET', '/api/v1/?q=this', keyAuth(oldKey));
      if (r.status === 401) {
        refusedAfter = Date.now() - at;
        break;
      }
      await sleep(20);
    }
    expect(refusedAfter).toBeGreaterThanOrEqual(0);
    expect(refusedAfter).toBeLessThanOrEqual(1000);
    expect((await req(b.url, 'GET', '/api/v1/?q=this', keyAuth(newKey))).text).toBe(`admin/${dev}`);
  });

  it('kill -9 of one replica mid-ingest: the other keeps serving, every acknowledged datapoint is intact', async () => {
    const p = `/api/v1/crud/admin/user/kill${uniq()}`;
    expect((await req(b.url, 'POST', p, auth, { schema: '{}' })).status).toBe(200);
    const acked = new Set<string>();
    const maybe = new Set<string>();
    let killed = false;
    let afterKill = 0;
    const t0 = 1_800_000_000;
    const clients = Array.from({ length: 8 }, async (_, c) => {
      const agents = [new http.Agent({ keepAlive: true }), new http.Agent({ keepAlive: true })];
      for (let k = 0; k < 400 && !(killed && afterKill > 200); k++) {
        // After the kill, clients of the dead replica go over to the live one (as nginx would).
        const toA = !killed && (c + k) % 2 === 0;
        const s = toA ? a : b;
        const pts = Array.from({ length: 50 }, (_, j) => ({ t: t0 + k + c / 100 + j / 10000, d: { c, k: k * 100 + j } }));
        try {
          const r = await send(s.url, agents[toA ? 0 : 1], 'PUT', `${p}/data`, auth, JSON.stringify(pts));
          expect(r.status, r.text).toBe(200);
          for (const x of pts) acked.add(`${c}:${x.d.k}`);
          if (killed && !toA) afterKill++;
        } catch {
          // The connection died with the replica: committed or not, nobody was told.
          expect(toA).toBe(true);
          for (const x of pts) maybe.add(`${c}:${x.d.k}`);
        }
      }
      for (const ag of agents) ag.destroy();
    });
    // Let both replicas take writes, then kill one in the middle of it.
    const end = Date.now() + 60000;
    while (acked.size < 5000 && Date.now() < end) await sleep(20);
    expect(acked.size).toBeGreaterThanOrEqual(5000);
    a.proc.kill('SIGKILL');
    killed = true;
    await a.exit;
    await Promise.all(clients);
    expect(afterKill).toBeGreaterThan(0);
    const stored = await readAll(b.url, p);
    checkStream(stored, acked, maybe);
    // Whole batches: a datapoint of a batch nobody was told about is there with all its batch or not at all.
    const storedKeys = new Set(stored.map((x) => `${x.d.c}:${Math.floor(x.d.k / 100)}`));
    for (const key of storedKeys) {
      const [c, k] = key.split(':').map(Number);
      expect(stored.filter((x) => x.d.c === c && Math.floor(x.d.k / 100) === k)).toHaveLength(50);
    }
    // The survivor still serves reads and writes.
    expect((await req(b.url, 'GET', '/api/v1/crud/admin', auth)).status).toBe(200);
    expect((await req(b.url, 'PUT', `${p}/data`, auth, [{ t: t0 + 10_000, d: { c: 99, k: 0 } }])).status).toBe(200);
  });
});
