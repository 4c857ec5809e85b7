import {
  type DatapointStorage,
  type DeviceReads,
  type DeviceRow,
  type MetaWrites,
  type Storage,
  type StorageSizes,
  type StreamReads,
  type StreamRow,
  type SyncReads,
  type UserReads,
  type UserRow,
  NEW_USER,
} from '../types';
import pg from 'pg';
import { PgDb } from './db';
import { PgDatapoints, dropStreamsData, dropSubstreamData, insertOn } from './data';
import { type TxData, deviceReads, logWriter, metaWrites, resolveStream, streamReads, userReads } from './meta';
import { migrate } from './migrate';
import { MetaListener } from './notify';
import { openPgSyncReads } from './sync';

export { PgDb } from './db';

export interface PgOpenOptions {
  /** A `postgres://` URL; `?options=-c%20search_path%3D<schema>` selects a schema. */
  uri: string;
  /** Connections in the pool (sql.pool). */
  pool: number;
  /** Name in pg_stat_activity. */
  applicationName?: string;
  /** How long the first connection may take before open() gives up (default 10 s). */
  connectTimeoutMs?: number;
  /** Insert groups committing at once, each on its own pooled client (default: PgDatapoints decides). */
  writers?: number;
  /**
   * A synchronous reader for the query pipeline (storage/types.ts SyncReads); by default
   * sync.ts's, over a worker thread with its own connection. close() closes it when it can.
   */
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
    opts: PgOpenOptions,
  ) {
    const changed = () => this.changed();
    this.users = userReads(db);
    this.devices = deviceReads(db);
    this.streams = streamReads(db);
    const tx: TxData = { insertOn, dropStreams: dropStreamsData, dropSubstream: dropSubstreamData };
    const log = logWriter(tx);
    this.data = new PgDatapoints(db, { log: (c, entries) => log(c, entries, NEW_USER), writers: opts.writers });
    this.meta = metaWrites(db, tx, changed);
    this.listener = new MetaListener(opts.uri, changed, `${opts.applicationName ?? 'connectordb'}-listen`);
    this.sync = !opts.sync ? openPgSyncReads({ uri: opts.uri, applicationName: opts.applicationName }) : typeof opts.sync === 'function' ? opts.sync(db) : opts.sync;
  }

  /** Connects, applies the migrations, starts listening for other processes' changes. */
  static async open(opts: PgOpenOptions): Promise<PgStorage> {
    await probe(opts.uri, opts.connectTimeoutMs ?? 10_000);
    const db = new PgDb({ uri: opts.uri, max: opts.pool, applicationName: opts.applicationName });
    let st: PgStorage | undefined;
    try {
      await migrate(db);
      st = new PgStorage(db, opts);
      await st.listener.start();
      return st;
    } catch (e) {
      await st?.listener.close();
      await st?.closeSync();
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
    await this.closeSync();
    await this.db.close();
  }

  private async closeSync(): Promise<void> {
    await (this.sync as { close?: () => Promise<void> } | undefined)?.close?.();
  }
}

/**
 * One connection with a timeout before the pool is made: the pool waits forever for a server that
 * drops packets, and an operator starting a server wants the reason at once.
 */
async function probe(uri: string, timeoutMs: number): Promise<void> {
  const c = new pg.Client({ connectionString: uri, connectionTimeoutMillis: timeoutMs });
  c.on('error', () => {});
  try {
    await c.connect();
  } finally {
    await c.end().catch(() => {});
  }
}
