import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Datapoint } from '../pipescript/datapoint';
import type { Listener, PublishedBatch, PubSub } from './index';
import type { BusSource } from './ordered';

/**
 * The cross-process bus for a PostgreSQL deployment without NATS: LISTEN/NOTIFY carrying notices,
 * not data. PostgreSQL refuses a payload of 8,000 bytes or more, and every notifying commit takes
 * one cluster-wide lock, so:
 *
 * - a stored batch is announced as `{p: path, s: stream id, i: first index, n: count}`; a process
 *   with subscribers on the path reads [i, i + n) back from storage and delivers it (split back
 *   into the batches announced, so clients get one message per insert as from one process);
 * - batches without an index (ephemeral streams, meta log entries) travel inline when the notice
 *   stays under the limit, else they are dropped with a log line (live-only data: an ephemeral
 *   insert of more than ~7 KB is not seen by subscribers of other processes);
 * - notices are sent after the insert has committed, by `SELECT pg_notify(…)` on the bus's own
 *   connection — never inside the insert transaction, where the notify lock would serialise
 *   every insert of the cluster behind one another. Notices queued while one is being sent go
 *   together in the next one (as many as fit in a payload), so a burst of inserts costs few
 *   NOTIFY transactions;
 * - each process LISTENs on its own connection, on a channel that carries the schema
 *   (`cdb_channel('data')`), so test schemas in one database do not hear each other.
 *
 * At most once like core NATS: notices sent while a listening connection is down are missed.
 * The reorder step (OrderedPubSub) in front puts batches of several processes in index order and
 * reads gaps back when a later batch arrives.
 */
