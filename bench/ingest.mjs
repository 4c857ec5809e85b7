// Issue 3 figures: raw SQLite ceiling, REST ingest, single-datapoint POSTs, a 1M-datapoint GET
// and 1,000-datapoint range reads. The server runs as a separate process on a temp database.
import Database from 'better-sqlite3';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, ensureOk, fmt, startServer, withPeakRss } from './lib.mjs';

const N = Number(process.env.BENCH_N ?? 1_000_000);
const BATCH = 1000;

function rawCeiling() {
  const tmp = mkdtempSync(path.join(tmpdir(), 'cdb-raw-'));
  const db = new Database(path.join(tmp, 'raw.sqlite3'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('cache_size = -65536');
  for (const f of readdirSync(path.join(ROOT, 'migrations')).sort()) db.exec(readFileSync(path.join(ROOT, 'migrations', f), 'utf8'));
  // The ceiling is the better of a plain one-row statement and the 64-row statement the server uses.
  const one = db.prepare('INSERT INTO datapoints (stream_id, sub, idx, t, j) VALUES (?, ?, ?, ?, ?)');
  const many = db.prepare(`INSERT INTO datapoints (stream_id, sub, idx, t, j) VALUES ${Array(64).fill('(?, ?, ?, ?, ?)').join(',')}`);
  const row = (sid, i) => [sid, 0, i, 1e9 + i, '{"t":' + (1e9 + i) + ',"d":' + (i % 100) + '}'];
  const txOne = db.transaction((sid, start) => {
    for (let i = start; i < start + BATCH; i++) one.run(...row(sid, i));
  });
  const txMany = db.transaction((sid, start) => {
    let i = start;
    for (; i + 64 <= start + BATCH; i += 64) many.run(Array.from({ length: 64 }, (_, k) => row(sid, i + k)).flat());
    for (; i < start + BATCH; i++) one.run(...row(sid, i));
  });
  const rate = (sid, tx) => {
    const t0 = performance.now();
    for (let s = 0; s < N; s += BATCH) tx(sid, s);
    return N / ((performance.now() - t0) / 1000);
  };
  const best = Math.max(rate(1, txOne), rate(2, txMany));
  db.close();
  rmSync(tmp, { recursive: true, force: true });
  return best;
}

/** Single-datapoint POSTs from 10 concurrent clients, each on its own stream; answers req/s. */
async function singles(s) {
  const SINGLE = Number(process.env.BENCH_SINGLE ?? 30000);
  const C3 = 10;
  for (let c = 0; c < C3; c++) await ensureOk(await s.req('POST', `/api/v1/crud/bench/user/single${c}`, '{"schema":"{}"}'), 'create');
  let sent = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: C3 }, async (_, c) => {
      let k = 0;
      while (sent < SINGLE) {
        sent++;
        await ensureOk(await s.req('POST', `/api/v1/crud/bench/user/single${c}/data`, `[{"t":${1e9 + ++k},"d":${k}}]`), 'single');
      }
    }),
  );
  return sent / ((performance.now() - t0) / 1000);
}

