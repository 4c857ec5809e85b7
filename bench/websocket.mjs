// Issue figures for live data: 100 websocket subscribers on one stream.
//  (1) fan-out throughput: REST inserts of 1,000-datapoint batches, datapoint-messages delivered per
//      second end to end (summed over subscribers, from the first insert to the last delivery),
//  (2) delivery latency of single-datapoint inserts with 100 subscribers: p50 / p99, measured at
//      receipt from the send time carried in the datapoint.
// The server runs as a separate process (dist/, built by `npm run bench`); the subscribers live in
// this process and parse every message.
import WebSocket from 'ws';
import { ensureOk, fmt, startServer } from './lib.mjs';

const SUBS = Number(process.env.BENCH_WS_SUBS ?? 100);
const BATCH = 1000;
const BATCHES = Number(process.env.BENCH_WS_BATCHES ?? 300);
/** Inserts allowed ahead of the slowest subscriber (keeps the measurement about delivery, not queueing). */
const WINDOW = Number(process.env.BENCH_WS_WINDOW ?? 2);
const SINGLES = Number(process.env.BENCH_WS_SINGLES ?? 1000);
const STREAM = 'bench/user/fan';
const now = () => performance.timeOrigin + performance.now();

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main() {
  const s = await startServer();
  const subs = [];
  try {
    await ensureOk(await s.req('POST', `/api/v1/crud/${STREAM}`, '{}'), 'create stream');

    // Connect and subscribe; a ping round trip after the subscribe proves it was processed.
    let progress = () => {};
    for (let i = 0; i < SUBS; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${s.port}/api/v1/websocket`, { headers: { authorization: s.auth }, perMessageDeflate: false });
      const sub = { ws, msgs: 0, dps: 0, lastAt: 0, latencies: null, closed: false };
      ws.on('message', (data) => {
        const m = JSON.parse(data.toString());
        const at = now();
        sub.msgs++;
        sub.dps += m.data.length;
        sub.lastAt = at;
        if (sub.latencies) sub.latencies.push(at - m.data[0].d);
        progress();
      });
      ws.on('close', () => (sub.closed = true));
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      ws.send(JSON.stringify({ cmd: 'subscribe', arg: STREAM, transform: '' }));
      await new Promise((resolve) => {
        ws.once('pong', resolve);
        ws.ping();
      });
      subs.push(sub);
    }
    const waitAll = (cond, what, ms = 20000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (subs.some((x) => x.closed)) return reject(new Error(`a subscriber was disconnected (${what})`));
          if (cond()) {
            clearTimeout(timer);
            progress = () => {};
            resolve();
          }
        };
        const timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
        progress = check;
        check();
      });
    const minMsgs = () => subs.reduce((m, x) => Math.min(m, x.msgs), Infinity);

    // (1) fan-out throughput.
    let tNext = 1e9;
    const bodies = [];
    for (let k = 0; k < BATCHES; k++) {
      bodies.push(JSON.stringify(Array.from({ length: BATCH }, (_, i) => ({ t: tNext + i, d: (k * BATCH + i) % 1000 }))));
      tNext += BATCH;
    }
    const base = minMsgs();
    const t0 = now();
    for (let k = 0; k < BATCHES; k++) {
      if (k - (minMsgs() - base) >= WINDOW) await waitAll(() => k - (minMsgs() - base) < WINDOW, `window at batch ${k}`);
      await ensureOk(await s.req('POST', `/api/v1/crud/${STREAM}/data`, bodies[k]), 'insert');
    }
    await waitAll(() => minMsgs() - base >= BATCHES, 'final deliveries');
    const tEnd = subs.reduce((m, x) => Math.max(m, x.lastAt), 0);
    const delivered = subs.reduce((n, x) => n + x.dps, 0);
    const rate = delivered / ((tEnd - t0) / 1000);
    console.log(`websocket  fan-out ${SUBS} subs, ${BATCH}-dp batches   ${fmt(rate)} dp-msgs/s  (${fmt(delivered)} delivered in ${((tEnd - t0) / 1000).toFixed(2)} s; target 50,000)`);

    // (2) latency of single inserts, each awaited at every subscriber before the next.
    for (const x of subs) x.latencies = [];
    for (let k = 0; k < SINGLES; k++) {
      const before = minMsgs();
      const t = now();
      tNext += 1;
      await ensureOk(await s.req('POST', `/api/v1/crud/${STREAM}/data`, JSON.stringify([{ t: tNext, d: t }])), 'single insert');
      await waitAll(() => minMsgs() > before, `single ${k}`);
    }
    const lat = subs.flatMap((x) => x.latencies).sort((a, b) => a - b);
    console.log(
      `websocket  single-dp insert → ${SUBS} subs, latency        p50 ${pct(lat, 50).toFixed(2)} ms  p99 ${pct(lat, 99).toFixed(2)} ms  max ${lat[lat.length - 1].toFixed(2)} ms  (${fmt(lat.length)} deliveries; target p99 ≤ 20 ms)`,
    );
  } finally {
    for (const x of subs) x.ws.terminate();
    await s.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
