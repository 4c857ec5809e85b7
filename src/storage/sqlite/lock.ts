import path from 'node:path';
import Database from 'better-sqlite3';

export interface FolderLock {
  file: string;
  release(): void;
}

export class FolderLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly file: string,
  ) {
    super(
      `Another ConnectorDB server is already running on ${dir} (it holds the lock on ${file}).\n` +
        'Stop it first: two servers on one database would each miss the live updates of the other.\n' +
        'Offline commands (export, backup, user ..., dbinfo) can run next to it.',
    );
    this.name = 'FolderLockedError';
  }
}

/**
 * Takes the exclusive server lock of a database: an SQLite file `<database>.lock` held in
 * exclusive locking mode. The lock is an OS-level (fcntl) lock on an open file, so the kernel
 * drops it when the process ends in any way, kill -9 included: it can never be left stale, and
 * no pid file needs checking. Throws FolderLockedError while another process holds it.
 */
export function lockDatabase(databaseFile: string, dir: string = path.dirname(databaseFile)): FolderLock {
  const file = `${databaseFile}.lock`;
  const db = new Database(file, { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    // A write takes the EXCLUSIVE lock; in exclusive locking mode it is kept after the commit.
    db.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS server_lock (note TEXT); COMMIT');
  } catch (e) {
    db.close();
    if ((e as { code?: string }).code === 'SQLITE_BUSY') throw new FolderLockedError(dir, file);
    throw e;
  }
  let released = false;
  return {
    file,
    release() {
      if (released) return;
      released = true;
      db.close();
    },
  };
}
