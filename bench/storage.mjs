// Issue 11 figures: the storage workload (1M numeric sensor datapoints ~1 s apart with jitter,
// millisecond timestamps, a random walk with 2 decimals, REST batches of 1,000, plus 100k {x,y,z}
// objects) against a real server process. Sizes: BENCH_N (default 1,000,000 per series),
// BENCH_BIG (the long stream for the time-range read near its end, default 10,000,000; 0 skips it).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MAIN, ensureOk, fmt, freePort, request, rng, withPeakRss } from './lib.mjs';

const N = Number(process.env.BENCH_N ?? 1_000_000);
const BIG = Number(process.env.BENCH_BIG ?? 10_000_000);
const SERIES = 4;
const BATCH = 1000;
const XYZ = Math.round(N / 10);

/** The sensor workload as batches of {t, d}: ~1 s apart with jitter, ms timestamps, 2-decimal walk. */
export function* sensorBatches(seed, n, t0 = 1_600_000_000) {
  const r = rng(seed);
  let t = t0 * 1000;
  let v = 20;
  for (let i = 0; i < n; i += BATCH) {
    const m = Math.min(BATCH, n - i);
    const out = new Array(m);
    for (let k = 0; k < m; k++) {
      t += 1000 + Math.round((r() - 0.5) * 100);
      v = Math.round((v + (r() - 0.5)) * 100) / 100;
      out[k] = { t: t / 1000, d: v };
    }
    yield out;
  }
}

export function* xyzBatches(seed, n, t0 = 1_600_000_000) {
  const r = rng(seed);
  let t = t0 * 1000;
  for (let i = 0; i < n; i += BATCH) {
    const m = Math.min(BATCH, n - i);
    const out = new Array(m);
    for (let k = 0; k < m; k++) {
      t += 1000 + Math.round((r() - 0.5) * 100);
      out[k] = { t: t / 1000, d: { x: Math.round(r() * 2000 - 1000) / 100, y: Math.round(r() * 2000 - 1000) / 100, z: Math.round(r() * 2000 - 1000) / 100 } };
    }
    yield out;
  }
}

