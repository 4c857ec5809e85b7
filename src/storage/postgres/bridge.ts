import { MessageChannel, type MessagePort, Worker, receiveMessageOnPort } from 'node:worker_threads';
import type { Row } from './db';
import { WORKER_SOURCE } from './sync-worker';

/**
 * Synchronous PostgreSQL queries for the query pipeline (SyncReads, storage/types.ts): a worker
 * thread holds its own `pg` connection; the main thread posts `{ text, values }` and blocks in
 * Atomics.wait on a SharedArrayBuffer until the worker has posted the rows, then takes them with
 * receiveMessageOnPort (the "synckit" pattern). The main thread's event loop stands still while
 * it waits, so callers keep each query to a few chunks, and may `send` the next query before
 * consuming the current answer (the worker runs one query ahead) so the wait is usually zero.
 *
 * Failure is always a thrown error, never a hang: every wait is bounded by `timeoutMs` (the
 * worker is then discarded: its connection may be stuck), a dead worker or a lost connection
 * fails the query in flight, and the next call starts a fresh worker or connection.
 */

export interface SyncBridgeOptions {
  /** A `postgres://` URL (`?options=-c search_path=…` selects a schema). */
  uri: string;
  /** Name shown in pg_stat_activity. */
  applicationName?: string;
  /** Longest the main thread may block on one query, connecting included (ms). */
  timeoutMs?: number;
}

/** A query the bridge failed: the server's error (with its SQLSTATE `code`), a timeout, a dead worker. */
export class SyncQueryError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'SyncQueryError';
  }
}

/** The block a query may cost the event loop at most, unless configured. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** Buffers at least this big move from the worker instead of being copied. */
const TRANSFER_MIN = 16 * 1024;
/**
 * Extra wait allowed for a new worker's first answer: starting a thread, loading `pg` and
 * connecting take 50–300 ms on a busy machine, which must not count against a short query timeout.
 */
const STARTUP_MS = 5000;

interface Reply {
  id: number;
  rows?: unknown[];
  error?: { message: string; code?: string; detail?: string };
}

interface Live {
  worker: Worker;
  port: MessagePort;
  state: Int32Array;
  /** Ids sent to this worker and not yet taken. */
  pending: Set<number>;
  /** Until its first answer, a worker's waits include STARTUP_MS: starting a thread and connecting. */
  warm: boolean;
}

/** A query posted to the worker: `take` it for its rows, or `drop` it. */
export type Ticket = number;

interface Sent {
  text: string;
  values: unknown[];
  array: boolean;
}

/**
 * Answers kept for tickets not taken yet, at most: a read-ahead whose consumer paused (a slow
 * socket) or vanished without closing its iterator must not pin memory. An evicted answer's
 * statement is sent again when its ticket is taken.
 */
const EARLY_MAX = 32;
/** Tickets remembered for re-sending, at most; past it the oldest are forgotten (taking one throws). */
const SENT_MAX = 4096;

export class PgSyncBridge {
  private live: Live | undefined;
  private nextId = 0;
  private closed = false;
  /** Replies that arrived while another one was awaited (a query sent ahead). */
  private readonly early = new Map<number, Reply>();
  /** Every ticket not yet taken or dropped, with its statement (to send again if its answer is lost). */
  private readonly sent = new Map<number, Sent>();
  /** Tickets abandoned before their reply came: the reply is thrown away on arrival. */
  private readonly dropped = new Set<number>();
  readonly timeoutMs: number;
  /**
   * For the benchmark and tests: statements sent, answers already in when `take` was called,
   * workers replaced, and the main thread's time blocked (total, and the longest single wait).
   */
  readonly stats = { queries: 0, ready: 0, restarts: 0, blockedMs: 0, maxBlockMs: 0 };

  constructor(readonly options: SyncBridgeOptions) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** One statement, synchronously: its rows (objects, or arrays with `array`). */
  query<R = Row>(text: string, values: unknown[] = [], array = false): R[] {
    return this.take(this.send(text, values, array)) as R[];
  }

  /** Posts a statement to the worker without waiting: it runs while the caller does other work. */
  send(text: string, values: unknown[] = [], array = false): Ticket {
    const id = ++this.nextId;
    const q: Sent = { text, values, array };
    this.post(id, q);
    this.sent.set(id, q);
    if (this.sent.size > SENT_MAX) this.drop(this.sent.keys().next().value as number);
    return id;
  }

  private post(id: number, q: Sent): void {
    const live = this.start();
    live.port.postMessage({ id, text: q.text, values: q.values, array: q.array });
    live.pending.add(id);
    this.stats.queries++;
  }

  /** Forgets a sent statement (an abandoned read-ahead): its answer is discarded when it comes. */
  drop(ticket: Ticket): void {
    this.sent.delete(ticket);
    if (this.early.delete(ticket)) return;
    if (this.live?.pending.delete(ticket)) this.dropped.add(ticket);
  }

