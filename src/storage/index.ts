import type { Config } from '../config';
import { databaseFile } from '../config/load';
import { SqliteStorage } from './sqlite';
import { DamagedDatabaseError, checkDatabaseFile, storageFailureKind } from './integrity';
import { lockDatabase } from './sqlite/lock';
import { checkNotOriginalDatabase } from './sqlite/original';

export type { Storage } from './types';
export { SqliteStorage } from './sqlite';

/**
 * Opens the configured engine: the composition root's one place that names an engine (services
 * only see `Storage`). `sql.type` is validated at config load; PostgreSQL comes with issue 12.
 */
export function openStorage(config: Config, opts: { file?: string; lock?: boolean; check?: (ms: number) => void } = {}): SqliteStorage {
  const file = opts.file ?? databaseFile(config);
  checkNotOriginalDatabase(file);
  // `lock`: the server's exclusive hold on the database, released by close() (and by the OS on any exit).
  const lock = opts.lock ? lockDatabase(file, config.dir) : undefined;
  let storage: SqliteStorage;
  try {
    storage = SqliteStorage.open(file, { synchronous: config.sql.synchronous, onClose: lock && (() => lock.release()) });
  } catch (e) {
    lock?.release();
    if (storageFailureKind(e) === 'damaged') throw new DamagedDatabaseError(file, [e instanceof Error ? e.message : String(e)]);
    throw e;
  }
  if (opts.check) {
    // `check`: refuse a damaged file before serving it (PRAGMA quick_check), reporting how long it took.
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
