import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, type TestApp, basic, createUser, keyAuth, makeApp } from '../helpers';
import { Client, rest, waitFor, within, wsUrl } from './client';

/** Resolves with the HTTP answer of a handshake the server refuses (rejects if it upgrades). */
function refusedHandshake(ws: WebSocket): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    ws.on('open', () => reject(new Error('upgraded')));
    ws.on('error', () => undefined);
    ws.on('unexpected-response', (_req, r) => {
      let body = '';
      r.on('data', (c: Buffer) => (body += c.toString()));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
    });
  });
}

// websocket.md against real `ws` clients on the real app.
let t: TestApp;
let R: ReturnType<typeof rest>;
const ALICE = basic('alice', 'pw');
const BOB = basic('bob', 'pw');
let aliceKey = '';
let dev1Key = '';
const B = 'alice/user/barrier';
const BOB_B = 'bob/user/barrier';
const DEV1_B = 'alice/dev1/barrier';
const open: Client[] = [];

const listeners = (path: string) => t.services.core.bus.listenerCount(path);

async function connect(auth: string | undefined, barrier?: string, query = ''): Promise<Client> {
  const c = await Client.open(t, { headers: auth ? { authorization: auth } : {}, query });
  open.push(c);
  if (barrier) {
    c.subscribe(barrier);
    expect(await c.sync(barrier)).toEqual([]);
  }
  return c;
}

beforeAll(async () => {
  t = await makeApp();
  R = rest(t);
  aliceKey = await createUser(t, 'alice');
  await createUser(t, 'bob');
  dev1Key = await R.createDevice('alice/dev1', ALICE);
  for (const s of ['s1', 'tr', 'seq', 'dup', 'wsi', 'eph', 'gone', 'slash', 'clean1', 'clean2', 'auth']) await R.createStream(`alice/user/${s}`, ALICE);
  await R.createStream(B, ALICE);
  await R.createStream(BOB_B, BOB);
  await R.createStream(DEV1_B, ALICE);
  await R.createStream('alice/dev1/light', ALICE, { downlink: true });
  await R.createStream('alice/dev1/plain', ALICE);
  await R.createStream('alice/user/num', ALICE, { schema: '{"type":"number"}' });
});

afterEach(async () => {
  const cs = open.splice(0);
  for (const c of cs) c.ws.terminate();
  await Promise.all(cs.map((c) => within(c.closed, 3000, 'close')));
});

afterAll(async () => {
  await t.close();
});

describe('handshake and authentication', () => {
  it('a plain GET without the upgrade gets the JSON 404', async () => {
    const r = await t.http.get('/api/v1/websocket').set('Authorization', ALICE);
    expect(r.status).toBe(404);
    expect(JSON.parse(r.text)).toMatchObject({ code: 404, msg: 'This path is not recognized' });
  });

  it('failed authentication is a 401 with the error JSON before upgrading', async () => {
    for (const [headers, query] of [
      [{ authorization: basic('alice', 'wrong') }, ''],
      [{ authorization: keyAuth('nope') }, ''],
      [{}, '?apikey=nope'],
    ] as const) {
      const ws = new WebSocket(wsUrl(t, query), { headers });
      const res = await within(
        refusedHandshake(ws),
        3000,
        '401',
      );
      expect(res.status).toBe(401);
      const j = JSON.parse(res.body);
      expect(j.code).toBe(401);
      expect(typeof j.msg).toBe('string');
      expect(typeof j.ref).toBe('string');
    }
  });

  it('basic password, basic api key, ?apikey= and the session cookie all authenticate as alice/user', async () => {
    const login = await t.http.get('/api/v1/login').set('Authorization', ALICE);
    const cookie = String(login.headers['set-cookie']).split(';')[0];
    const ways: Array<[Record<string, string>, string]> = [
      [{ authorization: ALICE }, ''],
      [{ authorization: keyAuth(aliceKey) }, ''],
      [{}, `?apikey=${aliceKey}`],
      [{ cookie }, ''],
    ];
    for (const [headers, query] of ways) {
      const c = await Client.open(t, { headers, query });
      open.push(c);
      // Only alice can read (subscribe) and write (the barrier insert) her private streams.
      c.subscribe('alice/user/auth');
      c.subscribe(B);
      expect(await c.sync(B)).toEqual([]);
      expect((await R.insert('alice/user/auth', ALICE, [{ t: 1, d: 'x' }])).status).toBe(200);
      const m = await c.next();
      expect(m.json.stream).toBe('alice/user/auth');
      await c.close();
    }
  });

  it('while the server is disabled the handshake gets the 503 body', async () => {
    t.app.cdb.state.enabled = false;
    try {
      const ws = new WebSocket(wsUrl(t), { headers: { authorization: ALICE } });
      const res = await within(
        refusedHandshake(ws),
        3000,
        '503',
      );
      expect(res).toEqual({ status: 503, body: '{"code": 503, "msg": "ConnectorDB is currently inactive", "ref": "DISABLED"}' });
    } finally {
      t.app.cdb.state.enabled = true;
    }
  });

  it('anonymous connections are accepted but cannot subscribe; the connection stays usable', async () => {
    const c = await connect(undefined);
    c.subscribe('alice/user/s1');
    c.send({ cmd: 'insert', arg: 'alice/user/s1', d: [{ d: 1 }] });
    // A ping round trip proves the socket is alive; nothing was subscribed.
    await within(new Promise((r) => c.ws.ping(undefined, undefined, () => c.ws.once('pong', r))), 2000, 'pong');
    expect(listeners('alice/user/s1')).toBe(0);
    await c.close();
  });
});

