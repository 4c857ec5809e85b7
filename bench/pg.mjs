// Issue 12 figures: the ingest, single-write and read benchmarks against PostgreSQL-backed server
// processes (one, then two on the same schema, with NATS between them), and cross-process
// websocket delivery. `npm run bench -- pg`.
//
// Where: CDB_BENCH_PG (a postgres:// URL of a database to create a fresh schema in; default the
// shared development server) and CDB_BENCH_NATS (default nats://127.0.0.1:14222). Unreachable,
// the benchmark says so and is skipped.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import WebSocket from 'ws';
import { MAIN, ensureOk, fmt, freePort, request, withPeakRss } from './lib.mjs';

const PG = process.env.CDB_BENCH_PG ?? process.env.CDB_TEST_PG ?? 'postgres://cdb@127.0.0.1:55432/cluster_ops';
const NATS = new URL(process.env.CDB_BENCH_NATS ?? process.env.CDB_TEST_NATS ?? 'nats://127.0.0.1:14222');
const N = Number(process.env.BENCH_N ?? 1_000_000);
const BATCH = 1000;
const SINGLE = Number(process.env.BENCH_SINGLE ?? 10000);
const SINGLE_WARMUP = Number(process.env.BENCH_SINGLE_WARMUP ?? 2000);
const LAT = Number(process.env.BENCH_WS_SINGLES ?? 1000);
const now = () => performance.timeOrigin + performance.now();
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function reachable() {
  const c = new pg.Client({ connectionString: PG, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
  } catch (e) {
    return `PostgreSQL at ${PG} is unreachable (${e.message}): set CDB_BENCH_PG`;
  } finally {
    await c.end().catch(() => {});
  }
  const ok = await new Promise((resolve) => {
    const s = net.connect({ host: NATS.hostname, port: Number(NATS.port || 4222) });
    s.once('data', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
    setTimeout(() => (s.destroy(), resolve(false)), 3000);
  });
  return ok ? undefined : `NATS at ${NATS} is unreachable: set CDB_BENCH_NATS`;
}

async function sql(text) {
  const c = new pg.Client({ connectionString: PG });
  await c.connect();
  try {
    return await c.query(text);
  } finally {
    await c.end();
  }
}

/** A server process on a copy of the shared folder (as the compose replicas run). */
async function startReplica(shared, env) {
  const tmp = mkdtempSync(path.join(tmpdir(), 'cdb-bench-pg-'));
  const dir = path.join(tmp, 'data');
  mkdirSync(dir);
  cpSync(path.join(shared, 'connectordb.conf'), path.join(dir, 'connectordb.conf'));
  const port = await freePort();
  const proc = spawn(process.execPath, [MAIN, 'run', dir, '--host', '127.0.0.1', '--port', String(port)], {
    env: { ...process.env, CONNECTORDB_LOGLEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30000;
  for (;;) {
    try {
      if ((await fetch(`${url}/api/v1/meta/version`)).ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error('server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const basic = 'Basic ' + Buffer.from('bench:bench').toString('base64');
  const apikey = JSON.parse((await request({ port, agent }, 'GET', '/api/v1/crud/bench/user', undefined, basic)).body).apikey;
  const auth = 'Basic ' + Buffer.from(':' + apikey).toString('base64');
  return {
    port,
    pid: proc.pid,
    auth,
    req: (method, p, body) => request({ port, agent }, method, p, body, auth),
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      agent.destroy();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

const body = (k) => JSON.stringify(Array.from({ length: BATCH }, (_, i) => ({ t: 1e9 + k * BATCH + i, d: (k * BATCH + i) % 100 })));

/** 1,000-datapoint batches, 4 clients per server each on its own stream; answers dp/s over all. */
async function ingest(servers, tag) {
  const jobs = [];
  for (const [si, s] of servers.entries()) {
    for (let c = 0; c < 4; c++) {
      const p = `/api/v1/crud/bench/user/ingest${tag}_${si}_${c}`;
      await ensureOk(await s.req('POST', p, JSON.stringify({ schema: '{"type":"number"}' })), 'create stream');
      jobs.push({ s, p });
    }
  }
  const perClient = Math.ceil(N / BATCH / 4);
  const t0 = performance.now();
  await Promise.all(
    jobs.map(async ({ s, p }) => {
      for (let k = 0; k < perClient; k++) await ensureOk(await s.req('POST', `${p}/data`, body(k)), 'insert');
    }),
  );
  return (perClient * jobs.length * BATCH) / ((performance.now() - t0) / 1000);
}

/** CPU ticks (user + system) of a process; 0 when it is gone or not on this machine. */
function ticksOf(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return 0;
  }
}

/** CPU ticks of every local PostgreSQL process (0 when PostgreSQL runs elsewhere). */
function postgresTicks() {
  let t = 0;
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/stat`, 'utf8').includes('(postgres)')) t += ticksOf(p);
    } catch {
      /* gone meanwhile */
    }
  }
  return t;
}

/** Single-datapoint POSTs, 10 clients spread over the servers, each on its own stream, after a warm-up; also the CPU per POST. */
async function singles(servers, tag) {
  const C = 10;
  for (let c = 0; c < C; c++) await ensureOk(await servers[c % servers.length].req('POST', `/api/v1/crud/bench/user/single${tag}${c}`, '{"schema":"{}"}'), 'create');
  const ks = new Array(C).fill(0);
  const run = async (n) => {
    let sent = 0;
    await Promise.all(
      Array.from({ length: C }, async (_, c) => {
        const s = servers[c % servers.length];
        while (sent < n) {
          sent++;
          const k = ++ks[c];
          await ensureOk(await s.req('POST', `/api/v1/crud/bench/user/single${tag}${c}/data`, `[{"t":${1e9 + k},"d":${k}}]`), 'single');
        }
      }),
    );
    return sent;
  };
  // Not timed: the server's single-insert path is still cold after the batched ingest (its JIT,
  // and each stream's first insert takes the locking path), and that start is not the steady rate.
  await run(SINGLE_WARMUP);
  const s0 = servers.reduce((a, s) => a + ticksOf(s.pid), 0);
  const p0 = postgresTicks();
  const t0 = performance.now();
  const sent = await run(SINGLE);
  const rate = sent / ((performance.now() - t0) / 1000);
  // Ticks are 10 ms: per POST in ms.
  const server = ((servers.reduce((a, s) => a + ticksOf(s.pid), 0) - s0) * 10) / sent;
  const pgCpu = ((postgresTicks() - p0) * 10) / sent;
  return `${fmt(rate)} req/s (CPU per POST: servers ${server.toFixed(3)} ms, PostgreSQL ${pgCpu.toFixed(3)} ms)`;
}

/** Subscribe on `b`, single-datapoint inserts on `a` (paced): delivery latency from the send time. */
async function crossLatency(a, b, name = 'cross') {
  const STREAM = `bench/user/${name}`;
  await ensureOk(await a.req('POST', `/api/v1/crud/${STREAM}`, '{}'), 'create stream');
  const ws = new WebSocket(`ws://127.0.0.1:${b.port}/api/v1/websocket`, { headers: { authorization: b.auth }, perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const lat = [];
  let wake = () => {};
  ws.on('message', (m) => {
    const msg = JSON.parse(String(m));
    const d = msg.data[0].d;
    if (d.probe === undefined) lat.push(now() - d.sent);
    wake();
  });
  ws.send(JSON.stringify({ cmd: 'subscribe', arg: STREAM, transform: '' }));
  // The subscription is live across processes once a probe comes back.
  let got = false;
  ws.once('message', () => (got = true));
  for (let i = 0; !got; i++) {
    if (i > 100) throw new Error('the subscription on the second process never received anything');
    await ensureOk(await a.req('PUT', `/api/v1/crud/${STREAM}/data`, `[{"t":0,"d":{"probe":${i}}}]`), 'probe');
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 200));
  lat.length = 0;
  for (let i = 0; i < LAT; i++) {
    await ensureOk(await a.req('PUT', `/api/v1/crud/${STREAM}/data`, `[{"t":0,"d":{"sent":${now()}}}]`), 'insert');
    // ~200 inserts/s: latency, not queueing.
    await new Promise((r) => setTimeout(r, 5));
  }
  const end = Date.now() + 5000;
  while (lat.length < LAT && Date.now() < end) await new Promise((r) => ((wake = r), setTimeout(r, 50)));
  ws.close();
  lat.sort((x, y) => x - y);
  return { p50: pct(lat, 50), p99: pct(lat, 99), got: lat.length };
}

async function main() {
  const why = await reachable();
  if (why) {
    console.log(`pg       skipped: ${why}`);
    return;
  }
  const schema = `cdb_bench_${process.pid}`;
  await sql(`CREATE SCHEMA ${schema}`);
  const u = new URL(PG);
  u.searchParams.set('options', `-c search_path=${schema}`);
  const tmp = mkdtempSync(path.join(tmpdir(), 'cdb-bench-pgcfg-'));
  const shared = path.join(tmp, 'config');
  const env = { CONNECTORDB_NATS_HOSTNAME: NATS.hostname, CONNECTORDB_NATS_PORT: NATS.port || '4222' };
  const servers = [];
  try {
    execFileSync(process.execPath, [MAIN, 'create', shared, '--sqlbackend', 'postgres', '--sqluri', u.toString(), '--user', 'bench:bench'], { stdio: 'pipe' });
    const a = await startReplica(shared, env);
    servers.push(a);
    const one = await ingest([a], 'a');
    console.log(`pg       (1) REST POST, ${BATCH}-dp batches, 4 clients, 1 process      ${fmt(one)} dp/s`);
    console.log(`pg       (3) single-datapoint POSTs, 10 clients, 1 process       ${await singles([a], 'a')}`);

    // (4) one GET of a 1,000,000-datapoint stream.
    const big = '/api/v1/crud/bench/user/big';
    await ensureOk(await a.req('POST', big, '{"schema":"{}"}'), 'create big');
    for (let k = 0; k < N / BATCH; k++) await ensureOk(await a.req('POST', `${big}/data`, body(k)), 'fill big');
    for (const run of ['first', 'again']) {
      const [res, growth] = await withPeakRss(a.pid, async () => {
        const t = performance.now();
        const r = await a.req('GET', `${big}/data?i1=0&i2=0`);
        return { r, secs: (performance.now() - t) / 1000 };
      });
      await ensureOk(res.r, 'big read');
      const count = JSON.parse(res.r.body).length;
      if (count !== N) throw new Error(`big read returned ${count}`);
      console.log(`pg       (4) GET of a ${fmt(N)}-datapoint stream (${run.padEnd(5)})       ${res.secs.toFixed(3)} s, server RSS +${(growth / 1048576).toFixed(1)} MB`);
    }

    const b = await startReplica(shared, env);
    servers.push(b);
    const two = await ingest([a, b], 'ab');
    console.log(`pg       (2) REST POST, ${BATCH}-dp batches, 4 clients each, 2 processes ${fmt(two)} dp/s (sum)`);
    console.log(`pg       (3b) single-datapoint POSTs, 10 clients, 2 processes    ${await singles([a, b], 'ab')} (sum)`);
    const l = await crossLatency(a, b);
    console.log(`pg       (6) websocket delivery, insert on A, subscriber on B    p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms (${l.got}/${LAT} received, over NATS)`);

    // (7) the same without NATS: two more processes on the LISTEN/NOTIFY fallback bus.
    for (const s of servers.splice(0)) await s.stop();
    const c = await startReplica(shared, {});
    servers.push(c);
    const d = await startReplica(shared, {});
    servers.push(d);
    const n = await crossLatency(c, d, 'notify');
    console.log(`pg       (7) websocket delivery, insert on A, subscriber on B    p50 ${n.p50.toFixed(2)} ms, p99 ${n.p99.toFixed(2)} ms (${n.got}/${LAT} received, LISTEN/NOTIFY, no NATS)`);
  } finally {
    for (const s of servers) await s.stop();
    await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
