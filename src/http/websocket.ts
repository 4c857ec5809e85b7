/**
 * Live data over `GET /api/v1/websocket` (websocket.md): subscriptions with and without a
 * transform, inserts, keepalive, permission re-checks and bounded per-connection output.
 *
 * Fan-out is organised by a Hub: one bus subscription per stream path, and under it one group per
 * distinct transform string. Each published batch is serialised (and transformed) once per group
 * and the same string is handed to every connection of the group. A connection that cannot keep
 * up (more than `message_buffer` deliveries not yet accepted by its socket, or a write pending for
 * `write_wait` seconds) is dropped, never the messages of the others.
 */
import fastifyWebsocket from '@fastify/websocket';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import type { Config } from '../config';
import type { Services } from '../domain';
import { DatapointService } from '../domain/datapoints/service';
import { compileTransform } from '../domain/datapoints/transform';
import { NOBODY, type Operator } from '../domain/types';
import { UnauthorizedError } from '../errors';
import { type Datapoint, type Script, datapointToJSON } from '../pipescript';
import type { PubSub, PublishedBatch } from '../pubsub';
import { authenticate } from './auth';
import { type HttpContext, MAX_JSON_DEPTH, jsonDepthExceeds } from './context';
import { sendError } from './errors';

export const WEBSOCKET_PATH = '/api/v1/websocket';

/** Close codes: the original sent close frames without a status (clients see 1005). */
const CLOSE_INVALID_PAYLOAD = 1007;
const CLOSE_GOING_AWAY = 1001;
/** After our close frame, how long a peer gets to answer before the socket is destroyed. */
const CLOSE_GRACE_MS = 1000;

/** A raw datapoint as REST returns it: `t` omitted when 0, `d` when null, `o` when empty. */
function rawPointJSON(dp: Datapoint): string {
  const t = dp.t;
  let s = t === 0 ? '{' : '{"t":' + t;
  if (dp.d !== null && dp.d !== undefined) s += (t === 0 ? '"d":' : ',"d":') + JSON.stringify(dp.d);
  if (dp.o !== undefined && dp.o !== '') s += (s.length === 1 ? '"o":' : ',"o":') + JSON.stringify(dp.o);
  return s + '}';
}

function rawArrayJSON(data: Datapoint[]): string {
  let s = '[';
  for (let i = 0; i < data.length; i++) s += (i === 0 ? '' : ',') + rawPointJSON(data[i]);
  return s + ']';
}

/** Transform output: only `t` and `d` (websocket.md §4), PipeScript number kinds serialised exactly. */
function transformedArrayJSON(data: Datapoint[]): string {
  let s = '[';
  for (let i = 0; i < data.length; i++) s += (i === 0 ? '' : ',') + datapointToJSON({ t: data[i].t, d: data[i].d });
  return s + ']';
}

/** Splits a subscribe/insert `arg` into its parts; strips trailing slashes (websocket.md §3.1). */
export function parseStreamPath(arg: string): { user: string; device: string; stream: string; downlink: boolean } {
  const parts = arg.replace(/\/+$/, '').split('/');
  if (parts.length === 1) throw new Error('Subscribing by user is currently not supported for authenticated devices');
  if (parts.length === 2) throw new Error('Subscribing by device is currently not supported for authenticated devices');
  if (parts.length > 4 || (parts.length === 4 && parts[3] !== 'downlink')) throw new Error('Unrecognized substream type');
  return { user: parts[0], device: parts[1], stream: parts[2], downlink: parts.length === 4 };
}

/** One (path, transform) pair: the compiled transform, the message prefix and its connections. */
interface Group {
  transform: string;
  script: Script | null;
  /** `{"stream":...,"transform":...,"data":` */
  prefix: string;
  conns: Set<Connection>;
}

interface Topic {
  path: string;
  unsubscribe: () => void;
  groups: Map<string, Group>;
}

export interface HubLimits {
  /** Deliveries a connection may have queued in front of its socket before it is dropped. */
  messageBuffer: number;
  /** Milliseconds a write may stay pending before the connection is dropped. */
  writeWaitMs: number;
}

