// The cross-process bus of a PostgreSQL deployment (issue 12), without HTTP: inserts committed
// through PgDatapoints by "process" A, published on its bus, delivered in order on "process" B
// (both in this process, each with its own connections). For the LISTEN/NOTIFY fallback and for
// NATS (when reachable), all behind the reorder step:
//   - burst: 10,000 three-point inserts as fast as 10 writers go, time until B delivered them;
//   - paced: 1,000 inserts/s for 5 s, commit → B's listener latency;
//   - what publishing costs the inserts: single-point inserts from 10 writers, no bus vs. bus.
// Needs `npm run build` (or `npx tsc -p tsconfig.build.json`) first. PG_URI (default: the
// shared server, database cluster_bus), NATS_URL (default nats://127.0.0.1:14222).
//   node bench/bus.mjs
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { PgDatapoints } from '../dist/storage/postgres/data.js';
import { PgDb } from '../dist/storage/postgres/db.js';
import { OrderedPubSub } from '../dist/pubsub/ordered.js';
import { PgNotifyPubSub } from '../dist/pubsub/pgnotify.js';
import { NatsPubSub } from '../dist/pubsub/nats.js';
import { parseStored } from '../dist/domain/datapoints/service.js';

const URI = process.env.PG_URI ?? 'postgres://cdb@127.0.0.1:55432/cluster_bus';
const NATS = new URL(process.env.NATS_URL ?? 'nats://127.0.0.1:14222');
const schema = `bench_bus_${process.pid}`;
const PATH = 'u/d/s';
const fmt = (x) => Math.round(x).toLocaleString('en');

