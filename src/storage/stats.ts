import type { Statement } from 'better-sqlite3';
import type { DB } from './db';

export interface StorageSizes {
  /** Bytes of the database pages (the main file without its write-ahead log). */
  databaseBytes: number;
  /** Datapoints stored in every substream. */
  datapoints: number;
}

/** What operators ask of the database itself: does it answer, and how big is it. */
export class StorageStats {
  private readonly probe: Statement<[], unknown>;
  private readonly pageCount: Statement<[], number>;
  private readonly pageSize: Statement<[], number>;
  private readonly total: Statement<[], number>;

  constructor(db: DB) {
    // Reads a real table page, not just the connection: a missing or unreadable file fails here.
    this.probe = db.prepare('SELECT 1 FROM users LIMIT 1');
    this.pageCount = db.prepare<[], number>('PRAGMA page_count').pluck(true);
    this.pageSize = db.prepare<[], number>('PRAGMA page_size').pluck(true);
    this.total = db.prepare<[], number>('SELECT coalesce(sum(length), 0) FROM substreams').pluck(true);
  }

  /** Throws when the database does not answer. */
  ping(): void {
    this.probe.get();
  }

  sizes(): StorageSizes {
    return { databaseBytes: this.pageCount.get()! * this.pageSize.get()!, datapoints: this.total.get()! };
  }
}