export interface PgNotifyOptions {
  /** The same `postgres://` URI as the storage (its `search_path` selects the schema). */
  uri: string;
  /** Reads announced batches back from storage. */
  source: BusSource;
  /** Largest payload sent; PostgreSQL's limit is 7,999 bytes (tests lower it). */
  maxPayloadBytes?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

/** Datapoints read back in one query at most, when several notices of one path are merged. */
const MAX_READ = 10_000;
const RECONNECT_MS = [250, 500, 1000, 2000, 5000];

interface Notice {
  p: string;
  s?: number;
  i?: number;
  n?: number;
  d?: Datapoint[];
}

interface Topic {
  listeners: Set<Listener>;
  /** Announced batches waiting to be read back, in arrival order. */
  pending: { s: number; i: number; n: number }[];
  reading: boolean;
}

const quoteIdent = (s: string): string => '"' + s.replace(/"/g, '""') + '"';

export class PgNotifyPubSub implements PubSub {
  private readonly topics = new Map<string, Topic>();
  private readonly origin = randomBytes(6).toString('hex');
  private readonly log: (msg: string, fields?: Record<string, unknown>) => void;
  private readonly maxPayload: number;
  /** Serialised notices waiting to be sent. */
  private queue: string[] = [];
  private sending: Promise<void> | null = null;
  private closing = false;
  private listenClient: pg.Client | null;
  private sendClient: pg.Client | null;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** Notices sent and received (figures for the README and the tests). */
  readonly stats = { notifies: 0, notices: 0, received: 0, reads: 0, dropped: 0 };

  private constructor(
    private readonly opts: PgNotifyOptions,
    readonly channel: string,
    listen: pg.Client,
    send: pg.Client,
  ) {
    this.log = opts.log ?? (() => {});
    this.maxPayload = Math.min(opts.maxPayloadBytes ?? 7999, 7999);
    this.listenClient = listen;
    this.sendClient = send;
    this.watchListener(listen);
    this.watchSender(send);
  }

  /** Connects and LISTENs; a failure is a start-up error. */
  static async open(opts: PgNotifyOptions): Promise<PgNotifyPubSub> {
    const listen = await connectClient(opts.uri, 'connectordb-bus-listen');
    let send: pg.Client | undefined;
    try {
      const channel = (await listen.query<{ c: string }>("SELECT cdb_channel('data') AS c")).rows[0].c;
      await listen.query(`LISTEN ${quoteIdent(channel)}`);
      send = await senderClient(opts.uri);
      return new PgNotifyPubSub(opts, channel, listen, send);
    } catch (e) {
      await listen.end().catch(() => {});
      await send?.end().catch(() => {});
      throw e;
    }
  }

  publish(batch: PublishedBatch): void {
    const topic = this.topics.get(batch.stream);
    if (topic) deliver(topic.listeners, batch);
    // Empty inserts are not delivered (websocket.md §4): nothing to announce.
    if (this.closing || batch.data.length === 0) return;
    let notice: string;
    if (batch.index !== undefined && batch.sid !== undefined) {
      notice = JSON.stringify({ p: batch.stream, s: batch.sid, i: batch.index, n: batch.data.length });
    } else {
      notice = JSON.stringify({ p: batch.stream, d: batch.data });
      if (Buffer.byteLength(notice, 'utf8') + 40 > this.maxPayload) {
        this.stats.dropped++;
        this.log('pgnotify: batch without an index too big for a notice; not delivered to other processes', { stream: batch.stream, datapoints: batch.data.length });
        return;
      }
    }
    this.queue.push(notice);
    this.stats.notices++;
    this.sending ??= this.sendLoop();
  }

  subscribe(stream: string, listener: Listener): () => void {
    if (this.closing) return () => {};
    let topic = this.topics.get(stream);
    if (!topic) this.topics.set(stream, (topic = { listeners: new Set(), pending: [], reading: false }));
    topic.listeners.add(listener);
    return () => {
      const t = this.topics.get(stream);
      if (!t || !t.listeners.delete(listener) || t.listeners.size > 0) return;
      this.topics.delete(stream);
    };
  }

  listenerCount(stream: string): number {
    return this.topics.get(stream)?.listeners.size ?? 0;
  }

  wantsPublish(_stream: string): boolean {
    return !this.closing;
  }

  /** LISTEN is active from the start: subscriptions need no round trip. */
  flush(): Promise<void> {
    return Promise.resolve();
  }

  /** Resolves once every notice queued so far has been sent (tests, shutdown). */
  async sent(): Promise<void> {
    while (this.sending) await this.sending;
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.topics.clear();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await this.sent();
    const l = this.listenClient;
    const s = this.sendClient;
    this.listenClient = this.sendClient = null;
    await Promise.all([l?.end().catch(() => {}), s?.end().catch(() => {})]);
  }

  /** One NOTIFY at a time, each carrying every queued notice that fits: bursts cost few commits. */
  private async sendLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const head = `{"o":"${this.origin}","e":[`;
        let payload = head;
        let bytes = Buffer.byteLength(head) + 2;
        let k = 0;
        while (k < this.queue.length) {
          const b = Buffer.byteLength(this.queue[k], 'utf8') + 1;
          if (k > 0 && bytes + b > this.maxPayload) break;
          payload += (k > 0 ? ',' : '') + this.queue[k];
          bytes += b;
          k++;
        }
        this.queue.splice(0, k);
        payload += ']}';
        try {
          const c = this.sendClient ?? (this.sendClient = await this.reconnectSender());
          await c.query('SELECT pg_notify($1, $2)', [this.channel, payload]);
          this.stats.notifies++;
        } catch (e) {
          this.stats.dropped += k;
          this.log('pgnotify: sending a notice failed; other processes miss these batches', { notices: k, err: e instanceof Error ? e.message : String(e) });
        }
      }
    } finally {
      this.sending = null;
    }
  }

  private async reconnectSender(): Promise<pg.Client> {
    const c = await senderClient(this.opts.uri);
    this.watchSender(c);
    return c;
  }

  private watchSender(c: pg.Client): void {
    const lost = () => {
      if (this.sendClient === c) this.sendClient = null;
    };
    c.on('error', lost);
    c.on('end', lost);
  }

  private watchListener(c: pg.Client): void {
    c.on('notification', (m) => {
      if (m.channel === this.channel && m.payload) this.receive(m.payload);
    });
    let gone = false;
    const lost = (e?: Error) => {
      if (gone || this.closing) return;
      gone = true;
      this.listenClient = null;
      void c.end().catch(() => {});
      this.log('pgnotify: listening connection lost; live data from other processes is missed until it is back', { err: e?.message });
      this.relisten(0);
    };
    c.on('error', lost);
    c.on('end', () => lost());
  }

  private relisten(attempt: number): void {
    if (this.closing) return;
    this.reconnectTimer = setTimeout(
      () => {
        void (async () => {
          let c: pg.Client | undefined;
          try {
            c = await connectClient(this.opts.uri, 'connectordb-bus-listen');
            await c.query(`LISTEN ${quoteIdent(this.channel)}`);
          } catch (e) {
            await c?.end().catch(() => {});
            this.log('pgnotify: reconnecting the listening connection failed; retrying', { err: e instanceof Error ? e.message : String(e) });
            this.relisten(attempt + 1);
            return;
          }
          if (this.closing) {
            await c.end().catch(() => {});
            return;
          }
          this.listenClient = c;
          this.watchListener(c);
          this.log('pgnotify: listening again');
        })();
      },
      RECONNECT_MS[Math.min(attempt, RECONNECT_MS.length - 1)],
    );
    this.reconnectTimer.unref();
  }

  private receive(payload: string): void {
    let m: { o?: unknown; e?: unknown };
    try {
      m = JSON.parse(payload) as { o?: unknown; e?: unknown };
    } catch {
      this.log('pgnotify: notice that is not JSON dropped');
      return;
    }
    // Our own notices: local listeners had the batch at publish time.
    if (m.o === this.origin || !Array.isArray(m.e)) return;
    for (const x of m.e as Notice[]) {
      if (typeof x !== 'object' || x === null || typeof x.p !== 'string') continue;
      this.stats.received++;
      const topic = this.topics.get(x.p);
      if (!topic) continue;
      if (Array.isArray(x.d)) deliver(topic.listeners, { stream: x.p, data: x.d });
      else if (typeof x.s === 'number' && typeof x.i === 'number' && typeof x.n === 'number' && x.n > 0) {
        topic.pending.push({ s: x.s, i: x.i, n: x.n });
        if (!topic.reading) void this.readBack(x.p, topic);
      }
    }
  }

  /**
   * Reads announced batches of one path back, one query for every run of contiguous notices,
   * and delivers them split as they were announced. One reader per path keeps them in order.
   */
  private async readBack(path: string, topic: Topic): Promise<void> {
    topic.reading = true;
    try {
      while (topic.pending.length > 0 && this.topics.get(path) === topic) {
        const first = topic.pending[0];
        let k = 1;
        let end = first.i + first.n;
        while (k < topic.pending.length) {
          const x = topic.pending[k];
          if (x.s !== first.s || x.i !== end || end + x.n - first.i > MAX_READ) break;
          end += x.n;
          k++;
        }
        const run = topic.pending.splice(0, k);
        let data: Datapoint[];
        try {
          this.stats.reads++;
          data = await this.opts.source.read(first.s, path, first.i, end);
        } catch (e) {
          this.log('pgnotify: reading announced batches failed', { stream: path, from: first.i, to: end, err: e instanceof Error ? e.message : String(e) });
          continue;
        }
        let off = 0;
        for (const x of run) {
          if (off >= data.length) break;
          deliver(topic.listeners, { stream: path, data: data.slice(off, off + x.n), index: x.i, sid: x.s });
          off += x.n;
        }
      }
    } finally {
      topic.reading = false;
    }
  }
}

async function connectClient(uri: string, name: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: uri, application_name: name });
  // Until watched, a dropped connection must not crash the process.
  c.on('error', () => {});
  await c.connect();
  return c;
}

/**
 * The sending connection. A NOTIFY takes a transaction id, so its commit would wait for a WAL
 * flush (an fsync competing with the inserts' own); the notice needs no durability (the data it
 * announces is committed already, and a notice is lost anyway when a listener is down), so its
 * commits do not wait: synchronous_commit off. Measured: 10 writers of single points went from
 * 1,518 inserts/s bare to 385/s with a flushed NOTIFY each, and to about the bare rate without.
 */
async function senderClient(uri: string): Promise<pg.Client> {
  const c = await connectClient(uri, 'connectordb-bus-notify');
  await c.query('SET synchronous_commit TO off');
  return c;
}

function deliver(listeners: Set<Listener>, batch: PublishedBatch): void {
  for (const l of [...listeners]) {
    try {
      l(batch);
    } catch {
      // A failing subscriber must not break the others.
    }
  }
}