describe('subscriptions and messages', () => {
  it('raw subscription: exact message shape, transform omitted, one message per insert batch', async () => {
    const c = await connect(ALICE, B);
    c.subscribe('alice/user/s1');
    expect(await c.sync(B)).toEqual([]);
    expect((await R.insert('alice/user/s1', ALICE, [{ t: 1500000000.5, d: 21.5 }])).status).toBe(200);
    expect((await c.next()).raw).toBe('{"stream":"alice/user/s1","data":[{"t":1500000000.5,"d":21.5}]}\n');
    // Three datapoints → one message of three; d null omitted; objects as stored.
    await R.insert('alice/user/s1', ALICE, [{ t: 1500000001, d: { b: 1, a: [true] } }, { t: 1500000002 }, { t: 1500000003, d: 'x' }]);
    const m = await c.next();
    expect(m.raw).toBe('{"stream":"alice/user/s1","data":[{"t":1500000001,"d":{"b":1,"a":[true]}},{"t":1500000002},{"t":1500000003,"d":"x"}]}\n');
    expect(Object.keys(m.json)).toEqual(['stream', 'data']);
    // What was published is what REST reads back.
    expect(await R.data('alice/user/s1', ALICE, 'i1=-3&i2=0')).toEqual(m.json.data);
    // Zero timestamps are filled in before publishing.
    await R.insert('alice/user/s1', ALICE, [{ d: 7 }]);
    const z = await c.next();
    expect(z.json.data![0].t).toBeGreaterThan(1500000003);
    expect(await c.sync(B)).toEqual([]);
  });

  it('an empty insert publishes nothing', async () => {
    const c = await connect(ALICE, B);
    c.subscribe('alice/user/s1');
    expect(await c.sync(B)).toEqual([]);
    expect((await R.insert('alice/user/s1', ALICE, [])).status).toBe(200);
    c.insert('alice/user/s1', []);
    expect(await c.sync(B)).toEqual([]);
  });

  it('transformed subscriptions echo the transform verbatim and run per batch with fresh state', async () => {
    const c = await connect(ALICE, B);
    const gt = 'if   $>200';
    c.subscribe('alice/user/tr', '');
    c.subscribe('alice/user/tr', gt);
    c.subscribe('alice/user/tr', 'sum');
    expect(await c.sync(B)).toEqual([]);
    await R.insert('alice/user/tr', ALICE, [{ t: 10, d: 100 }]);
    let got = await c.sync(B);
    const byKey = (ms: typeof got) => Object.fromEntries(ms.map((m) => [m.json.transform ?? '', m]));
    let k = byKey(got);
    expect(got).toHaveLength(2); // raw + sum; the if yields nothing → no message
    expect(k[''].raw).toBe('{"stream":"alice/user/tr","data":[{"t":10,"d":100}]}\n');
    expect(k['sum'].raw).toBe('{"stream":"alice/user/tr","transform":"sum","data":[{"t":10,"d":100}]}\n');
    await R.insert('alice/user/tr', ALICE, [
      { t: 11, d: 3000 },
      { t: 12, d: 1 },
      { t: 13, d: 2 },
    ]);
    got = await c.sync(B);
    k = byKey(got);
    expect(got).toHaveLength(3);
    expect(k[gt].raw).toBe('{"stream":"alice/user/tr","transform":"if   $>200","data":[{"t":11,"d":3000}]}\n');
    expect(Object.keys(k[gt].json)).toEqual(['stream', 'transform', 'data']);
    // sum (a running sum) restarts at every insert: 3000.., not 3100..
    expect(k['sum'].json.data).toEqual([
      { t: 11, d: 3000 },
      { t: 12, d: 3001 },
      { t: 13, d: 3003 },
    ]);
    expect(k[''].json.data).toHaveLength(3);
  });

  it("the Python client's test_subscribe sequence", async () => {
    const s = 'alice/user/seq';
    const c = await connect(ALICE, B);
    c.subscribe(s, '');
    expect(await c.sync(B)).toEqual([]);
    await R.insert(s, ALICE, [{ d: 1337 }]);
    expect((await c.next()).json.data).toMatchObject([{ d: 1337 }]);
    c.unsubscribe(s, '');
    expect(await c.sync(B)).toEqual([]);
    await R.insert(s, ALICE, [{ d: 1 }]);
    expect(await c.sync(B)).toEqual([]);
    c.subscribe(s, '');
    c.subscribe(s, 'if $ > 200');
    expect(await c.sync(B)).toEqual([]);
    await R.insert(s, ALICE, [{ d: 100 }]);
    let got = await c.sync(B);
    expect(got.map((m) => m.json.transform)).toEqual([undefined]);
    await R.insert(s, ALICE, [{ d: 3000 }]);
    got = await c.sync(B);
    expect(got.map((m) => m.json.transform ?? '').sort()).toEqual(['', 'if $ > 200']);
    c.unsubscribe(s, 'if $ > 200');
    expect(await c.sync(B)).toEqual([]);
    await R.insert(s, ALICE, [{ d: 900 }]);
    got = await c.sync(B);
    expect(got.map((m) => [m.json.transform, m.json.data![0].d])).toEqual([[undefined, 900]]);
    await R.updateStream(s, ALICE, { ephemeral: true });
    await R.insert(s, ALICE, [{ d: 101 }]);
    got = await c.sync(B);
    expect(got.map((m) => m.json.data![0].d)).toEqual([101]);
    // unsubscribe_all drops everything, the barrier included.
    c.send({ cmd: 'unsubscribe_all' });
    c.subscribe(B);
    expect(await c.sync(B)).toEqual([]);
    expect(listeners(s)).toBe(0);
  });

  it('a second identical subscribe is a no-op; missing keys are empty values; unsubscribing the unknown is ignored', async () => {
    const c = await connect(ALICE, B);
    c.send({ cmd: 'subscribe', arg: 'alice/user/dup' }); // no transform key = raw
    c.subscribe('alice/user/dup', '');
    c.unsubscribe('alice/user/dup', 'if $ > 1');
    c.unsubscribe('alice/user/nothing', '');
    expect(await c.sync(B)).toEqual([]);
    await R.insert('alice/user/dup', ALICE, [{ d: 1 }]);
    expect(await c.sync(B)).toHaveLength(1);
    // A failed transform subscribe does not carry over to the next message (no decoder quirk).
    c.subscribe('alice/user/dup', '(((');
    c.send({ cmd: 'unsubscribe', arg: 'alice/user/dup' });
    expect(await c.sync(B)).toEqual([]);
    await R.insert('alice/user/dup', ALICE, [{ d: 2 }]);
    expect(await c.sync(B)).toEqual([]);
  });

  it('trailing slashes are normalised', async () => {
    const c = await connect(ALICE, B);
    c.subscribe('alice/user/slash/');
    expect(await c.sync(B)).toEqual([]);
    await R.insert('alice/user/slash', ALICE, [{ t: 5, d: 5 }]);
    expect((await c.next()).raw).toBe('{"stream":"alice/user/slash","data":[{"t":5,"d":5}]}\n');
    c.unsubscribe('alice/user/slash/', '');
    expect(await c.sync(B)).toEqual([]);
    expect(listeners('alice/user/slash')).toBe(0);
  });

  it('websocket insert: restamped, published to every subscriber including the sender, what is stored', async () => {
    const s = 'alice/user/wsi';
    const a = await connect(ALICE, B);
    const other = await connect(ADMIN);
    other.subscribe(s);
    a.subscribe(s);
    expect(await a.sync(B)).toEqual([]);
    a.insert(s, [
      { t: 100, d: 1 },
      { t: 101, d: 2 },
    ]);
    const m1 = await a.next();
    expect(m1.raw).toBe('{"stream":"alice/user/wsi","data":[{"t":100,"d":1},{"t":101,"d":2}]}\n');
    expect((await other.next()).raw).toBe(m1.raw);
    // Older timestamp → restamped to the last stored one, and published as stored.
    a.insert(s, [{ t: 1, d: 3 }]);
    const m2 = await a.next();
    expect(m2.json.data).toEqual([{ t: 101, d: 3 }]);
    expect(await R.data(s, ALICE)).toEqual([...m1.json.data!, ...m2.json.data!]);
    // Failed inserts (schema, order, missing stream, bad shapes) are silent and keep the connection.
    a.subscribe('alice/user/num');
    a.insert('alice/user/num', [{ d: 'not a number' }]);
    a.insert('alice/user/num', [
      { t: 5, d: 1 },
      { t: 4, d: 2 },
    ]);
    a.insert('alice/user/missing', [{ d: 1 }]);
    a.insert('alice/user', [{ d: 1 }]);
    a.send({ cmd: 'insert', arg: 'alice/user/num', d: { t: 1 } });
    a.send({ cmd: 'insert', arg: 'alice/user/num', d: [{ t: 'x' }] });
    expect(await a.sync(B)).toEqual([]);
    expect(await R.length('alice/user/num', ALICE)).toBe(0);
    // Another user's device refuses the write silently.
    const bob = await connect(BOB, BOB_B);
    bob.insert(s, [{ d: 9 }]);
    expect(await bob.sync(BOB_B)).toEqual([]);
    expect(await a.sync(B)).toEqual([]);
    expect(await R.length(s, ALICE)).toBe(3);
  });

  it('ephemeral streams publish without storing', async () => {
    const s = 'alice/user/eph';
    await R.updateStream(s, ALICE, { ephemeral: true });
    const c = await connect(ALICE, B);
    c.subscribe(s);
    expect(await c.sync(B)).toEqual([]);
    await R.insert(s, ALICE, [{ t: 1, d: 'rest' }]);
    expect((await c.next()).raw).toBe('{"stream":"alice/user/eph","data":[{"t":1,"d":"rest"}]}\n');
    c.insert(s, [{ t: 2, d: 'ws' }]);
    expect((await c.next()).json.data).toEqual([{ t: 2, d: 'ws' }]);
    expect(await R.length(s, ALICE)).toBe(0);
  });
});

