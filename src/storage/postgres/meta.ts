import type pg from 'pg';
import { apikeyHash } from '../apikey';
import { StorageConflict, StorageRefused } from '../errors';
import {
  type DeviceReads,
  type DeviceRow,
  type InsertRule,
  type InsertTarget,
  type LogEntry,
  MAIN,
  type MetaWrites,
  NEW_USER,
  type NewDevice,
  type NewDeviceTree,
  type NewStream,
  type NewUser,
  type StreamReads,
  type StreamRow,
  type Sub,
  type UserReads,
  type UserRow,
  type UserStreamRow,
} from '../types';
import { PgDb, type Queryable, UNIQUE_VIOLATION, errorCode } from './db';

/**
 * The PostgreSQL engine's metadata: reads of users, devices and streams, and the writes of
 * MetaWrites, each one transaction (PgDb.tx) with its cascades and meta-log entries. Mirrors
 * sqlite/{users,devices,streams}.ts and SqliteStorage's write methods row for row: booleans are
 * booleans, `keep_datapoints`/`keep_seconds` are always present (0 = no limit), lists come in the
 * same order (names in byte order, as SQLite's BINARY collation sorts them).
 */

const USER_COLS = ['id', 'name', 'nickname', 'email', 'description', 'icon', 'public', 'role', 'password', 'password_salt', 'password_scheme'] as const;
const DEVICE_COLS = ['id', 'user_id', 'name', 'nickname', 'description', 'icon', 'apikey', 'enabled', 'public', 'role', 'visible', 'user_editable'] as const;
const STREAM_COLS = ['id', 'device_id', 'name', 'nickname', 'description', 'icon', 'schema', 'datatype', 'ephemeral', 'downlink', 'keep_datapoints', 'keep_seconds'] as const;

const list = (cols: readonly string[], alias = ''): string => cols.map((c) => (alias ? `${alias}.${c}` : c)).join(', ');
/** `u.id AS u_id, …`: several tables' rows in one result without name clashes. */
const prefixed = (cols: readonly string[], alias: string): string => cols.map((c) => `${alias}.${c} AS ${alias}_${c}`).join(', ');
function unprefix<T>(row: pg.QueryResultRow, cols: readonly string[], alias: string): T | undefined {
  if (row[`${alias}_id`] === null || row[`${alias}_id`] === undefined) return undefined;
  const o: Record<string, unknown> = {};
  for (const c of cols) o[c] = row[`${alias}_${c}`];
  return o as T;
}

const U = list(USER_COLS);
const D = list(DEVICE_COLS);
const S = list(STREAM_COLS);

/** Columns an update may set: field names come from the services, but never reach SQL unchecked. */
const USER_SET = new Set<string>(USER_COLS.filter((c) => c !== 'id'));
const DEVICE_SET = new Set<string>([...DEVICE_COLS.filter((c) => c !== 'id'), 'apikey_hash']);
const STREAM_SET = new Set<string>(STREAM_COLS.filter((c) => c !== 'id'));

/**
 * What the metadata writes need of the datapoint engine, on the write's own client (pg-data's
 * data.ts provides them; index.ts adapts).
 */
export interface TxData {
  /** One insert inside the caller's transaction (LogEntry): the index of its first point, or -1. */
  insertOn(c: Queryable, target: InsertTarget, rule: InsertRule): Promise<number>;
  /** Removes every datapoint (tail and chunks) and summary of these streams. */
  dropStreams(c: Queryable, streamIds: readonly number[]): Promise<void>;
  /** Removes one substream's datapoints and its summary row. */
  dropSubstream(c: Queryable, streamId: number, sub: Sub): Promise<void>;
}

/**
 * Every statement of this file is a named prepared statement: PostgreSQL parses and plans it once
 * per connection instead of on every call (planning the three-table resolve costs more than
 * running it). The names are per text, so one name never means two statements; explicit column
 * lists keep a cached plan valid when a later migration adds columns.
 */
const names = new Map<string, string>();
function prepared(text: string, values: unknown[]): pg.QueryConfig {
  let name = names.get(text);
  if (name === undefined) {
    name = `cdb_meta_${names.size}`;
    names.set(text, name);
  }
  return { name, text, values };
}

