import { readFileSync } from 'node:fs';
import pg from 'pg';
import { PgDatapoints, insertGroupOn } from './dist/storage/postgres/data.js';
import { PgDb } from './dist/storage/postgres/db.js';
const URI = 'postgres://cdb@127.0.0.1:55432/pg_data';
const schema = `dbg_${process.pid}`;
const admin = new pg.Client({ connectionString: URI }); await admin.connect();
await admin.query(`CREATE SCHEMA ${schema}`); await admin.query(`SET search_path = ${schema}`);
await admin.query(readFileSync('migrations/postgres/001_init.sql', 'utf8'));
const u = await admin.query(`INSERT INTO users (name, email, role, password) VALUES ('u', 'u@x', 'user', 'x') RETURNING id`);
const d = await admin.query(`INSERT INTO devices (user_id, name, apikey) VALUES ($1, 'd', 'k') RETURNING id`, [u.rows[0].id]);
const streams = [];
for (let i = 0; i < 10; i++) streams.push((await admin.query(`INSERT INTO streams (device_id, name) VALUES ($1, $2) RETURNING id`, [d.rows[0].id, `s${i}`])).rows[0].id);
const db = new PgDb({ uri: `${URI}?options=${encodeURIComponent(`-c search_path=${schema}`)}`, max: 4 });
const rule = (t) => ({ prepare: () => ({ points: [{ t, j: `{"t":${t},"d":1}` }], bytes: 15 }), maxStreamBytes: 0, maxDeviceBytes: 0, quotaError: () => new Error('q') });
const c = await db.pool.connect();
const orig = c.query.bind(c);
const times = {};
c.query = async (...a) => { const t0 = performance.now(); try { return await orig(...a); } finally { const k = String(a[0]).slice(0, 12); times[k] = (times[k] ?? 0) + performance.now() - t0; } };
const t0 = performance.now();
for (let g = 0; g < 300; g++) {
  const items = streams.map((s) => ({ target: { streamId: s, deviceId: d.rows[0].id, sub: 0 }, rule: rule(g + 1) }));
  await insertGroupOn(c, items, true);
}
const total = performance.now() - t0;
console.log(`per group ${(total / 300).toFixed(2)} ms`, Object.fromEntries(Object.entries(times).map(([k, v]) => [k, (v / 300).toFixed(2)])));
c.release(); await db.close(); await admin.query(`DROP SCHEMA ${schema} CASCADE`); await admin.end();