/** A server on `dir` (created when absent); stop() keeps the folder so its size can be measured. */
async function serve(dir, env = {}) {
  if (!safeStat(dir)) execFileSync(process.execPath, [MAIN, 'create', dir, '--user', 'bench:bench'], { stdio: 'pipe' });
  const port = await freePort();
  const proc = spawn(process.execPath, [MAIN, 'run', dir, '--host', '127.0.0.1', '--port', String(port)], {
    env: { ...process.env, CONNECTORDB_LOGLEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 600_000;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/api/v1/meta/version`);
      if (r.ok) break;
    } catch {
      /* not up yet */
    }
    if (proc.exitCode !== null) throw new Error('server exited');
    if (Date.now() > deadline) throw new Error('server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const basic = 'Basic ' + Buffer.from('bench:bench').toString('base64');
  const dev = await request({ port, agent }, 'GET', '/api/v1/crud/bench/user', undefined, basic);
  const auth = 'Basic ' + Buffer.from(':' + JSON.parse(dev.body).apikey).toString('base64');
  return {
    pid: proc.pid,
    req: (method, p, body) => request({ port, agent }, method, p, body, auth),
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r)));
      agent.destroy();
    },
  };
}

function safeStat(p) {
  try {
    return statSync(p);
  } catch {
    return null;
  }
}

/** Bytes of the database files in a folder (the server is stopped, so the WAL is checkpointed). */
function dbBytes(dir) {
  let n = 0;
  for (const f of readdirSync(dir)) if (/\.sqlite3(-wal)?$/.test(f)) n += statSync(path.join(dir, f)).size;
  return n;
}

async function createStream(s, name, schema = '{}') {
  await ensureOk(await s.req('POST', `/api/v1/crud/bench/user/${name}`, JSON.stringify({ schema })), 'create stream');
  return `/api/v1/crud/bench/user/${name}`;
}

async function load(s, p, batches) {
  for (const b of batches) await ensureOk(await s.req('POST', `${p}/data`, JSON.stringify(b)), 'insert');
}

async function timed(fn) {
  const t = performance.now();
  const r = await fn();
  return [r, (performance.now() - t) / 1000];
}

async function singleWrites(s, prefix, total) {
  const C = 10;
  for (let c = 0; c < C; c++) await createStream(s, `${prefix}${c}`);
  let sent = 0;
  const [, secs] = await timed(() =>
    Promise.all(
      Array.from({ length: C }, async (_, c) => {
        let k = 0;
        while (sent < total) {
          sent++;
          k++;
          await ensureOk(await s.req('POST', `/api/v1/crud/bench/user/${prefix}${c}/data`, `[{"t":${1.6e9 + k},"d":${k}}]`), 'single');
        }
      }),
    ),
  );
  return sent / secs;
}

let results = {};
function report(name, value, unit, key) {
  if (key) results[key] = value;
  console.log(`storage  ${name.padEnd(62)} ${typeof value === 'number' ? (value >= 100 ? fmt(value) : value.toFixed(3)) : value} ${unit}`);
}

/** Runs our side of the figures; returns them keyed for the peer comparison. */
export async function runOurs({ big = BIG } = {}) {
  results = {};
  const tmp = mkdtempSync(path.join(tmpdir(), 'cdb-storage-'));
  try {
    // Bytes on disk: an empty database, then 1M numeric, then 100k {x,y,z}, stopping in between.
    const dir = path.join(tmp, 'size');
    let s = await serve(dir);
    const num = await createStream(s, 'num');
    const xyz = await createStream(s, 'xyz');
    await s.stop();
    const empty = dbBytes(dir);
    s = await serve(dir);
    await load(s, num, sensorBatches(1, N));
    await s.stop();
    const afterNum = dbBytes(dir);
    s = await serve(dir);
    await load(s, xyz, xyzBatches(2, XYZ));
    await s.stop();
    const afterXyz = dbBytes(dir);
    report(`bytes on disk per numeric datapoint (${fmt(N)})`, (afterNum - empty) / N, 'B/dp');
    report(`bytes on disk per {x,y,z} datapoint (${fmt(XYZ)})`, (afterXyz - afterNum) / XYZ, 'B/dp');
    report(`bytes on disk per datapoint, the issue's workload`, (afterXyz - empty) / (N + XYZ), 'B/dp', 'bytes');

    // The main server (synchronous NORMAL).
    s = await serve(path.join(tmp, 'main'));
    const series = [];
    for (let c = 0; c < SERIES; c++) series.push(await createStream(s, `s${c}`, '{"type":"number"}'));
    const [, ingestSecs] = await timed(() => Promise.all(series.map((p, c) => load(s, p, sensorBatches(10 + c, N)))));
    report(`batched ingest, ${BATCH}-dp batches, ${SERIES} clients`, (SERIES * N) / ingestSecs, 'dp/s', 'ingest');
    report('single-point writes, 10 clients, NORMAL', await singleWrites(s, 'one', Number(process.env.BENCH_SINGLE ?? 20000)), 'req/s', 'single');

    const first = series[0];
    // The first read also pays the JIT of the decode paths (ingest only encodes): both are shown,
    // the second is the figure.
    let secs = 0;
    for (let pass = 0; pass < 2; pass++) {
      const [[res, t], growth] = await withPeakRss(s.pid, () => timed(() => s.req('GET', `${first}/data?i1=0&i2=0`)));
      await ensureOk(res, 'read all');
      if (JSON.parse(res.body).length !== N) throw new Error('short read');
      secs = t;
      report(`read all ${fmt(N)} points, ${pass ? 'warm' : 'first'} (server RSS +${(growth / 1048576).toFixed(0)} MB)`, t, 's', pass ? 'readall' : undefined);
    }
    void secs;

    // The stream's timestamps, for time-range queries.
    const ts = [];
    for (const b of sensorBatches(10, N)) for (const p of b) ts.push(p.t);
    const READS = Number(process.env.BENCH_READS ?? 800);
    const R = 10_000;
    let done = 0;
    let i = 0;
    const [, rsecs] = await timed(() =>
      Promise.all(
        Array.from({ length: 4 }, async () => {
          while (done < READS) {
            done++;
            const k = (i++ * 7919) % (N - R);
            const q = i % 2 ? `i1=${k}&i2=${k + R}` : `t1=${ts[k] - 0.0005}&t2=${ts[k + R - 1]}`;
            const r = await ensureOk(await s.req('GET', `${first}/data?${q}`), 'range read');
            if (r.body.length < R * 10) throw new Error('short range read');
          }
        }),
      ),
    );
    report(`${fmt(R)}-point index/time range reads, 4 clients`, done / rsecs, 'req/s', 'range');

    for (const tr of ['mean | if last', 'sum | if last']) {
      // First run warms the JIT, the second is reported.
      let secsT = 0;
      for (let pass = 0; pass < 2; pass++) {
        const [r, t] = await timed(() => s.req('GET', `${first}/data?i1=0&i2=0&transform=${encodeURIComponent(tr)}`));
        await ensureOk(r, 'transform');
        secsT = t;
      }
      report(`transform=${tr} over ${fmt(N)}`, secsT, 's', tr.startsWith('mean') ? 'mean' : 'sum');
    }
    await s.stop();

    // Single writes at synchronous FULL.
    s = await serve(path.join(tmp, 'full'), { CONNECTORDB_SQL_SYNCHRONOUS: 'FULL' });
    report('single-point writes, 10 clients, FULL', await singleWrites(s, 'one', Number(process.env.BENCH_SINGLE_FULL ?? 10000)), 'req/s', 'singlefull');
    await s.stop();

    if (big > 0) {
      s = await serve(path.join(tmp, 'big'));
      const p = await createStream(s, 'long');
      // One writer keeps the order: sequential batches.
      let last = 0;
      for (const b of sensorBatches(99, big)) {
        await ensureOk(await s.req('POST', `${p}/data`, JSON.stringify(b)), 'insert');
        last = b[b.length - 1].t;
      }
      const reps = 200;
      let total = 0;
      for (let r = 0; r < reps; r++) {
        const t1 = last - 3600 - r * 37;
        const [res2, t] = await timed(() => s.req('GET', `${p}/data?t1=${t1}&t2=${t1 + 60}`));
        await ensureOk(res2, 'time read');
        if (r >= 20) total += t;
      }
      report(`time-range read (60 s) near the end of a ${fmt(big)}-point stream`, (total / (reps - 20)) * 1000, 'ms', 'timeread');
      await s.stop();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return results;
}

/** Upgrade of a database written before chunks: 1M datapoints as rows, converted at open. */
async function upgradeBench() {
  const { default: Database } = await import('better-sqlite3');
  const tmp = mkdtempSync(path.join(tmpdir(), 'cdb-upgrade-'));
  try {
    const dir = path.join(tmp, 'db');
    execFileSync(process.execPath, [MAIN, 'create', dir, '--user', 'bench:bench'], { stdio: 'pipe' });
    const file = path.join(dir, 'db.sqlite3');
    const db = new Database(file);
    // Back to schema 2: no chunks, every datapoint a row (what the earlier version wrote).
    db.exec(`DROP TABLE chunks; ALTER TABLE substreams DROP COLUMN base; ALTER TABLE substreams DROP COLUMN sealed;
             ALTER TABLE substreams DROP COLUMN tail_bytes; ALTER TABLE streams DROP COLUMN keep_datapoints; ALTER TABLE streams DROP COLUMN keep_seconds;`);
    const dev = db.prepare("SELECT id FROM devices WHERE name = 'user'").get().id;
    const id = Number(db.prepare("INSERT INTO streams (device_id, name) VALUES (?, 'old')").run(dev).lastInsertRowid);
    const ins = db.prepare('INSERT INTO datapoints (stream_id, sub, idx, t, j) VALUES (?, 0, ?, ?, ?)');
    let idx = 0;
    let bytes = 0;
    let last = 0;
    db.transaction(() => {
      for (const b of sensorBatches(5, N))
        for (const p of b) {
          const j = `{"t":${p.t},"d":${p.d}}`;
          bytes += j.length;
          ins.run(id, idx++, p.t, j);
          last = p.t;
        }
      db.prepare('INSERT INTO substreams (stream_id, sub, length, last_t, bytes) VALUES (?, 0, ?, ?, ?)').run(id, idx, last, bytes);
    })();
    db.pragma('user_version = 2');
    db.pragma('journal_mode = DELETE');
    db.pragma('auto_vacuum = NONE');
    db.exec('VACUUM');
    db.close();
    const before = statSync(file).size;
    const t0 = performance.now();
    execFileSync(process.execPath, [MAIN, 'dbinfo', dir], { stdio: 'pipe' });
    const secs = (performance.now() - t0) / 1000;
    report(`upgrade of a ${fmt(N)}-datapoint database at open (incl. VACUUM)`, secs, 's', 'upgrade');
    report(`  file before / after upgrade`, `${(before / 1048576).toFixed(1)} MB / ${(dbBytes(dir) / 1048576).toFixed(1)} MB`, '');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runOurs()
    .then(() => (process.env.BENCH_UPGRADE === '0' ? undefined : upgradeBench()))
    .then(() => console.log('(the machine is shared: figures are distorted by other load)'))
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}