/** On a transaction's client, or on the pool (the exclusive client inside `exclusive()`). */
type On = PgDb | pg.PoolClient;
async function rows<R extends pg.QueryResultRow>(q: On, text: string, values: unknown[] = []): Promise<R[]> {
  // PostgreSQL refuses such a parameter with an error; no stored text holds U+0000, so a lookup
  // by it finds nothing (a user name with a NUL in it is simply not found, as on SQLite).
  if (text.startsWith('SELECT') && values.some(hasNul)) return [];
  const cfg = prepared(text, values);
  const target = q instanceof PgDb ? (q.bound ?? q.pool) : q;
  return (await target.query<R>(cfg)).rows;
}
async function one<R extends pg.QueryResultRow>(q: On, text: string, values: unknown[]): Promise<R | undefined> {
  return (await rows<R>(q, text, values))[0];
}
async function count(q: On, text: string, values: unknown[] = []): Promise<number> {
  return (await rows<{ n: number }>(q, text, values))[0].n;
}

export function userReads(db: PgDb): UserReads {
  return {
    // lower(name) first: the unique index is on it; the exact comparison keeps the lookup case-sensitive.
    get: (name) => one<UserRow>(db, `SELECT ${U} FROM users WHERE lower(name) = lower($1) AND name = $1`, [name]),
    getById: (id) => one<UserRow>(db, `SELECT ${U} FROM users WHERE id = $1`, [id]),
    findLogin: (x) => one<UserRow>(db, `SELECT ${U} FROM users WHERE lower(name) = lower($1) OR lower(email) = lower($1) ORDER BY id LIMIT 1`, [x]),
    nameTaken: async (name) => (await one(db, 'SELECT 1 AS x FROM users WHERE lower(name) = lower($1)', [name])) !== undefined,
    emailTakenBy: (email) => one<UserRow>(db, `SELECT ${U} FROM users WHERE lower(email) = lower($1) ORDER BY id LIMIT 1`, [email]),
    list: () => rows<UserRow>(db, `SELECT ${U} FROM users ORDER BY id`),
    count: () => count(db, 'SELECT count(*) AS n FROM users'),
  };
}

export function deviceReads(db: PgDb): DeviceReads {
  return {
    get: (userId, name) => one<DeviceRow>(db, `SELECT ${D} FROM devices WHERE user_id = $1 AND name = $2`, [userId, name]),
    getById: (id) => one<DeviceRow>(db, `SELECT ${D} FROM devices WHERE id = $1`, [id]),
    getByApikey: (key) =>
      key === '' ? Promise.resolve(undefined) : one<DeviceRow>(db, `SELECT ${D} FROM devices WHERE apikey_hash = $1 AND apikey_hash <> '' LIMIT 1`, [apikeyHash(key)]),
    listForUser: (userId) => rows<DeviceRow>(db, `SELECT ${D} FROM devices WHERE user_id = $1 ORDER BY id`, [userId]),
    count: () => count(db, 'SELECT count(*) AS n FROM devices'),
    countForUser: (userId) => count(db, 'SELECT count(*) AS n FROM devices WHERE user_id = $1', [userId]),
    countPrivateForUser: (userId) => count(db, 'SELECT count(*) AS n FROM devices WHERE user_id = $1 AND NOT public', [userId]),
  };
}

export function streamReads(db: PgDb): StreamReads {
  return {
    get: (deviceId, name) => one<StreamRow>(db, `SELECT ${S} FROM streams WHERE device_id = $1 AND name = $2`, [deviceId, name]),
    getById: (id) => one<StreamRow>(db, `SELECT ${S} FROM streams WHERE id = $1`, [id]),
    listForDevice: (deviceId) => rows<StreamRow>(db, `SELECT ${S} FROM streams WHERE device_id = $1 ORDER BY name COLLATE "C"`, [deviceId]),
    listForUser: (userId) =>
      rows<UserStreamRow>(
        db,
        `SELECT ${list(STREAM_COLS, 's')}, d.name AS device_name, d.public AS device_public, d.visible AS device_visible
           FROM streams s JOIN devices d ON s.device_id = d.id WHERE d.user_id = $1 ORDER BY d.id, s.id`,
        [userId],
      ),
    count: () => count(db, 'SELECT count(*) AS n FROM streams'),
    countForDevice: (deviceId) => count(db, 'SELECT count(*) AS n FROM streams WHERE device_id = $1', [deviceId]),
  };
}

/**
 * The names for the resolving join, a name holding U+0000 (a parameter PostgreSQL refuses) as ''
 * instead: no user, device or stream is named '', so that level is not found and the levels above
 * still are, as on SQLite.
 */
export function nulFreeNames(user: string, device: string, stream: string): [string, string, string] {
  return [hasNul(user) ? '' : user, hasNul(device) ? '' : device, hasNul(stream) ? '' : stream];
}

