import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PublishedBatch } from '../../src/pubsub';
import { NatsPubSub, subjectFor } from '../../src/pubsub/nats';

// A real NATS server (Debian's nats-server, installed by .ci/run): missing, the file fails loudly.
const NATS_BIN = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find((p) => existsSync(p));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

let dir = '';
let port = 0;
let server: ChildProcess | null = null;

function startServer(): Promise<void> {
  const p = spawn(NATS_BIN as string, ['-a', '127.0.0.1', '-p', String(port)], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  server = p;
  return new Promise((resolve, reject) => {
    let err = '';
    p.stderr?.on('data', (b: Buffer) => {
      err += b.toString();
      if (err.includes('Server is ready')) resolve();
    });
    p.once('exit', (code) => reject(new Error(`nats-server exited (${code}): ${err}`)));
  });
}

function stopServer(): Promise<void> {
  const p = server;
  server = null;
  if (!p || p.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    p.once('exit', () => resolve());
    p.kill('SIGTERM');
  });
}

beforeAll(async () => {
  if (!NATS_BIN) throw new Error('nats-server is not installed: `apt-get install -y nats-server` (Debian; .ci/run does it). These tests need a real NATS server.');
  dir = mkdtempSync(path.join(os.tmpdir(), 'cdb-nats-'));
  port = await freePort();
  await startServer();
}, 20_000);