describe('meta log', () => {
  it("the server's own meta-log writes are delivered to subscribers of user/meta/log", async () => {
    const c = await connect(ALICE, B);
    c.subscribe('alice/meta/log');
    expect(await c.sync(B)).toEqual([]);
    await R.createStream('alice/user/logged', ALICE);
    const got = await c.sync(B);
    expect(got).toHaveLength(1);
    expect(got[0].json.stream).toBe('alice/meta/log');
    expect(got[0].json.data).toMatchObject([{ d: { cmd: 'CreateStream', arg: 'alice/user/logged' } }]);
    expect(await R.data('alice/meta/log', ALICE, 'i1=-1&i2=0')).toEqual(got[0].json.data);
  });
});

describe('downlinks', () => {
  it('non-owner write → downlink substream with o; owner receives it on /downlink and acknowledges on the plain stream', async () => {
    const light = 'alice/dev1/light';
    const owner = await connect(keyAuth(dev1Key), DEV1_B);
    owner.subscribe(`${light}/downlink`);
    owner.subscribe(`${light}/downlink`, 'if $');
    expect(await owner.sync(DEV1_B)).toEqual([]);
    const watcher = await connect(ALICE, B);
    watcher.subscribe(light);
    expect(await watcher.sync(B)).toEqual([]);

    // alice/user (not the owner) writes to the plain stream over REST, no downlink flag.
    expect((await R.insert(light, ALICE, [{ t: 1000, d: true }])).status).toBe(200);
    const got = await owner.sync(DEV1_B);
    const raw = got.find((m) => m.json.transform === undefined)!;
    expect(raw.raw).toBe('{"stream":"alice/dev1/light/downlink","data":[{"t":1000,"d":true,"o":"alice/user"}]}\n');
    // Transformed datapoints carry only t and d.
    expect(got.find((m) => m.json.transform === 'if $')!.raw).toBe('{"stream":"alice/dev1/light/downlink","transform":"if $","data":[{"t":1000,"d":true}]}\n');
    // Plain-path subscribers see nothing of the downlink.
    expect(await watcher.sync(B)).toEqual([]);
    expect(await R.length(light, ALICE)).toBe(0);
    expect(await R.length(light, ALICE, '&downlink=true')).toBe(1);

    // The owner acknowledges as the Python client does: the received datapoints, o and all.
    owner.insert(light, raw.json.data!);
    const ack = await watcher.next();
    expect(ack.raw).toBe('{"stream":"alice/dev1/light","data":[{"t":1000,"d":true}]}\n');
    expect(await R.length(light, ALICE)).toBe(1);
    expect(await R.length(light, ALICE, '&downlink=true')).toBe(1);
    expect(await R.data(light, ALICE, 'i1=0&i2=0&downlink=true')).toEqual([{ t: 1000, d: true, o: 'alice/user' }]);

    // A non-owner websocket insert lands in the downlink too.
    watcher.insert(light, [{ t: 1001, d: false }]);
    expect(await watcher.sync(B)).toEqual([]);
    const m = (await owner.sync(DEV1_B)).find((x) => x.json.transform === undefined)!;
    expect(m.json).toEqual({ stream: 'alice/dev1/light/downlink', data: [{ t: 1001, d: false, o: 'alice/user' }] });
  });

  it('the owner device cannot subscribe to another device stream; refusals keep the connection', async () => {
    const owner = await connect(keyAuth(dev1Key), DEV1_B);
    owner.subscribe('alice/user/s1');
    expect(await owner.sync(DEV1_B)).toEqual([]);
    expect(listeners('alice/user/s1')).toBe(0);
  });
});

