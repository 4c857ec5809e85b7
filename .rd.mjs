import { readFileSync } from 'node:fs';
import pg from 'pg';
import { PgDatapoints } from './dist/storage/postgres/data.js';
import { PgDb } from './dist/storage/postgres/db.js';
import { decodeChunk } from './dist/storage/chunks/index.js';
const URI = 'postgres://cdb@127.0.0.1:55432/pg_data';
const schema = `rd_${process.pid}`;
const admin = new pg.Client({ connectionString: URI }); await admin.connect();
await admin.query(`CREATE SCHEMA ${schema}`); await admin.query(`SET search_path = ${schema}`);
await admin.query(readFileSync('migrations/postgres/001_init.sql', 'utf8'));
const u = await admin.query(`INSERT INTO users (name, email, role, password) VALUES ('u', 'u@x', 'user', 'x') RETURNING id`);
const d = await admin.query(`INSERT INTO devices (user_id, name, apikey) VALUES ($1, 'd', 'k') RETURNING id`, [u.rows[0].id]);
const sid = (await admin.query(`INSERT INTO streams (device_id, name) VALUES ($1, 's') RETURNING id`, [d.rows[0].id])).rows[0].id;
const db = new PgDb({ uri: `${URI}?options=${encodeURIComponent(`-c search_path=${schema}`)}`, max: 4 });
const data = new PgDatapoints(db);
let t = 1.6e12, v = 20;
const rule = (pts) => ({ prepare: () => { let b = 0; const s = pts.map((p) => { const j = `{"t":${p.t},"d":${p.d}}`; b += j.length; return { t: p.t, j }; }); return { points: s, bytes: b }; }, maxStreamBytes: 0, maxDeviceBytes: 0, quotaError: () => new Error() });
for (let i = 0; i < 1000; i++) { const pts = []; for (let k = 0; k < 1000; k++) { t += 1000 + Math.round((Math.random() - 0.5) * 100); v = Math.round((v + Math.random() - 0.5) * 100) / 100; pts.push({ t: t / 1000, d: v }); } await data.insertDatapoints({ streamId: sid, deviceId: d.rows[0].id, sub: 0 }, rule(pts)); }
for (let rep = 0; rep < 3; rep++) {
const t1 = performance.now(); let m = 0;
for await (const s of data.readJoined(sid, 0, 0, 1e6)) m += s.length;
console.log(`readJoined 1M ${(performance.now() - t1).toFixed(0)} ms`);
const t2 = performance.now(); let n = 0;
while (performance.now() - t2 < 2000) { const i1 = Math.floor(Math.random() * 999000); for await (const s of data.readJoined(sid, 0, i1, i1 + 1000)) m += s.length; n++; }
console.log(`1000-point reads, 1 client: ${(n / ((performance.now() - t2) / 1000)).toFixed(0)}/s`);
}
await db.close(); await admin.query(`DROP SCHEMA ${schema} CASCADE`); await admin.end();
