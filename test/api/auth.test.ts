import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, type TestApp, basic, createUser, keyAuth, makeApp } from '../helpers';
import { admin, expectError, expectOk, mkDevice } from './util';

let t: TestApp;
let aliceKey: string;
let bobKey: string;
let phoneKey: string;

const THIS = '/api/v1/?q=this';

beforeAll(async () => {
  t = await makeApp();
  aliceKey = await createUser(t, 'alice', 'pw');
  bobKey = await createUser(t, 'bob', 'bobpw');
  phoneKey = await mkDevice(admin(t), 'alice/phone');
});
afterAll(() => t.close());

/** The session cookie pair (`name=value`) a login answer sets. */
function cookieOf(r: { headers: Record<string, unknown> }): string {
  const set = r.headers['set-cookie'] as string[] | undefined;
  expect(set, 'a Set-Cookie header').toBeDefined();
  const c = set!.find((s) => s.startsWith('connectordb-session='));
  expect(c).toBeDefined();
  return c!.split(';')[0];
}

describe('who am I (q=this)', () => {
  it('basic user/password acts as the user device user/user', async () => {
    const r = await t.http.get(THIS).set('Authorization', basic('alice', 'pw'));
    expect(r.status).toBe(200);
    expect(r.text).toBe('alice/user');
    expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
  });

  it('q=this carries no Cache-Control header', async () => {
    const r = await t.http.get(THIS).set('Authorization', ADMIN);
    expect(r.text).toBe('test/user');
    expect(r.headers['cache-control']).toBeUndefined();
  });

  it('basic login accepts the email address instead of the name', async () => {
    const r = await t.http.get(THIS).set('Authorization', basic('alice@localhost', 'pw'));
    expect(r.text).toBe('alice/user');
  });

  it('basic login matches the name case-insensitively', async () => {
    expect((await t.http.get(THIS).set('Authorization', basic('ALICE', 'pw'))).text).toBe('alice/user');
    expect((await t.http.get(THIS).set('Authorization', basic('Alice@LocalHost', 'pw'))).text).toBe('alice/user');
  });

  it('basic auth with an empty user name and an API key acts as that device', async () => {
    expect((await t.http.get(THIS).set('Authorization', keyAuth(phoneKey))).text).toBe('alice/phone');
    expect((await t.http.get(THIS).set('Authorization', keyAuth(aliceKey))).text).toBe('alice/user');
  });

  it('the Basic scheme name is matched case-insensitively', async () => {
    const v = Buffer.from('alice:pw').toString('base64');
    expect((await t.http.get(THIS).set('Authorization', `basic ${v}`)).text).toBe('alice/user');
    expect((await t.http.get(THIS).set('Authorization', `BASIC ${v}`)).text).toBe('alice/user');
  });

  it('the apikey query parameter authenticates', async () => {
    const r = await t.http.get(`${THIS}&apikey=${phoneKey}`);
    expect(r.status).toBe(200);
    expect(r.text).toBe('alice/phone');
  });

  it('an empty apikey parameter counts as absent (nobody)', async () => {
    expect((await t.http.get(`${THIS}&apikey=`)).text).toBe('nobody');
  });

  it('no credentials at all is the anonymous operator nobody', async () => {
    const r = await t.http.get(THIS);
    expect(r.status).toBe(200);
    expect(r.text).toBe('nobody');
  });

  it('a Basic header without a colon counts as absent', async () => {
    const r = await t.http.get(THIS).set('Authorization', 'Basic ' + Buffer.from('alicepw').toString('base64'));
    expect(r.status).toBe(200);
    expect(r.text).toBe('nobody');
  });

  it('a Basic header without a colon falls through to the apikey parameter', async () => {
    const r = await t.http.get(`${THIS}&apikey=${phoneKey}`).set('Authorization', 'Basic ' + Buffer.from('nocolon').toString('base64'));
    expect(r.text).toBe('alice/phone');
  });
});

