import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type TestApp, basic, createUser, makeApp } from '../helpers';
import { Client, rest, waitFor, within } from './client';

// websocket.md §4 (backpressure), §5 (keepalive, permission re-checks), §7 (shutdown).
const ALICE = basic('alice', 'pw');
const B = 'alice/user/barrier';
let t: TestApp | undefined;
const open: Client[] = [];

async function setup(over: (c: TestApp['config']) => void): Promise<TestApp> {
  t = await makeApp(over);
  await createUser(t, 'alice');
  const R = rest(t);
  await R.createStream(B, ALICE);
  await R.createStream('alice/user/s', ALICE);
  return t;
}

async function connect(app: TestApp, autoPong = true): Promise<Client> {
  const c = await Client.open(app, { headers: { authorization: ALICE }, autoPong });
  open.push(c);
  c.subscribe(B);
  expect(await c.sync(B)).toEqual([]);
  return c;
}

afterEach(async () => {
  for (const c of open.splice(0)) c.ws.terminate();
  if (t) await t.close();
  t = undefined;
});

describe('keepalive', () => {
  it('the server pings every ping_period; a client that answers stays connected past pong_wait', async () => {
    const app = await setup((c) => {
      c.websocket.ping_period = 0.05;
      c.websocket.pong_wait = 0.4;
    });
    const c = await connect(app);
    const t0 = Date.now();
    await c.waitPings(16);
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(750); // well past pong_wait (400 ms)
    expect(c.ws.readyState).toBe(c.ws.OPEN);
    c.subscribe('alice/user/s');
    expect(await c.sync(B)).toEqual([]);
  });

  it('a client that does not answer pings is closed after pong_wait (no status) and its subscriptions dropped', async () => {
    const app = await setup((c) => {
      c.websocket.ping_period = 0.05;
      c.websocket.pong_wait = 0.25;
    });
    const c = await connect(app, false);
    c.subscribe('alice/user/s');
    expect(await c.sync(B)).toEqual([]);
    expect(app.services.core.bus.listenerCount('alice/user/s')).toBe(1);
    const closed = await within(c.closed, 3000, 'close');
    expect(closed.code).toBe(1005);
    expect(c.pings).toBeGreaterThanOrEqual(2);
    await waitFor(() => app.services.core.bus.listenerCount('alice/user/s') === 0 && app.services.core.bus.listenerCount(B) === 0, 'cleanup');
  });

  it('ordinary messages do not extend the pong deadline', async () => {
    const app = await setup((c) => {
      c.websocket.ping_period = 10;
      c.websocket.pong_wait = 0.3;
    });
    const c = await connect(app);
    // No ping is sent before pong_wait, so no pong ever arrives; traffic alone does not keep it open.
    const keepBusy = setInterval(() => c.send({ cmd: 'frobnicate' }), 20);
    try {
      expect((await within(c.closed, 3000, 'close')).code).toBe(1005);
    } finally {
      clearInterval(keepBusy);
    }
  });

  it('at each ping tick subscriptions that can no longer be read are removed silently', async () => {
    const app = await setup((c) => {
      c.websocket.ping_period = 0.05;
      c.websocket.pong_wait = 5;
    });
    const R = rest(app);
    await R.createStream('alice/user/doomed', ALICE);
    const c = await connect(app);
    c.subscribe('alice/user/doomed');
    c.subscribe('alice/user/doomed', 'if $ > 1');
    c.subscribe('alice/user/s');
    expect(await c.sync(B)).toEqual([]);
    expect(app.services.core.bus.listenerCount('alice/user/doomed')).toBe(1);
    expect((await app.http.delete('/api/v1/crud/alice/user/doomed').set('Authorization', ALICE)).status).toBe(200);
    await c.waitPings(2);
    expect(app.services.core.bus.listenerCount('alice/user/doomed')).toBe(0);
    expect(app.services.core.bus.listenerCount('alice/user/s')).toBe(1);
    expect(c.messages).toEqual([]);
    expect(c.ws.readyState).toBe(c.ws.OPEN);
  });
});

