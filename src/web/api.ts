/**
 * Typed client for the public REST API (rest-api.md), used by every page. Requests carry the
 * session cookie (same origin); nothing here is private to the app, so whatever the app does a
 * client can do. Failures become ApiError with a message a person can read.
 */

export interface User {
  name: string;
  nickname?: string;
  email?: string;
  description?: string;
  icon?: string;
  role?: string;
  public?: boolean;
}

export interface Device {
  name: string;
  nickname?: string;
  description?: string;
  icon?: string;
  apikey?: string;
  enabled?: boolean;
  public?: boolean;
  role?: string;
  visible?: boolean;
  user_editable?: boolean;
}

export interface Stream {
  name: string;
  nickname: string;
  description: string;
  icon: string;
  /** Minified JSON Schema text (rest-api §7.1). */
  schema: string;
  datatype: string;
  ephemeral: boolean;
  downlink: boolean;
}

/** A stream listed by `?q=streams`: carries its device's name. */
export interface UserStream extends Stream {
  device: string;
}

/** The wire datapoint (data-model §5): `t` in seconds, `o` the writer when not the owner. */
export interface Datapoint<T = unknown> {
  t: number;
  d: T;
  o?: string;
}

export type UserCreate = Partial<Omit<User, 'name'>> & { email: string; password: string };
export type UserUpdate = Partial<Omit<User, 'name'>> & { password?: string };
export type DeviceWrite = Partial<Omit<Device, 'name'>>;
export type StreamWrite = Partial<Omit<Stream, 'name'>>;

/** A refused request: `status`, and the server's `{code,msg,ref}` when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly ref?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const STATUS_TEXT: Record<number, string> = {
  0: 'The server cannot be reached. Check your connection and try again.',
  401: 'You are not logged in (or your session has ended). Log in again.',
  403: 'You do not have permission to do that.',
  404: 'Not found.',
  413: 'That is too large for the server to accept.',
  429: 'Too many requests: wait a moment and try again.',
  500: 'The server failed to answer this request.',
  503: 'The server is not accepting requests right now. Try again shortly.',
};

/** Turns a failed response into an ApiError, preferring the server's own message. */
async function toError(r: Response): Promise<ApiError> {
  const text = await r.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { code?: number; msg?: string; ref?: string };
    if (body && typeof body.msg === 'string' && body.msg) return new ApiError(r.status, body.msg, body.ref);
  } catch {
    // not the error body: fall through to a generic message
  }
  const short = text && text.length < 200 && !text.trimStart().startsWith('<') ? text.trim() : '';
  return new ApiError(r.status, short || STATUS_TEXT[r.status] || `The server answered ${r.status} ${r.statusText}.`);
}

/** Called on every 401: the app sends the person to the login page (set by main.tsx). */
let onUnauthorized: (() => void) | undefined;
export function setUnauthorizedHandler(f: () => void): void {
  onUnauthorized = f;
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  signal?: AbortSignal;
}

export function apiUrl(path: string, query?: RequestOptions['query']): string {
  let url = '/api/v1/' + path.replace(/^\/+/, '');
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, String(v));
    const s = q.toString();
    if (s) url += (url.includes('?') ? '&' : '?') + s;
  }
  return url;
}

/** One request; the raw Response when ok, else ApiError. */
export async function request(path: string, opts: RequestOptions = {}): Promise<Response> {
  let r: Response;
  try {
    r = await fetch(apiUrl(path, opts.query), {
      method: opts.method ?? 'GET',
      credentials: 'same-origin',
      headers: opts.body === undefined ? undefined : { 'Content-Type': 'application/json' },
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: opts.signal,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, STATUS_TEXT[0]);
  }
  if (!r.ok) {
    const err = await toError(r);
    if (r.status === 401) onUnauthorized?.();
    throw err;
  }
  return r;
}

export async function getJSON<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const r = await request(path, opts);
  return (await r.json()) as T;
}

export async function getText(path: string, opts: RequestOptions = {}): Promise<string> {
  return (await request(path, opts)).text();
}

const enc = encodeURIComponent;
const p2 = (u: string, d: string) => `${enc(u)}/${enc(d)}`;
const p3 = (u: string, d: string, s: string) => `${enc(u)}/${enc(d)}/${enc(s)}`;