describe('precedence', () => {
  it('Basic auth beats a valid apikey parameter', async () => {
    const r = await t.http.get(`${THIS}&apikey=${bobKey}`).set('Authorization', basic('alice', 'pw'));
    expect(r.text).toBe('alice/user');
  });

  it('failing Basic auth is not rescued by a valid apikey parameter', async () => {
    const r = await t.http.get(`${THIS}&apikey=${bobKey}`).set('Authorization', basic('alice', 'wrong'));
    expectError(r, 401, 'Incorrect Password');
  });

  it('Basic auth beats a session cookie', async () => {
    const cookie = cookieOf(await t.http.get('/api/v1/login').set('Authorization', keyAuth(bobKey)));
    const r = await t.http.get(THIS).set('Cookie', cookie).set('Authorization', basic('alice', 'pw'));
    expect(r.text).toBe('alice/user');
  });

  it('the apikey parameter beats a session cookie', async () => {
    const cookie = cookieOf(await t.http.get('/api/v1/login').set('Authorization', keyAuth(bobKey)));
    const r = await t.http.get(`${THIS}&apikey=${phoneKey}`).set('Cookie', cookie);
    expect(r.text).toBe('alice/phone');
  });
});

describe('authentication failures (401)', () => {
  it('an unknown user name fails with "Login Failed"', async () => {
    const r = await t.http.get(THIS).set('Authorization', basic('nosuchuser', 'pw'));
    expectError(r, 401, 'Login Failed. Check your username or password');
  });

  it('a wrong password fails with "Incorrect Password"', async () => {
    const r = await t.http.get(THIS).set('Authorization', basic('alice', 'nope'));
    expectError(r, 401, 'Incorrect Password');
  });

  it('an empty password for an existing user fails with "Incorrect Password"', async () => {
    expectError(await t.http.get(THIS).set('Authorization', basic('alice', '')), 401, 'Incorrect Password');
  });

  it('an unknown API key fails with "The requested device was not found."', async () => {
    expectError(await t.http.get(THIS).set('Authorization', keyAuth('not-a-key')), 401, 'The requested device was not found.');
    expectError(await t.http.get(`${THIS}&apikey=not-a-key`), 401, 'The requested device was not found.');
  });

  it('an empty API key (Basic ":") is refused and never logs in as a meta device', async () => {
    expectError(await t.http.get(THIS).set('Authorization', keyAuth('')), 401, 'Must have non-empty api key');
  });

  it('authentication failure stops CRUD handlers too', async () => {
    expectError(await t.http.get('/api/v1/crud/alice').set('Authorization', basic('alice', 'bad')), 401, 'Incorrect Password');
    expectError(await t.http.post('/api/v1/crud/alice/x').set('Authorization', basic('alice', 'bad')).send({}), 401, 'Incorrect Password');
  });

  it('the failure body is exactly {"code":401,"msg":...,"ref":...}', async () => {
    const r = await t.http.get(THIS).set('Authorization', basic('alice', 'nope'));
    expect(r.text).toMatch(/^\{"code":401,"msg":"Incorrect Password","ref":"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"\}$/);
    expect(r.headers['cache-control']).toBe('no-store, must-revalidate');
  });

  it('every error carries a fresh ref', async () => {
    const a = await t.http.get(THIS).set('Authorization', basic('alice', 'nope'));
    const b = await t.http.get(THIS).set('Authorization', basic('alice', 'nope'));
    expect(a.body.ref).not.toBe(b.body.ref);
  });

  it('meta routes never authenticate, even with bad credentials', async () => {
    const r = await t.http.get('/api/v1/meta/version').set('Authorization', basic('alice', 'bad'));
    expect(r.status).toBe(200);
    expect(r.text.startsWith('0.3')).toBe(true);
  });
});

