import type { DB } from './sqlite/db';

/** Lines of quick_check's findings quoted in the refusal (it can report thousands). */
const QUOTED = 5;

/**
 * A file damaged in the middle used to be served as if healthy: reads cut off part way through an
 * answer, writes accepted into a broken B-tree. `PRAGMA quick_check` reads every page once (about
 * 9 s for a 1 GB file on a loaded 2-core machine) and checks each B-tree's
 * structure, without the index cross-checks of `integrity_check`. Throws a message naming the file
 * and the way out; returns how long the check took in milliseconds.
 */
export function checkDatabaseFile(db: DB, file: string): number {
  const t0 = performance.now();
  let findings: string[];
  try {
    findings = (db.pragma('quick_check') as { quick_check: string }[]).map((r) => r.quick_check);
  } catch (e) {
    findings = [e instanceof Error ? e.message : String(e)];
  }
  if (findings.length === 1 && findings[0] === 'ok') return performance.now() - t0;
  throw new DamagedDatabaseError(file, findings);
}

export class DamagedDatabaseError extends Error {
  constructor(
    readonly file: string,
    readonly findings: string[],
  ) {
    const quoted = findings.slice(0, QUOTED).join('; ') + (findings.length > QUOTED ? `; … (${findings.length} problems in all)` : '');
    super(
      `The database file ${file} is damaged (PRAGMA quick_check: ${quoted}). The server was not started, so nothing more is written into it. ` +
        `Restore the last good copy made with "connectordb backup": stop every server on this folder, move the damaged file aside, ` +
        `copy the backup to ${file}, delete ${file}-wal and ${file}-shm, and start again (README, "Backup"). ` +
        `Without a backup, sqlite3's ".recover" command may save part of the data into a new file.`,
    );
    this.name = 'DamagedDatabaseError';
  }
}

/** SQLite's result codes for a write that found no room, and for a damaged file met at run time. */
export function storageFailureKind(e: unknown): 'full' | 'damaged' | null {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return null;
  // SQLite reports a real ENOSPC as SQLITE_FULL too.
  if (code === 'SQLITE_FULL') return 'full';
  if (code === 'SQLITE_CORRUPT' || code.startsWith('SQLITE_CORRUPT_') || code === 'SQLITE_NOTADB') return 'damaged';
  return null;
}
