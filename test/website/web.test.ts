import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, type TestApp, basic, makeApp } from '../helpers';

/** The web app's serving, login form and page routes over real HTTP (rest-api §10.3). */
let t: TestApp;
beforeAll(async () => {
  t = await makeApp((c) => (c.failed_login_delay = 150));
});
afterAll(() => t.close());

const form = (body: Record<string, string>) => new URLSearchParams(body).toString();
const cookieOf = (r: { headers: Record<string, unknown> }) => String(r.headers['set-cookie']).split(';')[0];

async function login(): Promise<string> {
  const r = await t.http.post('/login').type('form').send(form({ username: 'test', password: 'test' }));
  expect(r.status).toBe(303);
  return cookieOf(r);
}

describe('login form', () => {
  it('GET / for nobody is the login page with labelled username, password, remember me and submit', async () => {
    const r = await t.http.get('/');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/html/);
    expect(r.headers['cache-control']).toBe('no-store, must-revalidate');
    expect(r.text).toContain('<form method="post" action="/login"');
    expect(r.text).toContain('<label for="username">');
    expect(r.text).toContain('<label for="password">');
    expect(r.text).toMatch(/<label class="check" for="remember"><input id="remember" name="remember" type="checkbox"/);
    expect(r.text).toContain('<button type="submit">Log in</button>');
  });

  it('a form-encoded POST /login sets the same session cookie as /api/v1/login and redirects to /', async () => {
    const r = await t.http.post('/login').type('form').send(form({ username: 'test', password: 'test', remember: 'true' }));
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/');
    const set = String(r.headers['set-cookie']);
    expect(set).toMatch(/^connectordb-session=[^;]+; Path=\/; Max-Age=10368000; HttpOnly; SameSite=Lax$/);
    const me = await t.http.get('/api/v1/?q=this').set('Cookie', cookieOf(r));
    expect(me.text).toBe('test/user');
    const api = await t.http.get('/api/v1/login').set('Authorization', ADMIN);
    expect(String(api.headers['set-cookie']).replace(/=[^;]+;/, '=X;')).toBe(set.replace(/=[^;]+;/, '=X;'));
  });

  it('without "remember me" the cookie is a browser-session cookie', async () => {
    const r = await t.http.post('/login').type('form').send(form({ username: 'test', password: 'test' }));
    expect(String(r.headers['set-cookie'])).not.toContain('Max-Age');
  });

  it('logs in by email too, and follows a local next= but never another site', async () => {
    const r = await t.http.post('/login').type('form').send(form({ username: 'test@localhost', password: 'test', next: '/test/user?x=1' }));
    expect(r.headers.location).toBe('/test/user?x=1');
    for (const next of ['//evil.example/', 'https://evil.example/', '/\\evil.example', '/logout']) {
      const e = await t.http.post('/login').type('form').send(form({ username: 'test', password: 'test', next }));
      expect(e.headers.location, next).toBe('/');
    }
  });

  it('a wrong password answers 401 with the message on the form, after the failed-login delay, and no cookie', async () => {
    const start = Date.now();
    const r = await t.http.post('/login').type('form').send(form({ username: 'test', password: 'nope' }));
    expect(Date.now() - start).toBeGreaterThanOrEqual(140);
    expect(r.status).toBe(401);
    expect(r.headers['set-cookie']).toBeUndefined();
    expect(r.text).toContain('<div class="alert" role="alert" id="login-error">Incorrect Password</div>');
    expect(r.text).toContain('value="test"');
    const unknown = await t.http.post('/login').type('form').send(form({ username: 'ghost', password: 'x' }));
    expect(unknown.text).toContain('Login Failed. Check your username or password');
  });

  it('an empty form is refused with a message, markup in the username is escaped', async () => {
    const r = await t.http.post('/login').type('form').send(form({ username: '<b>x</b>', password: '' }));
    expect(r.status).toBe(400);
    expect(r.text).toContain('Enter your username');
    expect(r.text).not.toContain('<b>x</b>');
  });

  it('GET /login with Basic credentials sets the cookie and redirects; nobody gets the form', async () => {
    const r = await t.http.get('/login').set('Authorization', ADMIN);
    expect(r.status).toBe(302);
    expect(r.headers.location).toBe('/');
    expect(String(r.headers['set-cookie'])).toMatch(/^connectordb-session=.+HttpOnly; SameSite=Lax$/);
    const n = await t.http.get('/login');
    expect(n.status).toBe(200);
    expect(n.text).toContain('action="/login"');
  });

  it('GET /logout clears the cookie and redirects to /', async () => {
    const r = await t.http.get('/logout').set('Cookie', await login());
    expect(r.status).toBe(302);
    expect(r.headers.location).toBe('/');
    expect(String(r.headers['set-cookie'])).toBe('connectordb-session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax');
  });

  it('a session cookie whose device key was reset shows the login page and is removed, instead of locking the browser out', async () => {
    await t.http.post('/api/v1/crud/test/stale').set('Authorization', ADMIN).send({});
    const key = (await t.http.get('/api/v1/crud/test/stale').set('Authorization', ADMIN)).body.apikey as string;
    const cookie = cookieOf(await t.http.get('/api/v1/login').set('Authorization', basic('', key)));
    await t.http.put('/api/v1/crud/test/stale').set('Authorization', ADMIN).send({ apikey: '' });
    for (const p of ['/', '/login']) {
      const r = await t.http.get(p).set('Cookie', cookie);
      expect(r.status, p).toBe(200);
      expect(r.text).toContain('action="/login"');
      expect(String(r.headers['set-cookie'])).toContain('Max-Age=0');
    }
  });
});