describe('failed-login delay', () => {
  let slow: TestApp;
  beforeAll(async () => {
    slow = await makeApp((c) => {
      c.failed_login_delay = 200;
    });
  });
  afterAll(() => slow.close());

  it('a wrong password is answered only after failed_login_delay milliseconds', async () => {
    const start = performance.now();
    const r = await slow.http.get(THIS).set('Authorization', basic('test', 'wrong'));
    const ms = performance.now() - start;
    expectError(r, 401, 'Incorrect Password');
    expect(ms).toBeGreaterThanOrEqual(195); // timer granularity
  });

  it('an unknown user and an unknown key are delayed too', async () => {
    for (const auth of [basic('ghost', 'x'), keyAuth('ghost-key')]) {
      const start = performance.now();
      const r = await slow.http.get(THIS).set('Authorization', auth);
      expect(r.status).toBe(401);
      expect(performance.now() - start).toBeGreaterThanOrEqual(195);
    }
  });
});

describe('session cookies: login and logout', () => {
  it('login sets connectordb-session on Path=/ and answers ok', async () => {
    const r = await t.http.get('/api/v1/login').set('Authorization', basic('alice', 'pw'));
    expectOk(r);
    const set = (r.headers['set-cookie'] as unknown as string[]).find((s) => s.startsWith('connectordb-session='))!;
    expect(set).toMatch(/; Path=\/(;|$)/);
    const value = set.split(';')[0].slice('connectordb-session='.length);
    expect(value.length).toBeGreaterThan(0);
    expect(value).not.toContain(aliceKey); // opaque, not the bare key
  });

  it('the cookie authenticates later requests as the user device', async () => {
    const cookie = cookieOf(await t.http.get('/api/v1/login').set('Authorization', basic('alice', 'pw')));
    expect((await t.http.get(THIS).set('Cookie', cookie)).text).toBe('alice/user');
    const r = await t.http.get('/api/v1/crud/alice').set('Cookie', cookie);
    expect(r.status).toBe(200);
    expect(r.body.name).toBe('alice');
  });

  it('a cookie obtained with an API key authenticates as that device', async () => {
    const cookie = cookieOf(await t.http.get(`/api/v1/login?apikey=${phoneKey}`));
    expect((await t.http.get(THIS).set('Cookie', cookie)).text).toBe('alice/phone');
  });

  it('by default (cookie.remember true) the cookie has Max-Age=cookie.maxage', async () => {
    const r = await t.http.get('/api/v1/login').set('Authorization', basic('alice', 'pw'));
    expect((r.headers['set-cookie'] as unknown as string[])[0]).toContain(`Max-Age=${t.config.cookie.maxage}`);
  });

  it('remember=false gives a session cookie without Max-Age', async () => {
    const r = await t.http.get('/api/v1/login?remember=false').set('Authorization', basic('alice', 'pw'));
    expect((r.headers['set-cookie'] as unknown as string[])[0]).not.toMatch(/Max-Age/i);
  });

  it('any remember value other than "true" means a session cookie', async () => {
    const r = await t.http.get('/api/v1/login?remember=1').set('Authorization', basic('alice', 'pw'));
    expect((r.headers['set-cookie'] as unknown as string[])[0]).not.toMatch(/Max-Age/i);
  });

  it('remember=true sets Max-Age even when cookie.remember is off in the config', async () => {
    const t2 = await makeApp((c) => {
      c.cookie.remember = false;
      c.cookie.maxage = 1234;
    });
    try {
      const plain = await t2.http.get('/api/v1/login').set('Authorization', ADMIN);
      expect((plain.headers['set-cookie'] as unknown as string[])[0]).not.toMatch(/Max-Age/i);
      const rem = await t2.http.get('/api/v1/login?remember=true').set('Authorization', ADMIN);
      expect((rem.headers['set-cookie'] as unknown as string[])[0]).toContain('Max-Age=1234');
    } finally {
      await t2.close();
    }
  });

  it('login as nobody answers ok and sets no usable cookie', async () => {
    const r = await t.http.get('/api/v1/login');
    expectOk(r);
    const set = (r.headers['set-cookie'] as unknown as string[] | undefined) ?? [];
    for (const s of set) expect(s).toMatch(/^connectordb-session=;/);
  });

  it('logout deletes the cookie with Max-Age=0 and answers ok, also for nobody', async () => {
    const r = await t.http.get('/api/v1/logout');
    expectOk(r);
    const set = (r.headers['set-cookie'] as unknown as string[])[0];
    expect(set).toMatch(/^connectordb-session=;/);
    expect(set).toContain('Path=/');
    expect(set).toContain('Max-Age=0');
  });

  it('logout with bad Basic credentials is still a 401', async () => {
    expectError(await t.http.get('/api/v1/logout').set('Authorization', basic('alice', 'bad')), 401, 'Incorrect Password');
  });

  it('an undecodable or foreign cookie is ignored (nobody), not an error', async () => {
    expect((await t.http.get(THIS).set('Cookie', 'connectordb-session=garbage')).text).toBe('nobody');
    expect((await t.http.get(THIS).set('Cookie', `connectordb-session=${aliceKey}`)).text).toBe('nobody');
    expect((await t.http.get(THIS).set('Cookie', 'connectordb-session=')).text).toBe('nobody');
  });

  it('a cookie whose device was deleted fails with 401 until it is removed', async () => {
    const a = admin(t);
    const key = await mkDevice(a, 'alice/temp');
    const cookie = cookieOf(await t.http.get('/api/v1/login').set('Authorization', keyAuth(key)));
    expect((await t.http.get(THIS).set('Cookie', cookie)).text).toBe('alice/temp');
    expect((await a.del('/api/v1/crud/alice/temp')).status).toBe(200);
    expectError(await t.http.get(THIS).set('Cookie', cookie), 401, 'The requested device was not found.');
    expect((await t.http.get(THIS)).text).toBe('nobody');
  });

  it('a cookie stops working when its device key is reset', async () => {
    const a = admin(t);
    const key = await mkDevice(a, 'alice/temp2');
    const cookie = cookieOf(await t.http.get('/api/v1/login').set('Authorization', keyAuth(key)));
    const reset = await a.put('/api/v1/crud/alice/temp2', { apikey: '' });
    expect(reset.status).toBe(200);
    expectError(await t.http.get(THIS).set('Cookie', cookie), 401, 'The requested device was not found.');
  });
});

