import type { DB } from './db';
import type { UserRow } from '../types';

type Raw = Omit<UserRow, 'public'> & { public: number };
const toRow = (r: Raw | undefined): UserRow | undefined => (r ? { ...r, public: r.public === 1 } : undefined);

export type NewUser = Omit<UserRow, 'id'>;

/** SQL for the users table; knows nothing of permissions. */
export class UserStore {
  private readonly byName;
  private readonly byId;
  private readonly byLogin;
  private readonly all;
  private readonly ins;
  private readonly del;
  private readonly cnt;
  private readonly byNameNoCase;
  private readonly byEmailNoCase;

  constructor(
    private readonly db: DB,
    /** Called after every write so caches of metadata can drop what they hold. */
    private readonly changed: () => void = () => {},
  ) {
    this.byName = db.prepare<[string], Raw>('SELECT * FROM users WHERE name = ?');
    this.byId = db.prepare<[number], Raw>('SELECT * FROM users WHERE id = ?');
    this.byLogin = db.prepare<[string, string], Raw>(
      'SELECT * FROM users WHERE name = ? COLLATE NOCASE OR email = ? COLLATE NOCASE ORDER BY id LIMIT 1',
    );
    this.byNameNoCase = db.prepare<[string], Raw>('SELECT * FROM users WHERE name = ? COLLATE NOCASE');
    this.byEmailNoCase = db.prepare<[string], Raw>('SELECT * FROM users WHERE email = ? COLLATE NOCASE');
    this.all = db.prepare<[], Raw>('SELECT * FROM users ORDER BY id');
    this.ins = db.prepare(
      `INSERT INTO users (name, nickname, email, description, icon, public, role, password, password_salt, password_scheme)
       VALUES (@name, @nickname, @email, @description, @icon, @public, @role, @password, @password_salt, @password_scheme)`,
    );
    this.del = db.prepare('DELETE FROM users WHERE id = ?');
    this.cnt = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM users');
  }

  get(name: string): UserRow | undefined {
    return toRow(this.byName.get(name));
  }
  getById(id: number): UserRow | undefined {
    return toRow(this.byId.get(id));
  }
  /** Password logins match name or email case-insensitively (rest-api §2). */
  findLogin(nameOrEmail: string): UserRow | undefined {
    return toRow(this.byLogin.get(nameOrEmail, nameOrEmail));
  }
  nameTaken(name: string): boolean {
    return this.byNameNoCase.get(name) !== undefined;
  }
  emailTakenBy(email: string): UserRow | undefined {
    return toRow(this.byEmailNoCase.get(email));
  }
  list(): UserRow[] {
    return this.all.all().map((r) => toRow(r)!);
  }
  count(): number {
    return this.cnt.get()!.n;
  }
  insert(u: NewUser): number {
    this.changed();
    return Number(this.ins.run({ ...u, public: u.public ? 1 : 0 }).lastInsertRowid);
  }
  update(id: number, fields: Partial<Omit<UserRow, 'id'>>): void {
    this.changed();
    const vals: Record<string, unknown> = { id };
    for (const [k, v] of Object.entries(fields)) vals[k] = typeof v === 'boolean' ? (v ? 1 : 0) : v;
    const keys = Object.keys(vals).filter((k) => k !== 'id');
    if (keys.length === 0) return;
    // Column names come from our own field list, never from the request.
    const sql = `UPDATE users SET ${keys.map((k) => `${k} = @${k}`).join(', ')} WHERE id = @id`;
    this.db.prepare(sql).run(vals);
  }
  delete(id: number): void {
    this.changed();
    this.del.run(id);
  }
}
