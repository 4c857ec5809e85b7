import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, basic, createUser, makeApp, onPostgres } from '../helpers';
import { Client, within } from '../websocket/client';
import { REF_RE, asUser, expectError, expectOk, mkStream } from './util';

interface RawAnswer {
  text: string;
  sent: number;
  error: string | null;
}

/**
 * A raw HTTP client: writes the head, then `bodyBytes` of body as fast as the socket takes it,
 * without stopping when an answer arrives, and half-open like Python's `requests` (it sends the
 * whole body before it reads).
 */
function rawRequest(port: number, head: string, bodyBytes = 0): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let text = '';
    let sent = 0;
    let error: string | null = null;
    s.on('data', (d) => (text += d.toString()));
    s.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    s.on('close', () => resolve({ text, sent, error }));
    s.write(head);
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const pump = () => {
      while (sent < bodyBytes && !s.destroyed) {
        const n = Math.min(chunk.length, bodyBytes - sent);
        sent += n;
        if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void s.once('drain', pump);
      }
      if (!s.destroyed) s.end();
    };
    pump();
  });
}

/** The status and the parsed ConnectorDB error body of a raw answer. */
function rawError(a: RawAnswer): { status: number; body: { code: number; msg: string; ref: string }; head: string } {
  const [head, body] = a.text.split('\r\n\r\n');
  return { status: Number(head.split(' ')[1]), body: JSON.parse(body), head: head.toLowerCase() };
}