describe('user device key (rest-api §2.2)', () => {
  it('the user device API key is readable by the user and works as an API key', async () => {
    const r = await t.http.get('/api/v1/crud/alice/user').set('Authorization', basic('alice', 'pw'));
    expect(r.status).toBe(200);
    expect(r.body.apikey).toBe(aliceKey);
    expect((await t.http.get(THIS).set('Authorization', keyAuth(r.body.apikey))).text).toBe('alice/user');
  });

  it('a deleted user can no longer log in, by password or by key', async () => {
    const key = await createUser(t, 'gone', 'pw');
    expect((await admin(t).del('/api/v1/crud/gone')).status).toBe(200);
    expectError(await t.http.get(THIS).set('Authorization', basic('gone', 'pw')), 401, 'Login Failed. Check your username or password');
    expectError(await t.http.get(THIS).set('Authorization', keyAuth(key)), 401, 'The requested device was not found.');
  });
});

describe('WWW-Authenticate', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp();
  });
  afterAll(() => t.close());

  it('a 401 to a browser opening an API address carries WWW-Authenticate: Basic, so the browser asks for a login', async () => {
    const r = await t.http.get('/api/v1/crud/test').set('Authorization', basic('test', 'wrong')).set('Accept', 'text/html,application/xhtml+xml,*/*;q=0.8');
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Basic realm="ConnectorDB", charset="UTF-8"');
    expect(JSON.parse(r.text)).toMatchObject({ code: 401 });
  });

  it('a 401 to the web app or an API client (no text/html in Accept) has no WWW-Authenticate, so no login box pops up', async () => {
    for (const accept of [undefined, '*/*', 'application/json']) {
      const req = t.http.get('/api/v1/crud/test').set('Authorization', basic('test', 'wrong'));
      const r = await (accept ? req.set('Accept', accept) : req);
      expect(r.status).toBe(401);
      expect(r.headers['www-authenticate']).toBeUndefined();
    }
  });
});
