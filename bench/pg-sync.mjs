// The PostgreSQL engine's synchronous reads (issue 12, src/storage/postgres/sync.ts): what one
// bridge round trip blocks the main thread for, and `sum | if last` over 1M numeric datapoints
// pulled through SyncReads.pieces() — PostgreSQL with read-ahead, PostgreSQL without it, and the
// SQLite engine's SyncReads over the same points in the same process (same machine load).
// Needs `npm run build` first. PG_URI (default: the shared server, database pg_sync), BENCH_N.
//   node bench/pg-sync.mjs
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';

const require = createRequire(import.meta.url);
const { PgDb } = require('../dist/storage/postgres/db.js');
const { migrate } = require('../dist/storage/postgres/migrate.js');
const { PgDatapoints } = require('../dist/storage/postgres/data.js');
const { openPgSyncReads } = require('../dist/storage/postgres/sync.js');
const { piecesPlan, runPiecesSync } = require('../dist/storage/postgres/reads.js');
const { SqliteStorage } = require('../dist/storage/index.js');
const { compileTransform } = require('../dist/domain/datapoints/transform.js');
const { PgStorage } = require('../dist/storage/postgres/index.js');
const { buildApp } = require('../dist/app.js');
const { defaultConfig } = require('../dist/config/index.js');
const { hashPassword } = require('../dist/domain/users/passwords.js');