/** Issue 13, "nothing silently changed, no 500 for bad input": stream schemas. */
describe('stream schemas', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp();
    await createUser(t, 'alice');
  });
  afterAll(() => t.close());
  const alice = () => asUser(t, 'alice');
  let n = 0;
  const sname = () => `alice/user/s${++n}`;

  it('a schema that refers to itself without descending ({"$ref":"#"}) is refused at create with 403', async () => {
    expectError(await alice().post(`/api/v1/crud/${sname()}`, { schema: '{"$ref":"#"}' }), 403, /not a valid JSONSchema: it refers to itself/);
    expectError(await alice().post(`/api/v1/crud/${sname()}`, { schema: '{"allOf":[{"$ref":"#/definitions/a"}],"definitions":{"a":{"not":{"$ref":"#"}}}}' }), 403, /refers to itself \(#/);
  });

  it('a self-referencing schema is refused at update with 403 and the stream keeps its schema', async () => {
    const s = sname();
    await mkStream(alice(), s, { schema: '{"type":"number"}' });
    expectError(await alice().put(`/api/v1/crud/${s}`, { schema: '{"anyOf":[{"$ref":"#"}]}' }), 403, /refers to itself/);
    expect((await alice().get(`/api/v1/crud/${s}`)).body.schema).toBe('{"type":"number"}');
  });

  it('a recursive schema that descends into the data is accepted and validates', async () => {
    const s = sname();
    await mkStream(alice(), s, { schema: '{"type":"object","properties":{"child":{"$ref":"#"}},"additionalProperties":{"type":"number"}}' });
    expectOk(await alice().post(`/api/v1/crud/${s}/data`, [{ t: 1, d: { a: 1, child: { b: 2, child: {} } } }]));
    expectError(await alice().post(`/api/v1/crud/${s}/data`, [{ t: 2, d: { child: { b: 'x' } } }]), 403, "At least one datapoint did not conform to the stream's schema");
  });

  it('an integer outside the 64-bit range is refused under an "integer" schema, as the original did', async () => {
    const s = sname();
    await mkStream(alice(), s, { schema: '{"type":"integer"}' });
    const edge = '[{"t":1,"d":9007199254740993},{"t":2,"d":-9223372036854775808},{"t":2.5,"d":9223372036854775807}]';
    expectOk(await alice().post(`/api/v1/crud/${s}/data`).set('Content-Type', 'application/json').send(edge));
    for (const d of ['1e+20', '-1e20', '18446744073709551616']) {
      const r = await alice().post(`/api/v1/crud/${s}/data`).set('Content-Type', 'application/json').send(`[{"t":3,"d":${d}}]`);
      expectError(r, 403, "At least one datapoint did not conform to the stream's schema");
    }
    expect((await alice().get(`/api/v1/crud/${s}/data?q=length`)).text).toBe('3');
  });

  it('a "number" schema still takes big numbers; nested "integer" fields are range-checked too', async () => {
    const s = sname();
    await mkStream(alice(), s, { schema: '{"type":"object","properties":{"n":{"type":"number"},"i":{"type":["integer","null"]}}}' });
    expectOk(await alice().post(`/api/v1/crud/${s}/data`, [{ t: 1, d: { n: 1e20, i: 5 } }]));
    expectError(await alice().post(`/api/v1/crud/${s}/data`, [{ t: 2, d: { i: 1e20 } }]), 403);
  });

  it('pattern uses Go (RE2) syntax and runs in linear time: (a+)+$ over 100,000 a\'s answers at once', async () => {
    const s = sname();
    await mkStream(alice(), s, { schema: '{"type":"string","pattern":"(a+)+$"}' });
    expectError(await alice().post(`/api/v1/crud/${s}/data`, [{ t: 1, d: 'a'.repeat(100000) + 'b' }]), 403, "At least one datapoint did not conform to the stream's schema");
    expectOk(await alice().post(`/api/v1/crud/${s}/data`, [{ t: 2, d: 'baaa' }]));
    const p = sname();
    await mkStream(alice(), p, { schema: '{"type":"string","pattern":"\\\\Afoo\\\\z"}' });
    expectOk(await alice().post(`/api/v1/crud/${p}/data`, [{ t: 1, d: 'foo' }]));
    expectError(await alice().post(`/api/v1/crud/${p}/data`, [{ t: 2, d: 'foo\n' }]), 403);
  });

  it('patternProperties keys use the same engine', async () => {
    const s = sname();
    await mkStream(alice(), s, { schema: '{"type":"object","patternProperties":{"^(?P<n>x+)$":{"type":"number"}}}' });
    expectOk(await alice().post(`/api/v1/crud/${s}/data`, [{ t: 1, d: { xx: 1, y: 'free' } }]));
    expectError(await alice().post(`/api/v1/crud/${s}/data`, [{ t: 2, d: { xxx: 'no' } }]), 403);
  });

  it('a pattern RE2 rejects (a backreference, look-ahead) makes the schema invalid', async () => {
    expectError(await alice().post(`/api/v1/crud/${sname()}`, { schema: '{"type":"string","pattern":"(a)\\\\1"}' }), 403, 'The provided schema is not a valid JSONSchema');
    expectError(await alice().post(`/api/v1/crud/${sname()}`, { schema: '{"type":"string","pattern":"a(?=b)"}' }), 403, 'The provided schema is not a valid JSONSchema');
  });

  it('a schema with 2,000 patterned properties compiles (linear, no stack overflow) and validates', async () => {
    const props: Record<string, unknown> = {};
    for (let k = 0; k < 2000; k++) props[`property_${k}`] = { type: 'string', pattern: `^v${k}[a-z]*$` };
    const s = sname();
    // Over the default max_schema_bytes: lifted here to check the compiler itself.
    t.config.max_schema_bytes = 0;
    try {
      await mkStream(alice(), s, { schema: JSON.stringify({ type: 'object', properties: props }) });
    } finally {
      t.config.max_schema_bytes = 32768;
    }
    expectOk(await alice().post(`/api/v1/crud/${s}/data`, [{ t: 1, d: { property_1999: 'v1999abc' } }]));
    expectError(await alice().post(`/api/v1/crud/${s}/data`, [{ t: 2, d: { property_1999: 'v199' } }]), 403);
  });

  it('a schema over max_schema_bytes (a 400 KB one) is refused with 403 naming the limit, before compiling', async () => {
    const props: Record<string, unknown> = {};
    for (let k = 0; k < 8000; k++) props[`property_${k}`] = { type: 'string', pattern: `^v${k}[a-z]*$` };
    const schema = JSON.stringify({ type: 'object', properties: props });
    expect(schema.length).toBeGreaterThan(350_000);
    const s = sname();
    const started = performance.now();
    expectError(await alice().post(`/api/v1/crud/${s}`, { schema }), 403, `The provided schema is too large: ${schema.length} bytes, the limit is 32768 (max_schema_bytes)`);
    expect(performance.now() - started).toBeLessThan(1000);
    await mkStream(alice(), s, { schema: '{"type":"number"}' });
    expectError(await alice().put(`/api/v1/crud/${s}`, { schema }), 403, /^The provided schema is too large: /);
  });
});

