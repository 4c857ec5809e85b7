import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, type TestApp, createUser, makeApp } from '../helpers';
import { admin, expectError, expectJSON, expectOk } from './util';

let t: TestApp;
let n = 0;

beforeAll(async () => {
  t = await makeApp((c) => {
    c.insert_limit_bytes = 1000;
  });
  await createUser(t, 'alice', 'pw');
});
afterAll(() => t.close());

const NOT_RECOGNIZED = 'This path is not recognized';

describe('unknown API routes answer the JSON 404', () => {
  for (const p of ['/api', '/api/x', '/api/v1/nonexistent', '/api/v1/meta', '/api/v1/crud/a/b/c/d', '/api/v1/crud/a/b/c/data/extra', '/api/v2/crud/x']) {
    it(`GET ${p} → 404 "${NOT_RECOGNIZED}"`, async () => {
      expectError(await t.http.get(p).set('Authorization', ADMIN), 404, NOT_RECOGNIZED);
    });
  }

  it('an unknown /api path without credentials is the JSON 404 too', async () => {
    expectError(await t.http.get('/api/v1/nope'), 404, NOT_RECOGNIZED);
  });

  it('an unknown q on the root is the JSON 404', async () => {
    expectError(await t.http.get('/api/v1/?q=other').set('Authorization', ADMIN), 404, NOT_RECOGNIZED);
  });
});

describe('wrong methods answer the JSON 404', () => {
  const cases: [string, string][] = [
    ['delete', '/api/v1/meta/version'],
    ['patch', '/api/v1/crud/alice'],
    ['post', '/api/v1/?q=this'],
    ['put', '/api/v1/login'],
    ['delete', '/api/v1/crud/alice/user/x/data'],
  ];
  for (const [m, p] of cases) {
    it(`${m.toUpperCase()} ${p} → 404 JSON`, async () => {
      const r = await (t.http as unknown as Record<string, (p: string) => import('supertest').Test>)[m](p).set('Authorization', ADMIN);
      expectError(r, 404, NOT_RECOGNIZED);
    });
  }
});

describe('router-level failures answer the error JSON too', () => {
  it('HEAD is a wrong method (404 JSON), as in the original', async () => {
    const r = await t.http.head('/api/v1/crud/alice').set('Authorization', ADMIN);
    expect(r.status).toBe(404);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
  });

  it('an over-long path segment is a 4xx with the error JSON', async () => {
    const r = await admin(t).get('/api/v1/crud/' + 'a'.repeat(600));
    expectError(r, 414);
    expect(r.headers['x-content-type-options']).toBe('nosniff');
  });

  it('an undecodable percent escape is a 400 with the error JSON', async () => {
    expectError(await admin(t).get('/api/v1/crud/%zz'), 400);
  });

  it('an encoded slash inside a segment is refused by name sanitation', async () => {
    expectError(await admin(t).get('/api/v1/crud/alice%2Fuser'), 400, 'The given name did not pass sanitation.');
  });
});