const URI = process.env.PG_URI ?? 'postgres://cdb@127.0.0.1:55432/pg_sync';
const N = Number(process.env.BENCH_N ?? 1_000_000);
const schema = `bench_pgsync_${process.pid}`;
const fmt = (x) => Math.round(x).toLocaleString('en');
const uri = `${URI}${URI.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;

function rule(points) {
  return {
    prepare() {
      let bytes = 0;
      const stored = new Array(points.length);
      for (let i = 0; i < points.length; i++) {
        const j = `{"t":${points[i].t},"d":${points[i].d}}`;
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

// The service's datapoints() source (domain/datapoints/service.ts) in miniature.
function* source(pieces) {
  for (let r = pieces.next(); !r.done; r = pieces.next()) {
    const pc = r.value;
    const v = pc.chunk.numeric;
    const ts = pc.chunk.times;
    for (let k = pc.from; k < pc.to; k++) yield { t: ts[k], d: v[k] };
  }
}
function sumIfLast(pieces) {
  const it = compileTransform('sum | if last').run(source(pieces));
  let last;
  for (let r = it.next(); !r.done; r = it.next()) last = r.value;
  return last;
}
function timed(fn) {
  const t0 = performance.now();
  const r = fn();
  return [r, (performance.now() - t0) / 1000];
}

const admin = new pg.Client({ connectionString: URI });
await admin.connect();
await admin.query(`CREATE SCHEMA ${schema}`);
await admin.query(`CREATE SCHEMA ${schema}_app`);
const db = new PgDb({ uri, max: 4 });
const dir = mkdtempSync(path.join(tmpdir(), 'bench-pgsync-'));
const sq = SqliteStorage.open(path.join(dir, 'db.sqlite3'));
let reads;
try {
  await migrate(db);
  const u = await db.query(`INSERT INTO users (name, email, role, password) VALUES ('u', 'u@x', 'user', 'x') RETURNING id`);
  const d = await db.query(`INSERT INTO devices (user_id, name, apikey) VALUES ($1, 'd', 'k') RETURNING id`, [u.rows[0].id]);
  const streamId = (await db.query(`INSERT INTO streams (device_id, name) VALUES ($1, 's') RETURNING id`, [d.rows[0].id])).rows[0].id;
  const su = await sq.meta.createUser(
    { name: 'u', nickname: '', email: 'u@x', description: '', icon: '', public: false, role: 'user', password: 'x', password_salt: '', password_scheme: 'argon2id' },
    [{ device: { name: 'd', nickname: '', description: '', icon: '', apikey: 'k', enabled: true, public: false, role: 'user', visible: true, user_editable: true }, streams: [{ name: 's', nickname: '', description: '', icon: '', schema: '{}', datatype: '', ephemeral: false, downlink: false }] }],
    [],
  );
  const sd = await sq.devices.get(su.id, 'd');
  const sqStream = (await sq.streams.get(sd.id, 's')).id;

  const data = new PgDatapoints(db);
  let want = 0;
  for (let i = 0; i < N; i += 10_000) {
    const pts = [];
    for (let k = i; k < Math.min(N, i + 10_000); k++) {
      const v = (k * 7919) % 100;
      want += v;
      pts.push({ t: 1.5e9 + k * 0.1, d: v });
    }
    await data.insertDatapoints({ streamId, deviceId: d.rows[0].id, sub: 0 }, rule(pts));
    await sq.data.insertDatapoints({ streamId: sqStream, deviceId: sd.id, sub: 0 }, rule(pts));
  }
  await db.query('ANALYZE');

  reads = openPgSyncReads({ uri });
  const b = reads.bridge;
  // Round trips: what one synchronous statement blocks the main thread for.
  reads.length(streamId, 0);
  for (const [label, fn] of [
    ['length', () => reads.length(streamId, 0)],
    ['time2index (chunk decoded)', () => reads.time2index(streamId, 0, 1.5e9 + 50_000.05)],
    ['resolveStream', () => reads.resolveStream('u', 'd', 's')],
    ['read 100 points', () => reads.read(streamId, 0, 500_000, 500_100)],
  ]) {
    const K = 2000;
    for (let i = 0; i < 200; i++) fn();
    const [, s] = timed(() => {
      for (let i = 0; i < K; i++) fn();
    });
    console.log(`pg-sync  ${label.padEnd(44)} ${((s / K) * 1000).toFixed(3).padStart(8)} ms per call (main thread blocked)`);
  }

  const runs = [
    ['PostgreSQL pieces, read-ahead', () => reads.pieces(streamId, 0, 0, N)],
    ['PostgreSQL pieces, no read-ahead', () => runPiecesSync((q) => b.query(q.text, q.values), piecesPlan(streamId, 0, 0, N))],
    ['SQLite SyncReads.pieces', () => sq.sync.pieces(sqStream, 0, 0, N)],
  ];
  // Twice through all three: the first round warms the JIT for every source alike.
  runs.push(...runs);
  for (const [label, open] of runs) {
    let best = Infinity;
    let stat = '';
    for (let pass = 0; pass < 5; pass++) {
      const s0 = { ...b.stats };
      b.stats.maxBlockMs = 0;
      const [r, s] = timed(() => sumIfLast(open()));
      if (r.d !== want) throw new Error(`wrong sum ${r.d} != ${want}`);
      if (s < best) {
        best = s;
        const q = b.stats.queries - s0.queries;
        if (q > 0) stat = `; ${q} statements, ${b.stats.ready - s0.ready} answered before asked, blocked ${(b.stats.blockedMs - s0.blockedMs).toFixed(0)} ms in all, longest ${b.stats.maxBlockMs.toFixed(1)} ms`;
      }
    }
    console.log(`pg-sync  sum | if last over ${fmt(N)}, ${label.padEnd(34)} ${best.toFixed(3)} s = ${fmt(N / best)} dp/s${stat}`);
  }

  // End to end, in-process server on each engine: GET …/data?transform=sum | if last over the
  // same 1M points, while another client asks for a stream's length every 5 ms — the longest of
  // those answers is what the pipeline (and, on PostgreSQL, its waits on the bridge) cost others.
  for (const engine of ['postgres', 'sqlite']) {
    const storage = engine === 'postgres' ? await PgStorage.open({ uri: `${URI}${URI.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}_app`)}`, pool: 4 }) : SqliteStorage.open(path.join(dir, 'app.sqlite3'));
    const config = defaultConfig(path.join(dir, engine));
    config.failed_login_delay = 0;
    const { app, services } = buildApp({ config, storage });
    await services.users.insertUser({ name: 'bench', email: 'b@x', password: 'bench', role: 'admin', public: false }, await hashPassword('bench'));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${app.server.address().port}/api/v1/crud/bench/user`;
    const auth = { Authorization: 'Basic ' + Buffer.from('bench:bench').toString('base64'), 'Content-Type': 'application/json' };
    const ok = async (r) => {
      if (!r.ok) throw new Error(`${r.status} ${await r.text()}`);
      return r.text();
    };
    await ok(await fetch(`${base}/num`, { method: 'POST', headers: auth, body: '{}' }));
    await ok(await fetch(`${base}/other`, { method: 'POST', headers: auth, body: '{}' }));
    for (let i = 0; i < N; i += 10_000) {
      const pts = [];
      for (let k = i; k < Math.min(N, i + 10_000); k++) pts.push({ t: 1.5e9 + k * 0.1, d: (k * 7919) % 100 });
      await ok(await fetch(`${base}/num/data`, { method: 'POST', headers: auth, body: JSON.stringify(pts) }));
    }
    const url = `${base}/num/data?i1=0&i2=0&transform=${encodeURIComponent('sum | if last')}`;
    let secs = 0;
    let worst = 0;
    for (let pass = 0; pass < 3; pass++) {
      let running = true;
      let maxLat = 0;
      const pinger = (async () => {
        while (running) {
          const t0 = performance.now();
          await ok(await fetch(`${base}/other/data?q=length`, { headers: auth }));
          maxLat = Math.max(maxLat, performance.now() - t0);
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      const t0 = performance.now();
      const body = JSON.parse(await ok(await fetch(url, { headers: auth })));
      secs = (performance.now() - t0) / 1000;
      running = false;
      await pinger;
      worst = maxLat;
      if (body[0].d !== want) throw new Error('wrong sum');
    }
    console.log(`pg-sync  end to end on ${engine.padEnd(8)} transform=sum | if last over ${fmt(N)}: ${secs.toFixed(3)} s; a length request meanwhile waited up to ${worst.toFixed(0)} ms`);
    await app.close();
    await storage.close();
    if (engine === 'postgres') await admin.query(`DROP SCHEMA ${schema}_app CASCADE`);
  }
} finally {
  await reads?.close();
  await sq.close();
  rmSync(dir, { recursive: true, force: true });
  await db.close();
  await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  await admin.query(`DROP SCHEMA IF EXISTS ${schema}_app CASCADE`);
  await admin.end();
}
