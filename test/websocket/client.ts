import WebSocket from 'ws';
import { ADMIN, type TestApp } from '../helpers';

/** One server message: the exact text and its parsed JSON. */
export interface Msg {
  raw: string;
  json: { stream: string; transform?: string; data: Array<{ t?: number; d?: unknown; o?: string }> | null };
}

export interface OpenOptions {
  headers?: Record<string, string>;
  query?: string;
  autoPong?: boolean;
}

export function wsUrl(t: TestApp, query = ''): string {
  const addr = t.app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('no address');
  return `ws://127.0.0.1:${addr.port}/api/v1/websocket${query}`;
}

/** Awaits an event with a timeout, so a missing event fails the test instead of hanging it. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/** Polls a condition on the in-process server (e.g. bus listener counts) until it holds. */
export async function waitFor(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

let syncN = 0;

/** A real `ws` client that queues every message and lets tests await them in order. */
export class Client {
  readonly messages: Msg[] = [];
  private waiters: Array<() => void> = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  pings = 0;
  private pingWaiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const raw = data.toString();
      this.messages.push({ raw, json: JSON.parse(raw) });
      this.wake();
    });
    ws.on('ping', () => {
      this.pings++;
      const w = this.pingWaiters;
      this.pingWaiters = [];
      for (const f of w) f();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static open(t: TestApp, opts: OpenOptions = {}): Promise<Client> {
    const ws = new WebSocket(wsUrl(t, opts.query), { headers: opts.headers, autoPong: opts.autoPong ?? true });
    return within(
      new Promise<Client>((resolve, reject) => {
        const c = new Client(ws);
        ws.once('open', () => resolve(c));
        ws.once('error', reject);
        ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
      }),
      3000,
      'websocket open',
    );
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(cmd: unknown): void {
    this.ws.send(typeof cmd === 'string' ? cmd : JSON.stringify(cmd));
  }

  subscribe(arg: string, transform?: string): void {
    this.send(transform === undefined ? { cmd: 'subscribe', arg } : { cmd: 'subscribe', arg, transform });
  }

  unsubscribe(arg: string, transform?: string): void {
    this.send(transform === undefined ? { cmd: 'unsubscribe', arg } : { cmd: 'unsubscribe', arg, transform });
  }

  insert(arg: string, d: unknown[]): void {
    this.send({ cmd: 'insert', arg, d });
  }

  /** The next queued message (in arrival order). */
  async next(ms = 3000): Promise<Msg> {
    if (this.messages.length === 0) await within(new Promise<void>((r) => this.waiters.push(r)), ms, 'a websocket message');
    return this.messages.shift()!;
  }

  /** Awaits n server pings. */
  async waitPings(n: number, ms = 3000): Promise<void> {
    const target = this.pings + n;
    while (this.pings < target) await within(new Promise<void>((r) => this.pingWaiters.push(r)), ms, 'a server ping');
  }

  /**
   * A barrier: inserts a marker into `barrier` (a stream this client owns and has subscribed to)
   * over this connection and returns every message that arrived before the marker. Commands are
   * processed in order, so every earlier command has taken effect and every delivery it caused
   * has been received.
   */
  async sync(barrier: string): Promise<Msg[]> {
    const marker = `sync-${++syncN}`;
    this.insert(barrier, [{ d: marker }]);
    const before: Msg[] = [];
    for (;;) {
      const m = await this.next();
      if (m.json.stream === barrier) {
        // Markers of other clients sharing the barrier stream are not deliveries under test.
        if (m.json.data?.[0]?.d === marker) return before;
        if (typeof m.json.data?.[0]?.d === 'string' && (m.json.data[0].d as string).startsWith('sync-')) continue;
      }
      before.push(m);
    }
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close(1000);
    await within(this.closed, 3000, 'close');
  }
}

/** REST helpers bound to one test app. */
export function rest(t: TestApp) {
  const ok = (r: { status: number; text: string }, what: string) => {
    if (r.status !== 200) throw new Error(`${what}: ${r.status} ${r.text}`);
    return r;
  };
  return {
    async createStream(path: string, auth: string, body: Record<string, unknown> = {}): Promise<void> {
      ok(await t.http.post(`/api/v1/crud/${path}`).set('Authorization', auth).send(body), `create ${path}`);
    },
    async updateStream(path: string, auth: string, body: Record<string, unknown>): Promise<void> {
      ok(await t.http.put(`/api/v1/crud/${path}`).set('Authorization', auth).send(body), `update ${path}`);
    },
    /** Creates a device; returns its API key. */
    async createDevice(path: string, auth: string = ADMIN, body: Record<string, unknown> = {}): Promise<string> {
      const r = ok(await t.http.post(`/api/v1/crud/${path}`).set('Authorization', auth).send(body), `create ${path}`);
      return JSON.parse(r.text).apikey as string;
    },
    async insert(path: string, auth: string, points: unknown[], method: 'post' | 'put' = 'post', query = ''): Promise<{ status: number; text: string }> {
      return t.http[method](`/api/v1/crud/${path}/data${query}`).set('Authorization', auth).send(points);
    },
    async data(path: string, auth: string, query = 'i1=0&i2=0'): Promise<unknown[]> {
      const r = ok(await t.http.get(`/api/v1/crud/${path}/data?${query}`).set('Authorization', auth), `read ${path}`);
      return JSON.parse(r.text) as unknown[];
    },
    async length(path: string, auth: string, query = ''): Promise<number> {
      const r = ok(await t.http.get(`/api/v1/crud/${path}/data?q=length${query}`).set('Authorization', auth), `length ${path}`);
      return Number(r.text);
    },
  };
}