/** Issue 13: numbers a double cannot hold were stored as null (and `t: 1e400` broke the stream). */
describe('non-finite numbers', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp();
    await createUser(t, 'alice');
    await mkStream(asUser(t, 'alice'), 'alice/user/n');
  });
  afterAll(() => t.close());
  const alice = () => asUser(t, 'alice');
  const post = (body: string) => alice().post('/api/v1/crud/alice/user/n/data').set('Content-Type', 'application/json').send(body);

  it.each([
    ['d: 1e400', '[{"t":1,"d":1e400}]', '1e400'],
    ['d: -1e400', '[{"t":1,"d":-1e400}]', '-1e400'],
    ['inside an object', '[{"t":1,"d":{"a":[1,{"b":2E+999}]}}]', '2E+999'],
    ['inside an array', '[{"t":1,"d":[1,2,1e309]}]', '1e309'],
    ['as t', '[{"t":1e400,"d":1}]', '1e400'],
    ['as 400 digits', `[{"t":1,"d":1${'0'.repeat(400)}}]`, `1${'0'.repeat(400)}`],
  ])('a number out of the double range (%s) is refused with 400 and nothing is stored', async (_what, body, literal) => {
    expectError(await post(body), 400, `json: cannot unmarshal number ${literal} into Go value of type float64`);
    expect((await alice().get('/api/v1/crud/alice/user/n/data?q=length')).text).toBe('0');
  });

  it('large finite numbers, underflow to 0 and number-like strings are still accepted', async () => {
    expectOk(await post('[{"t":1,"d":1.7976931348623157e308},{"t":2,"d":1e-400},{"t":3,"d":"1e400"},{"t":4,"d":{"1e999":true}}]'));
    const r = await alice().get('/api/v1/crud/alice/user/n/data?i1=0&i2=0');
    expect(r.body.map((x: { d: unknown }) => x.d)).toEqual([1.7976931348623157e308, 0, '1e400', { '1e999': true }]);
  });

  it('the stream stays readable after a refused 1e400 timestamp', async () => {
    expectError(await post('[{"t":1e400,"d":5}]'), 400);
    expect((await alice().get('/api/v1/crud/alice/user/n/data?t1=0')).status).toBe(200);
  });

  it('other bodies are refused too: a stream create with 1e400 in it is 400', async () => {
    const r = await alice().post('/api/v1/crud/alice/user/nn').set('Content-Type', 'application/json').send('{"schema":"{}","nickname":1e400}');
    expectError(r, 400, /cannot unmarshal number 1e400/);
  });

  it('a websocket insert with 1e400 closes the connection as invalid JSON did (1007) and stores nothing', async () => {
    const c = await Client.open(t, { headers: { authorization: basic('alice', 'pw') } });
    c.send('{"cmd":"insert","arg":"alice/user/n","d":[{"t":100,"d":1e400}]}');
    expect((await within(c.closed, 3000, 'close')).code).toBe(1007);
    const r = await alice().get('/api/v1/crud/alice/user/n/data?t1=99');
    expect(r.body).toEqual([]);
  });
});

