import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStorage } from '../../src/storage';
import { type InsertRule, type InsertTarget, MAIN, type StreamRow } from '../../src/storage/types';
import { onPostgres } from '../engine';

/** A rule that appends points at t = 1, 2, … after the stored ones, or refuses with `fail`. */
function rule(n: number, fail?: Error, maxStreamBytes = 0): InsertRule {
  return {
    prepare: (info) => {
      if (fail) throw fail;
      const points = Array.from({ length: n }, (_, i) => {
        const t = info.last_t + i + 1;
        return { t, j: `{"t":${t},"d":${i}}` };
      });
      return { points, bytes: points.reduce((s, p) => s + p.j.length, 0) };
    },
    maxStreamBytes,
    maxDeviceBytes: 0,
    quotaError: (which) => new Error(`quota ${which}`),
  };
}

// SQLite only: the SQLite engine's group commit (many inserts in one transaction) and its file.
describe.skipIf(onPostgres)('group commit in the SQLite engine', () => {
  let dir: string;
  let storage: SqliteStorage;
  let stream: StreamRow;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cdb-gc-'));
    storage = SqliteStorage.open(path.join(dir, 'db.sqlite3'));
    const user = { name: 'u', nickname: '', email: 'u@x', description: '', icon: '', public: false, role: 'user', password: 'x', password_salt: '', password_scheme: 'argon2id' };
    const device = { name: 'd', nickname: '', description: '', icon: '', apikey: 'k', enabled: true, public: false, role: 'user', visible: true, user_editable: true };
    const s = { name: 's', nickname: '', description: '', icon: '', schema: '{}', datatype: '', ephemeral: false, downlink: false };
    const u = await storage.meta.createUser(user, [{ device, streams: [s] }], []);
    const d = (await storage.devices.get(u.id, 'd'))!;
    stream = (await storage.streams.get(d.id, 's'))!;
  });

  afterEach(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const target = (): InsertTarget => ({ streamId: stream.id, deviceId: stream.device_id, sub: MAIN });

  it('concurrent inserts each settle on their own: a refused one leaves the others whole', async () => {
    const refused = new Error('refused');
    const results = await Promise.allSettled([
      storage.data.insertDatapoints(target(), rule(2)),
      storage.data.insertDatapoints(target(), rule(3)),
      storage.data.insertDatapoints(target(), rule(5, refused)),
      storage.data.insertDatapoints(target(), rule(1)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toBe(refused);
    expect(await storage.data.length(stream.id, MAIN)).toBe(6);
    const rows: string[] = [];
    for await (const b of storage.data.readBatches(stream.id, MAIN, 0, 6)) rows.push(...b);
    // Each insert saw the state the previous ones left: timestamps continue without a gap.
    expect(rows.map((j) => (JSON.parse(j) as { t: number }).t)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('a quota refusal inside a group rolls back only that insert', async () => {
    const results = await Promise.allSettled([
      storage.data.insertDatapoints(target(), rule(1)),
      storage.data.insertDatapoints(target(), rule(100, undefined, 50)),
      storage.data.insertDatapoints(target(), rule(1)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(((results[1] as PromiseRejectedResult).reason as Error).message).toBe('quota stream');
    expect(await storage.data.length(stream.id, MAIN)).toBe(2);
  });

  it('an insert is settled only once committed: another connection already sees it', async () => {
    const inserts = Array.from({ length: 20 }, () => storage.data.insertDatapoints(target(), rule(1)));
    await inserts[0];
    const other = new Database(path.join(dir, 'db.sqlite3'), { readonly: true });
    try {
      const n = other.prepare('SELECT length FROM substreams WHERE stream_id = ? AND sub = 0').pluck().get(stream.id) as number;
      // The first promise settles after the commit of its group, which holds all twenty.
      expect(n).toBe(20);
    } finally {
      other.close();
    }
    await Promise.all(inserts);
  });

  it('writes keep their arrival order across kinds: an insert queued before its stream is deleted lands first', async () => {
    const ins = storage.data.insertDatapoints(target(), rule(3));
    const del = storage.meta.deleteStream(stream.id, []);
    await Promise.all([ins, del]);
    expect(await storage.streams.getById(stream.id)).toBeUndefined();
    expect(await storage.data.length(stream.id, MAIN)).toBe(0);
  });
});
