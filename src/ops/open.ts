import { existsSync } from 'node:fs';
import { type Config } from '../config';
import { type LoadOptions, databaseFile, isPostgres, readConfig } from '../config/load';
import { loadPermissions } from '../config/permissions';
import { type Services, buildServices } from '../domain';
import { type Storage, SqliteStorage, openStorage } from '../storage';

export interface OpenedDatabase {
  config: Config;
  storage: Storage;
  /** The same storage when it is SQLite (backup and other file-level commands), else undefined. */
  sqlite: SqliteStorage | undefined;
  svc: Services;
  warnings: string[];
  close(): Promise<void>;
}

/**
 * Opens a database folder for an offline command (export, import, admin, backup) the way the
 * server does: validated config, the configured permissions, migrations applied. Safe while the
 * server runs on the same folder (SQLite WAL; writers wait up to 5 s for each other) or database
 * (PostgreSQL).
 */
export async function openFolder(target: string, opts: LoadOptions & { mustExist?: boolean } = {}): Promise<OpenedDatabase> {
  const { config, warnings } = readConfig(target, opts);
  const pg = isPostgres(config);
  const file = pg ? undefined : databaseFile(config);
  if (file !== undefined && opts.mustExist !== false && !existsSync(file)) {
    throw new Error(`No database at ${file}: create one first (connectordb create DIR) or check the path`);
  }
  const permissions = loadPermissions(config);
  const storage = await openStorage(config, { file });
  const svc = buildServices(storage, config, permissions);
  const sqlite = storage instanceof SqliteStorage ? storage : undefined;
  return { config, storage, sqlite, svc, warnings, close: () => storage.close() };
}
