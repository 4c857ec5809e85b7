import { existsSync, renameSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { DB } from './db';
import { type ProgressSink, silentProgress } from '../../ops/progress';

const PAGES_PER_STEP = 4096;

/**
 * `connectordb backup DIR FILE`: a consistent copy of the live database through SQLite's online
 * backup API, safe while the server runs. The copy is written next to FILE and renamed into place
 * once complete and checked, so FILE is never a half-written database.
 */
export async function backupDatabase(db: DB, file: string, progress: ProgressSink = silentProgress): Promise<{ pages: number }> {
  if (existsSync(file)) throw new Error(`The backup file ${file} already exists`);
  const tmp = `${file}.partial`;
  rmSync(tmp, { force: true });
  let step = PAGES_PER_STEP;
  let lastRemaining = Infinity;
  try {
    const r = await db.backup(tmp, {
      progress: ({ totalPages, remainingPages }) => {
        // A write by another connection restarts the copy; then take the rest in one step.
        if (remainingPages > lastRemaining) step = Math.max(totalPages, 1);
        lastRemaining = remainingPages;
        progress.update('copying pages', (totalPages - remainingPages) * 4096, totalPages * 4096);
        return step;
      },
    });
    // A single self-contained file (no -wal/-shm beside it); the server switches it back to WAL.
    const check = new Database(tmp);
    try {
      check.pragma('journal_mode = DELETE');
      const res = check.pragma('integrity_check', { simple: true });
      if (res !== 'ok') throw new Error(`The backup failed its integrity check: ${String(res)}`);
    } finally {
      check.close();
    }
    renameSync(tmp, file);
    progress.end(`Backed up ${r.totalPages} pages to ${file}`);
    return { pages: r.totalPages };
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
