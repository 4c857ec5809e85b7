import Database from 'better-sqlite3';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { onPostgres } from '../engine';
import { createDb, exited, runServer, type ServerProcess } from '../process';

let server: ServerProcess | undefined;
afterAll(() => {
  server?.proc.kill('SIGKILL');
});

const auth = 'Basic ' + Buffer.from('admin:secret').toString('base64');

// SQLite only: reads the SQLite file after kill -9 of the server (on PostgreSQL the cluster test
// kills a server mid-ingest and checks the committed data through the other one).
describe.skipIf(onPostgres)('durability', () => {
  it('every acknowledged insert survives kill -9 of the server', async () => {
    const dir = createDb();
    server = await runServer(dir);
    const base = `${server.url}/api/v1/crud/admin/user/dur`;
    const c = await fetch(base, { method: 'POST', headers: { authorization: auth }, body: '{"schema":"{\\"type\\":\\"number\\"}"}' });
    expect(c.status).toBe(200);
    let acked = 0;
    let t = 1;
    // Fire requests back to back and kill the process the moment the last answer arrives.
    for (let i = 0; i < 200; i++) {
      const batch = Array.from({ length: 1 + (i % 7) }, () => ({ t: t++, d: i }));
      const r = await fetch(`${base}/data`, { method: 'POST', headers: { authorization: auth }, body: JSON.stringify(batch) });
      expect(await r.text()).toBe('ok');
      acked += batch.length;
    }
    server.proc.kill('SIGKILL');
    const { signal } = await exited(server.proc);
    expect(signal).toBe('SIGKILL');
    const db = new Database(path.join(dir, 'db.sqlite3'));
    try {
      const row = db
        .prepare("SELECT count(*) AS n FROM datapoints WHERE stream_id = (SELECT id FROM streams WHERE name = 'dur')")
        .get() as { n: number };
      expect(row.n).toBe(acked);
      const len = db.prepare("SELECT length FROM substreams WHERE stream_id = (SELECT id FROM streams WHERE name = 'dur') AND sub = 0").get() as {
        length: number;
      };
      expect(len.length).toBe(acked);
    } finally {
      db.close();
    }
  });

  it('every acknowledged insert survives kill -9 while inserts seal chunks', async () => {
    const dir = createDb();
    server = await runServer(dir);
    const base = `${server.url}/api/v1/crud/admin/user/dur2`;
    const c = await fetch(base, { method: 'POST', headers: { authorization: auth }, body: '{"schema":"{}"}' });
    expect(c.status).toBe(200);
    const sent: string[] = [];
    let t = 1;
    // Batch sizes that cross the 1,000-point seal in every way: into the tail, filling it, and
    // batches big enough to go straight into chunks.
    for (let i = 0; i < 60; i++) {
      const size = [1, 999, 7, 2500, 333, 1000][i % 6];
      const batch = Array.from({ length: size }, (_, k) => ({ t: t++, d: i % 2 ? k : { k, s: 'é' } }));
      const r = await fetch(`${base}/data`, { method: 'POST', headers: { authorization: auth }, body: JSON.stringify(batch) });
      expect(await r.text()).toBe('ok');
      for (const p of batch) sent.push(JSON.stringify(p));
    }
    server.proc.kill('SIGKILL');
    const { signal } = await exited(server.proc);
    expect(signal).toBe('SIGKILL');
    server = await runServer(dir);
    const r = await fetch(`${server.url}/api/v1/crud/admin/user/dur2/data?i1=0&i2=0`, { headers: { authorization: auth } });
    expect(await r.text()).toBe('[' + sent.join(',') + ']');
    const db = new Database(path.join(dir, 'db.sqlite3'), { readonly: true });
    try {
      const chunks = db.prepare("SELECT count(*) AS n FROM chunks WHERE stream_id = (SELECT id FROM streams WHERE name = 'dur2')").get() as { n: number };
      expect(chunks.n).toBeGreaterThan(10);
    } finally {
      db.close();
    }
    server.proc.kill('SIGKILL');
    await exited(server.proc);
    server = undefined;
  }, 120_000);
});
