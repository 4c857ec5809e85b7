import type { Statement } from 'better-sqlite3';
import type { DB } from './db';
import type { StoredPoint, Sub, SubstreamInfo } from '../types';

export { DOWNLINK, MAIN, type StoredPoint, type Sub, type SubstreamInfo } from '../types';

const MULTI = 64;

/** SQL for datapoints and their per-substream summaries. */
export class DatapointStore {
  private readonly info: Statement<[number, number], SubstreamInfo>;
  private readonly upsertInfo: Statement<[number, number, number, number, number]>;
  private readonly ins1: Statement<unknown[]>;
  private readonly insN: Statement<unknown[]>;
  private readonly range: Statement<[number, number, number, number], string>;
  private readonly tAtStmt: Statement<[number, number, number], { t: number }>;
  private readonly delSub;
  private readonly delSubInfo;
  private readonly delStream;
  private readonly delDevice;
  private readonly delUser;
  private readonly deviceBytes: Statement<[number], { n: number | null }>;

  constructor(db: DB) {
    this.info = db.prepare('SELECT length, last_t, bytes FROM substreams WHERE stream_id = ? AND sub = ?');
    this.upsertInfo = db.prepare(
      `INSERT INTO substreams (stream_id, sub, length, last_t, bytes) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (stream_id, sub) DO UPDATE SET length = excluded.length, last_t = excluded.last_t, bytes = excluded.bytes`,
    );
    const one = '(?, ?, ?, ?, ?)';
    this.ins1 = db.prepare(`INSERT INTO datapoints (stream_id, sub, idx, t, j) VALUES ${one}`);
    this.insN = db.prepare(`INSERT INTO datapoints (stream_id, sub, idx, t, j) VALUES ${Array(MULTI).fill(one).join(',')}`);
    this.range = db
      .prepare<[number, number, number, number], string>(
        'SELECT j FROM datapoints WHERE stream_id = ? AND sub = ? AND idx >= ? AND idx < ? ORDER BY idx',
      )
      .pluck(true);
    this.tAtStmt = db.prepare('SELECT t FROM datapoints WHERE stream_id = ? AND sub = ? AND idx = ?');
    this.delSub = db.prepare('DELETE FROM datapoints WHERE stream_id = ? AND sub = ?');
    this.delSubInfo = db.prepare('DELETE FROM substreams WHERE stream_id = ? AND sub = ?');
    this.delStream = db.prepare('DELETE FROM datapoints WHERE stream_id = ?');
    this.delDevice = db.prepare('DELETE FROM datapoints WHERE stream_id IN (SELECT id FROM streams WHERE device_id = ?)');
    this.delUser = db.prepare(
      'DELETE FROM datapoints WHERE stream_id IN (SELECT s.id FROM streams s JOIN devices d ON s.device_id = d.id WHERE d.user_id = ?)',
    );
    this.deviceBytes = db.prepare(
      'SELECT sum(bytes) AS n FROM substreams WHERE stream_id IN (SELECT id FROM streams WHERE device_id = ?)',
    );
  }

  substream(streamId: number, sub: Sub): SubstreamInfo {
    return this.info.get(streamId, sub) ?? { length: 0, last_t: 0, bytes: 0 };
  }

  length(streamId: number, sub: Sub): number {
    return this.substream(streamId, sub).length;
  }

  deviceBytesUsed(deviceId: number): number {
    return this.deviceBytes.get(deviceId)?.n ?? 0;
  }

  /** Appends points (already ordered and restamped) after `info`; must run inside a transaction. */
  append(streamId: number, sub: Sub, info: SubstreamInfo, points: StoredPoint[], addedBytes: number): void {
    let idx = info.length;
    let i = 0;
    const n = points.length;
    if (n - i >= MULTI) {
      const args: unknown[] = new Array(MULTI * 5);
      for (; n - i >= MULTI; i += MULTI) {
        for (let j = 0; j < MULTI; j++) {
          const p = points[i + j];
          const k = j * 5;
          args[k] = streamId;
          args[k + 1] = sub;
          args[k + 2] = idx++;
          args[k + 3] = p.t;
          args[k + 4] = p.j;
        }
        this.insN.run(args);
      }
    }
    for (; i < n; i++) {
      const p = points[i];
      this.ins1.run(streamId, sub, idx++, p.t, p.j);
    }
    this.upsertInfo.run(streamId, sub, idx, points[n - 1].t, info.bytes + addedBytes);
  }

  /** Wire-form datapoints [i1, i2) in index order. */
  read(streamId: number, sub: Sub, i1: number, i2: number): string[] {
    return this.range.all(streamId, sub, i1, i2);
  }

  tAt(streamId: number, sub: Sub, idx: number): number {
    return this.tAtStmt.get(streamId, sub, idx)!.t;
  }

  /**
   * Index of the first datapoint with timestamp strictly greater than `t` (the length when there
   * is none). Timestamps never decrease along the index, so this is a binary search over the
   * clustered key: O(log n) seeks, each in cached upper B-tree pages.
   */
  time2index(streamId: number, sub: Sub, t: number, length?: number): number {
    const n = length ?? this.length(streamId, sub);
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.tAt(streamId, sub, mid) > t) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  deleteSubstream(streamId: number, sub: Sub): void {
    this.delSub.run(streamId, sub);
    this.delSubInfo.run(streamId, sub);
  }
  deleteStream(streamId: number): void {
    this.delStream.run(streamId);
  }
  deleteDevice(deviceId: number): void {
    this.delDevice.run(deviceId);
  }
  deleteUser(userId: number): void {
    this.delUser.run(userId);
  }
}
