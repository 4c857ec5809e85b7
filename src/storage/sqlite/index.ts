import type { Statement } from 'better-sqlite3';
import { StorageConflict } from '../errors';
import {
  type DatapointStorage,
  type DeviceRow,
  type InsertRule,
  type InsertTarget,
  type LogEntry,
  MAIN,
  type MetaWrites,
  type Retention,
  NEW_USER,
  type NewDevice,
  type NewDeviceTree,
  type NewStream,
  type NewUser,
  type Storage,
  type StreamRow,
  type StorageSizes,
  type StreamStorageStats,
  type Sub,
  type SyncReads,
  type UserRow,
} from '../types';
import type { ByteSink } from '../chunks';
import { DatapointStore } from './datapoints';
import { type DB, type OpenOptions, openDatabase } from './db';
import { DeviceStore } from './devices';
import { StorageStats } from './stats';
import { StreamStore } from './streams';
import { UserStore } from './users';

export { type DB, type OpenOptions, openDatabase } from './db';

const nowSeconds = (): number => (performance.timeOrigin + performance.now()) / 1000;

interface Pending {
  run: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

const done = <T>(v: T): Promise<T> => Promise.resolve(v);

/**
 * The SQLite engine: one better-sqlite3 connection (WAL), the stores under this folder, and a
 * write queue that gives concurrent writes group commit.
 *
 * Every write (datapoints and metadata alike) is queued and run at the next `setImmediate`: all
 * writes that arrived while the previous commit was running share one transaction, each inside
 * its own SAVEPOINT (better-sqlite3's nested `transaction`), so a refused write rolls back only
 * itself. The promises settle after COMMIT. One queue for all writes keeps them in arrival order
 * (an insert queued before a stream's delete is applied before it). A single queued write runs as
 * a plain transaction, so an idle server pays no savepoint.
 */
export class SqliteStorage implements Storage {
  readonly kind = 'sqlite' as const;
  readonly users: UserStorage;
  readonly devices: DeviceStorage;
  readonly streams: StreamStorage;
  readonly meta: MetaWrites;
  readonly data: DatapointStorage;
  readonly sync: SyncReads;

  private readonly u: UserStore;
  private readonly d: DeviceStore;
  private readonly s: StreamStore;
  private readonly dp: DatapointStore;
  private readonly listeners: (() => void)[] = [];
  private queue: Pending[] = [];
  private scheduled = false;
  private exclusiveDepth = 0;
  private dataVersion = -1;
  private checkedAt = -Infinity;
  private readonly dataVersionStmt: Statement<[], number>;

  constructor(
    readonly db: DB,
    opts: { readCacheBytes?: number } = {},
  ) {
    const changed = () => this.changed();
    this.u = new UserStore(db, changed);
    this.d = new DeviceStore(db, changed);
    this.s = new StreamStore(db, changed);
    this.dp = new DatapointStore(db, { wireCacheBytes: opts.readCacheBytes });
    // Rollbacks and other connections' writes reach the decoded chunks through the change signal.
    this.listeners.push(() => this.dp.forget());
    // Prepared once: db.pragma() would compile the statement on every call of the hot path.
    this.dataVersionStmt = db.prepare<[], number>('PRAGMA data_version').pluck(true);
    // Two steps so no row ever lands on a key that is still taken.

    const { u, d, s, dp } = this;
    this.users = {
      get: (name) => done(u.get(name)),
      getById: (id) => done(u.getById(id)),
      findLogin: (x) => done(u.findLogin(x)),
      nameTaken: (name) => done(u.nameTaken(name)),
      emailTakenBy: (email) => done(u.emailTakenBy(email)),
      list: () => done(u.list()),
      count: () => done(u.count()),
    };
    this.devices = {
      get: (userId, name) => done(d.get(userId, name)),
      getById: (id) => done(d.getById(id)),
      getByApikey: (key) => done(d.getByApikey(key)),
      listForUser: (userId) => done(d.listForUser(userId)),
      count: () => done(d.count()),
      countForUser: (userId) => done(d.countForUser(userId)),
      countPrivateForUser: (userId) => done(d.countPrivateForUser(userId)),
    };
    this.streams = {
      get: (deviceId, name) => done(s.get(deviceId, name)),
      getById: (id) => done(s.getById(id)),
      listForDevice: (deviceId) => done(s.listForDevice(deviceId)),
      listForUser: (userId) => done(s.listForUser(userId)),
      count: () => done(s.count()),
      countForDevice: (deviceId) => done(s.countForDevice(deviceId)),
    };
    this.sync = {
      resolveStream: (user, device, stream) => this.resolveSync(user, device, stream),
      length: (id, sub) => dp.length(id, sub),
      time2index: (id, sub, t, n) => dp.time2index(id, sub, t, n),
      read: (id, sub, i1, i2) => dp.read(id, sub, i1, i2),
      pieces: (id, sub, i1, i2) => dp.pieces(id, sub, i1, i2),
    };
    this.meta = this.metaImpl;
    this.data = this.dataImpl;
  }

