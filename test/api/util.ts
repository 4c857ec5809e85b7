import { expect } from 'vitest';
import type { Response } from 'supertest';
import { ADMIN, type TestApp, basic, keyAuth } from '../helpers';

/** The original's error reference: 36 characters, 8-4-4-4-12 lowercase hex (rest-api §1.5). */
export const REF_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Asserts the ConnectorDB error answer: the status, the JSON content type, and the body
 * `{"code","msg","ref"}` serialised in that order with code repeated and a 36-char ref.
 */
export function expectError(r: Response, status: number, msg?: string | RegExp): void {
  expect(r.status, r.text).toBe(status);
  expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
  const body = JSON.parse(r.text) as { code: number; msg: string; ref: string };
  expect(Object.keys(body)).toEqual(['code', 'msg', 'ref']);
  expect(body.code).toBe(status);
  expect(typeof body.msg).toBe('string');
  expect(body.ref).toMatch(REF_RE);
  if (typeof msg === 'string') expect(body.msg).toBe(msg);
  else if (msg) expect(body.msg).toMatch(msg);
}

/** Asserts a JSON 200 answer with the API's JSON content type. */
export function expectJSON(r: Response): void {
  expect(r.status, r.text).toBe(200);
  expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
}

/** Asserts the two-byte `ok` acknowledgement. */
export function expectOk(r: Response): void {
  expect(r.status, r.text).toBe(200);
  expect(r.text).toBe('ok');
  expect(r.headers['content-type']).toMatch(/^text\/plain/);
  expect(r.headers['content-length']).toBe('2');
}

export const CANT_ACCESS = "Can't access this resource.";

/** A small authenticated client over the test app, for readable tests. */
export class Actor {
  constructor(
    private readonly t: TestApp,
    readonly auth: string | undefined,
  ) {}
  private set<T extends { set(k: string, v: string): T }>(req: T): T {
    return this.auth ? req.set('Authorization', this.auth) : req;
  }
  get(path: string) {
    return this.set(this.t.http.get(path));
  }
  post(path: string, body?: unknown) {
    const r = this.set(this.t.http.post(path));
    return body === undefined ? r : r.send(body as object);
  }
  put(path: string, body?: unknown) {
    const r = this.set(this.t.http.put(path));
    return body === undefined ? r : r.send(body as object);
  }
  del(path: string) {
    return this.set(this.t.http.delete(path));
  }
}

export const admin = (t: TestApp) => new Actor(t, ADMIN);
export const asUser = (t: TestApp, name: string, pw = 'pw') => new Actor(t, basic(name, pw));
export const asKey = (t: TestApp, key: string) => new Actor(t, keyAuth(key));
export const anon = (t: TestApp) => new Actor(t, undefined);

/** Creates a device as the given actor and returns its API key. */
export async function mkDevice(a: Actor, path: string, body: Record<string, unknown> = {}): Promise<string> {
  const r = await a.post(`/api/v1/crud/${path}`, body);
  expect(r.status, r.text).toBe(200);
  return r.body.apikey as string;
}

/** Creates a stream as the given actor. */
export async function mkStream(a: Actor, path: string, body: Record<string, unknown> = { schema: '{}' }): Promise<void> {
  const r = await a.post(`/api/v1/crud/${path}`, body);
  expect(r.status, r.text).toBe(200);
}
