import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';

/**
 * Refuses to open a ConnectorDB 0.3 SQLite file (its `connectordbmeta` table gives it away): its
 * datapoints are msgpack batches, the newest of them only in Redis, so it cannot be read in place.
 * The way in is the original's `connectordb export` + our `import`.
 */
export function checkNotOriginalDatabase(file: string): void {
  if (!existsSync(file)) return;
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const cols = db.pragma("table_info('connectordbmeta')") as unknown[];
    if (cols.length > 0) {
      throw new Error(
        `${file} is a database of the original ConnectorDB 0.3, which this server cannot open in place. ` +
          'Export it with the original (`connectordb export DBDIR EXPORTDIR`) and import that here ' +
          '(`connectordb import NEWDIR EXPORTDIR`); see README "Migrating from ConnectorDB 0.3".',
      );
    }
  } catch (e) {
    if (e instanceof Error && e.message.includes('ConnectorDB 0.3')) throw e;
    // Anything else (locked, not a database…) is reported by the normal open.
  } finally {
    db?.close();
  }
}
