import { existsSync } from 'node:fs';
import { type Config } from '../config';
import { type LoadOptions, databaseFile, readConfig } from '../config/load';
import { loadPermissions } from '../config/permissions';
import { type Services, buildServices } from '../domain';
import { type SqliteStorage, openStorage } from '../storage';

export interface OpenedDatabase {
  config: Config;
  storage: SqliteStorage;
  svc: Services;
  warnings: string[];
  close(): Promise<void>;
}

/**
 * Opens a database folder for an offline command (export, import, admin, backup) the way the
 * server does: validated config, the configured permissions, migrations applied. Safe while the
 * server runs on the same folder (SQLite WAL; writers wait up to 5 s for each other).
 */
export function openFolder(target: string, opts: LoadOptions & { mustExist?: boolean } = {}): OpenedDatabase {
  const { config, warnings } = readConfig(target, opts);
  const file = databaseFile(config);
  if (opts.mustExist !== false && !existsSync(file)) {
    throw new Error(`No database at ${file}: create one first (connectordb create DIR) or check the path`);
  }
  const permissions = loadPermissions(config);
  const storage = openStorage(config, { file });
  const svc = buildServices(storage, config, permissions);
  return { config, storage, svc, warnings, close: () => storage.close() };
}