async function main() {
  const raw = rawCeiling();
  console.log(`ingest   (1) raw better-sqlite3 insert, ${BATCH} rows/tx (best)     ${fmt(raw)} rows/s`);

  const s = await startServer();
  try {
    // (2) REST ingest of 1,000-datapoint batches: 4 clients, each on its own stream.
    const CLIENTS = 4;
    const streams = [];
    for (let c = 0; c < CLIENTS; c++) {
      const p = `/api/v1/crud/bench/user/ingest${c}`;
      await ensureOk(await s.req('POST', p, JSON.stringify({ schema: '{"type":"number"}' })), 'create stream');
      streams.push(p);
    }
    const perClient = Math.ceil(N / BATCH / CLIENTS);
    const body = (k) => JSON.stringify(Array.from({ length: BATCH }, (_, i) => ({ t: 1e9 + k * BATCH + i, d: (k * BATCH + i) % 100 })));
    let t0 = performance.now();
    await Promise.all(
      streams.map(async (p) => {
        for (let k = 0; k < perClient; k++) await ensureOk(await s.req('POST', `${p}/data`, body(k)), 'insert');
      }),
    );
    let secs = (performance.now() - t0) / 1000;
    const restRate = (perClient * CLIENTS * BATCH) / secs;
    console.log(`ingest   (2) REST POST, ${BATCH}-dp batches, ${CLIENTS} clients            ${fmt(restRate)} dp/s  (${(restRate / raw).toFixed(2)} of raw)`);

    // (3) single-datapoint POSTs, 10 concurrent clients, api-key auth, at the default
    // synchronous=NORMAL; (3b) the same against a second server at synchronous=FULL (an fsync per
    // commit, so what group commit buys shows most there).
    console.log(`ingest   (3) single-datapoint POSTs, 10 clients, api key       ${fmt(await singles(s))} req/s  (synchronous=NORMAL)`);
    const full = await startServer({ CONNECTORDB_SQL_SYNCHRONOUS: 'FULL' });
    try {
      console.log(`ingest   (3b) single-datapoint POSTs, 10 clients, api key      ${fmt(await singles(full))} req/s  (synchronous=FULL)`);
    } finally {
      await full.stop();
    }

    // (4) one GET of a 1,000,000-datapoint stream, and the server's RSS growth while serving it.
    const big = '/api/v1/crud/bench/user/big';
    await ensureOk(await s.req('POST', big, '{"schema":"{}"}'), 'create big');
    for (let k = 0; k < N / BATCH; k++) await ensureOk(await s.req('POST', `${big}/data`, body(k)), 'fill big');
    const [res, growth] = await withPeakRss(s.pid, async () => {
      const t = performance.now();
      const r = await s.req('GET', `${big}/data?i1=0&i2=0`);
      return { r, secs: (performance.now() - t) / 1000 };
    });
    await ensureOk(res.r, 'big read');
    const count = JSON.parse(res.r.body).length;
    if (count !== N) throw new Error(`big read returned ${count}`);
    console.log(`read     (4) GET of a ${fmt(N)}-datapoint stream              ${res.secs.toFixed(3)} s, server RSS +${(growth / 1048576).toFixed(1)} MB`);

    // (5) 1,000-datapoint index and time range reads, 4 concurrent clients.
    const READS = Number(process.env.BENCH_READS ?? 4000);
    let done = 0;
    let i = 0;
    t0 = performance.now();
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (done < READS) {
          done++;
          const k = (i++ * 7919) % (N - BATCH);
          const q = i % 2 ? `i1=${k}&i2=${k + BATCH}` : `t1=${1e9 + k - 0.5}&t2=${1e9 + k + BATCH - 1}`;
          const r = await ensureOk(await s.req('GET', `${big}/data?${q}`), 'range read');
          if (r.body.length < 1000) throw new Error('short range read');
        }
      }),
    );
    secs = (performance.now() - t0) / 1000;
    console.log(`read     (5) 1,000-dp index/time range reads, 4 clients        ${fmt(done / secs)} req/s`);

    // Issue 4: a transform over the whole 1M-datapoint stream, end to end.
    for (const tr of ['sum | if last', 'if $ > 98']) {
      const [r, g] = await withPeakRss(s.pid, async () => {
        const t = performance.now();
        const res = await s.req('GET', `${big}/data?i1=0&i2=0&transform=${encodeURIComponent(tr)}`);
        return { res, secs: (performance.now() - t) / 1000 };
      });
      await ensureOk(r.res, 'transform read');
      console.log(`pipescript e2e GET ${fmt(N)} dp, transform=${tr.padEnd(15)} ${r.secs.toFixed(3)} s, server RSS +${(g / 1048576).toFixed(1)} MB`);
    }
  } finally {
    await s.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