describe('the app and its files', () => {
  it('GET / when logged in is index.html, never cached, loading hashed scripts from /app/', async () => {
    const r = await t.http.get('/').set('Cookie', await login());
    expect(r.status).toBe(200);
    expect(r.headers['cache-control']).toBe('no-store, must-revalidate');
    expect(r.headers['content-security-policy']).toContain("script-src 'self'");
    expect(r.text).toMatch(/<script type="module" crossorigin src="\/app\/assets\/index-[\w-]+\.js"><\/script>/);
  });

  it('hashed assets are immutable for a year and sent precompressed by Accept-Encoding, with ETag revalidation', async () => {
    const html = (await t.http.get('/').set('Cookie', await login())).text;
    const js = /src="(\/app\/assets\/index-[\w-]+\.js)"/.exec(html)![1];
    const plain = await t.http.get(js).set('Accept-Encoding', 'identity');
    expect(plain.status).toBe(200);
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(plain.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers.vary).toBe('Accept-Encoding');
    const br = await t.http.get(js).set('Accept-Encoding', 'gzip, deflate, br');
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.text).toBe(plain.text);
    const gz = await t.http.get(js).set('Accept-Encoding', 'gzip, br;q=0');
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.text).toBe(plain.text);
    expect(Number(gz.headers['content-length'])).toBeLessThan(plain.text.length / 2);
    const again = await t.http.get(js).set('If-None-Match', String(plain.headers.etag));
    expect(again.status).toBe(304);
  });

  it("the app's first load is at most 150 KB of gzipped JavaScript (the stream page is a separate chunk)", async () => {
    const html = (await t.http.get('/').set('Cookie', await login())).text;
    const scripts = [...html.matchAll(/(?:src|href)="(\/app\/assets\/[^"]+\.js)"/g)].map((m) => m[1]);
    expect(scripts.length).toBeGreaterThan(0);
    expect(scripts.some((s) => s.includes('StreamPage'))).toBe(false);
    let total = 0;
    for (const s of scripts) {
      const r = await t.http.get(s).set('Accept-Encoding', 'gzip').buffer(true).parse((res, cb) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => cb(null, Buffer.concat(chunks)));
      });
      expect(r.headers['content-encoding']).toBe('gzip');
      total += Number(r.headers['content-length']);
    }
    expect(total).toBeLessThanOrEqual(150 * 1024);
  });

  it('the same files are under /www/; favicon.ico, robots.txt and sitemap.xml redirect there', async () => {
    const r = await t.http.get('/www/robots.txt');
    expect(r.status).toBe(200);
    expect(r.headers['cache-control']).toBe('public, max-age=3600');
    for (const f of ['favicon.ico', 'robots.txt', 'sitemap.xml']) {
      const x = await t.http.get('/' + f);
      expect(x.status).toBe(301);
      expect(x.headers.location).toBe('/www/' + f);
    }
    expect((await t.http.get('/app/assets/../index.html')).status).toBe(404);
    expect((await t.http.get('/app/nothing.js')).status).toBe(404);
  });

  it('deep links answer the app on reload: 200 for readable objects, 404 (still the app) for missing ones', async () => {
    const c = await login();
    await t.http.post('/api/v1/crud/test/user/temp').set('Authorization', ADMIN).send({ schema: '{"type":"number"}' });
    for (const p of ['/test', '/test/user', '/test/user/temp', '/_/server', '/_/users', '/test/user/temp?t1=5']) {
      const r = await t.http.get(p).set('Cookie', c);
      expect(r.status, p).toBe(200);
      expect(r.text, p).toContain('id="app"');
    }
    for (const p of ['/ghost', '/test/ghost', '/test/user/ghost', '/_/ghost']) {
      const r = await t.http.get(p).set('Cookie', c);
      expect(r.status, p).toBe(404);
      expect(r.text, p).toContain('id="app"');
    }
  });

  it('a browser without a session is sent to /login with the page to come back to; a program gets the 404 page', async () => {
    const r = await t.http.get('/test/user').set('Accept', 'text/html,application/xhtml+xml');
    expect(r.status).toBe(302);
    expect(r.headers.location).toBe('/login?next=%2Ftest%2Fuser');
    const p = await t.http.get('/test/user');
    expect(p.status).toBe(404);
    expect(p.headers['content-type']).toMatch(/^text\/html/);
    const bad = await t.http.get('/test/user').set('Accept', 'text/html').set('Authorization', basic('test', 'wrong'));
    expect(bad.status).toBe(302);
  });

  it('never shadows an /api answer', async () => {
    const c = await login();
    for (const p of ['/api', '/api/v1/meta', '/api/v1/nonexistent', '/api/x/y']) {
      const r = await t.http.get(p).set('Cookie', c).set('Accept', 'text/html');
      expect(r.status, p).toBe(404);
      expect(r.body.msg, p).toBe('This path is not recognized');
    }
    expect((await t.http.get('/api/v1/meta/version')).status).toBe(200);
    expect((await t.http.get('/api/v1/crud/test').set('Cookie', c)).body.name).toBe('test');
    for (const p of ['/www', '/app']) expect((await t.http.get(p).set('Cookie', c)).status, p).toBe(404);
  });
});

describe('join page', () => {
  it('says joining is disabled by default, and shows the form when the nobody role may join', async () => {
    const off = await t.http.get('/join');
    expect(off.status).toBe(200);
    expect(off.text).toContain('You must be logged in to add users');
    expect(off.text).not.toContain('<form');
    t.services.core.permissions.file.user_roles.nobody.join = true;
    try {
      const on = await t.http.get('/join');
      expect(on.text).toContain('<form id="join"');
      expect(on.text).toContain('<script src="/www/join.js" defer>');
      expect((await t.http.get('/')).text).toContain('href="/join"');
    } finally {
      t.services.core.permissions.file.user_roles.nobody.join = false;
    }
  });
});