/** The stream with its device and user by names: one statement (two left joins). */
export async function resolveStream(db: PgDb, user: string, device: string, stream: string): Promise<{ user?: UserRow; device?: DeviceRow; stream?: StreamRow }> {
  const row = await one(
    db,
    `SELECT ${prefixed(USER_COLS, 'u')}, ${prefixed(DEVICE_COLS, 'd')}, ${prefixed(STREAM_COLS, 's')}
       FROM users u
       LEFT JOIN devices d ON d.user_id = u.id AND d.name = $2
       LEFT JOIN streams s ON s.device_id = d.id AND s.name = $3
      WHERE lower(u.name) = lower($1) AND u.name = $1`,
    nulFreeNames(user, device, stream),
  );
  if (!row) return {};
  const u = unprefix<UserRow>(row, USER_COLS, 'u');
  const d = unprefix<DeviceRow>(row, DEVICE_COLS, 'd');
  if (!d) return { user: u };
  return { user: u, device: d, stream: unprefix<StreamRow>(row, STREAM_COLS, 's') };
}

/** A string parameter PostgreSQL's text type cannot hold. */
export const hasNul = (v: unknown): boolean => typeof v === 'string' && v.includes('\0');

/** SQLSTATE character_not_in_repertoire: what PostgreSQL answers a text value holding U+0000. */
const NOT_IN_REPERTOIRE = '22021';

/**
 * A write's error as the services know it: a unique violation named for the service (which table
 * lost the race), a text holding U+0000 as StorageRefused; anything else as it came.
 */
export function mapWriteError(e: unknown): unknown {
  if (errorCode(e) === NOT_IN_REPERTOIRE) return new StorageRefused('Text fields may not contain the NUL character (\\u0000): PostgreSQL cannot store it');
  if (errorCode(e) !== UNIQUE_VIOLATION) return e;
  const x = e as { table?: string; constraint?: string };
  const where = `${x.table ?? ''} ${x.constraint ?? ''}`;
  if (/\busers|^users_/.test(where)) return new StorageConflict('user');
  if (/\bdevices|^devices_/.test(where)) return new StorageConflict('device');
  if (/\bstreams|^streams_/.test(where)) return new StorageConflict('stream');
  return e;
}

function insertSql(table: string, cols: readonly string[], returning: string): string {
  return `INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING ${returning}`;
}
const USER_INS = USER_COLS.filter((c) => c !== 'id');
const DEVICE_INS = [...DEVICE_COLS.filter((c) => c !== 'id'), 'apikey_hash'];
const STREAM_INS = STREAM_COLS.filter((c) => c !== 'id');
const INSERT_USER = insertSql('users', USER_INS, U);
const INSERT_DEVICE = insertSql('devices', DEVICE_INS, D);
const INSERT_STREAM = insertSql('streams', STREAM_INS, S);
const INSERT_STREAM_IF_NEW = INSERT_STREAM.replace(/ RETURNING .*$/s, ' ON CONFLICT (device_id, name) DO NOTHING RETURNING id');

const userValues = (u: NewUser): unknown[] => USER_INS.map((c) => u[c]);
const deviceValues = (d: NewDevice): unknown[] => DEVICE_INS.map((c) => (c === 'apikey_hash' ? apikeyHash(d.apikey) : d[c as keyof NewDevice]));
const streamValues = (s: NewStream): unknown[] =>
  STREAM_INS.map((c) => (c === 'keep_datapoints' ? (s.keep_datapoints ?? 0) : c === 'keep_seconds' ? (s.keep_seconds ?? 0) : s[c]));