describe('request bodies', () => {
  it('a JSON array or string as a create body is 400', async () => {
    expectError(await admin(t).post('/api/v1/crud/alice/arr').set('Content-Type', 'application/json').send('[1,2]'), 400, /cannot unmarshal array/);
    expectError(await admin(t).post('/api/v1/crud/alice/str').set('Content-Type', 'application/json').send('"x"'), 400, /cannot unmarshal string/);
  });

  it('a body without any Content-Type header is parsed as JSON', async () => {
    const port = (t.app.server.address() as AddressInfo).port;
    const body = '{"nickname":"noctype"}';
    const r = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, method: 'POST', path: `/api/v1/crud/alice/noct${++n}`, headers: { Authorization: ADMIN, 'Content-Length': String(body.length) } },
        (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode!, text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(r.status, r.text).toBe(200);
    expect(JSON.parse(r.text).nickname).toBe('noctype');
  });

  it('a GET carrying a stray body is still answered', async () => {
    expectJSON(await admin(t).get('/api/v1/crud/alice').set('Content-Type', 'application/json').send('{}'));
  });

  it('malformed JSON on a create is 400 with the error body', async () => {
    const r = await admin(t).post('/api/v1/crud/alice/dev1').set('Content-Type', 'application/json').send('{"nickname": nope}');
    expectError(r, 400);
  });

  it('malformed JSON on an update is 400 (recommended deviation from the original\'s silent 200)', async () => {
    const r = await admin(t).put('/api/v1/crud/alice').set('Content-Type', 'application/json').send('{"nickname": nope}');
    expectError(r, 400);
  });

  it('a body over insert_limit_bytes is a 4xx with the error JSON', async () => {
    const r = await admin(t).post('/api/v1/crud/alice/big').send({ description: 'x'.repeat(2000) });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expectError(r, r.status);
    expectError(await admin(t).get('/api/v1/crud/alice/big'), 404);
  });

  it('an oversized update and insert get the error JSON too', async () => {
    const u = await admin(t).put('/api/v1/crud/alice').send({ description: 'y'.repeat(2000) });
    expectError(u, u.status);
    expect(u.status).toBeLessThan(500);
    const i = await admin(t).post('/api/v1/crud/alice/user/s/data').send(Array.from({ length: 200 }, (_, k) => ({ t: k + 1, d: k })));
    expectError(i, i.status);
    expect(i.status).toBeLessThan(500);
  });

  it('a body just under the limit is accepted', async () => {
    const r = await admin(t).post(`/api/v1/crud/alice/small${++n}`).send({ description: 'x'.repeat(800) });
    expectJSON(r);
  });

  it('GET and DELETE with Content-Type: application/json and no body are accepted', async () => {
    expectJSON(await admin(t).get('/api/v1/crud/alice').set('Content-Type', 'application/json'));
    expect((await admin(t).get('/api/v1/?q=this').set('Content-Type', 'application/json')).text).toBe('test/user');
    await admin(t).post(`/api/v1/crud/alice/gone${++n}`, {});
    expectOk(await admin(t).del(`/api/v1/crud/alice/gone${n}`).set('Content-Type', 'application/json'));
  });

  it('JSON bodies are parsed whatever the Content-Type says (text/plain)', async () => {
    const name = `plain${++n}`;
    const r = await admin(t).post(`/api/v1/crud/alice/${name}`).set('Content-Type', 'text/plain').send('{"nickname":"fromtext"}');
    expectJSON(r);
    expect(r.body.nickname).toBe('fromtext');
    const u = await admin(t).put(`/api/v1/crud/alice/${name}`).set('Content-Type', 'text/plain;charset=UTF-8').send('{"nickname":"again"}');
    expect(u.body.nickname).toBe('again');
  });

  it('JSON bodies are parsed with an unusual Content-Type too', async () => {
    const name = `odd${++n}`;
    const r = await admin(t).post(`/api/v1/crud/alice/${name}`).set('Content-Type', 'application/x-www-form-urlencoded').send('{"nickname":"form"}');
    expectJSON(r);
    expect(r.body.nickname).toBe('form');
  });
});

describe('trailing slashes are served directly', () => {
  it('GET /api/v1/crud/?q=ls lists users', async () => {
    const r = await admin(t).get('/api/v1/crud/?q=ls');
    expectJSON(r);
    expect(Array.isArray(r.body)).toBe(true);
  });

  it('GET /api/v1/?q=this and /api/v1?q=this both answer the device name', async () => {
    expect((await admin(t).get('/api/v1/?q=this')).text).toBe('test/user');
    expect((await admin(t).get('/api/v1?q=this')).text).toBe('test/user');
  });

  it('a trailing slash on object routes reaches the same handler, no redirect', async () => {
    const r = await admin(t).get('/api/v1/crud/alice/');
    expectJSON(r);
    expect(r.body.name).toBe('alice');
    const w = await admin(t).put('/api/v1/crud/alice/user/', { nickname: 'slash' });
    expect(w.status).toBe(200);
    expect(w.body.nickname).toBe('slash');
  });
});

describe('non-API paths', () => {
  for (const p of ['/nonexistent', '/a/b/c/d/e', '/apix', '/www/nothing.js']) {
    it(`GET ${p} → the HTML 404 page`, async () => {
      const r = await t.http.get(p);
      expect(r.status).toBe(404);
      expect(r.headers['content-type']).toMatch(/^text\/html/);
    });
  }
});

