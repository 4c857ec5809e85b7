import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChunkedDatapointStore } from '../../src/storage/sqlite/chunked';
import { openDatabase } from '../../src/storage/sqlite/db';
import { onPostgres } from '../engine';
import { MAIN as CLI, createDb, exited, runServer, type ServerProcess } from '../process';

const auth = 'Basic ' + Buffer.from('admin:secret').toString('base64');
let server: ServerProcess | undefined;
afterAll(() => {
  server?.proc.kill('SIGKILL');
});

interface OldStream {
  name: string;
  main: string[];
  downlink?: string[];
}

const numeric = (n: number, seed = 0) => Array.from({ length: n }, (_, i) => `{"t":${1e9 + i * 1.001 + seed},"d":${Math.round(Math.sin(i + seed) * 1e4) / 100}}`);
const objects = (n: number) => Array.from({ length: n }, (_, i) => `{"t":${2e9 + i},"d":{"x":${i},"s":"é\\"${i}"},"o":"admin/user"}`);

/**
 * A database as the version before chunks left it: created by today's CLI, then taken back to
 * schema 2 (no chunks table, substreams without the layout columns, auto_vacuum off) with every
 * datapoint a row.
 */
function makeOldDb(streams: OldStream[]): string {
  const dir = createDb();
  const db = new Database(path.join(dir, 'db.sqlite3'));
  const dev = (db.prepare("SELECT d.id FROM devices d JOIN users u ON d.user_id = u.id WHERE u.name = 'admin' AND d.name = 'user'").get() as { id: number }).id;
  db.exec('DROP TABLE chunks; ALTER TABLE substreams DROP COLUMN base; ALTER TABLE substreams DROP COLUMN sealed; ALTER TABLE substreams DROP COLUMN tail_bytes; ALTER TABLE streams DROP COLUMN keep_datapoints; ALTER TABLE streams DROP COLUMN keep_seconds;');
  const ins = db.prepare('INSERT INTO datapoints (stream_id, sub, idx, t, j) VALUES (?, ?, ?, ?, ?)');
  const info = db.prepare('INSERT INTO substreams (stream_id, sub, length, last_t, bytes) VALUES (?, ?, ?, ?, ?)');
  db.transaction(() => {
    for (const s of streams) {
      const id = Number(db.prepare("INSERT INTO streams (device_id, name, schema, downlink) VALUES (?, ?, '{}', ?)").run(dev, s.name, s.downlink ? 1 : 0).lastInsertRowid);
      for (const [sub, rows] of [[0, s.main], [1, s.downlink]] as const) {
        if (!rows || rows.length === 0) continue;
        let bytes = 0;
        rows.forEach((j, i) => {
          bytes += j.length;
          ins.run(id, sub, i, JSON.parse(j).t ?? 0, j);
        });
        info.run(id, sub, rows.length, JSON.parse(rows[rows.length - 1]).t, bytes);
      }
    }
  })();
  db.pragma('user_version = 2');
  db.pragma('journal_mode = DELETE');
  db.pragma('auto_vacuum = NONE');
  db.exec('VACUUM');
  db.close();
  return dir;
}

function readAll(db: Database.Database, name: string, sub: 0 | 1): string[] {
  const id = (db.prepare('SELECT id FROM streams WHERE name = ?').get(name) as { id: number }).id;
  const store = new ChunkedDatapointStore(db);
  return store.read(id, sub, 0, store.length(id, sub));
}

