// The PostgreSQL datapoint engine's database path (issue 12), without HTTP: single-point inserts
// from 10 concurrent writers (group commit vs one transaction per insert), batched ingest of the
// sensor workload, a full read of 1M points, time2index and 1,000-point range reads.
// Needs `npm run build` first. PG_URI (default: the session's shared server, database pg_data),
// BENCH_N (points for ingest and the full read, default 1,000,000).
//   node bench/pg-data.mjs
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { PgDatapoints, insertOn } from '../dist/storage/postgres/data.js';
import { PgDb } from '../dist/storage/postgres/db.js';

const URI = process.env.PG_URI ?? 'postgres://cdb@127.0.0.1:55432/pg_data';
const N = Number(process.env.BENCH_N ?? 1_000_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const schema = `bench_pgdata_${process.pid}`;

const admin = new pg.Client({ connectionString: URI });
await admin.connect();
await admin.query(`CREATE SCHEMA ${schema}`);
await admin.query(`SET search_path = ${schema}`);
await admin.query(readFileSync(new URL('../migrations/postgres/001_init.sql', import.meta.url), 'utf8'));
const u = await admin.query(`INSERT INTO users (name, email, role, password) VALUES ('u', 'u@x', 'user', 'x') RETURNING id`);
const d = await admin.query(`INSERT INTO devices (user_id, name, apikey) VALUES ($1, 'd', 'k') RETURNING id`, [u.rows[0].id]);
const deviceId = d.rows[0].id;
const streams = [];
for (let i = 0; i < 20; i++) streams.push((await admin.query(`INSERT INTO streams (device_id, name) VALUES ($1, $2) RETURNING id`, [deviceId, `s${i}`])).rows[0].id);

const uri = `${URI}${URI.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
const db = new PgDb({ uri, max: 12 });

function rule(points) {
  return {
    prepare(info) {
      const e = info.length === 0 ? 0 : info.last_t;
      for (let i = 0; i < points.length && points[i].t <= e; i++) points[i].t = e;
      let bytes = 0;
      const stored = new Array(points.length);
      for (let i = 0; i < points.length; i++) {
        const j = `{"t":${points[i].t},"d":${JSON.stringify(points[i].d)}}`;
        bytes += j.length;
        stored[i] = { t: points[i].t, j };
      }
      return { points: stored, bytes };
    },
    maxStreamBytes: 0,
    maxDeviceBytes: 0,
    quotaError: () => new Error('quota'),
  };
}

const fmt = (x) => Math.round(x).toLocaleString('en');

async function singles(label, insert, clients, sameStream) {
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, w) => {
      const streamId = sameStream ? streams[0] : streams[1 + w];
      let t = 1;
      while (performance.now() < end) {
        await insert({ streamId, deviceId, sub: 0 }, rule([{ t: t++, d: 20.5 }]));
        n++;
      }
    }),
  );
  console.log(`${label}: ${fmt(n / ((performance.now() - t0) / 1000))} inserts/s`);
}

const grouped = new PgDatapoints(db, { writers: 1 });
const own = (target, r) => db.tx((c) => insertOn(c, target, r));
if (process.env.BENCH_SINGLES !== '0') {
  // Interleaved rounds: the machine's load changes from second to second.
  const ws = (process.env.BENCH_WRITERS ?? '1,2,4,10').split(',').map(Number);
  const engines = new Map(ws.map((w) => [w, new PgDatapoints(db, { writers: w })]));
  for (let round = 0; round < Number(process.env.BENCH_ROUNDS ?? 2); round++) {
    for (const w of ws) await singles(`single inserts, 10 clients, 10 streams, ${w} writer group(s)`, (t, r) => engines.get(w).insertDatapoints(t, r), 10, false);
    await singles('single inserts, 10 clients, 10 streams, db.tx + insertOn each', own, 10, false);
  }
  for (const w of ws) await singles(`single inserts, 10 clients, one stream, ${w} writer group(s)`, (t, r) => engines.get(w).insertDatapoints(t, r), 10, true);
}

// Batched ingest: 4 writers × 1,000-point batches of the sensor workload, one stream each.
for (const w of (process.env.BENCH_BATCH_WRITERS ?? '1').split(',').map(Number)) {
  const grouped = new PgDatapoints(db, { writers: w });
  const per = Math.floor(N / 8);
  const t0 = performance.now();
  await Promise.all(
    [0, 1, 2, 3].map(async (i1) => {
      let t = 1_600_000_000_000 + w * 1e12;
      let v = 20;
      for (let i = 0; i < per; i += 1000) {
        const pts = new Array(1000);
        for (let k = 0; k < 1000; k++) {
          t += 1000 + Math.round((Math.random() - 0.5) * 100);
          v = Math.round((v + (Math.random() - 0.5)) * 100) / 100;
          pts[k] = { t: t / 1000, d: v };
        }
        await grouped.insertDatapoints({ streamId: streams[12 + i1], deviceId, sub: 0 }, rule(pts));
      }
    }),
  );
  console.log(`batched ingest, 4 clients × 1,000-point batches, ${w} writer group(s): ${fmt((per * 4) / ((performance.now() - t0) / 1000))} dp/s`);
}
// One writer, one stream of N points for the reads.
{
  const t0 = performance.now();
  let t = 1_600_000_000_000;
  let v = 20;
  for (let i = 0; i < N; i += 1000) {
    const pts = new Array(1000);
    for (let k = 0; k < 1000; k++) {
      t += 1000 + Math.round((Math.random() - 0.5) * 100);
      v = Math.round((v + (Math.random() - 0.5)) * 100) / 100;
      pts[k] = { t: t / 1000, d: v };
    }
    await grouped.insertDatapoints({ streamId: streams[19], deviceId, sub: 0 }, rule(pts));
  }
  console.log(`batched ingest, 1 writer: ${fmt(N / ((performance.now() - t0) / 1000))} dp/s`);
}
const big = streams[19];
for (const how of ['readJoined', 'readBatches']) {
  const t0 = performance.now();
  let bytes = 0;
  for await (const b of grouped[how](big, 0, 0, N)) bytes += how === 'readJoined' ? b.length : b.length;
  console.log(`read ${fmt(N)} points (${how}): ${((performance.now() - t0) / 1000).toFixed(3)} s (${fmt(bytes)} ${how === 'readJoined' ? 'chars' : 'points'})`);
}
{
  const t0 = performance.now();
  let n = 0;
  const tEnd = 1_600_000_000 + N;
  while (performance.now() - t0 < 2000) {
    await grouped.time2index(big, 0, 1_600_000_000 + Math.random() * (tEnd - 1_600_000_000));
    n++;
  }
  console.log(`time2index, 1 client: ${fmt(n / ((performance.now() - t0) / 1000))}/s`);
}
{
  const t0 = performance.now();
  let n = 0;
  await Promise.all(
    [0, 1, 2, 3].map(async () => {
      while (performance.now() - t0 < 3000) {
        const i1 = Math.floor(Math.random() * (N - 1000));
        for await (const _ of grouped.readJoined(big, 0, i1, i1 + 1000)) void _;
        n++;
      }
    }),
  );
  console.log(`1,000-point range reads, 4 clients: ${fmt(n / ((performance.now() - t0) / 1000))}/s`);
}
const st = await grouped.storageStats([big]);
console.log(`bytes per datapoint (${fmt(st[0].datapoints)} points): ${(st[0].bytes / st[0].datapoints).toFixed(2)}`);

await db.close();
await admin.query(`DROP SCHEMA ${schema} CASCADE`);
await admin.end();