afterAll(async () => {
  await stopServer();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const open = (extra: Partial<Parameters<typeof NatsPubSub.connect>[0]> = {}) => NatsPubSub.connect({ hostname: '127.0.0.1', port, ...extra });

describe('subjectFor', () => {
  it('maps a stream path to one subject token per name, and never to a wildcard', () => {
    expect(subjectFor('cdb', 'alice/dev/s')).toBe('cdb.alice.dev.s');
    expect(subjectFor('cdb', 'alice/dev/s/downlink')).toBe('cdb.alice.dev.s.downlink');
    expect(subjectFor('cdb', 'a/*/>')).toBe('cdb.a._2a._3e');
    expect(subjectFor('cdb', 'a/b.c/ d')).toBe('cdb.a._622e63._2064');
  });
});

describe('NatsPubSub across two processes', () => {
  it('delivers a batch published on A to a subscriber on B with the shape a single process delivers', async () => {
    const a = await open();
    const b = await open();
    const got: PublishedBatch[] = [];
    b.subscribe('alice/dev/s', (x) => got.push(x));
    await b.flush();
    const sent: PublishedBatch[] = [
      { stream: 'alice/dev/s', data: [{ t: 1.5, d: 1 }, { t: 2, d: 'two', o: 'bob/phone' }, { t: 3, d: { x: [1, null, true] } }, { t: 4, d: null }] },
      { stream: 'alice/dev/s', data: [{ t: 5, d: 1e300 }, { t: 6, d: -0.1 }, { t: 7, d: 'ünï€ode 🚀' }], index: 4 },
    ];
    for (const s of sent) a.publish(s);
    await waitFor(() => got.length === 2, 'two batches on B');
    expect(got).toEqual(sent);
    expect(Object.keys(got[0]).sort()).toEqual(['data', 'stream']);
    expect(got[1].index).toBe(4);
    await a.close();
    await b.close();
  });

  it('delivers 1,000 batches in the order they were published', async () => {
    const a = await open();
    const b = await open();
    const got: number[] = [];
    b.subscribe('alice/dev/many', (x) => got.push(x.data[0].t));
    await b.flush();
    for (let i = 0; i < 1000; i++) a.publish({ stream: 'alice/dev/many', data: [{ t: i, d: i }] });
    await waitFor(() => got.length === 1000, '1,000 batches');
    expect(got).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    await a.close();
    await b.close();
  });

  it('splits a 5 MB batch into messages under max_payload and reassembles it in order', async () => {
    const a = await open();
    const b = await open();
    const raw = await connect({ servers: `127.0.0.1:${port}` });
    let messages = 0;
    let biggest = 0;
    raw.subscribe(subjectFor('cdb', 'alice/dev/big'), {
      callback: (_e, m) => {
        messages++;
        biggest = Math.max(biggest, m.data.length);
      },
    });
    await raw.flush();
    const got: PublishedBatch[] = [];
    b.subscribe('alice/dev/big', (x) => got.push(x));
    b.subscribe('alice/dev/after', (x) => got.push(x));
    await b.flush();
    const data = Array.from({ length: 50_000 }, (_, i) => ({ t: i, d: { i, s: 'x'.repeat(80) } }));
    const big: PublishedBatch = { stream: 'alice/dev/big', data };
    // One datapoint alone over max_payload (2 MB) is cut too.
    const huge: PublishedBatch = { stream: 'alice/dev/big', data: [{ t: 1e9, d: 'é'.repeat(1_000_000) }] };
    a.publish(big);
    a.publish({ stream: 'alice/dev/after', data: [{ t: 1, d: 'small' }] });
    a.publish(huge);
    await waitFor(() => got.length === 3, 'the big batches');
    expect(JSON.stringify(big).length).toBeGreaterThan(5_000_000);
    const max = raw.info?.max_payload ?? 0;
    expect(max).toBe(1024 * 1024);
    expect(messages).toBeGreaterThanOrEqual(5 + 2);
    expect(biggest).toBeLessThanOrEqual(max);
    expect(got[0]).toEqual(big);
    expect(got[1].stream).toBe('alice/dev/after');
    expect(got[2]).toEqual(huge);
    await raw.close();
    await a.close();
    await b.close();
  });

  it('stops delivering after the last listener unsubscribes, and counts local listeners only', async () => {
    const a = await open();
    const b = await open();
    const got: string[] = [];
    const off1 = b.subscribe('alice/dev/s', () => got.push('s1'));
    const off2 = b.subscribe('alice/dev/s', () => got.push('s2'));
    b.subscribe('alice/dev/marker', () => got.push('marker'));
    expect(b.listenerCount('alice/dev/s')).toBe(2);
    expect(a.listenerCount('alice/dev/s')).toBe(0);
    // Listeners on B are invisible to A: A publishes anyway.
    expect(a.wantsPublish('alice/dev/s')).toBe(true);
    await b.flush();
    a.publish({ stream: 'alice/dev/s', data: [{ t: 1, d: 1 }] });
    await waitFor(() => got.length === 2, 'first delivery');
    off1();
    expect(b.listenerCount('alice/dev/s')).toBe(1);
    a.publish({ stream: 'alice/dev/s', data: [{ t: 2, d: 2 }] });
    await waitFor(() => got.length === 3, 'second delivery');
    off2();
    off2();
    expect(b.listenerCount('alice/dev/s')).toBe(0);
    await b.flush();
    a.publish({ stream: 'alice/dev/s', data: [{ t: 3, d: 3 }] });
    a.publish({ stream: 'alice/dev/marker', data: [{ t: 3, d: 3 }] });
    await waitFor(() => got.includes('marker'), 'the marker');
    expect(got).toEqual(['s1', 's2', 's2', 'marker']);
    await a.close();
    await b.close();
  });

  it("calls the publisher's own local listener exactly once per batch, synchronously, with the published object", async () => {
    const a = await open();
    const b = await open();
    const onA: PublishedBatch[] = [];
    const onB: PublishedBatch[] = [];
    a.subscribe('alice/dev/s', (x) => onA.push(x));
    b.subscribe('alice/dev/s', (x) => onB.push(x));
    await a.flush();
    await b.flush();
    const sent = Array.from({ length: 10 }, (_, i): PublishedBatch => ({ stream: 'alice/dev/s', data: [{ t: i, d: i }] }));
    for (const s of sent) a.publish(s);
    expect(onA.length).toBe(10);
    await waitFor(() => onB.length === 10, 'B');
    // Time for an echo to arrive, had there been one.
    await a.flush();
    await new Promise((r) => setTimeout(r, 50));
    expect(onA.length).toBe(10);
    for (let i = 0; i < 10; i++) expect(onA[i]).toBe(sent[i]);
    expect(onB).toEqual(sent);
    await a.close();
    await b.close();
  });

  it('close() sends what was published, resolves, and leaves later calls harmless', async () => {
    const a = await open();
    const b = await open();
    const got: PublishedBatch[] = [];
    b.subscribe('alice/dev/s', (x) => got.push(x));
    await b.flush();
    for (let i = 0; i < 100; i++) a.publish({ stream: 'alice/dev/s', data: [{ t: i, d: i }] });
    await a.close();
    await waitFor(() => got.length === 100, 'everything published before close');
    // After close: no throw, no delivery.
    a.publish({ stream: 'alice/dev/s', data: [{ t: 200, d: 0 }] });
    expect(a.subscribe('alice/dev/s', () => {})).toBeTypeOf('function');
    expect(a.wantsPublish('alice/dev/s')).toBe(false);
    await a.close();
    await b.close();
    b.publish({ stream: 'alice/dev/s', data: [{ t: 201, d: 0 }] });
    expect(got.length).toBe(100);
  });

  it('resubscribes after the NATS server restarts', async () => {
    const logs: string[] = [];
    const a = await open();
    const b = await open({ log: (m) => logs.push(m) });
    const got: number[] = [];
    b.subscribe('alice/dev/s', (x) => got.push(x.data[0].t));
    await b.flush();
    a.publish({ stream: 'alice/dev/s', data: [{ t: 1, d: 1 }] });
    await waitFor(() => got.length === 1, 'before the restart');
    await stopServer();
    await waitFor(() => logs.some((l) => l.startsWith('nats: disconnected')), 'the disconnect');
    await startServer();
    await waitFor(() => logs.includes('nats: reconnected'), 'the reconnect', 15_000);
    // A reconnects on its own schedule: publish until B sees one.
    let t = 2;
    while (got.length < 2) {
      a.publish({ stream: 'alice/dev/s', data: [{ t: t++, d: 0 }] });
      await new Promise((r) => setTimeout(r, 50));
      if (t > 400) throw new Error('no delivery after the restart');
    }
    expect(got[0]).toBe(1);
    expect(got[1]).toBeGreaterThanOrEqual(2);
    await a.close();
    await b.close();
  }, 30_000);
});