describe('refused and malformed commands', () => {
  it('refused subscriptions are ignored without a reply and the connection keeps working', async () => {
    const bob = await connect(BOB, BOB_B);
    for (const arg of ['alice/dev1/plain', 'alice/dev1/light/downlink', 'alice', 'alice/user', 'alice/user/s1/uplink', 'alice/user/s1/downlink/x', 'bob/user/missing', 'nobody/x/y']) {
      bob.subscribe(arg);
    }
    const a = await connect(ALICE, B);
    a.subscribe('alice/user/gone', '(((');
    a.subscribe('alice', '');
    a.subscribe('alice/user', '');
    expect(await a.sync(B)).toEqual([]);
    expect(await bob.sync(BOB_B)).toEqual([]);
    for (const p of ['alice/dev1/plain', 'alice/dev1/light/downlink', 'alice/user/gone']) expect(listeners(p)).toBe(0);
  });

  it('unknown commands, null and null fields are ignored', async () => {
    const c = await connect(ALICE, B);
    c.send({ cmd: 'frobnicate', arg: 'x' });
    c.send('null');
    c.send({ cmd: null, arg: null, transform: null });
    c.send({ cmd: 'subscribe', arg: 'alice/user/nope', extra: [1] });
    expect(await c.sync(B)).toEqual([]);
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('a command field of the wrong JSON type closes the connection like invalid JSON (1007)', async () => {
    // The original's decoder failed on {"cmd":5} exactly as on invalid JSON and stopped reading.
    for (const bad of [{ cmd: 5, arg: ['x'] }, { cmd: 'subscribe', arg: ['alice/user/s1'] }, { cmd: 'subscribe', arg: B, transform: {} }, { cmd: true }]) {
      const c = await connect(ALICE, B);
      c.subscribe('alice/user/clean1');
      expect(await c.sync(B)).toEqual([]);
      c.send(bad);
      expect((await within(c.closed, 3000, 'close')).code).toBe(1007);
      await waitFor(() => listeners('alice/user/clean1') === 0, 'cleanup');
    }
  });

  it('invalid JSON closes the connection (1007) and drops its subscriptions', async () => {
    const c = await connect(ALICE, B);
    c.subscribe('alice/user/clean2');
    expect(await c.sync(B)).toEqual([]);
    c.send('{"cmd": "subscribe", ');
    expect((await within(c.closed, 3000, 'close')).code).toBe(1007);
    await waitFor(() => listeners('alice/user/clean2') === 0, 'cleanup');
  });

  it('a JSON value that is not an object closes the connection', async () => {
    const c = await connect(ALICE, B);
    c.send('[1,2]');
    expect((await within(c.closed, 3000, 'close')).code).toBe(1007);
  });

  it('a message above message_limit_bytes closes with 1009', async () => {
    const c = await connect(ALICE, B);
    c.send(JSON.stringify({ cmd: 'insert', arg: B, d: [{ d: 'x'.repeat(t.config.websocket.message_limit_bytes) }] }));
    expect((await within(c.closed, 3000, 'close')).code).toBe(1009);
  });
});

describe('teardown', () => {
  it('closing (cleanly or abruptly) removes every subscription from the bus', async () => {
    const paths = ['alice/user/clean1', 'alice/user/clean2', 'alice/dev1/light/downlink'];
    const c = await connect(ALICE, B);
    for (const p of paths) {
      c.subscribe(p);
      c.subscribe(p, 'if $ > 1');
    }
    expect(await c.sync(B)).toEqual([]);
    for (const p of [...paths, B]) expect(listeners(p)).toBe(1);
    await c.close();
    await waitFor(() => [...paths, B].every((p) => listeners(p) === 0), 'bus cleanup');

    const d = await connect(ALICE, B);
    d.subscribe(paths[0]);
    expect(await d.sync(B)).toEqual([]);
    expect(listeners(paths[0])).toBe(1);
    d.ws.terminate();
    await waitFor(() => listeners(paths[0]) === 0 && listeners(B) === 0, 'bus cleanup after terminate');
  });

  it('several connections share one bus listener per path', async () => {
    const cs = [await connect(ALICE, B), await connect(ALICE, B), await connect(ALICE, B)];
    for (const c of cs) c.subscribe('alice/user/clean1');
    for (const c of cs) expect(await c.sync(B)).toHaveLength(0);
    expect(listeners('alice/user/clean1')).toBe(1);
    await R.insert('alice/user/clean1', ALICE, [{ d: 1 }]);
    const msgs = (await Promise.all(cs.map((c) => c.sync(B)))).flat();
    expect(msgs).toHaveLength(3);
    expect(new Set(msgs.map((m) => m.raw)).size).toBe(1);
    await cs[0].close();
    await cs[1].close();
    expect(listeners('alice/user/clean1')).toBe(1);
    await cs[2].close();
    await waitFor(() => listeners('alice/user/clean1') === 0, 'cleanup');
  });
});
