import type { Sub } from '../types';
import type { DB } from './db';
import { ChunkedDatapointStore } from './chunked';

/** Chunks sealed per transaction: ~50,000 datapoints, a fraction of a second, small WAL growth. */
const STEP_CHUNKS = 50;

export type UpgradeProgress = (done: number, total: number) => void;

/**
 * A progress line on stderr: rewritten in place on a terminal, one line every 10% otherwise (so a
 * container's log shows the upgrade is alive without flooding it).
 */
export function stderrProgress(): UpgradeProgress {
  const tty = !!process.stderr.isTTY;
  let lastPct = -1;
  return (done, total) => {
    const pct = total > 0 ? Math.floor((done / total) * 100) : 100;
    if (tty) {
      if (pct === lastPct && done !== total) return;
      process.stderr.write(`\rupgrading datapoints to chunks: ${pct}% (${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')})${done === total ? '\n' : ''}`);
    } else {
      const step = Math.floor(pct / 10) * 10;
      if (step === lastPct && done !== total) return;
      if (step === lastPct) return;
      process.stderr.write(`upgrading datapoints to chunks: ${step}% (${done} / ${total})\n`);
      lastPct = step;
      return;
    }
    lastPct = pct;
  };
}

/**
 * Converts the datapoints of a database written before chunks existed (every datapoint a row) into
 * sealed chunks, one transaction per step of one substream. Each step moves rows into chunks
 * atomically and records how far the substream got, so a kill at any moment leaves a consistent
 * database and the next start carries on where it stopped. The rows a step deletes free pages that
 * the next step's chunks reuse, so the file never needs room for both layouts at once.
 *
 * Afterwards one VACUUM returns the freed pages to the file system. VACUUM rather than
 * incremental vacuum because a database created before has auto_vacuum off, and only a VACUUM can
 * switch that on; this one switches it to INCREMENTAL so later deletes and retention give space
 * back in small steps (PRAGMA incremental_vacuum) without rewriting the file again. Its temporary
 * copy is the size of the converted database, a small fraction of the original.
 * Returns the number of datapoints converted.
 */
export function upgradeDatapoints(db: DB, progress: UpgradeProgress = () => {}): number {
  const pending = db
    .prepare<[], { stream_id: number; sub: Sub; n: number }>(
      'SELECT stream_id, sub, base + length - sealed AS n FROM substreams WHERE tail_bytes < 0 ORDER BY stream_id, sub',
    )
    .all();
  if (pending.length === 0) return 0;
  const store = new ChunkedDatapointStore(db);
  const total = pending.reduce((a, p) => a + p.n, 0);
  let done = 0;
  progress(0, total);
  const step = db.transaction((id: number, sub: Sub) => store.upgradeStep(id, sub, STEP_CHUNKS));
  for (const p of pending) {
    for (;;) {
      const r = step(p.stream_id, p.sub);
      done += r.sealed;
      progress(Math.min(done, total), total);
      if (r.done) break;
    }
  }
  progress(total, total);
  db.pragma('auto_vacuum = INCREMENTAL');
  db.exec('VACUUM');
  return total;
}
