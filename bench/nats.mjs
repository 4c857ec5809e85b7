// The NATS bus alone (no HTTP, no storage): 10,000 small batches from instance A to instance B
// through a real nats-server on loopback. Not in run.mjs's default list (it needs nats-server);
// run it with `npm run build && node bench/nats.mjs`. A and B share this process's event loop.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fmt, freePort, ROOT } from './lib.mjs';

const BIN = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((p) => existsSync(p));
if (!BIN) {
  console.error('nats-server is not installed (apt-get install -y nats-server)');
  process.exit(1);
}
const { NatsPubSub } = await import(path.join(ROOT, 'dist', 'pubsub', 'nats.js'));

const dir = mkdtempSync(path.join(tmpdir(), 'cdb-nats-bench-'));
const port = await freePort();
const server = spawn(BIN, ['-a', '127.0.0.1', '-p', String(port)], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
await new Promise((resolve, reject) => {
  let err = '';
  server.stderr.on('data', (b) => {
    err += b;
    if (err.includes('Server is ready')) resolve();
  });
  server.once('exit', (c) => reject(new Error(`nats-server exited ${c}: ${err}`)));
});

const N = 10_000;
const STREAM = 'bench/dev/s';
const a = await NatsPubSub.connect({ hostname: '127.0.0.1', port });
const b = await NatsPubSub.connect({ hostname: '127.0.0.1', port });
let got = 0;
let lat = [];
let done = () => {};
b.subscribe(STREAM, (batch) => {
  lat.push(performance.now() - batch.data[0].d.sent);
  if (++got === N) done();
});
await b.flush();
// Three datapoints per batch, like a small websocket or REST insert.
const batch = (i) => ({ stream: STREAM, data: [{ t: 1.7e9 + i, d: { sent: performance.now(), v: i } }, { t: 1.7e9 + i + 0.1, d: 21.5 }, { t: 1.7e9 + i + 0.2, d: 'ok' }] });

// Throughput: publish everything at once, time until B has it all.
let all = new Promise((r) => (done = r));
let t0 = performance.now();
for (let i = 0; i < N; i++) a.publish(batch(i));
await all;
const burst = performance.now() - t0;
console.log(`burst: ${fmt(N)} batches A→B in ${burst.toFixed(0)} ms = ${fmt(N / (burst / 1000))} batches/s`);

// Latency: the same 10,000 at 2,000 batches/s (20 every 10 ms), publish → B's listener.
got = 0;
lat = [];
all = new Promise((r) => (done = r));
t0 = performance.now();
for (let i = 0; i < N; i += 20) {
  for (let k = 0; k < 20; k++) a.publish(batch(i + k));
  await new Promise((r) => setTimeout(r, Math.max(0, t0 + ((i + 20) / 2000) * 1000 - performance.now())));
}
await all;
lat.sort((x, y) => x - y);
const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(2);
console.log(`paced 2,000 batches/s: latency p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${lat[lat.length - 1].toFixed(2)} ms`);

await a.close();
await b.close();
server.kill('SIGTERM');
await new Promise((r) => server.once('exit', r));
rmSync(dir, { recursive: true, force: true });
