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

/** Socket errors of a database server that is down or out of reach (PostgreSQL). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND']);
/** node-postgres's own errors for a connection that went away or could not be had, which carry no code. */
const UNREACHABLE_MESSAGE = /^(Connection terminated|timeout exceeded when trying to connect|timeout expired|Client has encountered a connection error)/;

/**
 * A storage failure the answer should name: a write that found no room (SQLite's code, which it
 * also reports for a real ENOSPC; PostgreSQL's disk_full), a damaged SQLite file met at run time,
 * or a PostgreSQL server that is down, restarting, out of connections or out of reach.
 */
export function storageFailureKind(e: unknown): 'full' | 'damaged' | 'unavailable' | null {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') {
    return e instanceof Error && UNREACHABLE_MESSAGE.test(e.message) ? 'unavailable' : null;
  }
  if (code === 'SQLITE_FULL' || code === '53100') return 'full';
  if (code === 'SQLITE_CORRUPT' || code.startsWith('SQLITE_CORRUPT_') || code === 'SQLITE_NOTADB') return 'damaged';
  // SQLSTATE class 08 (connection exception), 57P01-03 (shut down, crashed, starting) and 53300
  // (too many connections).
  if (UNREACHABLE.has(code) || /^08[0-9A-Z]{3}$/.test(code) || /^57P0[123]$/.test(code) || code === '53300') return 'unavailable';
  return null;
}
