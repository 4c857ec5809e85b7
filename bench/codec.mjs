// Issue 11: the chunk codec alone, in-process (src/storage/chunks/, built into dist/). For each
// workload, 1,000-point chunks: bytes per datapoint, encode rate, and decode rates to typed arrays
// (times/values), to the wire texts as one joined string per chunk (the raw read path), and to a
// string per datapoint. Rates are per second of this process's CPU time (process.cpuUsage), which
// a loaded machine distorts less than wall time; wall-clock figures follow in brackets.
// BENCH_N sets the numeric workload's size (default 1,000,000).
import { createRequire } from 'node:module';
import path from 'node:path';
import { ROOT, fmt, rng } from './lib.mjs';

const require = createRequire(import.meta.url);
const { decodeChunk, encodeChunk } = require(path.join(ROOT, 'dist', 'storage', 'chunks'));

const N = Number(process.env.BENCH_N ?? 1_000_000);
const CHUNK = 1000;

/** The server's wire form: t omitted when 0, d when null (service.ts wireJSON). */
const wire = (t, d) => (t === 0 ? '{' : '{"t":' + t + ',') + (d === null ? '' : '"d":' + (typeof d === 'number' ? String(d) : JSON.stringify(d))) + '}';

function workload(n, value, serverTime) {
  const r = rng(42);
  let t = 1_600_000_000_000;
  const pts = new Array(n);
  for (let i = 0; i < n; i++) {
    t += 1000 + Math.round((r() - 0.5) * 100);
    // Server-stamped times (nowSeconds(): sub-millisecond fractions) are arbitrary doubles.
    const ts = serverTime ? (t + r()) / 1000 : t / 1000;
    pts[i] = { t: ts, j: wire(ts, value(r, i)) };
  }
  return pts;
}

let walk = 20;
const WORDS = ['ok', 'door opened', 'door closed', 'battery low', 'charging', 'idle', 'walking', 'running', 'café ☕', 'sleep'];
const workloads = [
  ['numeric: 2-decimal walk, ms jitter', N, (r) => (walk = Math.round((walk + (r() - 0.5)) * 100) / 100)],
  ['{x,y,z} objects, 2 decimals', N / 10, (r) => ({ x: Math.round(r() * 2000 - 1000) / 100, y: Math.round(r() * 2000 - 1000) / 100, z: Math.round(r() * 2000 - 1000) / 100 })],
  ['strings (status words)', N / 10, (r) => WORDS[Math.floor(r() * WORDS.length)]],
  ['booleans', N / 10, (r) => r() < 0.5],
  ['numeric, server-stamped times', N / 10, (r) => (walk = Math.round((walk + (r() - 0.5)) * 100) / 100), true],
];

/** [cpu seconds, wall seconds], each the best of `runs`. */
const best = (f, runs = 3) => {
  let cpu = Infinity;
  let wall = Infinity;
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    f();
    const c = process.cpuUsage(c0);
    wall = Math.min(wall, (performance.now() - t0) / 1000);
    cpu = Math.min(cpu, (c.user + c.system) / 1e6);
  }
  return [cpu, wall];
};
const rate = (n, [cpu, wall]) => `${fmt(n / cpu).padStart(11)}/s [${fmt(n / wall)}]`;

console.log(`codec: ${CHUNK}-point chunks; datapoints per CPU second [per wall second], best of 3`);
for (const [name, n, value, serverTime] of workloads) {
  walk = 20;
  const pts = workload(n, value, serverTime);
  const chunks = [];
  for (let i = 0; i < n; i += CHUNK) chunks.push(pts.slice(i, i + CHUNK));
  const textBytes = pts.reduce((s, p) => s + p.j.length, 0);
  for (const [label, opts] of [['', {}], [' (as text)', { text: true }]]) {
    if (label && name.startsWith('numeric') === false) continue;
    let enc = [];
    const tEnc = best(() => (enc = chunks.map((c) => encodeChunk(c, opts))));
    const bytes = enc.reduce((s, b) => s + b.length, 0);
    let sink = 0;
    const tTyped = best(() => {
      for (const b of enc) {
        const c = decodeChunk(b);
        sink += c.times[0] + (c.numeric ? c.numeric[0] : 0);
      }
    });
    const tJoined = best(() => {
      for (const b of enc) sink += decodeChunk(b).joined().length;
    });
    const tWires = best(() => {
      for (const b of enc) sink += decodeChunk(b).wires().length;
    });
    const fmts = [...new Set(enc.map((b) => '0x' + b[0].toString(16)))].join(',');
    console.log(`codec ${(name + label).padEnd(46)} ${fmt(n).padStart(9)} dp  ${(bytes / n).toFixed(2).padStart(6)} B/dp (JSON text ${(textBytes / n).toFixed(1)}, format ${fmts})`);
    console.log(`codec   encode ${rate(n, tEnc)}`);
    console.log(
      `codec   decode: typed arrays ${rate(n, tTyped)}   joined wire text ${rate(n, tJoined)} (${((tJoined[0] * 1e6) / n).toFixed(3)} CPU s per 1M)   a string per dp ${rate(n, tWires)}${sink < 0 ? '' : ''}`,
    );
  }
}