// SQLite only: the upgrade of SQLite files written before chunks; no PostgreSQL database predates them.
describe.skipIf(onPostgres)('upgrade of a database written before chunks', () => {
  it('seals every substream at open, reads back byte-identical and turns on incremental vacuum', () => {
    const streams: OldStream[] = [
      { name: 'num', main: numeric(5_500), downlink: objects(1_200) },
      { name: 'small', main: numeric(10, 7) },
    ];
    const dir = makeOldDb(streams);
    const seen: number[] = [];
    const db = openDatabase(path.join(dir, 'db.sqlite3'), { upgradeProgress: (done, total) => seen.push(done / total) });
    try {
      expect(readAll(db, 'num', 0)).toEqual(streams[0].main);
      expect(readAll(db, 'num', 1)).toEqual(streams[0].downlink);
      expect(readAll(db, 'small', 0)).toEqual(streams[1].main);
      const chunks = db.prepare('SELECT count(*) AS n FROM chunks').get() as { n: number };
      expect(chunks.n).toBe(5 + 1);
      const rows = db.prepare('SELECT count(*) AS n FROM datapoints').get() as { n: number };
      expect(rows.n).toBe(500 + 200 + 10);
      expect(db.prepare('SELECT count(*) AS n FROM substreams WHERE tail_bytes < 0').get()).toEqual({ n: 0 });
      expect(db.pragma('auto_vacuum', { simple: true })).toBe(2);
      expect(seen[seen.length - 1]).toBe(1);
    } finally {
      db.close();
    }
    // A second open has nothing left to do.
    const again: number[] = [];
    openDatabase(path.join(dir, 'db.sqlite3'), { upgradeProgress: (d) => again.push(d) }).close();
    expect(again).toEqual([]);
  });

  it('a kill -9 in the middle of the upgrade, then a restart, ends converted and complete', async () => {
    const big = numeric(300_000);
    const other = objects(3_000);
    const dir = makeOldDb([
      { name: 'big', main: big },
      { name: 'obj', main: other },
    ]);
    // The upgrade runs at open, before the server listens; kill it once progress shows.
    const proc = spawn(process.execPath, [CLI, 'run', dir, '--host', '127.0.0.1', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (b: Buffer) => {
        out += b.toString();
        if (/upgrading datapoints to chunks: [1-9]0%/.test(out)) {
          proc.kill('SIGKILL');
          resolve();
        }
      };
      proc.stderr.on('data', onData);
      proc.stdout.on('data', onData);
      proc.once('exit', () => reject(new Error(`exited before it could be killed: ${out}`)));
    });
    await exited(proc);
    // Mid-way the database is consistent: every datapoint is in exactly one of the two layouts.
    const mid = new Database(path.join(dir, 'db.sqlite3'));
    try {
      const id = (mid.prepare("SELECT id FROM streams WHERE name = 'big'").get() as { id: number }).id;
      const s = mid.prepare('SELECT sealed, base, length FROM substreams WHERE stream_id = ? AND sub = 0').get(id) as { sealed: number; base: number; length: number };
      const rows = (mid.prepare('SELECT count(*) AS n FROM datapoints WHERE stream_id = ?').get(id) as { n: number }).n;
      const inChunks = (mid.prepare('SELECT coalesce(sum(i2 - i1 + 1), 0) AS n FROM chunks WHERE stream_id = ?').get(id) as { n: number }).n;
      expect(rows + inChunks).toBe(big.length);
      // It really was interrupted: part of the stream is still rows.
      expect(rows).toBeGreaterThan(1000);
      expect(inChunks).toBe(s.sealed - s.base);
    } finally {
      mid.close();
    }
    server = await runServer(dir);
    const r = await fetch(`${server.url}/api/v1/crud/admin/user/big/data?i1=0&i2=0`, { headers: { authorization: auth } });
    expect(await r.text()).toBe('[' + big.join(',') + ']');
    const r2 = await fetch(`${server.url}/api/v1/crud/admin/user/obj/data?i1=0&i2=0`, { headers: { authorization: auth } });
    expect(await r2.text()).toBe('[' + other.join(',') + ']');
    const t = await fetch(`${server.url}/api/v1/crud/admin/user/big/data?q=time2index&t=${1e9 + 150_000 * 1.001}`, { headers: { authorization: auth } });
    expect(await t.text()).toBe('150001');
    server.proc.kill('SIGTERM');
    await exited(server.proc);
    server = undefined;
    const after = new Database(path.join(dir, 'db.sqlite3'));
    try {
      expect(after.prepare('SELECT count(*) AS n FROM substreams WHERE tail_bytes < 0').get()).toEqual({ n: 0 });
      expect((after.prepare('SELECT count(*) AS n FROM datapoints').get() as { n: number }).n).toBeLessThan(2000);
    } finally {
      after.close();
    }
  }, 120_000);
});
