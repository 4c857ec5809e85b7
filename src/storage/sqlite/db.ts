import Database from 'better-sqlite3';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type UpgradeProgress, stderrProgress, upgradeDatapoints } from './upgrade';

export type DB = Database.Database;

/** migrations/ sits at the package root (three levels up) both for src/ (tests) and dist/ (built). */
export const MIGRATIONS_DIR = path.join(__dirname, '..', '..', '..', 'migrations');

export interface OpenOptions {
  synchronous?: 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA';
  readonly?: boolean;
  /** Progress of the datapoint upgrade of an older database (default: a line on stderr). */
  upgradeProgress?: UpgradeProgress;
  /** Bytes of the wire-bytes cache of range reads (ChunkedOptions.wireCacheBytes). */
  readCacheBytes?: number;
}

/**
 * Opens the SQLite file with the pragmas the whole server relies on and brings the schema up to
 * date. WAL lets readers run beside the writer; synchronous=NORMAL in WAL mode keeps every
 * committed transaction across a process crash (kill -9) — only an OS crash or power loss can
 * lose the last commits, which `sql.synchronous: "FULL"` closes at the price of an fsync per write.
 */
export function openDatabase(file: string, opts: OpenOptions = {}): DB {
  const db = new Database(file, { readonly: opts.readonly ?? false });
  if (!opts.readonly) {
    // Only possible before the first table exists: lets deletes and retention return space
    // with PRAGMA incremental_vacuum instead of a whole-file VACUUM.
    if ((db.pragma('user_version', { simple: true }) as number) === 0) db.pragma('auto_vacuum = INCREMENTAL');
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${opts.synchronous ?? 'NORMAL'}`);
  }
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // A larger page cache keeps the upper B-tree levels of big streams in memory.
  db.pragma('cache_size = -65536');
  if (!opts.readonly) {
    migrate(db);
    upgradeDatapoints(db, opts.upgradeProgress ?? stderrProgress());
  }
  return db;
}

/** Applies migrations/NNN_*.sql above PRAGMA user_version, all in one transaction. */
export function migrate(db: DB): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  const files = readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d+_.*\.sql$/.test(f))
    .sort();
  const pending = files.filter((f) => parseInt(f, 10) > current);
  if (pending.length === 0) return;
  db.transaction(() => {
    for (const f of pending) {
      db.exec(readFileSync(path.join(MIGRATIONS_DIR, f), 'utf8'));
      db.pragma(`user_version = ${parseInt(f, 10)}`);
    }
  })();
}
