import type { DB } from './db';
import type { StreamRow } from '../types';

type Raw = Omit<StreamRow, 'ephemeral' | 'downlink'> & { ephemeral: number; downlink: number };
const toRow = (r: Raw | undefined): StreamRow | undefined =>
  r ? { ...r, ephemeral: r.ephemeral === 1, downlink: r.downlink === 1 } : undefined;

export type NewStream = Omit<StreamRow, 'id'>;

export interface UserStreamRow extends StreamRow {
  device_name: string;
  device_public: boolean;
  device_visible: boolean;
}

export class StreamStore {
  private readonly byName;
  private readonly byId;
  private readonly ofDevice;
  private readonly ofUser;
  private readonly ins;
  private readonly del;
  private readonly cnt;
  private readonly cntDevice;

  constructor(
    private readonly db: DB,
    /** Called after every write so caches of metadata can drop what they hold. */
    private readonly changed: () => void = () => {},
  ) {
    this.byName = db.prepare<[number, string], Raw>('SELECT * FROM streams WHERE device_id = ? AND name = ?');
    this.byId = db.prepare<[number], Raw>('SELECT * FROM streams WHERE id = ?');
    this.ofDevice = db.prepare<[number], Raw>('SELECT * FROM streams WHERE device_id = ? ORDER BY name');
    this.ofUser = db.prepare<[number], Raw & { device_name: string; device_public: number; device_visible: number }>(
      `SELECT s.*, d.name AS device_name, d.public AS device_public, d.visible AS device_visible
         FROM streams s JOIN devices d ON s.device_id = d.id WHERE d.user_id = ? ORDER BY d.id, s.id`,
    );
    this.ins = db.prepare(
      `INSERT INTO streams (device_id, name, nickname, description, icon, schema, datatype, ephemeral, downlink, keep_datapoints, keep_seconds)
       VALUES (@device_id, @name, @nickname, @description, @icon, @schema, @datatype, @ephemeral, @downlink, @keep_datapoints, @keep_seconds)`,
    );
    this.del = db.prepare('DELETE FROM streams WHERE id = ?');
    this.cnt = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM streams');
    this.cntDevice = db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM streams WHERE device_id = ?');
  }

  get(deviceId: number, name: string): StreamRow | undefined {
    return toRow(this.byName.get(deviceId, name));
  }
  getById(id: number): StreamRow | undefined {
    return toRow(this.byId.get(id));
  }
  listForDevice(deviceId: number): StreamRow[] {
    return this.ofDevice.all(deviceId).map((r) => toRow(r)!);
  }
  listForUser(userId: number): UserStreamRow[] {
    return this.ofUser.all(userId).map((r) => ({
      ...toRow(r)!,
      device_name: r.device_name,
      device_public: r.device_public === 1,
      device_visible: r.device_visible === 1,
    }));
  }
  count(): number {
    return this.cnt.get()!.n;
  }
  countForDevice(deviceId: number): number {
    return this.cntDevice.get(deviceId)!.n;
  }
  insert(s: NewStream): number {
    this.changed();
    return Number(
      this.ins.run({ ...s, ephemeral: s.ephemeral ? 1 : 0, downlink: s.downlink ? 1 : 0, keep_datapoints: s.keep_datapoints ?? 0, keep_seconds: s.keep_seconds ?? 0 })
        .lastInsertRowid,
    );
  }
  update(id: number, fields: Partial<Omit<StreamRow, 'id'>>): void {
    this.changed();
    const vals: Record<string, unknown> = { id };
    for (const [k, v] of Object.entries(fields)) vals[k] = typeof v === 'boolean' ? (v ? 1 : 0) : v;
    const keys = Object.keys(vals).filter((k) => k !== 'id');
    if (keys.length === 0) return;
    this.db.prepare(`UPDATE streams SET ${keys.map((k) => `${k} = @${k}`).join(', ')} WHERE id = @id`).run(vals);
  }
  delete(id: number): void {
    this.changed();
    this.del.run(id);
  }
}
