import { randomBytes } from 'node:crypto';
import { connect, Events, type Msg, type NatsConnection, type Subscription } from 'nats';
import type { Datapoint } from '../pipescript/datapoint';
import type { Listener, PublishedBatch, PubSub } from './index';

/**
 * Where the bus connects, with the original's `nats` config keys (`nats.hostname`, `nats.port`,
 * `nats.username`, `nats.password`).
 */
export interface NatsConfig {
  hostname?: string;
  port?: number;
  username?: string;
  password?: string;
}

export interface NatsPubSubOptions extends NatsConfig {
  /** First subject token; keeps the bus apart from other users of the same NATS server. */
  subjectPrefix?: string;
  /** Upper bound for one NATS message, below the server's `max_payload` (tests use it to force splits). */
  maxMessageBytes?: number;
  /** Connection name shown by the NATS server's monitoring. */
  name?: string;
  /** Disconnects, reconnects and dropped messages; nothing when absent. */
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

/** Room kept in every message for the header line (origin, sequence, part, parts: under 80 bytes). */
const HEADER_RESERVE = 128;
/** A batch whose parts stop arriving (its publisher lost its connection mid-batch) is dropped after this. */
const ASSEMBLY_TIMEOUT_MS = 30_000;

const SAFE_TOKEN = /^[A-Za-z][A-Za-z0-9_-]*$/;

/**
 * `user/device/stream[/downlink]` → `prefix.user.device.stream[.downlink]`. Names are
 * `[a-zA-Z][a-zA-Z0-9_-]*` so they are subject tokens as they are; anything else (a subscriber's
 * typo, a wildcard character) is hex-encoded behind `_`, which no valid name starts with, so the
 * mapping stays one-to-one and a path can never act as a NATS wildcard.
 */
export function subjectFor(prefix: string, path: string): string {
  let s = prefix;
  for (const part of path.split('/')) s += '.' + (SAFE_TOKEN.test(part) ? part : '_' + Buffer.from(part, 'utf8').toString('hex'));
  return s;
}

interface Header {
  /** Publishing instance: parts are reassembled per origin. */
  o: string;
  /** Batch sequence number of that origin. */
  q: number;
  /** Part number, from 0. */
  k: number;
  /** Number of parts. */
  n: number;
}

interface Assembly {
  q: number;
  next: number;
  parts: Uint8Array[];
  started: number;
}

interface Topic {
  listeners: Set<Listener>;
  sub: Subscription;
  /** Partly received split batches, by origin. */
  assemblies: Map<string, Assembly>;
}

/**
 * The live-data bus across processes, on core NATS (at most once, in order per publisher, which is
 * what the original did). One subject per stream path; the payload is a header line then the
 * batch as JSON (`{"stream","data"[,"index"]}`), cut into several messages, in order, when it is
 * over the server's `max_payload`.
 *
 * - Local listeners are called synchronously by `publish`, with the very object published, as
 *   with `LocalPubSub`; the connection is opened with `noEcho`, so a process never receives its
 *   own publishes a second time from the server.
 * - `listenerCount` counts this process's listeners only; `wantsPublish` is always true while
 *   connected, because listeners in other processes are invisible here (see `PubSub.wantsPublish`).
 * - While the connection is down, publishes are buffered by the client up to its reconnect buffer
 *   and remote batches are missed; subscriptions are restored on reconnect.
 */
export class NatsPubSub implements PubSub {
  private readonly topics = new Map<string, Topic>();
  private readonly origin = randomBytes(6).toString('hex');
  private readonly prefix: string;
  private readonly log: (msg: string, fields?: Record<string, unknown>) => void;
  private seq = 0;
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly opts: NatsPubSubOptions,
  ) {
    this.prefix = opts.subjectPrefix ?? 'cdb';
    this.log = opts.log ?? (() => {});
    void this.watch();
  }

  /** Connects (first attempt must succeed: a wrong address is a start-up error, not a silent retry loop). */
  static async connect(opts: NatsPubSubOptions = {}): Promise<NatsPubSub> {
    const nc = await connect({
      servers: `${opts.hostname ?? 'localhost'}:${opts.port ?? 4222}`,
      user: opts.username || undefined,
      pass: opts.password || undefined,
      name: opts.name ?? 'connectordb',
      noEcho: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
    });
    return new NatsPubSub(nc, opts);
  }

  publish(batch: PublishedBatch): void {
    const topic = this.topics.get(batch.stream);
    if (topic) deliver(topic.listeners, batch);
    if (this.closing || this.nc.isClosed()) return;
    try {
      this.send(batch);
    } catch (e) {
      // The insert is committed already; a bus failure loses the live copy only (at most once).
      this.log('nats: publish failed', { stream: batch.stream, err: e instanceof Error ? e.message : String(e) });
    }
  }

  subscribe(stream: string, listener: Listener): () => void {
    if (this.closing) return () => {};
    let topic = this.topics.get(stream);
    if (!topic) {
      const t: Topic = { listeners: new Set(), assemblies: new Map(), sub: undefined as unknown as Subscription };
      t.sub = this.nc.subscribe(subjectFor(this.prefix, stream), { callback: (err, msg) => (err ? this.log('nats: subscription error', { stream, err: err.message }) : this.receive(stream, t, msg)) });
      this.topics.set(stream, (topic = t));
    }
    topic.listeners.add(listener);
    return () => {
      const t = this.topics.get(stream);
      if (!t || !t.listeners.delete(listener) || t.listeners.size > 0) return;
      this.topics.delete(stream);
      if (!this.nc.isClosed()) t.sub.unsubscribe();
    };
  }

  listenerCount(stream: string): number {
    return this.topics.get(stream)?.listeners.size ?? 0;
  }

