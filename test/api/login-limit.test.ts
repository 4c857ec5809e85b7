import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { defaultConfig } from '../../src/config';
import { loadConfig } from '../../src/config/load';
import { LoginLimiter } from '../../src/http/loginlimit';
import { TooManyRequestsError } from '../../src/errors';
import { type TestApp, basic, createUser, makeApp } from '../helpers';

// The failed-login limit (issue 13 "Authentication") and the session cookie attributes, over real HTTP.
let t: TestApp | undefined;
afterEach(async () => {
  if (t) await t.close();
  t = undefined;
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function port(app: TestApp): number {
  const a = app.app.server.address();
  if (!a || typeof a === 'string') throw new Error('no address');
  return a.port;
}

/** One GET on its own keep-alive agent (one connection per lane). */
function get(app: TestApp, path: string, headers: Record<string, string>, agent?: http.Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: port(app), path, headers, agent: agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const LOGIN = '/api/v1/login';
const from = (ip: string, auth: string) => ({ authorization: auth, 'x-forwarded-for': ip });

async function setup(over: (c: TestApp['config']) => void = () => {}): Promise<TestApp> {
  t = await makeApp((c) => {
    c.trust_proxy = 'loopback';
    over(c);
  });
  await createUser(t, 'alice', 'right');
  await createUser(t, 'bob', 'bobpw');
  return t;
}

function expect429(a: Answer): void {
  expect(a.status).toBe(429);
  const secs = Number(a.headers['retry-after']);
  expect(Number.isInteger(secs) && secs >= 1).toBe(true);
  const body = JSON.parse(a.body) as { code: number; msg: string; ref: string };
  expect(body.code).toBe(429);
  expect(body.msg).toMatch(/^Too many failed logins\. Try again in \d+ seconds$/);
  expect(typeof body.ref).toBe('string');
  expect(a.headers['content-type']).toBe('application/json; charset=utf-8');
}

describe('failed-login limit per address', () => {
  it('past login_limit.per_ip failures one address gets 429 with Retry-After and the error body', async () => {
    const app = await setup((c) => {
      c.login_limit.per_ip = 5;
      c.login_limit.per_account = 0;
    });
    for (let i = 0; i < 5; i++) expect((await get(app, LOGIN, from('10.0.0.1', basic('alice', 'wrong')))).status).toBe(401);
    expect429(await get(app, LOGIN, from('10.0.0.1', basic('alice', 'wrong'))));
    // The address is limited for every account, the right password included.
    expect429(await get(app, LOGIN, from('10.0.0.1', basic('bob', 'bobpw'))));
    // Another address is not affected, nor are API keys from the limited one.
    expect((await get(app, LOGIN, from('10.0.0.2', basic('alice', 'right')))).status).toBe(200);
    const key = (await app.http.get('/api/v1/crud/alice/user').set('Authorization', basic('alice', 'right'))).body.apikey as string;
    expect((await get(app, '/api/v1/?q=this', from('10.0.0.1', basic('', key)))).body).toBe('alice/user');
  });

  it('200 wrong passwords over 50 parallel connections: only per_ip are checked, a correct login from elsewhere succeeds meanwhile', async () => {
    const app = await setup((c) => {
      c.login_limit.per_ip = 20;
      c.login_limit.per_account = 0;
      c.failed_login_delay = 100;
    });
    const lanes = Array.from({ length: 50 }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
    const flood = Promise.all(
      lanes.map(async (agent) => {
        const out: number[] = [];
        for (let i = 0; i < 4; i++) out.push((await get(app, LOGIN, from('10.6.6.6', basic('alice', `guess${i}`)), agent)).status);
        return out;
      }),
    );
    const correct = await get(app, LOGIN, from('10.0.0.9', basic('alice', 'right')));
    const statuses = (await flood).flat();
    for (const a of lanes) a.destroy();
    expect(correct.status).toBe(200);
    expect(statuses).toHaveLength(200);
    // Attempts are counted when they start, so parallel guesses cannot overshoot the limit.
    expect(statuses.filter((s) => s === 401)).toHaveLength(20);
    expect(statuses.filter((s) => s === 429)).toHaveLength(180);
  });

  it('without trust_proxy X-Forwarded-For is ignored: the limit counts the real peer address', async () => {
    const app = await setup((c) => {
      c.trust_proxy = '';
      c.login_limit.per_ip = 3;
      c.login_limit.per_account = 0;
    });
    for (let i = 0; i < 3; i++) expect((await get(app, LOGIN, from(`10.1.0.${i}`, basic('alice', 'wrong')))).status).toBe(401);
    expect429(await get(app, LOGIN, from('10.1.0.99', basic('alice', 'right'))));
  });

  it('a websocket handshake from a limited address is refused with the same 429', async () => {
    const app = await setup((c) => {
      c.login_limit.per_ip = 2;
      c.login_limit.per_account = 0;
    });
    for (let i = 0; i < 2; i++) expect((await get(app, LOGIN, from('10.0.0.1', basic('alice', 'wrong')))).status).toBe(401);
    const ws = new WebSocket(`ws://127.0.0.1:${port(app)}/api/v1/websocket`, { headers: from('10.0.0.1', basic('alice', 'right')) });
    const a = await new Promise<Answer>((resolve, reject) => {
      ws.on('open', () => reject(new Error('upgraded')));
      ws.on('error', () => undefined);
      ws.on('unexpected-response', (_req, r) => {
        let body = '';
        r.on('data', (c: Buffer) => (body += c.toString()));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers, body }));
      });
    });
    expect429(a);
  });
});

describe('failed-login limit per account', () => {
  it('past login_limit.per_account failures from many addresses, new addresses get 429 but one that logged in before does not', async () => {
    const app = await setup((c) => {
      c.login_limit.per_ip = 0;
      c.login_limit.per_account = 10;
    });
    expect((await get(app, LOGIN, from('192.168.1.5', basic('alice', 'right')))).status).toBe(200);
    for (let i = 0; i < 10; i++) expect((await get(app, LOGIN, from(`10.2.0.${i}`, basic('ALICE', 'wrong')))).status).toBe(401);
    expect429(await get(app, LOGIN, from('10.2.1.1', basic('alice', 'wrong'))));
    expect429(await get(app, LOGIN, from('10.2.1.2', basic('alice', 'right'))));
    // The owner's usual address still gets in; other accounts are not affected.
    expect((await get(app, LOGIN, from('192.168.1.5', basic('alice', 'right')))).status).toBe(200);
    expect((await get(app, LOGIN, from('10.2.1.3', basic('bob', 'bobpw')))).status).toBe(200);
  });

  it('the limits are on by default and configurable from the environment', async () => {
    expect(defaultConfig().login_limit).toEqual({ per_ip: 20, per_account: 50, window: 300 });
    const dir = mkdtempSync(path.join(tmpdir(), 'cdb-limit-'));
    try {
      const c = loadConfig(dir, { env: { CONNECTORDB_LOGIN_LIMIT_PER_IP: '7', CONNECTORDB_LOGIN_LIMIT_WINDOW: '60', CONNECTORDB_TRUST_PROXY: '10.0.0.0/8' } });
      expect(c.login_limit).toEqual({ per_ip: 7, per_account: 50, window: 60 });
      expect(c.trust_proxy).toBe('10.0.0.0/8');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('LoginLimiter windows', () => {
  it('after window seconds attempts are accepted again; a success refunds its attempt', () => {
    let now = 1_000_000;
    const l = new LoginLimiter({ per_ip: 2, per_account: 0, window: 60 }, () => now);
    l.begin('a', 'x');
    l.begin('a', 'x').succeeded();
    l.begin('a', 'x');
    let err: unknown;
    try {
      l.begin('a', 'x');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TooManyRequestsError);
    expect((err as TooManyRequestsError).retryAfter).toBe(60);
    now += 30_000;
    expect(() => l.begin('a', 'y')).toThrow(/Try again in 30 seconds/);
    now += 30_000;
    expect(() => l.begin('a', 'x')).not.toThrow();
  });
});

describe('session cookie attributes', () => {
  const cookieLine = (a: Answer) => (a.headers['set-cookie'] ?? []).find((s) => s.startsWith('connectordb-session=')) ?? '';

  it('plain http: HttpOnly and SameSite=Lax, no Secure; X-Forwarded-Proto from an untrusted peer is ignored', async () => {
    const app = await setup((c) => (c.trust_proxy = ''));
    const a = await get(app, LOGIN, { authorization: basic('alice', 'right'), 'x-forwarded-proto': 'https' });
    expect(cookieLine(a)).toMatch(/; HttpOnly; SameSite=Lax$/);
    expect(cookieLine(a)).not.toMatch(/Secure/);
  });

  it('siteurl starting with https adds Secure to login, logout and join cookies', async () => {
    const app = await setup((c) => (c.siteurl = 'https://cdb.example.org'));
    for (const path of [LOGIN, '/api/v1/logout', '/logout']) {
      const a = await get(app, path, { authorization: basic('alice', 'right') });
      expect(cookieLine(a), path).toMatch(/; HttpOnly; SameSite=Lax; Secure$/);
    }
  });

  it('X-Forwarded-Proto: https from a trusted proxy adds Secure', async () => {
    const app = await setup((c) => (c.trust_proxy = '127.0.0.1'));
    const a = await get(app, LOGIN, { authorization: basic('alice', 'right'), 'x-forwarded-proto': 'https' });
    expect(cookieLine(a)).toMatch(/; HttpOnly; SameSite=Lax; Secure$/);
    const b = await get(app, LOGIN, { authorization: basic('alice', 'right'), 'x-forwarded-proto': 'http' });
    expect(cookieLine(b)).not.toMatch(/Secure/);
  });
});