describe('slow consumers and shutdown', () => {
  it('a client that stops reading is dropped; the others receive every message', async () => {
    const app = await setup((c) => {
      c.websocket.write_wait = 0.5;
      c.websocket.message_buffer = 3;
    });
    const slow = await connect(app);
    const fast = await connect(app);
    slow.subscribe('alice/user/s');
    fast.subscribe('alice/user/s');
    expect(await slow.sync(B)).toEqual([]);
    expect(await fast.sync(B)).toEqual([]);
    (slow.ws as unknown as { _socket: Socket })._socket.pause();
    const R = rest(app);
    const big = 'x'.repeat(200);
    let sent = 0;
    for (let k = 0; k < 200 && app.app.websocketServer.clients.size > 1; k++) {
      const pts = Array.from({ length: 2000 }, (_, i) => ({ t: 1e9 + k * 2000 + i, d: big }));
      expect((await R.insert('alice/user/s', ALICE, pts)).status).toBe(200);
      sent++;
      // The fast client keeps up with every batch.
      const m = await fast.next(5000);
      expect(m.json.data).toHaveLength(2000);
    }
    await waitFor(() => app.app.websocketServer.clients.size === 1, 'slow client dropped', 5000);
    expect(sent).toBeLessThan(200);
    expect(app.services.core.bus.listenerCount('alice/user/s')).toBe(1);
    (slow.ws as unknown as { _socket: Socket })._socket.resume();
    expect((await within(slow.closed, 5000, 'slow close')).code).toBe(1006);
    // The fast client still works.
    expect(await fast.sync(B)).toEqual([]);
  });

  it('six subscriptions to one stream on one connection (raw + 5 transforms) receive every message', async () => {
    // Before: the 6 deliveries of one insert were counted as 6 queued messages (> message_buffer 3)
    // and the connection was dropped (1006) after the third.
    const app = await setup((c) => {
      c.websocket.message_buffer = 3;
    });
    const c = await connect(app);
    const transforms = ['', '$', '$ + 1', '$ * 2', 'sum', '$ > 5'];
    for (const tr of transforms) c.subscribe('alice/user/s', tr);
    expect(await c.sync(B)).toEqual([]);
    const R = rest(app);
    const N = 50;
    for (let k = 0; k < N; k++) expect((await R.insert('alice/user/s', ALICE, [{ t: 1e9 + k, d: k }])).status).toBe(200);
    const got = await c.sync(B);
    expect(got).toHaveLength(N * transforms.length);
    for (const tr of transforms) {
      const mine = got.filter((m) => (m.json.transform ?? '') === tr);
      expect(mine, tr).toHaveLength(N);
    }
    expect(c.ws.readyState).toBe(c.ws.OPEN);
  });

  it('a burst of large messages in one tick to a reading client is not a slow client', async () => {
    const app = await setup((c) => {
      c.websocket.message_buffer = 1;
      c.websocket.message_limit_bytes = 100000;
    });
    const c = await connect(app);
    for (let i = 0; i < 8; i++) c.subscribe('alice/user/s', i === 0 ? '' : `$ + "${i}"`);
    expect(await c.sync(B)).toEqual([]);
    // One insert of ~300 KB fans out to 8 messages of ~300 KB each in one tick (24x the cap).
    const pts = Array.from({ length: 1000 }, (_, i) => ({ t: 1e9 + i, d: 'x'.repeat(300) }));
    expect((await rest(app).insert('alice/user/s', ALICE, pts)).status).toBe(200);
    const got = await c.sync(B);
    expect(got).toHaveLength(8);
    expect(c.ws.readyState).toBe(c.ws.OPEN);
  });

  it('a client that stops reading is dropped by its unsent bytes even when write_wait is long', async () => {
    const app = await setup((c) => {
      c.websocket.write_wait = 3600;
      c.websocket.message_buffer = 1;
      c.websocket.message_limit_bytes = 1048576;
    });
    const slow = await connect(app);
    slow.subscribe('alice/user/s');
    expect(await slow.sync(B)).toEqual([]);
    (slow.ws as unknown as { _socket: Socket })._socket.pause();
    const R = rest(app);
    const big = 'x'.repeat(200);
    let sent = 0;
    for (let k = 0; k < 400 && app.app.websocketServer.clients.size > 0; k++) {
      const pts = Array.from({ length: 2000 }, (_, i) => ({ t: 1e9 + k * 2000 + i, d: big }));
      expect((await R.insert('alice/user/s', ALICE, pts)).status).toBe(200);
      sent++;
      await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor(() => app.app.websocketServer.clients.size === 0, 'slow client dropped', 5000);
    expect(sent).toBeLessThan(400);
    (slow.ws as unknown as { _socket: Socket })._socket.resume();
    expect((await within(slow.closed, 5000, 'slow close')).code).toBe(1006);
  });

  it('server shutdown sends every connection a close frame (1001)', async () => {
    const app = await setup(() => {});
    const a = await connect(app);
    const b = await connect(app);
    const closing = app.app.close();
    const [ca, cb] = await Promise.all([within(a.closed, 3000, 'close a'), within(b.closed, 3000, 'close b')]);
    expect(ca.code).toBe(1001);
    expect(cb.code).toBe(1001);
    await closing;
    expect(app.services.core.bus.listenerCount(B)).toBe(0);
  });
});