async function update(c: Queryable, table: string, allowed: Set<string>, id: number, fields: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<void> {
  const sets: string[] = [];
  const vals: unknown[] = [id];
  for (const [k, v] of Object.entries({ ...fields, ...extra })) {
    if (v === undefined) continue;
    if (!allowed.has(k)) throw new Error(`${table}: no column ${k}`);
    vals.push(v);
    sets.push(`${k} = $${vals.length}`);
  }
  if (sets.length === 0) return;
  await c.query(`UPDATE ${table} SET ${sets.join(', ')} WHERE id = $1`, vals);
}

/**
 * The meta-log entries of one operation, in its transaction (SqliteStorage.logNow): the user's
 * `meta` device (no entry when it is gone), its `log` stream re-created when missing, then the
 * insert with the entry's rule. Shared with the datapoint engine (deletes of a range log too).
 */
export function logWriter(data: Pick<TxData, 'insertOn'>): (c: pg.PoolClient, entries: LogEntry[], newUserId: number) => Promise<void> {
  return async (c, entries, newUserId) => {
    for (const e of entries) {
      const uid = e.userId === NEW_USER ? newUserId : e.userId;
      const r = await one<{ did: number; sid: number | null }>(
        c,
        `SELECT d.id AS did, s.id AS sid FROM devices d LEFT JOIN streams s ON s.device_id = d.id AND s.name = 'log'
          WHERE d.user_id = $1 AND d.name = 'meta'`,
        [uid],
      );
      if (!r) continue;
      let sid = r.sid;
      if (sid === null) {
        // ON CONFLICT: two writes of one user re-creating the log at once both go on.
        const ins = await one<{ id: number }>(c, INSERT_STREAM_IF_NEW, streamValues({ ...e.logStream, device_id: r.did }));
        sid = ins ? ins.id : (await one<{ id: number }>(c, "SELECT id FROM streams WHERE device_id = $1 AND name = 'log'", [r.did]))!.id;
      }
      await data.insertOn(c, { streamId: sid, deviceId: r.did, sub: MAIN }, e.rule);
    }
  };
}

/**
 * MetaWrites on PostgreSQL. `changed` runs after every write, committed or not (a rolled-back
 * write may have been seen half-done by a cache, as on SQLite).
 */
export function metaWrites(db: PgDb, data: TxData, changed: () => void): MetaWrites {
  const write = async <T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> => {
    try {
      return await db.tx(fn);
    } catch (e) {
      throw mapWriteError(e);
    } finally {
      changed();
    }
  };

  const logNow = logWriter(data);

  const insertTree = async (c: pg.PoolClient, userId: number, tree: NewDeviceTree): Promise<DeviceRow> => {
    const d = (await c.query<DeviceRow>(INSERT_DEVICE, deviceValues({ ...tree.device, user_id: userId }))).rows[0];
    for (const st of tree.streams) await c.query(INSERT_STREAM, streamValues({ ...st, device_id: d.id }));
    return d;
  };

  /** Deletes the streams below a user or device explicitly, for their ids (a cascade names none). */
  const streamsOf = async (c: pg.PoolClient, sql: string, id: number): Promise<number[]> => (await c.query<{ id: number }>(sql, [id])).rows.map((r) => r.id);

  return {
    createUser: (user, devices, log) =>
      write(async (c) => {
        const u = (await c.query<UserRow>(INSERT_USER, userValues(user))).rows[0];
        for (const t of devices) await insertTree(c, u.id, t);
        await logNow(c, log, u.id);
        return u;
      }),
    createDevice: (userId, tree, log) =>
      write(async (c) => {
        const d = await insertTree(c, userId, tree);
        await logNow(c, log, NEW_USER);
        return d;
      }),
    createStream: (stream, log) =>
      write(async (c) => {
        const s = (await c.query<StreamRow>(INSERT_STREAM, streamValues(stream))).rows[0];
        await logNow(c, log, NEW_USER);
        return s;
      }),
    updateUser: (id, fields, log) =>
      write(async (c) => {
        await update(c, 'users', USER_SET, id, fields);
        await logNow(c, log, NEW_USER);
      }),
    updateDevice: (id, fields, log) =>
      write(async (c) => {
        const extra = typeof fields.apikey === 'string' ? { apikey_hash: apikeyHash(fields.apikey) } : {};
        await update(c, 'devices', DEVICE_SET, id, fields, extra);
        await logNow(c, log, NEW_USER);
      }),
    updateStream: (id, fields, clearDownlink, log) =>
      write(async (c) => {
        await update(c, 'streams', STREAM_SET, id, fields);
        if (clearDownlink) await data.dropSubstream(c, id, 1);
        await logNow(c, log, NEW_USER);
      }),
    // Deletes: the rows first (deleting a stream waits for an insert holding its substream's
    // lock), then the data, so rows such an insert committed meanwhile are removed too.
    deleteUser: (id, log) =>
      write(async (c) => {
        const ids = await streamsOf(c, 'DELETE FROM streams s USING devices d WHERE s.device_id = d.id AND d.user_id = $1 RETURNING s.id', id);
        await c.query('DELETE FROM users WHERE id = $1', [id]);
        if (ids.length > 0) await data.dropStreams(c, ids);
        await logNow(c, log, NEW_USER);
      }),
    deleteDevice: (id, log) =>
      write(async (c) => {
        const ids = await streamsOf(c, 'DELETE FROM streams WHERE device_id = $1 RETURNING id', id);
        await c.query('DELETE FROM devices WHERE id = $1', [id]);
        if (ids.length > 0) await data.dropStreams(c, ids);
        await logNow(c, log, NEW_USER);
      }),
    deleteStream: (id, log) =>
      write(async (c) => {
        await c.query('DELETE FROM streams WHERE id = $1', [id]);
        await data.dropStreams(c, [id]);
        await logNow(c, log, NEW_USER);
      }),
    clearSubstream: (streamId, sub, log) =>
      write(async (c) => {
        await data.dropSubstream(c, streamId, sub);
        await logNow(c, log, NEW_USER);
      }),
  };
}