/** The public REST API, one function per route the app uses. */
export const api = {
  /** `user/device` of whoever the session is (rest-api §4.1). */
  whoami: () => getText('', { query: { q: 'this' } }),
  version: () => getText('meta/version'),
  transforms: () => getJSON<Record<string, { description: string; args?: unknown[] }>>('meta/transforms'),
  interpolators: () => getJSON<Record<string, { description: string }>>('meta/interpolators'),
  count: (what: 'users' | 'devices' | 'streams') => getText('', { query: { q: 'count' + what } }).then(Number),

  listUsers: () => getJSON<User[]>('crud/', { query: { q: 'ls' } }),
  getUser: (u: string) => getJSON<User>(`crud/${enc(u)}`),
  createUser: (u: string, body: UserCreate) => getJSON<User>(`crud/${enc(u)}`, { method: 'POST', body }),
  updateUser: (u: string, body: UserUpdate) => getJSON<User>(`crud/${enc(u)}`, { method: 'PUT', body }),
  deleteUser: (u: string) => getText(`crud/${enc(u)}`, { method: 'DELETE' }),

  listDevices: (u: string) => getJSON<Device[]>(`crud/${enc(u)}`, { query: { q: 'ls' } }),
  /** Every stream of every device of the user; `visible: true` hides the meta log. */
  listUserStreams: (u: string, filter: { visible?: boolean; downlink?: boolean; public?: boolean } = {}) =>
    getJSON<UserStream[]>(`crud/${enc(u)}`, {
      query: { q: 'streams', visible: filter.visible || undefined, downlink: filter.downlink || undefined, public: filter.public || undefined },
    }),
  getDevice: (u: string, d: string) => getJSON<Device>(`crud/${p2(u, d)}`),
  createDevice: (u: string, d: string, body: DeviceWrite) => getJSON<Device>(`crud/${p2(u, d)}`, { method: 'POST', body }),
  updateDevice: (u: string, d: string, body: DeviceWrite) => getJSON<Device>(`crud/${p2(u, d)}`, { method: 'PUT', body }),
  /** `{"apikey": ""}` makes the server choose a fresh key (rest-api §6.4). */
  resetApikey: (u: string, d: string) => getJSON<Device>(`crud/${p2(u, d)}`, { method: 'PUT', body: { apikey: '' } }),
  deleteDevice: (u: string, d: string) => getText(`crud/${p2(u, d)}`, { method: 'DELETE' }),

  listStreams: (u: string, d: string) => getJSON<Stream[]>(`crud/${p2(u, d)}`, { query: { q: 'ls' } }),
  getStream: (u: string, d: string, s: string) => getJSON<Stream>(`crud/${p3(u, d, s)}`),
  createStream: (u: string, d: string, s: string, body: StreamWrite) => getJSON<Stream>(`crud/${p3(u, d, s)}`, { method: 'POST', body }),
  updateStream: (u: string, d: string, s: string, body: StreamWrite) => getJSON<Stream>(`crud/${p3(u, d, s)}`, { method: 'PUT', body }),
  deleteStream: (u: string, d: string, s: string) => getText(`crud/${p3(u, d, s)}`, { method: 'DELETE' }),

  /** A range of datapoints (rest-api §8.2): by time `t1`/`t2`, by index `i1`/`i2`, optional transform. */
  data: <T = unknown>(
    u: string,
    d: string,
    s: string,
    q: { t1?: number; t2?: number; i1?: number; i2?: number; transform?: string; downlink?: boolean },
    signal?: AbortSignal,
  ) => getJSON<Datapoint<T>[]>(`crud/${p3(u, d, s)}/data`, { query: { ...q, downlink: q.downlink || undefined }, signal }),
  length: (u: string, d: string, s: string, downlink = false) =>
    getText(`crud/${p3(u, d, s)}/data`, { query: { q: 'length', downlink: downlink || undefined } }).then(Number),
  time2index: (u: string, d: string, s: string, t: number) => getText(`crud/${p3(u, d, s)}/data`, { query: { q: 'time2index', t } }).then(Number),
  /** POST: no restamp, so an out-of-order timestamp is refused (rest-api §8.1). */
  insert: (u: string, d: string, s: string, points: Datapoint[], opts: { restamp?: boolean; downlink?: boolean } = {}) =>
    getText(`crud/${p3(u, d, s)}/data`, { method: opts.restamp ? 'PUT' : 'POST', body: points, query: { downlink: opts.downlink || undefined } }),
};

/** `user/device/stream` from its parts, and back. */
export const streamPath = (u: string, d: string, s: string): string => `${u}/${d}/${s}`;
export function splitPath(path: string): string[] {
  return path.split('/').filter(Boolean);
}
