import type { Config } from '../config';
import { databaseFile, isPostgres, isPostgresUri, postgresUri, redactUri } from '../config/load';
import { SqliteStorage } from './sqlite';
import { DamagedDatabaseError, checkDatabaseFile, storageFailureKind } from './integrity';
import { PgStorage } from './postgres';
import { lockDatabase } from './sqlite/lock';
import { checkNotOriginalDatabase } from './sqlite/original';
import type { Storage, SyncReads } from './types';
import type { PgDb } from './postgres/db';

export type { Storage } from './types';
export { SqliteStorage } from './sqlite';
export { PgStorage } from './postgres';

export interface OpenStorageOptions {
  /** SQLite: the file (default: from the config). */
  file?: string;
  /** SQLite: the server's exclusive hold on the database folder, released by close(). */
  lock?: boolean;
  /** SQLite: PRAGMA quick_check before serving, reporting how long it took. */
  check?: (ms: number) => void;
  /** PostgreSQL: the synchronous reader of the query pipeline (storage/types.ts SyncReads). */
  pgSync?: SyncReads | ((db: PgDb) => SyncReads);
  /** PostgreSQL: the name in pg_stat_activity. */
  applicationName?: string;
}

/** The database could not be opened: one line naming the setting, for the operator. */
export class StorageOpenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StorageOpenError';
  }
}

/**
 * Opens the configured engine: the composition root's one place that names an engine (services
 * only see `Storage`). `sql.type` is validated at config load. The folder lock and quick_check are
 * SQLite's; on PostgreSQL several processes share the database by design.
 */
export async function openStorage(config: Config, opts: OpenStorageOptions = {}): Promise<Storage> {
  if (isPostgres(config)) return openPostgres(config, opts);
  return openSqlite(config, opts);
}

async function openPostgres(config: Config, opts: OpenStorageOptions): Promise<PgStorage> {
  const uri = postgresUri(config);
  const setting = isPostgresUri(config.sql.uri) ? 'sql.uri' : 'sql.hostname/sql.port/sql.username/sql.password/sql.database';
  try {
    return await PgStorage.open({ uri, pool: config.sql.pool, sync: opts.pgSync, applicationName: opts.applicationName });
  } catch (e) {
    throw new StorageOpenError(`Cannot open the PostgreSQL database ${redactUri(uri)} (${setting}): ${pgMessage(e)}`);
  }
}

/** node-postgres and net errors in one line (a refused dual-stack connect is an AggregateError without a message). */
function pgMessage(e: unknown): string {
  if (e instanceof AggregateError && e.errors.length > 0) return pgMessage(e.errors[0]);
  if (e instanceof Error) {
    const code = (e as { code?: string }).code;
    const m = e.message.split('\n')[0] || code || e.name;
    return code && !m.includes(code) && !/^\d/.test(code) ? `${m} (${code})` : m;
  }
  return String(e);
}

function openSqlite(config: Config, opts: OpenStorageOptions): SqliteStorage {
  const file = opts.file ?? databaseFile(config);
  checkNotOriginalDatabase(file);
  const lock = opts.lock ? lockDatabase(file, config.dir) : undefined;
  let storage: SqliteStorage;
  try {
    storage = SqliteStorage.open(file, {
      synchronous: config.sql.synchronous,
      readCacheBytes: Math.round(config.sql.read_cache_mb * 1024 * 1024),
      onClose: lock && (() => lock.release()) });
  } catch (e) {
    lock?.release();
    if (storageFailureKind(e) === 'damaged') throw new DamagedDatabaseError(file, [e instanceof Error ? e.message : String(e)]);
    throw e;
  }
  if (opts.check) {
    try {
      opts.check(checkDatabaseFile(storage.db, file));
    } catch (e) {
      storage.db.close();
      lock?.release();
      throw e;
    }
  }
  return storage;
}