/** Issue 13: framing errors from Node's HTTP parser, and the rest of a body over the limit. */
describe('HTTP framing', () => {
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    t = await makeApp();
    port = (t.app.server.address() as net.AddressInfo).port;
  });
  afterAll(() => t.close());

  it.each([
    ['Content-Length with chunked', 'Content-Length: 5\r\nTransfer-Encoding: chunked', 400, /Transfer-Encoding.*Content-Length; send only one/],
    ['a bad Content-Length', 'Content-Length: 12abc', 400, /invalid Content-Length/],
    ['two different Content-Lengths', 'Content-Length: 5\r\nContent-Length: 6', 400, /Content-Length/],
  ])('%s is answered with the ConnectorDB error body', async (_what, headers, status, msg) => {
    const a = await rawRequest(port, `POST /api/v1/crud/test/user/x/data HTTP/1.1\r\nHost: x\r\n${headers}\r\n\r\nhello`);
    const e = rawError(a);
    expect(e.status).toBe(status);
    expect(e.head).toContain('content-type: application/json; charset=utf-8');
    expect(Object.keys(e.body)).toEqual(['code', 'msg', 'ref']);
    expect(e.body.code).toBe(status);
    expect(e.body.msg).toMatch(msg);
    expect(e.body.ref).toMatch(REF_RE);
  });

  it('headers over the limit are a 431 with the error body', async () => {
    const a = await rawRequest(port, `GET /api/v1/meta/version HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`);
    const e = rawError(a);
    expect(e.status).toBe(431);
    expect(e.body.msg).toBe('The request headers are too large');
  });

  it('after a 413 the rest of the body is read and discarded, so a client still sending gets the answer, not a broken pipe', async () => {
    const total = 20 * 1024 * 1024;
    const a = await rawRequest(port, `POST /api/v1/crud/test/user/x/data HTTP/1.1\r\nHost: x\r\nAuthorization: Basic dGVzdDp0ZXN0\r\nContent-Length: ${total}\r\n\r\n`, total);
    expect(a.error).toBeNull();
    expect(a.sent).toBe(total);
    const e = rawError(a);
    expect(e.status).toBe(413);
    expect(e.body.msg).toBe(`The request body is larger than the limit of ${t.config.insert_limit_bytes} bytes`);
  });

  it('the discarding after a 413 is bounded: a body far over the bound is cut off after the answer', async () => {
    const total = 200 * 1024 * 1024;
    const a = await rawRequest(port, `POST /api/v1/crud/test/user/x/data HTTP/1.1\r\nHost: x\r\nContent-Length: ${total}\r\n\r\n`, total);
    expect(rawError(a).status).toBe(413);
    expect(a.sent).toBeLessThan(total);
  });

  it('the server keeps serving after framing errors', async () => {
    const r = await t.http.get('/api/v1/meta/version');
    expect(r.status).toBe(200);
  });
});

// PostgreSQL's text cannot hold U+0000 and refuses it as a parameter: every such request answered
// 500 there before (a user name with a NUL in a path, a Basic login, a nickname).
describe('the NUL character (U+0000)', () => {
  let t: TestApp;
  const A = basic('test', 'test');
  beforeAll(async () => {
    t = await makeApp();
    await mkStream(asUser(t, 'test', 'test'), 'test/user/s');
  });
  afterAll(async () => {
    await t.close();
  });

  it('in a path names nothing: each level answers as for any missing name', async () => {
    expectError(await t.http.get('/api/v1/crud/a%00b').set('Authorization', A), 404, "Can't access this resource.");
    expectError(await t.http.get('/api/v1/crud/a%00b?q=ls').set('Authorization', A), 404, "Can't access this resource.");
    expectError(await t.http.get('/api/v1/crud/test/a%00b').set('Authorization', A), 404, "Can't access this resource.");
    expectError(await t.http.get('/api/v1/crud/test/user/a%00b').set('Authorization', A), 404, "Can't access this resource.");
    expectError(await t.http.get('/api/v1/crud/test/user/a%00b/data?i1=0&i2=1').set('Authorization', A), 403, 'The requested stream was not found.');
    expectError(await t.http.delete('/api/v1/crud/a%00b').set('Authorization', A), 403, 'The requested user was not found.');
    expectError(await t.http.delete('/api/v1/crud/test/a%00b').set('Authorization', A), 403, 'The requested device was not found.');
    expectError(await t.http.delete('/api/v1/crud/test/user/a%00b').set('Authorization', A), 403, 'The requested stream was not found.');
  });

  it('in a login name, a password or an API key is a failed login (401), on the API and the login form', async () => {
    expectError(await t.http.get('/api/v1/?q=this').set('Authorization', basic('te\u0000st', 'test')), 401, 'Login Failed. Check your username or password');
    expectError(await t.http.get('/api/v1/?q=this').set('Authorization', basic('test@localhost\u0000', 'test')), 401, 'Login Failed. Check your username or password');
    expectError(await t.http.get('/api/v1/?q=this').set('Authorization', basic('test', 'te\u0000st')), 401, 'Incorrect Password');
    expectError(await t.http.get('/api/v1/?q=this').set('Authorization', basic('', 'key\u0000')), 401, 'The requested device was not found.');
    expect((await t.http.post('/login').type('form').send('username=te%00st&password=test')).status).toBe(401);
  });

  it('in a datapoint is stored and read back escaped, on both engines', async () => {
    expectOk(await t.http.post('/api/v1/crud/test/user/s/data').set('Authorization', A).set('content-type', 'application/json').send('[{"t":1,"d":"a\\u0000b"},{"t":2,"d":{"k\\u0000":1}}]'));
    const r = await t.http.get('/api/v1/crud/test/user/s/data?i1=0&i2=0').set('Authorization', A);
    expect(r.text).toBe('[{"t":1,"d":"a\\u0000b"},{"t":2,"d":{"k\\u0000":1}}]');
  });

  it(`in a nickname or description is ${onPostgres ? 'refused with 403 and nothing is written (PostgreSQL cannot store it)' : 'stored as given (SQLite)'}`, async () => {
    const dev = await t.http.post('/api/v1/crud/test/nuldev').set('Authorization', A).send({ nickname: 'n\u0000', description: 'd\u0000' });
    const put = await t.http.put('/api/v1/crud/test/user/s').set('Authorization', A).send({ nickname: 'x\u0000y' });
    if (onPostgres) {
      const msg = 'Text fields may not contain the NUL character (\\u0000): PostgreSQL cannot store it';
      expectError(dev, 403, msg);
      expectError(put, 403, msg);
      expect((await t.http.get('/api/v1/crud/test/nuldev').set('Authorization', A)).status).toBe(404);
      expect(JSON.parse((await t.http.get('/api/v1/crud/test/user/s').set('Authorization', A)).text).nickname).toBe('');
    } else {
      expect(dev.status).toBe(200);
      expect(JSON.parse(dev.text)).toMatchObject({ nickname: 'n\u0000', description: 'd\u0000' });
      expect(JSON.parse(put.text).nickname).toBe('x\u0000y');
    }
  });
});