  /** Opens (and migrates) a database file. */
  static open(file: string, opts: OpenOptions & { onClose?: () => void } = {}): SqliteStorage {
    const st = new SqliteStorage(openDatabase(file, opts), opts);
    st.onClose = opts.onClose;
    return st;
  }

  /** Runs after the database is closed (the server's folder lock is released there). */
  private onClose: (() => void) | undefined;

  private resolveSync(user: string, device: string, stream: string): { user?: UserRow; device?: DeviceRow; stream?: StreamRow } {
    const u = this.u.get(user);
    if (!u) return {};
    const d = this.d.get(u.id, device);
    if (!d) return { user: u };
    return { user: u, device: d, stream: this.s.get(d.id, stream) };
  }

  resolveStream(user: string, device: string, stream: string): Promise<{ user?: UserRow; device?: DeviceRow; stream?: StreamRow }> {
    return done(this.resolveSync(user, device, stream));
  }

  /** The wire-bytes cache of range reads now (SQLite only: tests, diagnostics). */
  readCacheStats(): { chunks: number; bytes: number; maxBytes: number; hits: number; misses: number } {
    const c = this.dp.wireCache;
    return { chunks: c.size, bytes: c.bytes, maxBytes: c.maxBytes, hits: c.hits, misses: c.misses };
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  private stats: StorageStats | undefined;

  ping(): Promise<void> {
    try {
      (this.stats ??= new StorageStats(this.db)).ping();
      return done(undefined);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  sizes(): Promise<StorageSizes> {
    return done((this.stats ??= new StorageStats(this.db)).sizes());
  }

  pollChanges(): void {
    // Every statement outside a transaction takes a WAL read lock; asking at most once a
    // millisecond keeps that off the per-request path while staying effectively immediate.
    const now = performance.now();
    if (now - this.checkedAt < 1) return;
    this.checkedAt = now;
    const v = this.dataVersionStmt.get()!;
    if (v !== this.dataVersion) {
      this.dataVersion = v;
      this.changed();
    }
  }

  async exclusive<T>(mode: 'read' | 'write', fn: () => Promise<T>): Promise<T> {
    // Queued writes go first, so the exclusive work sees them.
    while (this.queue.length > 0 || this.scheduled) await new Promise((r) => setImmediate(r));
    this.db.exec(mode === 'write' ? 'BEGIN IMMEDIATE' : 'BEGIN');
    this.exclusiveDepth++;
    try {
      const r = await fn();
      this.db.exec('COMMIT');
      return r;
    } catch (e) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      this.changed();
      throw e;
    } finally {
      this.exclusiveDepth--;
    }
  }

  /**
   * Waits for queued writes, then closes. `checkpoint` folds the WAL into the database file first
   * (graceful shutdown); a failed checkpoint is only reported: the WAL is replayed at the next open.
   */
  async close(opts: { checkpoint?: boolean; onCheckpointError?: (e: unknown) => void } = {}): Promise<void> {
    while (this.queue.length > 0 || this.scheduled) await new Promise((r) => setImmediate(r));
    if (opts.checkpoint) {
      try {
        this.db.pragma('wal_checkpoint(TRUNCATE)');
      } catch (e) {
        opts.onCheckpointError?.(e);
      }
    }
    this.db.close();
    this.onClose?.();
  }

  /** Queues a synchronous write for the next group commit (or runs it now inside `exclusive`). */
  private write<T>(run: () => T): Promise<T> {
    if (this.exclusiveDepth > 0) {
      try {
        return done(this.db.transaction(run)());
      } catch (e) {
        return Promise.reject(mapConflict(e));
      }
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flush);
      }
    });
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 1) {
      const p = batch[0];
      let r: unknown;
      try {
        r = this.db.transaction(p.run)();
      } catch (e) {
        // A rolled-back write may have been seen by a cache: forget everything.
        this.changed();
        p.reject(mapConflict(e));
        return;
      }
      p.resolve(r);
      return;
    }
    const results: unknown[] = new Array(batch.length);
    const errors: unknown[] = new Array(batch.length);
    const failed: boolean[] = new Array(batch.length).fill(false);
    try {
      this.db.transaction(() => {
        for (let i = 0; i < batch.length; i++) {
          try {
            // Nested: a SAVEPOINT, released on success, rolled back to on a throw.
            results[i] = this.db.transaction(batch[i].run)();
          } catch (e) {
            failed[i] = true;
            errors[i] = mapConflict(e);
          }
        }
      })();
    } catch (e) {
      // The COMMIT itself failed (disk full, I/O error): nothing of the group was written.
      this.changed();
      for (const p of batch) p.reject(e);
      return;
    }
    if (failed.includes(true)) this.changed();
    for (let i = 0; i < batch.length; i++) {
      if (failed[i]) batch[i].reject(errors[i]);
      else batch[i].resolve(results[i]);
    }
  };

  /** Inside a transaction: one batch through its rule, the quotas, then appended. */
  private insertNow(target: InsertTarget, rule: InsertRule): number {
    const info = this.dp.substream(target.streamId, target.sub);
    const b = rule.prepare(info);
    if (b.points.length === 0) return -1;
    if (rule.maxStreamBytes > 0 && info.bytes + b.bytes > rule.maxStreamBytes) throw rule.quotaError('stream');
    if (rule.maxDeviceBytes > 0 && this.dp.deviceBytesUsed(target.deviceId) + b.bytes > rule.maxDeviceBytes) throw rule.quotaError('device');
    this.dp.append(target.streamId, target.sub, info, b.points, b.bytes);
    const keep = target.keep;
    if (keep && (keep.datapoints > 0 || keep.seconds > 0)) {
      // Whole sealed chunks only: cheap, and never what this insert just wrote to the tail.
      const n = info.length + b.points.length;
      const drop = this.dp.droppableChunks(target.streamId, target.sub, keep.datapoints > 0 ? n - keep.datapoints : -1, keep.seconds > 0 ? nowSeconds() - keep.seconds : -Infinity);
      if (drop > 0) this.dp.deleteRange(target.streamId, target.sub, 0, drop);
    }
    return info.length;
  }

  /** Inside a transaction: the meta-log entries of one operation. */
  private logNow(entries: LogEntry[], newUserId: number): void {
    for (const e of entries) {
      const uid = e.userId === NEW_USER ? newUserId : e.userId;
      const meta = this.d.get(uid, 'meta');
      if (!meta) continue;
      let log = this.s.get(meta.id, 'log');
      if (!log) log = this.s.getById(this.s.insert({ ...e.logStream, device_id: meta.id }))!;
      this.insertNow({ streamId: log.id, deviceId: meta.id, sub: MAIN }, e.rule);
    }
  }

  private insertTree(userId: number, tree: NewDeviceTree): DeviceRow {
    const id = this.d.insert({ ...tree.device, user_id: userId });
    for (const st of tree.streams) this.s.insert({ ...st, device_id: id });
    return this.d.getById(id)!;
  }

  private readonly metaImpl = {
    createUser: (user: NewUser, devices: NewDeviceTree[], log: LogEntry[]): Promise<UserRow> =>
      this.write(() => {
        const id = this.u.insert(user);
        for (const t of devices) this.insertTree(id, t);
        this.logNow(log, id);
        return this.u.getById(id)!;
      }),
    createDevice: (userId: number, tree: NewDeviceTree, log: LogEntry[]): Promise<DeviceRow> =>
      this.write(() => {
        const d = this.insertTree(userId, tree);
        this.logNow(log, NEW_USER);
        return d;
      }),
    createStream: (stream: NewStream, log: LogEntry[]): Promise<StreamRow> =>
      this.write(() => {
        const id = this.s.insert(stream);
        this.logNow(log, NEW_USER);
        return this.s.getById(id)!;
      }),
    updateUser: (id: number, fields: Partial<NewUser>, log: LogEntry[]): Promise<void> =>
      this.write(() => {
        this.u.update(id, fields);
        this.logNow(log, NEW_USER);
      }),
    updateDevice: (id: number, fields: Partial<NewDevice>, log: LogEntry[]): Promise<void> =>
      this.write(() => {
        this.d.update(id, fields);
        this.logNow(log, NEW_USER);
      }),
    updateStream: (id: number, fields: Partial<NewStream>, clearDownlink: boolean, log: LogEntry[]): Promise<void> =>
      this.write(() => {
        this.s.update(id, fields);
        if (clearDownlink) this.dp.deleteSubstream(id, 1);
        this.logNow(log, NEW_USER);
      }),
    deleteUser: (id: number, log: LogEntry[]): Promise<void> =>
      this.write(() => {
        this.dp.deleteUser(id);
        this.u.delete(id);
        this.logNow(log, NEW_USER);
      }),
    deleteDevice: (id: number, log: LogEntry[]): Promise<void> =>
      this.write(() => {
        this.dp.deleteDevice(id);
        this.d.delete(id);
        this.logNow(log, NEW_USER);
      }),
    deleteStream: (id: number, log: LogEntry[]): Promise<void> =>
      this.write(() => {
        this.dp.deleteStream(id);
        this.s.delete(id);
        this.logNow(log, NEW_USER);
      }),
    clearSubstream: (streamId: number, sub: Sub, log: LogEntry[]): Promise<void> =>
      this.write(() => {
        this.dp.deleteSubstream(streamId, sub);
        this.logNow(log, NEW_USER);
      }),
  };

  private readonly dataImpl = {
    length: (streamId: number, sub: Sub): Promise<number> => done(this.dp.length(streamId, sub)),
    time2index: (streamId: number, sub: Sub, t: number): Promise<number> => done(this.dp.time2index(streamId, sub, t)),
    insertDatapoints: (target: InsertTarget, rule: InsertRule): Promise<number> => this.write(() => this.insertNow(target, rule)),
    readBatches: (streamId: number, sub: Sub, i1: number, i2: number): AsyncIterableIterator<string[]> => {
      const dp = this.dp;
      // One sealed chunk per batch; a few chunks per statement, none open across awaits.
      return (async function* () {
        for (const pc of dp.pieces(streamId, sub, i1, i2)) yield pc.chunk.wires(pc.from, pc.to);
      })();
    },
    readJoined: (streamId: number, sub: Sub, i1: number, i2: number): AsyncIterableIterator<string> => {
      const dp = this.dp;
      return (async function* () {
        for (const pc of dp.pieces(streamId, sub, i1, i2)) yield pc.chunk.joined(pc.from, pc.to);
      })();
    },
    readJoinedInto: (streamId: number, sub: Sub, i1: number, i2: number, sink: ByteSink): AsyncIterableIterator<void> => {
      const dp = this.dp;
      return (async function* () {
        for (const _ of dp.writeJoined(streamId, sub, i1, i2, sink)) yield;
      })();
    },
    deleteRange: (streamId: number, sub: Sub, i1: number, i2: number, log: LogEntry[] = []): Promise<number> =>
      this.write(() => {
        const k = this.dp.deleteRange(streamId, sub, i1, i2);
        this.logNow(log, NEW_USER);
        return k;
      }),
    sweepRetention: async (defaults: Retention, now: number): Promise<number> => {
      const all = defaults.datapoints > 0 || defaults.seconds > 0;
      let removed = 0;
      for (const r of this.dp.substreamsWithRetention(all)) {
        removed += await this.write(() => {
          const st = this.s.getById(r.stream_id);
          if (!st) return 0;
          const own = !!(st.keep_datapoints || st.keep_seconds);
          const keepN = own ? (st.keep_datapoints ?? 0) : defaults.datapoints;
          const keepD = own ? (st.keep_seconds ?? 0) : defaults.seconds;
          const n = this.dp.length(r.stream_id, r.sub);
          let k = keepN > 0 ? n - keepN : 0;
          if (keepD > 0) k = Math.max(k, this.dp.time2index(r.stream_id, r.sub, now - keepD));
          return k > 0 ? this.dp.deleteRange(r.stream_id, r.sub, 0, k) : 0;
        });
      }
      if (removed > 0) await this.write(() => this.dp.vacuumSome());
      return removed;
    },
    storageStats: (streamIds?: number[]): Promise<StreamStorageStats[]> => {
      const want = streamIds ? new Set(streamIds) : undefined;
      const out: StreamStorageStats[] = [];
      for (const r of this.dp.substreamStats()) {
        if (want && !want.has(r.streamId)) continue;
        out.push(r);
      }
      return done(out);
    },
  };
}

type UserStorage = Storage['users'];
type DeviceStorage = Storage['devices'];
type StreamStorage = Storage['streams'];

/** SQLite's unique-index violations, named for the service. */
function mapConflict(e: unknown): unknown {
  if (e && typeof e === 'object' && (e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
    const msg = (e as Error).message;
    if (msg.includes('users.')) return new StorageConflict('user');
    if (msg.includes('devices.')) return new StorageConflict('device');
    if (msg.includes('streams.')) return new StorageConflict('stream');
  }
  return e;
}