  wantsPublish(_stream: string): boolean {
    return this.closing === null;
  }

  /**
   * Resolves once the server has seen every subscription and publish made so far: a subscriber
   * that must not miss the next remote insert waits for it (NATS registers interest one round
   * trip after `subscribe`).
   */
  async flush(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.flush();
  }

  /** Sends what is buffered, then closes; listeners get nothing afterwards. */
  close(): Promise<void> {
    if (!this.closing) {
      this.topics.clear();
      this.closing = this.nc.isClosed() ? Promise.resolve() : this.nc.drain().catch(() => this.nc.close());
    }
    return this.closing;
  }

  private send(batch: PublishedBatch): void {
    const body = JSON.stringify(batchBody(batch));
    const subject = subjectFor(this.prefix, batch.stream);
    const q = ++this.seq;
    const max = Math.min(this.nc.info?.max_payload ?? 1 << 20, this.opts.maxMessageBytes ?? Infinity) - HEADER_RESERVE;
    // Most batches fit: one string, one encoding, no copy.
    if (body.length * 3 <= max) {
      this.nc.publish(subject, Buffer.from(`{"o":"${this.origin}","q":${q},"k":0,"n":1}\n${body}`, 'utf8'));
      return;
    }
    const bytes = Buffer.from(body, 'utf8');
    const n = Math.max(1, Math.ceil(bytes.length / max));
    for (let k = 0; k < n; k++) {
      const head = Buffer.from(`{"o":"${this.origin}","q":${q},"k":${k},"n":${n}}\n`, 'utf8');
      this.nc.publish(subject, Buffer.concat([head, bytes.subarray(k * max, Math.min(bytes.length, (k + 1) * max))]));
    }
  }

  private receive(stream: string, topic: Topic, msg: Msg): void {
    const data = msg.data;
    const nl = data.indexOf(10);
    let h: Header;
    try {
      h = JSON.parse(Buffer.from(data.buffer, data.byteOffset, nl).toString('utf8')) as Header;
    } catch {
      this.log('nats: message without a header dropped', { stream });
      return;
    }
    if (nl < 0 || typeof h.o !== 'string' || !Number.isInteger(h.k) || !Number.isInteger(h.n) || h.k < 0 || h.k >= h.n) {
      this.log('nats: message with a bad header dropped', { stream });
      return;
    }
    const part = data.subarray(nl + 1);
    let body: Buffer;
    if (h.n === 1) {
      body = Buffer.from(part.buffer, part.byteOffset, part.byteLength);
    } else {
      const now = Date.now();
      let a = topic.assemblies.get(h.o);
      if (h.k === 0) {
        if (a) this.log('nats: unfinished batch dropped', { stream, origin: h.o, seq: a.q });
        // The client may reuse its read buffer: parts are kept as copies.
        a = { q: h.q, next: 1, parts: [Uint8Array.prototype.slice.call(part)], started: now };
        topic.assemblies.set(h.o, a);
        for (const [o, x] of topic.assemblies) if (now - x.started > ASSEMBLY_TIMEOUT_MS) topic.assemblies.delete(o);
        return;
      }
      if (!a || a.q !== h.q || a.next !== h.k) {
        // A part went missing (reconnect): the whole batch is lost, never delivered partly.
        if (a) topic.assemblies.delete(h.o);
        this.log('nats: split batch missing a part dropped', { stream, origin: h.o, seq: h.q });
        return;
      }
      a.parts.push(Uint8Array.prototype.slice.call(part));
      a.next++;
      if (a.next < h.n) return;
      topic.assemblies.delete(h.o);
      body = Buffer.concat(a.parts);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      this.log('nats: batch that is not JSON dropped', { stream });
      return;
    }
    const b = parsed as { stream?: unknown; data?: unknown; index?: unknown; sid?: unknown };
    if (typeof b !== 'object' || b === null || b.stream !== stream || !Array.isArray(b.data)) {
      this.log('nats: batch of another shape dropped', { stream });
      return;
    }
    const batch: PublishedBatch = { stream, data: b.data as Datapoint[] };
    if (typeof b.index === 'number') batch.index = b.index;
    if (typeof b.sid === 'number') batch.sid = b.sid;
    deliver(topic.listeners, batch);
  }

  private async watch(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === Events.Disconnect) this.log('nats: disconnected; live data from other processes is missed until reconnected', { server: s.data });
      else if (s.type === Events.Reconnect) {
        // Parts sent while we were away are gone: half batches would never complete.
        for (const t of this.topics.values()) t.assemblies.clear();
        this.log('nats: reconnected', { server: s.data });
      }
    }
  }
}

/** The batch as sent: `index` and `sid` only when the publisher set them. */
function batchBody(b: PublishedBatch): PublishedBatch {
  const o: PublishedBatch = { stream: b.stream, data: b.data };
  if (b.index !== undefined) o.index = b.index;
  if (b.sid !== undefined) o.sid = b.sid;
  return o;
}

function deliver(listeners: Set<Listener>, batch: PublishedBatch): void {
  for (const l of [...listeners]) {
    try {
      l(batch);
    } catch {
      // A failing subscriber must not break the insert that published, nor the other subscribers.
    }
  }
}

/** The bus for the original's `nats` config section. Not used by the server yet: it needs a shared (PostgreSQL) store first. */
export function natsPubSubFromConfig(cfg: NatsConfig, extra: Omit<NatsPubSubOptions, keyof NatsConfig> = {}): Promise<NatsPubSub> {
  return NatsPubSub.connect({ ...extra, hostname: cfg.hostname, port: cfg.port, username: cfg.username, password: cfg.password });
}
