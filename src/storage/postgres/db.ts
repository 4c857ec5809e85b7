import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';

/**
 * The PostgreSQL engine's connection layer, shared by its parts (meta.ts, data.ts, sync.ts):
 * one pool, transactions on one pooled client, and `exclusive()` (storage/types.ts) binding one
 * client to an async context so every call made inside it joins its transaction.
 */

export type Row = pg.QueryResultRow;

/** What a statement runs on: the pool, a pooled client in a transaction, or the exclusive client. */
export interface Queryable {
  query<R extends Row = Row>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export interface PgDbOptions {
  /** A `postgres://` URL (`?options=-c search_path=…` selects a schema). */
  uri: string;
  /** Connections in the pool. */
  max: number;
  /** Name shown in pg_stat_activity. */
  applicationName?: string;
}

/**
 * int8 (bigint: indexes, lengths, byte counts, count(*)) as JS numbers: exact below 2^53, which no
 * index or byte count reaches. numeric is not used by the schema.
 */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20 && format !== 'binary') return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

export class PgDb {
  readonly pool: pg.Pool;
  private readonly als = new AsyncLocalStorage<pg.PoolClient>();

  constructor(readonly options: PgDbOptions) {
    this.pool = new pg.Pool({ connectionString: options.uri, max: options.max, types, application_name: options.applicationName ?? 'connectordb' });
    // An idle client that loses its connection (server restart) must not crash the process.
    this.pool.on('error', () => {});
  }

  /** The exclusive transaction's client when called inside `exclusive()`. */
  get bound(): pg.PoolClient | undefined {
    return this.als.getStore();
  }

  /** One statement on the pool (or on the exclusive client). */
  query<R extends Row = Row>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    const c = this.als.getStore();
    return c ? c.query<R>(text, values) : this.pool.query<R>(text, values);
  }

  /**
   * `fn` in one transaction on one client: BEGIN … COMMIT, ROLLBACK when it throws (the error goes
   * on unchanged). Inside `exclusive()` it is a SAVEPOINT on the exclusive client instead, so a
   * refused write rolls back only itself.
   */
  async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const bound = this.als.getStore();
    if (bound) {
      await bound.query('SAVEPOINT cdb_tx');
      try {
        const r = await fn(bound);
        await bound.query('RELEASE SAVEPOINT cdb_tx');
        return r;
      } catch (e) {
        await bound.query('ROLLBACK TO SAVEPOINT cdb_tx');
        throw e;
      }
    }
    return onClient(this.pool, 'BEGIN', fn);
  }

  /** `fn` inside one transaction that every call of this PgDb made within `fn` joins. */
  async exclusive<T>(mode: 'read' | 'write', fn: () => Promise<T>): Promise<T> {
    if (this.als.getStore()) return fn();
    return onClient(this.pool, mode === 'read' ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN', (c) => this.als.run(c, fn));
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

/**
 * `fn` on one pooled client: after `begin` (when given) and with COMMIT after it; ROLLBACK when it
 * throws (also for a transaction `fn` opened itself). A client whose ROLLBACK fails is discarded,
 * never handed to the next caller mid-transaction.
 */
export async function onClient<T>(pool: pg.Pool, begin: string | null, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  let broken = false;
  try {
    if (begin) await c.query(begin);
    const r = await fn(c);
    if (begin) await c.query('COMMIT');
    return r;
  } catch (e) {
    try {
      await c.query('ROLLBACK');
    } catch {
      broken = true;
    }
    throw e;
  } finally {
    c.release(broken);
  }
}

/**
 * A statement that runs often with only its values changing: on a client, named, so each
 * connection parses it once; elsewhere (the pool) as a plain statement.
 */
export function queryNamed<R extends Row = Row>(c: Queryable, name: string, text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
  return c instanceof pg.Client ? c.query<R>({ name, text, values }) : c.query<R>(text, values);
}

/** PostgreSQL's unique_violation: a lost race on a name, e-mail or key (→ StorageConflict). */
export const UNIQUE_VIOLATION = '23505';
export const errorCode = (e: unknown): string | undefined =>
  typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'string' ? (e as { code: string }).code : undefined;