const admin = new pg.Client({ connectionString: URI });
await admin.connect();
await admin.query(`CREATE SCHEMA ${schema}`);
await admin.query(`SET search_path = ${schema}`);
await admin.query(readFileSync(new URL('../migrations/postgres/001_init.sql', import.meta.url), 'utf8'));
const u = await admin.query(`INSERT INTO users (name, email, role, password) VALUES ('u', 'u@x', 'user', 'x') RETURNING id`);
const d = await admin.query(`INSERT INTO devices (user_id, name, apikey) VALUES ($1, 'd', 'k') RETURNING id`, [u.rows[0].id]);
const deviceId = d.rows[0].id;
const streamIds = [];
for (let i = 0; i < 11; i++) streamIds.push((await admin.query(`INSERT INTO streams (device_id, name) VALUES ($1, $2) RETURNING id`, [deviceId, i === 0 ? 's' : `s${i}`])).rows[0].id);
const sid = streamIds[0];
const uri = `${URI}${URI.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;

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

/** One "process": its pool, its datapoint engine, its bus. */
async function proc(kind) {
  const db = new PgDb({ uri, max: 6 });
  const data = new PgDatapoints(db);
  const reads = { n: 0 };
  const source = {
    async head(p) {
      return p === PATH ? { sid, length: await data.length(sid, 0) } : undefined;
    },
    async read(s, _p, i1, i2) {
      reads.n++;
      const out = [];
      for await (const rows of data.readBatches(s, 0, i1, i2)) for (const r of rows) out.push(parseStored(r));
      return out;
    },
  };
  const inner = kind === 'nats' ? await NatsPubSub.connect({ hostname: NATS.hostname, port: Number(NATS.port || 4222), subjectPrefix: `benchbus${process.pid}` }) : await PgNotifyPubSub.open({ uri, source });
  const bus = new OrderedPubSub(inner, source);
  return {
    data,
    bus,
    inner,
    reads,
    async insert(points, streamId = sid) {
      const index = await data.insertDatapoints({ streamId, deviceId, sub: 0 }, rule(points));
      bus.publish({ stream: streamId === sid ? PATH : `u/d/x${streamId}`, data: points, index, sid: streamId });
    },
    async close() {
      await bus.close();
      await db.close();
    },
  };
}

function reachable(host, port) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

let t = 1_700_000_000;
const pts = () => [
  { t: ++t, d: performance.now() },
  { t: ++t, d: 21.5 },
  { t: ++t, d: 'ok' },
];

const kinds = process.env.BENCH_SKIP_BUSES ? [] : ['pgnotify'];
if (!process.env.BENCH_SKIP_BUSES && (await reachable(NATS.hostname, Number(NATS.port || 4222)))) kinds.push('nats');
for (const kind of kinds) {
  const A = await proc(kind);
  const B = await proc(kind);
  let got = 0;
  let lat = [];
  let last = -1;
  let bad = 0;
  let waiting = null;
  B.bus.subscribe(PATH, (b) => {
    if (b.index !== last + 1 && last >= 0) bad++;
    last = b.index + b.data.length - 1;
    got += b.data.length;
    if (typeof b.data[0].d === 'number') lat.push(performance.now() - b.data[0].d);
    if (waiting && got >= waiting.n) waiting.r();
  });
  await B.bus.settled();
  const until = (n) => new Promise((r) => (waiting = { n, r }));

  // Burst: 10 writers, 1,000 inserts each.
  const N = 10_000;
  const notifies0 = A.inner.stats?.notifies ?? 0;
  const reads0 = B.reads.n;
  let t0 = performance.now();
  const done = until(got + N * 3);
  await Promise.all(Array.from({ length: 10 }, async () => { for (let k = 0; k < N / 10; k++) await A.insert(pts()); }));
  const committed = performance.now() - t0;
  await done;
  const burst = performance.now() - t0;
  console.log(`${kind}: burst of ${fmt(N)} inserts (10 writers): committed in ${fmt(committed)} ms, all delivered on B after ${fmt(burst)} ms = ${fmt(N / (burst / 1000))} inserts/s` +
    (kind === 'pgnotify' ? `; ${fmt((A.inner.stats.notifies - notifies0))} NOTIFY transactions, ${fmt(B.reads.n - reads0)} read-backs on B` : `; gap read-backs on B: ${fmt(B.reads.n - reads0)}`) + `; out of order: ${bad}`);

  // Paced: 1,000 inserts/s for 5 s (10 every 10 ms).
  lat = [];
  const P = 5000;
  const pdone = until(got + P * 3);
  t0 = performance.now();
  for (let i = 0; i < P; i += 10) {
    await Promise.all(Array.from({ length: 10 }, () => A.insert(pts())));
    await new Promise((r) => setTimeout(r, Math.max(0, t0 + ((i + 10) / 1000) * 1000 - performance.now())));
  }
  await pdone;
  lat.sort((x, y) => x - y);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(1);
  console.log(`${kind}: paced 1,000 inserts/s: insert start → B's listener p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${lat[lat.length - 1].toFixed(1)} ms (includes the commit)`);
  await A.close();
  await B.close();
}

// What announcing costs the inserts: 10 writers of single points into 10 streams for 3 s, bare vs. NOTIFY bus.
for (const withBus of [false, true, false, true]) {
  const A = await proc('pgnotify');
  const end = performance.now() + 3000;
  let n = 0;
  const t0 = performance.now();
  await Promise.all(
    streamIds.slice(1).map(async (s) => {
      while (performance.now() < end) {
        if (withBus) await A.insert([{ t: ++t, d: 1 }], s);
        else await A.data.insertDatapoints({ streamId: s, deviceId, sub: 0 }, rule([{ t: ++t, d: 1 }]));
        n++;
      }
    }),
  );
  console.log(`single-point inserts, 10 writers: ${withBus ? 'with the NOTIFY bus publishing each' : 'no bus'}: ${fmt(n / ((performance.now() - t0) / 1000))} inserts/s` + (withBus ? ` (${fmt(A.inner.stats.notifies)} NOTIFY transactions for ${fmt(A.inner.stats.notices)} notices)` : ''));
  await A.close();
}

await admin.query(`DROP SCHEMA ${schema} CASCADE`);
await admin.end();