  /**
   * Blocks until the statement's answer is in: its rows, or its error thrown. A statement whose
   * answer was lost before it was asked for (its worker was replaced meanwhile, or the answer
   * waited too long unclaimed) runs again now.
   */
  take(ticket: Ticket): unknown[] {
    const q = this.sent.get(ticket);
    if (!q) throw new SyncQueryError('this PostgreSQL query was already answered, dropped or forgotten');
    let r: Reply;
    try {
      const e = this.early.get(ticket);
      if (e) this.stats.ready++;
      r = e ?? this.wait(ticket, q);
    } finally {
      this.sent.delete(ticket);
      this.early.delete(ticket);
    }
    if (r.error) throw new SyncQueryError(r.error.message, r.error.code, r.error.detail);
    return r.rows!;
  }

  private wait(ticket: Ticket, q: Sent): Reply {
    if (!this.live?.pending.has(ticket)) this.post(ticket, q);
    const live = this.live!;
    const start = performance.now();
    const deadline = start + this.timeoutMs + (live.warm ? 0 : STARTUP_MS);
    let first = true;
    try {
      for (;;) {
        // The counter is read before the port is checked: a reply posted in between changes it,
        // so the wait below returns at once instead of missing the wake-up.
        const seen = Atomics.load(live.state, 0);
        for (let m = receiveMessageOnPort(live.port); m; m = receiveMessageOnPort(live.port)) {
          const r = m.message as Reply;
          live.pending.delete(r.id);
          // Dropped or forgotten tickets' answers are not kept.
          if (this.dropped.delete(r.id) || !this.sent.has(r.id)) continue;
          live.warm = true;
          if (r.rows) toBuffers(r.rows);
          if (r.id === ticket) {
            if (first) this.stats.ready++;
            return r;
          }
          this.early.set(r.id, r);
          if (this.early.size > EARLY_MAX) this.early.delete(this.early.keys().next().value as number);
        }
        if (Atomics.load(live.state, 1) === 1) {
          this.reset();
          throw new SyncQueryError('the PostgreSQL query worker died; the next query starts a new one');
        }
        const left = deadline - performance.now();
        if (left <= 0) {
          this.reset();
          // ETIMEDOUT: answered as a database out of reach (503), like the pool's socket errors.
          throw new SyncQueryError(`PostgreSQL did not answer within ${this.timeoutMs} ms (the query worker was restarted)`, 'ETIMEDOUT');
        }
        first = false;
        Atomics.wait(live.state, 0, seen, left);
      }
    } finally {
      const ms = performance.now() - start;
      this.stats.blockedMs += ms;
      if (ms > this.stats.maxBlockMs) this.stats.maxBlockMs = ms;
    }
  }

  /**
   * Starts the worker and its connection now, without waiting, so the first query finds them
   * ready (the engine calls it when it opens).
   */
  warmUp(): void {
    this.start();
  }

  private start(): Live {
    if (this.live) return this.live;
    if (this.closed) throw new SyncQueryError('the PostgreSQL query bridge is closed');
    const { port1, port2 } = new MessageChannel();
    const state = new Int32Array(new SharedArrayBuffer(8));
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        port: port2,
        state,
        pgPath: require.resolve('pg'),
        uri: this.options.uri,
        applicationName: this.options.applicationName ?? 'connectordb-sync',
        // The server gives up on a statement a little after the client has, so a timed-out
        // query does not run on; connecting has the whole budget.
        statementTimeout: this.timeoutMs + 1000,
        connectTimeout: this.timeoutMs,
        transferMin: TRANSFER_MIN,
      },
      transferList: [port2],
    });
    // Neither keeps the process alive: an idle bridge must not hold up a clean exit.
    worker.unref();
    port1.unref();
    const live: Live = { worker, port: port1, state, pending: new Set(), warm: false };
    // A worker that fails outside a query (it reports failures inside one itself) is replaced
    // by the next call; without a listener its 'error' would take the process down.
    worker.on('error', () => {});
    worker.on('exit', () => {
      if (this.live === live) this.reset();
    });
    this.live = live;
    return live;
  }

  /**
   * Discards the worker and starts the next one (it connects while the caller handles the error).
   * Answers already received stay valid; statements still in flight run again when taken.
   */
  private reset(): void {
    const live = this.live;
    if (!live) return;
    this.live = undefined;
    this.dropped.clear();
    this.stats.restarts++;
    live.port.close();
    live.worker.terminate().catch(() => {});
    if (!this.closed) this.start();
  }

  /** Stops the worker (its connection closes with it). */
  close(): Promise<void> {
    this.closed = true;
    const live = this.live;
    this.live = undefined;
    if (!live) return Promise.resolve();
    live.port.close();
    return live.worker.terminate().then(
      () => undefined,
      () => undefined,
    );
  }
}

/** Structured clone hands bytea values over as plain Uint8Arrays: views them as Buffers again. */
function toBuffers(rows: unknown[]): void {
  for (const row of rows) {
    if (Array.isArray(row)) {
      for (let i = 0; i < row.length; i++) {
        const v: unknown = row[i];
        if (v instanceof Uint8Array && !Buffer.isBuffer(v)) row[i] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      }
    } else if (row !== null && typeof row === 'object') {
      const o = row as Record<string, unknown>;
      for (const k in o) {
        const v = o[k];
        if (v instanceof Uint8Array && !Buffer.isBuffer(v)) o[k] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      }
    }
  }
}
