import type { ChunkPiece, DeviceRow, StreamRow, Sub, SyncReads, UserRow } from '../types';
import { PgSyncBridge, type SyncBridgeOptions, type Ticket } from './bridge';
import type { PgDbOptions, Row } from './db';
import { nulFreeNames } from './meta';
import { type PiecePlan, type Query, isQuery, lengthPlan, piecesPlan, readPlan, runPlanSync, time2indexPlan } from './reads';

/**
 * SyncReads for PostgreSQL: the query pipeline (PipeScript transforms, merges, datasets, the Atom
 * feed, time plans) runs unchanged on PostgreSQL, its synchronous pulls answered through the
 * worker-thread bridge (bridge.ts). The SQL is data.ts's: reads.ts's query plans, driven here
 * synchronously, so both engines read the chunk layout the same way.
 *
 * The event-loop cost: every statement blocks the main thread for its round trip (a fraction of
 * a millisecond for a length, a few ms for a batch of chunks). `pieces` keeps each block short
 * (FETCH chunks a statement) and sends the statement the plan marks `ahead` as soon as it is known,
 * so while the pipeline consumes one batch the worker already fetches the next and the wait is
 * usually zero. A pipeline over millions of points gives the loop a turn every few ms of its
 * work, as on SQLite: the services' reads pause between pieces (PAUSE, pipescript/datapoint.ts).
 *
 * Reads run on the bridge's own connection, statement by statement (READ COMMITTED), like the
 * SQLite engine's reads between yields; they do not see an `exclusive()` transaction's uncommitted
 * writes (exclusive is for offline bulk work, which does not run transforms).
 */

const USER_COLS = ['id', 'name', 'nickname', 'email', 'description', 'icon', 'public', 'role', 'password', 'password_salt', 'password_scheme'] as const;
const DEVICE_COLS = ['id', 'user_id', 'name', 'nickname', 'description', 'icon', 'apikey', 'enabled', 'public', 'role', 'visible', 'user_editable'] as const;
const STREAM_COLS = ['id', 'device_id', 'name', 'nickname', 'description', 'icon', 'schema', 'datatype', 'ephemeral', 'downlink', 'keep_datapoints', 'keep_seconds'] as const;

// The same statement and row shapes as meta.ts's async resolveStream (one statement, two left
// joins), as positional arrays: three tables' `id` columns would clash as object keys.
const RESOLVE_SQL = `SELECT ${[...USER_COLS.map((c) => 'u.' + c), ...DEVICE_COLS.map((c) => 'd.' + c), ...STREAM_COLS.map((c) => 's.' + c)].join(', ')}
   FROM users u
   LEFT JOIN devices d ON d.user_id = u.id AND d.name = $2
   LEFT JOIN streams s ON s.device_id = d.id AND s.name = $3
  WHERE lower(u.name) = lower($1) AND u.name = $1`;

function pick<T>(row: unknown[], cols: readonly string[], at: number): T | undefined {
  if (row[at] === null || row[at] === undefined) return undefined;
  const o: Record<string, unknown> = {};
  for (let i = 0; i < cols.length; i++) o[cols[i]] = row[at + i];
  return o as T;
}

export class PgSyncReads implements SyncReads {
  readonly remote = true;
  private readonly exec = (q: Query): Row[] => this.bridge.query(q.text, q.values);

  constructor(readonly bridge: PgSyncBridge) {}

  resolveStream(user: string, device: string, stream: string): { user?: UserRow; device?: DeviceRow; stream?: StreamRow } {
    const row = this.bridge.query<unknown[]>(RESOLVE_SQL, nulFreeNames(user, device, stream), true)[0];
    if (!row) return {};
    const u = pick<UserRow>(row, USER_COLS, 0);
    const d = pick<DeviceRow>(row, DEVICE_COLS, USER_COLS.length);
    if (!d) return { user: u };
    return { user: u, device: d, stream: pick<StreamRow>(row, STREAM_COLS, USER_COLS.length + DEVICE_COLS.length) };
  }

  length(streamId: number, sub: Sub): number {
    return runPlanSync(this.exec, lengthPlan(streamId, sub));
  }

  time2index(streamId: number, sub: Sub, t: number): number {
    return runPlanSync(this.exec, time2indexPlan(streamId, sub, t));
  }

  read(streamId: number, sub: Sub, i1: number, i2: number): string[] {
    return runPlanSync(this.exec, readPlan(streamId, sub, i1, i2));
  }

  pieces(streamId: number, sub: Sub, i1: number, i2: number): Iterator<ChunkPiece> {
    return readAhead(this.bridge, piecesPlan(streamId, sub, i1, i2));
  }

  /** Stops the worker and its connection. */
  close(): Promise<void> {
    return this.bridge.close();
  }
}

/**
 * Drives a pieces plan over the bridge, honouring its read-ahead: a statement the plan yields
 * marked `ahead` (reads.ts, Query) is sent to the worker and answered `undefined`, so the worker
 * fetches the next chunks while the pipeline decodes and consumes the current ones; when the plan
 * yields that statement again its rows are taken, usually already there. Chunks are decoded one
 * at a time as they are pulled. A consumer that stops early (a limit) drops what is in flight.
 */
function* readAhead(bridge: PgSyncBridge, plan: PiecePlan): Generator<ChunkPiece> {
  const started = new Map<Query, Ticket>();
  try {
    let step = plan.next();
    while (!step.done) {
      const v = step.value;
      if (!isQuery(v)) {
        yield v;
        step = plan.next(undefined);
      } else if (v.ahead) {
        started.set(v, bridge.send(v.text, v.values));
        step = plan.next(undefined);
      } else {
        const t = started.get(v);
        started.delete(v);
        step = plan.next((t !== undefined ? bridge.take(t) : bridge.query(v.text, v.values)) as Row[]);
      }
    }
  } finally {
    for (const t of started.values()) bridge.drop(t);
  }
}

export interface PgSyncOptions extends Omit<PgDbOptions, 'max'> {
  /** Ignored: the synchronous reads run one statement at a time on one connection of their own. */
  max?: number;
  /** Longest one statement may block the event loop before it fails (ms; bridge.ts's default). */
  timeoutMs?: number;
}

/**
 * The PostgreSQL engine's SyncReads with the worker it runs on, started (and connecting) now so
 * the first query finds it ready. `close()` stops the worker and its connection.
 */
export function openPgSyncReads(options: PgSyncOptions): PgSyncReads {
  const bo: SyncBridgeOptions = { uri: options.uri, applicationName: `${options.applicationName ?? 'connectordb'}-sync`, timeoutMs: options.timeoutMs };
  const bridge = new PgSyncBridge(bo);
  bridge.warmUp();
  return new PgSyncReads(bridge);
}