describe('headers', () => {
  it('every response carries the security headers (API, error, HTML 404)', async () => {
    for (const r of [await admin(t).get('/api/v1/crud/alice'), await t.http.get('/api/v1/nope'), await t.http.get('/nope')]) {
      expect(r.headers['x-frame-options']).toBe('deny');
      expect(r.headers['x-xss-protection']).toBe('1; mode=block');
      expect(r.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('JSON results, ok, integers and errors carry Cache-Control; version does not', async () => {
    expect((await admin(t).get('/api/v1/crud/alice')).headers['cache-control']).toBe('no-store, must-revalidate');
    expect((await admin(t).get('/api/v1/?q=countusers')).headers['cache-control']).toBe('no-store, must-revalidate');
    expect((await t.http.get('/api/v1/logout')).headers['cache-control']).toBe('no-store, must-revalidate');
    expect((await t.http.get('/api/v1/nope')).headers['cache-control']).toBe('no-store, must-revalidate');
    expect((await t.http.get('/api/v1/meta/version')).headers['cache-control']).toBeUndefined();
  });

  it('JSON is compact, without a trailing newline', async () => {
    const r = await admin(t).get('/api/v1/crud/alice');
    expect(r.text.endsWith('}')).toBe(true);
    expect(r.text).not.toContain(': ');
  });
});

describe('OPTIONS and CORS (rest-api §1.7, recommended form)', () => {
  it('OPTIONS on any path answers 200 with the preflight headers and no auth', async () => {
    for (const p of ['/api/v1/crud/alice', '/anything/else']) {
      const r = await t.http.options(p).set('Authorization', 'Basic ' + Buffer.from('alice:wrong').toString('base64'));
      expect(r.status).toBe(200);
      expect(r.text).toBe('');
      expect(r.headers['access-control-allow-headers']).toBe('Content-Type, Authorization');
    }
  });

  it('the configured site origin is echoed with credentials', async () => {
    const site = `http://localhost:${t.config.port}`;
    const r = await admin(t).get('/api/v1/crud/alice').set('Origin', site);
    expect(r.headers['access-control-allow-origin']).toBe(site);
    expect(r.headers['access-control-allow-credentials']).toBe('true');
    expect(r.headers['access-control-allow-methods']).toBe('GET, POST, PUT, DELETE');
  });

  it('with allowcrossorigin off, a foreign Origin is not echoed', async () => {
    const r = await admin(t).get('/api/v1/crud/alice').set('Origin', 'http://evil.example');
    expect(r.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('server disabled', () => {
  it('authenticated routes answer 503 with the fixed body; meta routes keep working', async () => {
    const t2 = await makeApp();
    try {
      t2.app.cdb.state.enabled = false;
      const r = await t2.http.get('/api/v1/crud/test').set('Authorization', ADMIN);
      expect(r.status).toBe(503);
      expect(r.text).toBe('{"code": 503, "msg": "ConnectorDB is currently inactive", "ref": "DISABLED"}');
      expect((await t2.http.get('/api/v1/meta/version')).status).toBe(200);
    } finally {
      await t2.close();
    }
  });
});

describe('deeply nested JSON', () => {
  it('is a 400 with the error body, not a 500, on inserts and creates', async () => {
    const t = await makeApp();
    try {
      const A = ADMIN;
      await t.http.post('/api/v1/crud/test/user/deep').set('Authorization', A).send({}).expect(200);
      const deep = '['.repeat(5000) + ']'.repeat(5000);
      const r = await t.http.post('/api/v1/crud/test/user/deep/data').set('Authorization', A).set('Content-Type', 'application/json').send(`[{"t":1,"d":${deep}}]`);
      expect(r.status).toBe(400);
      expect(r.body.msg).toMatch(/max depth/);
      const ok = await t.http
        .post('/api/v1/crud/test/user/deep/data')
        .set('Authorization', A)
        .set('Content-Type', 'application/json')
        .send(`[{"t":1,"d":${'['.repeat(500) + '"[[[["' + ']'.repeat(500)}}]`);
      expect(ok.status).toBe(200);
    } finally {
      await t.close();
    }
  });
});
