import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, type TestApp, basic, createUser, makeApp } from '../helpers';
import { CANT_ACCESS, expectError, expectOk } from './util';

// Issue 13, "Exactly what the original answered": answers recorded from the original.
let t: TestApp;
const ALICE = basic('alice', 'pw');

beforeAll(async () => {
  t = await makeApp();
  await createUser(t, 'alice');
  await t.http.post('/api/v1/crud/alice/user/s').set('Authorization', ALICE).send({}).expect(200);
  await t.http
    .post('/api/v1/crud/alice/user/s/data')
    .set('Authorization', ALICE)
    .send([
      { t: 1, d: 'say "hi" & <go>' },
      { t: 2, d: 2 },
      { t: 3, d: 3 },
      { t: 4, d: 4 },
      { t: 5, d: 5 },
      { t: 6, d: 6 },
    ])
    .expect(200);
});
afterAll(() => t.close());

describe('meta/transforms', () => {
  it('append declares the output schema {"type": "string"}, as the original listed it', async () => {
    const r = await t.http.get('/api/v1/meta/transforms');
    const list = r.body as Record<string, { oschema?: string }>;
    expect(list.append.oschema).toBe('{"type": "string"}');
    expect(Object.keys(list.append)).toEqual(['name', 'description', 'documentation', 'oschema', 'args', 'one_to_one', 'stateless', 'peek']);
    // Others stay without one.
    expect('oschema' in list.sum).toBe(false);
  });
});

describe('repeated query parameters', () => {
  it('the first value counts: ?q=this&q=countusers answers q=this', async () => {
    const r = await t.http.get('/api/v1/?q=this&q=countusers').set('Authorization', ALICE);
    expect(r.status).toBe(200);
    expect(r.text).toBe('alice/user');
  });

  it('the first value counts: ?i1=0&i1=5&i2=2 reads 0..2', async () => {
    const r = await t.http.get('/api/v1/crud/alice/user/s/data?i1=0&i1=5&i2=2&i2=6').set('Authorization', ALICE);
    expect(r.status, r.text).toBe(200);
    expect((r.body as { t: number }[]).map((d) => d.t)).toEqual([1, 2]);
  });

  it('the first value counts for transform, apikey and downlink too', async () => {
    const key = (await t.http.get('/api/v1/crud/alice/user').set('Authorization', ALICE)).body.apikey as string;
    const r = await t.http.get(`/api/v1/crud/alice/user/s/data?i1=1&i2=3&transform=${encodeURIComponent('$ * 10')}&transform=count&apikey=${key}&apikey=nope`);
    expect(r.status, r.text).toBe(200);
    expect((r.body as { d: number }[]).map((d) => d.d)).toEqual([20, 30]);
  });
});

describe('query/merge', () => {
  it('an element without stream is 403 "The given path is invalid."', async () => {
    const r = await t.http.post('/api/v1/query/merge').set('Authorization', ALICE).send([{ stream: 'alice/user/s' }, { t1: 0, i1: 0 }]);
    expectError(r, 403, 'The given path is invalid.');
  });
});

describe('Atom feed, as the original wrote it', () => {
  it('a missing stream is 403 "Can\'t access this resource."', async () => {
    expectError(await t.http.get('/api/v1/feed/alice/user/nope.atom').set('Authorization', ALICE), 403, CANT_ACCESS);
    expectError(await t.http.get('/api/v1/feed/nobody/user/s.atom').set('Authorization', ALICE), 403, CANT_ACCESS);
  });

  it('feed element order is title, id, link rel=self, updated, author', async () => {
    const r = await t.http.get('/api/v1/feed/alice/user/s.atom').set('Authorization', ALICE);
    expect(r.status).toBe(200);
    const head = r.text.slice(0, r.text.indexOf('<entry>'));
    expect(head).toMatch(
      /^<\?xml version="1\.0" encoding="utf-8"\?>\n<feed xmlns="http:\/\/www\.w3\.org\/2005\/Atom"><title>alice\/user\/s<\/title><id>[^<]+\/api\/v1\/feed\/alice\/user\/s\.atom<\/id><link href="[^"]+\/api\/v1\/feed\/alice\/user\/s\.atom" rel="self"><\/link><updated>[^<]+<\/updated><author><name>alice<\/name><\/author>$/,
    );
  });

  it('entry element order is title, id, link (no rel), updated, author, content; quotes written &#34;', async () => {
    const r = await t.http.get('/api/v1/feed/alice/user/s.atom').set('Authorization', ALICE);
    const first = /<entry>(.*?)<\/entry>/.exec(r.text)![1];
    expect(first).toMatch(
      /^<title>Datapoint 1<\/title><id>[^<]+\/api\/v1\/crud\/alice\/user\/s\/data\?i1=0&amp;i2=1<\/id><link href="[^"]+\/api\/v1\/crud\/alice\/user\/s\/data\?i1=0&amp;i2=1"><\/link><updated>[^<]+<\/updated><author><name>alice\/user<\/name><\/author><content>(.*)<\/content>$/,
    );
    // The JSON text of d as Go's json.Marshal wrote it (\u0026, \u003c, \u003e), then XML-escaped by Go.
    expect(/<content>(.*)<\/content>/.exec(first)![1]).toBe('&#34;say \\&#34;hi\\&#34; \\u0026 \\u003cgo\\u003e&#34;');
  });
});

describe('meta/log', () => {
  const log = async (user: string, auth = ADMIN) => {
    const r = await t.http.get(`/api/v1/crud/${user}/meta/log/data?i1=0&i2=0`).set('Authorization', auth);
    return r.status === 200 ? (r.body as { d: { cmd: string; arg: string } }[]).map((x) => `${x.d.cmd} ${x.d.arg}`) : r.status;
  };

  it('deleting meta/log is answered ok and logs nothing about itself', async () => {
    await createUser(t, 'carol');
    const CAROL = basic('carol', 'pw');
    expectOk(await t.http.delete('/api/v1/crud/carol/meta/log').set('Authorization', CAROL));
    // Not re-created just to hold an entry about its own deletion.
    expect(await log('carol', CAROL)).toBe(403);
    // The next logged operation re-creates it, without that entry.
    await t.http.post('/api/v1/crud/carol/phone').set('Authorization', CAROL).send({}).expect(200);
    expect(await log('carol', CAROL)).toEqual(['CreateDevice carol/phone']);
    // An admin deleting it: the admin's own log records it, carol's (the deleted one) is not re-created.
    expectOk(await t.http.delete('/api/v1/crud/carol/meta/log').set('Authorization', ADMIN));
    expect(await log('carol', CAROL)).toBe(403);
    expect(await log('test')).toContain('DeleteStream carol/meta/log');
  });

  it('a nested user create logs only CreateUser in the new user\'s log', async () => {
    const r = await t.http
      .post('/api/v1/crud/dave')
      .set('Authorization', ADMIN)
      .send({ email: 'dave@localhost', password: 'pw', role: 'user', public: true, streams: { a: {}, b: {} }, devices: { phone: { streams: { gps: {} } } } });
    expect(r.status, r.text).toBe(200);
    expect(await log('dave')).toEqual(['CreateUser dave']);
  });

  it('a device create with nested streams logs only CreateDevice', async () => {
    await t.http.post('/api/v1/crud/alice/tablet').set('Authorization', ALICE).send({ streams: { x: {}, y: {} } }).expect(200);
    const entries = await log('alice', ALICE);
    expect(entries).toContain('CreateDevice alice/tablet');
    expect(entries).not.toContain('CreateStream alice/tablet/x');
  });
});
