import type {
  DatapointStorage,
  DeviceReads,
  DeviceRow,
  MetaWrites,
  Storage,
  StorageSizes,
  StreamReads,
  StreamRow,
  SyncReads,
  UserReads,
  UserRow,
} from '../types';
import { PgDb } from './db';
import { type TxData, deviceReads, metaWrites, resolveStream, streamReads, userReads } from './meta';
import { migrate } from './migrate';
import { MetaListener } from './notify';

export { PgDb } from './db';

export interface PgOpenOptions {
  /** A `postgres://` URL; `?options=-c%20search_path%3D<schema>` selects a schema. */
  uri: string;
  /** Connections in the pool (sql.pool). */
  pool: number;
  /** Name in pg_stat_activity. */
  applicationName?: string;
  /** A synchronous reader for the query pipeline (storage/types.ts SyncReads), built on the pool. */
  sync?: SyncReads | ((db: PgDb) => SyncReads);
}

/**
 * The PostgreSQL engine (issue 12): metadata in meta.ts, datapoints in data.ts, cross-process
 * change notices in notify.ts, all on one PgDb pool. Several server processes may open the same
 * database (schema) at once: migrations run once under an advisory lock, and every write is one
 * transaction that PostgreSQL serialises where it must (the substream row lock of inserts).
 */
export class PgStorage implements Storage {
  readonly kind = 'postgres' as const;
  readonly users: UserReads;
  readonly devices: DeviceReads;
  readonly streams: StreamReads;
  readonly meta: MetaWrites;
  readonly data: DatapointStorage;
  readonly sync?: SyncReads;

  private readonly listeners: (() => void)[] = [];
  private readonly listener: MetaListener;

  private constructor(
    readonly db: PgDb,
    data: { storage: DatapointStorage; tx: TxData },
    opts: PgOpenOptions,
  ) {
    const changed = () => this.changed();
    this.users = userReads(db);
    this.devices = deviceReads(db);
    this.streams = streamReads(db);
    this.data = data.storage;
    this.meta = metaWrites(db, data.tx, changed);
    this.listener = new MetaListener(opts.uri, changed, `${opts.applicationName ?? 'connectordb'}-listen`);
    if (opts.sync) this.sync = typeof opts.sync === 'function' ? opts.sync(db) : opts.sync;
  }

  /** Connects, applies the migrations, starts listening for other processes' changes. */
  static async open(opts: PgOpenOptions): Promise<PgStorage> {
    const db = new PgDb({ uri: opts.uri, max: opts.pool, applicationName: opts.applicationName });
    let st: PgStorage | undefined;
    try {
      await migrate(db);
      st = new PgStorage(db, pendingData(), opts);
      await st.listener.start();
      return st;
    } catch (e) {
      await st?.listener.close();
      await db.close().catch(() => {});
      throw e;
    }
  }

  resolveStream(user: string, device: string, stream: string): Promise<{ user?: UserRow; device?: DeviceRow; stream?: StreamRow }> {
    return resolveStream(this.db, user, device, stream);
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  /** Notices are pushed; only while the listening connection is down is every poll a change. */
  pollChanges(): void {
    if (this.listener.down) this.changed();
  }

  async ping(): Promise<void> {
    await this.db.query('SELECT id FROM users LIMIT 1');
  }

  async sizes(): Promise<StorageSizes> {
    const r = await this.db.query<{ bytes: number; datapoints: number }>(
      `SELECT (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm', 'p')) AS bytes,
              (SELECT coalesce(sum(length), 0)::bigint FROM substreams) AS datapoints`,
    );
    return { databaseBytes: r.rows[0].bytes, datapoints: r.rows[0].datapoints };
  }

  async exclusive<T>(mode: 'read' | 'write', fn: () => Promise<T>): Promise<T> {
    try {
      return await this.db.exclusive(mode, fn);
    } catch (e) {
      // Caches may have seen writes that were rolled back.
      this.changed();
      throw e;
    } finally {
      if (mode === 'write') this.changed();
    }
  }

  /** Test hook: the listening connection's backend pid (to cut it with pg_terminate_backend). */
  listenerPid(): Promise<number | undefined> {
    return this.listener.backendPid();
  }

  async close(): Promise<void> {
    await this.listener.close();
    await this.db.close();
  }
}

/** Until data.ts (pg-data) is merged: the datapoint engine refuses every call. */
function pendingData(): { storage: DatapointStorage; tx: TxData } {
  const no = (): never => {
    throw new Error('PostgreSQL datapoint storage is not built yet');
  };
  const rej = () => Promise.reject(new Error('PostgreSQL datapoint storage is not built yet'));
  return {
    storage: {
      length: rej,
      time2index: rej,
      insertDatapoints: rej,
      readBatches: no,
      deleteRange: rej,
      sweepRetention: rej,
      storageStats: rej,
    },
    tx: { insertOn: rej, dropStreams: () => Promise.resolve(), dropSubstream: () => Promise.resolve() },
  };
}
