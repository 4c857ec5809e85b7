import { apikeyHash } from '../apikey';
import type { DB } from './db';
import type { DeviceRow } from '../types';

type Raw = Omit<DeviceRow, 'enabled' | 'public' | 'visible' | 'user_editable'> & {
  enabled: number;
  public: number;
  visible: number;
  user_editable: number;
};
const toRow = (r: Raw | undefined): DeviceRow | undefined =>
  r
    ? {
        id: r.id,
        user_id: r.user_id,
        name: r.name,
        nickname: r.nickname,
        description: r.description,
        icon: r.icon,
        apikey: r.apikey,
        enabled: r.enabled === 1,
        public: r.public === 1,
        role: r.role,
        visible: r.visible === 1,
        user_editable: r.user_editable === 1,
      }
    : undefined;

export { apikeyHash };

export type NewDevice = Omit<DeviceRow, 'id'>;

export class DeviceStore {
  private readonly byName;
  private readonly byId;
  private readonly byHash;
  private readonly ofUser;
  private readonly ins;
  private readonly del;
  private readonly cnt;
  private readonly cntUser;
  private readonly cntPrivate;

  constructor(
    private readonly db: DB,
    /** Called after every write so caches of metadata can drop what they hold. */
    private readonly changed: () => void = () => {},
  ) {
    this.byName = db.prepare<[number, string], Raw>('SELECT * FROM devices WHERE user_id = ? AND name = ?');
    this.byId = db.prepare<[number], Raw>('SELECT * FROM devices WHERE id = ?');
    this.byHash = db.prepare<[string], Raw>("SELECT * FROM devices WHERE apikey_hash = ? AND apikey_hash <> ''");
    this.ofUser = db.prepare<[number], Raw>('SELECT * FROM devices WHERE user_id = ? ORDER BY id');
    this.ins = db.prepare(
      `INSERT INTO devices (user_id, name, nickname, description, icon, apikey, apikey_hash, enabled, public, role, visible, user_editable)
       VALUES (@user_id, @name, @nickname, @description, @icon, @apikey, @apikey_hash, @enabled, @public, @role, @visible, @user_editable)`,
    );
    this.del = db.prepare('DELETE FROM devices WHERE id = ?');
    this.cnt = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM devices');
    this.cntUser = db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM devices WHERE user_id = ?');
    this.cntPrivate = db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM devices WHERE user_id = ? AND public = 0');
  }

  get(userId: number, name: string): DeviceRow | undefined {
    return toRow(this.byName.get(userId, name));
  }
  getById(id: number): DeviceRow | undefined {
    return toRow(this.byId.get(id));
  }
  /** Lookup by the key's hash; the caller compares the key itself in constant time. */
  getByApikey(key: string): DeviceRow | undefined {
    if (key === '') return undefined;
    return toRow(this.byHash.get(apikeyHash(key)));
  }
  listForUser(userId: number): DeviceRow[] {
    return this.ofUser.all(userId).map((r) => toRow(r)!);
  }
  count(): number {
    return this.cnt.get()!.n;
  }
  countForUser(userId: number): number {
    return this.cntUser.get(userId)!.n;
  }
  countPrivateForUser(userId: number): number {
    return this.cntPrivate.get(userId)!.n;
  }
  insert(d: NewDevice): number {
    this.changed();
    return Number(
      this.ins.run({
        ...d,
        apikey_hash: apikeyHash(d.apikey),
        enabled: d.enabled ? 1 : 0,
        public: d.public ? 1 : 0,
        visible: d.visible ? 1 : 0,
        user_editable: d.user_editable ? 1 : 0,
      }).lastInsertRowid,
    );
  }
  update(id: number, fields: Partial<Omit<DeviceRow, 'id'>>): void {
    this.changed();
    const vals: Record<string, unknown> = { id };
    for (const [k, v] of Object.entries(fields)) vals[k] = typeof v === 'boolean' ? (v ? 1 : 0) : v;
    if (typeof fields.apikey === 'string') vals.apikey_hash = apikeyHash(fields.apikey);
    const keys = Object.keys(vals).filter((k) => k !== 'id');
    if (keys.length === 0) return;
    this.db.prepare(`UPDATE devices SET ${keys.map((k) => `${k} = @${k}`).join(', ')} WHERE id = @id`).run(vals);
  }
  delete(id: number): void {
    this.changed();
    this.del.run(id);
  }
}