/** Every live subscription of this process, grouped for one serialisation per (path, transform). */
export class Hub {
  private readonly topics = new Map<string, Topic>();
  readonly conns = new Set<Connection>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly bus: PubSub,
    readonly limits: HubLimits,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Adds conn to (path, transform); false when that pair already existed on the connection. */
  add(conn: Connection, path: string, transform: string, script: Script | null): boolean {
    let topic = this.topics.get(path);
    if (!topic) {
      const t: Topic = { path, groups: new Map(), unsubscribe: () => {} };
      t.unsubscribe = this.bus.subscribe(path, (b) => this.deliver(t, b));
      this.topics.set(path, (topic = t));
    }
    let g = topic.groups.get(transform);
    if (!g) {
      const prefix = '{"stream":' + JSON.stringify(path) + (transform === '' ? '' : ',"transform":' + JSON.stringify(transform)) + ',"data":';
      g = { transform, script, prefix, conns: new Set() };
      topic.groups.set(transform, g);
    }
    if (g.conns.has(conn)) return false;
    g.conns.add(conn);
    return true;
  }

  /** Removes conn from (path, transform); false when it was not there. */
  remove(conn: Connection, path: string, transform: string): boolean {
    const topic = this.topics.get(path);
    const g = topic?.groups.get(transform);
    if (!topic || !g || !g.conns.delete(conn)) return false;
    if (g.conns.size === 0) topic.groups.delete(transform);
    if (topic.groups.size === 0) {
      this.topics.delete(path);
      topic.unsubscribe();
    }
    return true;
  }

  /** Whether this hub already holds a compiled transform for the pair (saves re-parsing). */
  has(path: string, transform: string): boolean {
    return this.topics.get(path)?.groups.has(transform) ?? false;
  }

  private deliver(topic: Topic, batch: PublishedBatch): void {
    const data = batch.data;
    // Empty inserts are not published (websocket.md §4 recommendation).
    if (!data || data.length === 0) return;
    for (const g of [...topic.groups.values()]) {
      let msg: string;
      try {
        if (g.script === null) {
          msg = g.prefix + rawArrayJSON(data) + '}\n';
        } else {
          // Fresh transform state for every batch (websocket.md §4).
          const out = g.script.runArray(data);
          if (out.length === 0) continue;
          msg = g.prefix + transformedArrayJSON(out) + '}\n';
        }
      } catch (e) {
        this.log.info({ stream: topic.path, transform: g.transform, err: e instanceof Error ? e.message : String(e) }, 'websocket: transform failed; delivery skipped');
        continue;
      }
      for (const c of [...g.conns]) c.send(msg);
    }
  }

  attach(conn: Connection): void {
    this.conns.add(conn);
    if (!this.sweeper && this.limits.writeWaitMs > 0) {
      const every = Math.max(20, Math.min(1000, this.limits.writeWaitMs / 4));
      this.sweeper = setInterval(() => this.sweep(), every);
      this.sweeper.unref();
    }
  }