// PostgreSQL's B-tree entries hold at most about 2.7 KB: a long incompressible API key or email
// answered 500 there before (through the unique indexes on the key and on lower(email)).
describe('long API keys and email addresses', () => {
  let t: TestApp;
  const A = basic('test', 'test');
  const noise = (n: number) => Array.from({ length: n }, (_, i) => 'abcdefghijklmnopqrstuvwxyz0123456789'[(i * 7919 + ((i * i) % 31)) % 36]).join('');
  beforeAll(async () => {
    t = await makeApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('a device key of 10,000 random characters chosen by the client works, and stays unique', async () => {
    const key = noise(10000);
    const r = await t.http.post('/api/v1/crud/test/longkey').set('Authorization', A).send({ apikey: key });
    expect(r.status, r.text).toBe(200);
    expect((await t.http.get('/api/v1/?q=this').set('Authorization', basic('', key))).text).toBe('test/longkey');
    expectError(await t.http.post('/api/v1/crud/test/longkey2').set('Authorization', A).send({ apikey: key }), 403);
    const other = noise(9000);
    expect((await t.http.put('/api/v1/crud/test/longkey').set('Authorization', A).send({ apikey: other })).status).toBe(200);
    expect((await t.http.get('/api/v1/?q=this').set('Authorization', basic('', other))).text).toBe('test/longkey');
  });

  it('an email of up to 254 characters is accepted; a longer one is an invalid address (403), at create and update', async () => {
    const ok = noise(254 - '@x.org'.length) + '@x.org';
    expect((await t.http.post('/api/v1/crud/longmail').set('Authorization', A).send({ email: ok, password: 'p' })).status).toBe(200);
    const long = noise(10000) + '@x.org';
    expectError(await t.http.post('/api/v1/crud/longmail2').set('Authorization', A).send({ email: long, password: 'p' }), 403, 'Invalid Email Address');
    expectError(await t.http.put('/api/v1/crud/longmail').set('Authorization', A).send({ email: long }), 403, 'Invalid Email Address');
    expect(JSON.parse((await t.http.get('/api/v1/crud/longmail').set('Authorization', A)).text).email).toBe(ok);
  });
});
