import type { Config } from '../config';
import { databaseFile } from '../config/load';
import { SqliteStorage } from './sqlite';
import { checkNotOriginalDatabase } from './sqlite/original';

export type { Storage } from './types';
export { SqliteStorage } from './sqlite';

/**
 * Opens the configured engine: the composition root's one place that names an engine (services
 * only see `Storage`). `sql.type` is validated at config load; PostgreSQL comes with issue 12.
 */
export function openStorage(config: Config, opts: { file?: string } = {}): SqliteStorage {
  const file = opts.file ?? databaseFile(config);
  checkNotOriginalDatabase(file);
  return SqliteStorage.open(file, { synchronous: config.sql.synchronous });
}
