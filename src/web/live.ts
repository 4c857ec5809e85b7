/**
 * One websocket per tab to /api/v1/websocket (websocket.md), shared by every page. Authenticated
 * by the session cookie at the handshake. The protocol has no acknowledgements: subscriptions are
 * remembered here and re-sent after every reconnect; data inserted while disconnected is not
 * replayed by the server, so a page that cares re-reads its range when `onReconnect` fires.
 */
import { signal } from '@preact/signals';
import type { Datapoint } from './api';

export type LiveState = 'connecting' | 'open' | 'closed';

/** The connection indicator reads this. */
export const liveState = signal<LiveState>('closed');

export type Listener = (data: Datapoint[], stream: string) => void;

interface Sub {
  stream: string;
  transform: string;
  listeners: Set<Listener>;
}

const key = (stream: string, transform: string) => `${stream}:${transform}`;

/** Back-off like the Python client (websocket.md §8): ×1.5 per failure from 1 s, jittered, capped. */
export const BACKOFF = { startMs: 1000, factor: 1.5, maxMs: 60000, jitter: 0.2 };

export class LiveClient {
  private ws: WebSocket | undefined;
  private subs = new Map<string, Sub>();
  private delay = BACKOFF.startMs;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private reconnectHooks = new Set<() => void>();
  private everOpened = false;
  /** Inserts made while connecting, sent once open. */
  private pending: object[] = [];

  constructor(private readonly url: string = LiveClient.defaultUrl()) {}

  static defaultUrl(): string {
    return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/websocket`;
  }

  /**
   * Delivers every datapoint batch inserted into `stream` (`user/device/stream`, or with
   * `/downlink`), after `transform` (PipeScript, "" for raw data). Returns the unsubscribe.
   */
  subscribe(stream: string, listener: Listener, transform = ''): () => void {
    const k = key(stream, transform);
    let sub = this.subs.get(k);
    if (!sub) {
      sub = { stream, transform, listeners: new Set() };
      this.subs.set(k, sub);
      this.send({ cmd: 'subscribe', arg: stream, transform });
    }
    sub.listeners.add(listener);
    this.connect();
    return () => {
      const s = this.subs.get(k);
      if (!s) return;
      s.listeners.delete(listener);
      if (s.listeners.size === 0) {
        this.subs.delete(k);
        this.send({ cmd: 'unsubscribe', arg: stream, transform });
      }
    };
  }

  /** Websocket insert: restamped like PUT, and the server never answers (websocket.md §3.4). */
  insert(stream: string, d: Datapoint[]): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ cmd: 'insert', arg: stream, d }));
    else this.pending.push({ cmd: 'insert', arg: stream, d });
    this.connect();
  }

  /** Called after each reconnect (not the first open): re-read what may have been missed. */
  onReconnect(f: () => void): () => void {
    this.reconnectHooks.add(f);
    return () => this.reconnectHooks.delete(f);
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const ws = this.ws;
    this.ws = undefined;
    ws?.close(1000);
    liveState.value = 'closed';
  }

  private connect(): void {
    if (this.ws || this.timer) return;
    liveState.value = 'connecting';
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      liveState.value = 'open';
      this.delay = BACKOFF.startMs;
      for (const s of this.subs.values()) ws.send(JSON.stringify({ cmd: 'subscribe', arg: s.stream, transform: s.transform }));
      for (const c of this.pending.splice(0)) ws.send(JSON.stringify(c));
      if (this.everOpened) for (const f of this.reconnectHooks) f();
      this.everOpened = true;
    };
    ws.onmessage = (ev) => {
      let msg: { stream?: string; transform?: string; data?: Datapoint[] | null };
      try {
        msg = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      if (!msg.stream || !Array.isArray(msg.data)) return;
      const sub = this.subs.get(key(msg.stream, msg.transform ?? ''));
      if (sub) for (const l of sub.listeners) l(msg.data, msg.stream);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      liveState.value = 'closed';
      if (this.subs.size > 0) this.scheduleReconnect();
    };
    // onclose follows every error; nothing to do here but keep the console quiet.
    ws.onerror = () => {};
  }

  private scheduleReconnect(): void {
    const jitter = 1 + (Math.random() * 2 - 1) * BACKOFF.jitter;
    const wait = Math.min(this.delay, BACKOFF.maxMs) * jitter;
    this.delay = Math.min(this.delay * BACKOFF.factor, BACKOFF.maxMs);
    liveState.value = 'connecting';
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect();
    }, wait);
  }

  private send(cmd: object): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(cmd));
    // Otherwise onopen sends every registered subscription.
  }
}

/** The tab's shared connection. */
export const live = new LiveClient();