  detach(conn: Connection): void {
    this.conns.delete(conn);
    if (this.conns.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  /** Drops connections whose oldest pending write has waited longer than write_wait. */
  private sweep(): void {
    const now = Date.now();
    for (const c of [...this.conns]) {
      if (c.stalledSince(now) > this.limits.writeWaitMs) c.drop('write timed out');
    }
  }

  /** Server shutdown: a close frame (1001) to every connection. */
  shutdown(): void {
    for (const c of [...this.conns]) c.close(CLOSE_GOING_AWAY, 'server shutting down');
  }
}

interface Command {
  cmd: string;
  arg: string;
  transform: string;
  d: unknown;
}

/** One websocket client: its identity, subscriptions, keepalive and output accounting. */
export class Connection {
  /** path → transform strings subscribed on this connection. */
  private readonly subs = new Map<string, Set<string>>();
  private pending = 0;
  private progressAt = 0;
  private dead = false;
  /** Commands of one connection run one after the other, in the order they arrived. */
  private chain: Promise<void> = Promise.resolve();
  private readonly pingTimer: NodeJS.Timeout;
  private readonly pongTimer: NodeJS.Timeout;
  private readonly onSent = (err?: Error | null) => {
    this.pending--;
    this.progressAt = Date.now();
    if (err) this.drop('write failed');
  };

  constructor(
    private readonly ws: WebSocket,
    private op: Operator,
    private readonly svc: Services,
    private readonly hub: Hub,
    config: Config,
    private readonly log: FastifyBaseLogger,
  ) {
    const wsc = config.websocket;
    hub.attach(this);
    // The read deadline: pushed forward by pongs only, not by ordinary messages (websocket.md §5).
    this.pongTimer = setTimeout(() => this.close(undefined, 'no pong'), wsc.pong_wait * 1000);
    this.pingTimer = setInterval(() => this.enqueue(() => this.tick()), wsc.ping_period * 1000);
    ws.on('pong', () => this.pongTimer.refresh());
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', () => this.cleanup());
  }

  /** Milliseconds the oldest pending write has been waiting (0 when nothing is pending). */
  stalledSince(now: number): number {
    return this.pending > 0 ? now - this.progressAt : 0;
  }

  send(msg: string): void {
    if (this.dead) return;
    if (this.pending >= this.hub.limits.messageBuffer) {
      this.drop('output buffer full');
      return;
    }
    if (this.pending === 0) this.progressAt = Date.now();
    this.pending++;
    this.ws.send(msg, this.onSent);
  }

  /** Cannot keep up or broken: no close handshake, the socket is destroyed. */
  drop(reason: string): void {
    if (this.dead) return;
    this.log.info({ reason, op: this.op.name }, 'websocket: dropping connection');
    this.cleanup();
    this.ws.terminate();
  }

  /** A close frame (no status when code is undefined), then the socket is destroyed if the peer stays silent. */
  close(code: number | undefined, reason: string): void {
    if (this.dead) return;
    this.log.info({ reason, op: this.op.name }, 'websocket: closing connection');
    this.cleanup();
    this.ws.close(code);
    setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  private cleanup(): void {
    if (this.dead) return;
    this.dead = true;
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.unsubscribeAll();
    this.hub.detach(this);
  }

  /** Ping, then re-validate every subscription (websocket.md §5). */
  private enqueue(fn: () => Promise<void>): void {
    this.chain = this.chain.then(fn).catch((e: unknown) => this.log.warn({ err: e instanceof Error ? e.message : String(e) }, 'websocket: task failed'));
  }

  private async tick(): Promise<void> {
    if (this.dead) return;
    this.ws.ping();
    const op = await this.refreshOperator();
    for (const path of [...this.subs.keys()]) {
      let ok = op !== null;
      if (op) {
        try {
          const p = parseStreamPath(path);
          await this.svc.data.openForRead(op, p.user, p.device, p.stream, p.downlink);
        } catch {
          ok = false;
        }
      }
      if (!ok) {
        this.log.info({ stream: path, op: this.op.name }, 'websocket: subscription no longer readable; removed');
        for (const tr of [...(this.subs.get(path) ?? [])]) this.unsubscribe(path, tr);
      }
    }
  }

  /**
   * The identity is fixed (the same device) but its rows are re-read, so role and permission
   * changes apply; null when the device no longer exists.
   */
  private async refreshOperator(): Promise<Operator | null> {
    if (this.op.nobody) return NOBODY;
    const core = this.svc.core;
    const d = await core.devices.getById(this.op.device.id);
    const u = d ? await core.users.getById(d.user_id) : undefined;
    if (!d || !u) return null;
    this.op = this.svc.users.operatorFor(u, d);
    return this.op;
  }

  private onMessage(data: RawData, _isBinary: boolean): void {
    if (this.dead) return;
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      // The original stopped reading and closed (websocket.md §3).
      this.close(CLOSE_INVALID_PAYLOAD, 'invalid JSON');
      return;
    }
    if (v === null) return;
    if (text.length > MAX_JSON_DEPTH && jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
      // Too deep to validate or store: a failed command, which never closes the connection.
      this.log.info({ op: this.op.name }, 'websocket: command nested too deeply ignored');
      return;
    }
    if (typeof v !== 'object' || Array.isArray(v)) {
      this.close(CLOSE_INVALID_PAYLOAD, 'command is not a JSON object');
      return;
    }
    const o = v as Record<string, unknown>;
    const str = (k: string): string | undefined => (o[k] === undefined || o[k] === null ? '' : typeof o[k] === 'string' ? (o[k] as string) : undefined);
    const cmd = str('cmd');
    const arg = str('arg');
    const transform = str('transform');
    if (cmd === undefined || arg === undefined || transform === undefined) {
      this.log.info({ op: this.op.name }, 'websocket: command with a non-string cmd/arg/transform ignored');
      return;
    }
    const c: Command = { cmd, arg, transform, d: o.d === undefined || o.d === null ? [] : o.d };
    this.enqueue(() => this.command(c));
  }

  private async command(c: Command): Promise<void> {
    if (this.dead) return;
    try {
      switch (c.cmd) {
        case 'subscribe':
          return await this.subscribe(c.arg, c.transform);
        case 'unsubscribe':
          if (!this.unsubscribe(c.arg.replace(/\/+$/, ''), c.transform)) this.log.info({ stream: c.arg, transform: c.transform }, 'websocket: subscription DNE');
          return;
        case 'unsubscribe_all':
          return this.unsubscribeAll();
        case 'insert':
          return await this.insert(c.arg, c.d);
        default:
          this.log.info({ cmd: c.cmd, op: this.op.name }, 'websocket: unknown command ignored');
      }
    } catch (e) {
      // Failed commands never reply and never close the connection (websocket.md §3, §7).
      this.log.info({ cmd: c.cmd, arg: c.arg, op: this.op.name, err: e instanceof Error ? e.message : String(e) }, 'websocket: command failed');
    }
  }

  private async subscribe(arg: string, transform: string): Promise<void> {
    const p = parseStreamPath(arg);
    const op = await this.refreshOperator();
    if (!op) throw new Error('The connection device no longer exists');
    const { ref } = await this.svc.data.openForRead(op, p.user, p.device, p.stream, p.downlink);
    const path = p.downlink ? `${ref.path}/downlink` : ref.path;
    let set = this.subs.get(path);
    if (set?.has(transform)) {
      this.log.info({ stream: path, transform }, 'websocket: Subscription to the transform already exists');
      return;
    }
    const script = transform === '' || this.hub.has(path, transform) ? null : compileTransform(transform);
    this.hub.add(this, path, transform, script);
    if (!set) this.subs.set(path, (set = new Set()));
    set.add(transform);
  }

  private unsubscribe(path: string, transform: string): boolean {
    const set = this.subs.get(path);
    if (!set || !set.delete(transform)) return false;
    if (set.size === 0) this.subs.delete(path);
    this.hub.remove(this, path, transform);
    return true;
  }

  private unsubscribeAll(): void {
    for (const [path, set] of [...this.subs]) for (const tr of [...set]) this.unsubscribe(path, tr);
  }

  /** Exactly PUT /api/v1/crud/<arg>/data: always restamped, with this connection's identity. */
  private async insert(arg: string, d: unknown): Promise<void> {
    const p = parseStreamPath(arg);
    const op = await this.refreshOperator();
    if (!op) throw new Error('The connection device no longer exists');
    const points = DatapointService.parseInsertBody(d);
    await this.svc.data.insert(op, p.user, p.device, p.stream, points, { restamp: true, downlink: p.downlink });
  }
}

/**
 * Registers @fastify/websocket and the `/api/v1/websocket` route. Authentication happens before
 * the upgrade with the REST rules; a failure is a plain HTTP 401 with the error JSON.
 */
export function registerWebsocket(app: FastifyInstance, ctx: HttpContext): Hub {
  const wsc = ctx.config.websocket;
  const hub = new Hub(ctx.svc.core.bus, { messageBuffer: Math.max(1, wsc.message_buffer), writeWaitMs: wsc.write_wait * 1000 }, app.log);
  const ops = new WeakMap<FastifyRequest, Operator>();

  app.register(fastifyWebsocket, {
    options: { maxPayload: wsc.message_limit_bytes, perMessageDeflate: false },
    // ws closes with 1009 itself on oversized messages and tears down broken sockets; just log.
    errorHandler(error, socket, request) {
      request.log.info({ err: error.message }, 'websocket error');
      if (socket.readyState !== socket.CLOSING && socket.readyState !== socket.CLOSED) socket.terminate();
    },
    preClose(this: FastifyInstance, done: () => void) {
      hub.shutdown();
      this.websocketServer.close();
      done();
    },
  });

  app.register(async (inst) => {
    inst.route({
      method: 'GET',
      url: WEBSOCKET_PATH,
      // Without an upgrade: the JSON 404 of rest-api §10.2 (the recommended behaviour).
      handler: async (_req: FastifyRequest, reply: FastifyReply) => sendError(reply, 404, 'This path is not recognized'),
      preValidation: async (req: FastifyRequest, reply: FastifyReply) => {
        if (!req.ws) return;
        if (!ctx.state.enabled) {
          return reply.code(503).type('application/json; charset=utf-8').send('{"code": 503, "msg": "ConnectorDB is currently inactive", "ref": "DISABLED"}');
        }
        try {
          ops.set(req, await authenticate(ctx.svc, ctx.cookies, req));
        } catch (e) {
          if (!(e instanceof UnauthorizedError)) throw e;
          if (ctx.config.failed_login_delay > 0) await new Promise((r) => setTimeout(r, ctx.config.failed_login_delay));
          return sendError(reply, 401, e.message);
        }
      },
      wsHandler: (socket: WebSocket, req: FastifyRequest) => {
        const op = ops.get(req) ?? NOBODY;
        ops.delete(req);
        req.operator = op.name;
        if (!ctx.state.enabled) {
          socket.close(CLOSE_GOING_AWAY);
          return;
        }
        // Upgrades are hijacked, so the onResponse request line is not written: one line here (no URL, it may hold an apikey).
        req.log.info({ op: op.name }, 'websocket connected');
        new Connection(socket, op, ctx.svc, hub, ctx.config, req.log.child({ ws: true }));
      },
    });
  });
  return hub;
}
