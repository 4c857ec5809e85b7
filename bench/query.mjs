// Query-library benchmark: T-dataset, X-dataset and merge over an in-memory StreamReader.
// Uses the compiled library: `npx tsc -p tsconfig.build.json && node --expose-gc bench/query.mjs`.
// Prints seconds and peak RSS growth per case; output rows are serialised with the engine's
// datapointToJSON, as the route would, so the figures include serialisation (QUERY_BENCH_NOSER=1
// pulls the rows without serialising, to see the library's own share).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const require = createRequire(import.meta.url);
const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const { runDataset, runMerge } = require(path.join(dist, 'query', 'index.js'));
const { parseScript, datapointToJSON } = require(path.join(dist, 'pipescript', 'index.js'));

const T0 = 1_500_000_000;
const SERIALISE = !process.env.QUERY_BENCH_NOSER;

/** Index of the first datapoint with t > `t` in a sorted array. */
function firstAfter(arr, t) {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid].t <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function slice(arr, from, to) {
  let i = from;
  return { next: () => (i < to ? { done: false, value: arr[i++] } : { done: true, value: undefined }) };
}

function limited(it, n) {
  let k = 0;
  return { next: () => (k++ < n ? it.next() : { done: true, value: undefined }) };
}

/** The §2 / §3.3 semantics over arrays (no permission checks: those are the server's). */
class MemoryReader {
  constructor(streams) {
    this.streams = streams;
  }
  data(p) {
    const s = this.streams[p];
    if (!s) throw new Error('The requested stream was not found.');
    return s;
  }
  tf(it, transform) {
    return transform ? parseScript(transform).run(it) : it;
  }
  query(q) {
    const arr = this.data(q.stream);
    const { i1 = 0, i2 = 0, t1 = 0, t2 = 0, limit = 0 } = q;
    if (t1 || t2 || limit) {
      const from = firstAfter(arr, t1);
      const to = t2 <= 0 ? arr.length : firstAfter(arr, t2);
      const out = this.tf(slice(arr, from, Math.max(from, to)), q.transform);
      return limit > 0 ? limited(out, limit) : out;
    }
    const n = arr.length;
    let a = i1 < 0 ? Math.max(0, i1 + n) : i1;
    let b = i2 <= 0 ? i2 + n : Math.min(i2, n);
    return this.tf(slice(arr, a, b), q.transform);
  }
  queryFrom(stream, transform, tstart, backtrack) {
    const arr = this.data(stream);
    const from = tstart === 0 ? 0 : Math.max(0, firstAfter(arr, tstart) - backtrack);
    return this.tf(slice(arr, from, arr.length), transform);
  }
}

function makeStream(n, start, step, value) {
  const out = new Array(n);
  for (let i = 0; i < n; i++) out[i] = { t: start + i * step, d: value(i) };
  return out;
}

function gc() {
  if (global.gc) {
    global.gc();
    global.gc();
  }
}

function measure(name, fn) {
  gc();
  const base = process.memoryUsage().rss;
  let peak = base;
  const start = process.hrtime.bigint();
  const it = fn();
  let rows = 0;
  let bytes = 0;
  for (let r = it.next(); !r.done; r = it.next()) {
    if (SERIALISE) bytes += datapointToJSON(r.value).length + 1;
    if ((++rows & 4095) === 0) {
      const rss = process.memoryUsage().rss;
      if (rss > peak) peak = rss;
    }
  }
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  const rss = process.memoryUsage().rss;
  if (rss > peak) peak = rss;
  const line = `${name.padEnd(50)} ${secs.toFixed(3).padStart(7)} s  ${String(rows).padStart(8)} rows  ${(bytes / 1e6).toFixed(1).padStart(6)} MB out  peak RSS +${((peak - base) / 1048576).toFixed(1)} MB`;
  console.log(line);
  return { name, secs, rows, rssMB: (peak - base) / 1048576 };
}

console.log('building data...');
const M = 1_000_000;
const streams = {
  'u/d/s1': makeStream(M, T0, 1, (i) => i % 1000),
  'u/d/s2': makeStream(M, T0 + 0.5, 1, (i) => (i * 7) % 101),
  'u/d/x': makeStream(100_000, T0 + 3.3, 10, (i) => i),
  'u/d/m1': makeStream(300_000, T0, 3, (i) => i),
  'u/d/m2': makeStream(300_000, T0 + 1, 3, (i) => i),
  'u/d/m3': makeStream(300_000, T0 + 1, 3, (i) => -i),
};
const reader = new MemoryReader(streams);
gc();
console.log(`data ready, RSS ${(process.memoryUsage().rss / 1048576).toFixed(0)} MB`);

// Two passes: the first pays JIT compilation and young-generation growth (what a server's first
// such request sees), the second is the steady state.
const tq = { t1: T0, t2: T0 + 1_000_000, dt: 10 };
const results = [];
for (const pass of ['cold', 'warm']) {
  console.log(`-- ${pass} pass`);
  // 100,000 rows spanning both 1,000,000-datapoint streams end to end.
  results.push(
    measure(`${pass} T-dataset 100k rows, 2x1M streams, closest`, () =>
      runDataset({ ...tq, dataset: { a: { stream: 'u/d/s1', interpolator: 'closest' }, b: { stream: 'u/d/s2', interpolator: 'closest' } } }, reader),
    ),
  );
  results.push(
    measure(`${pass} T-dataset 100k rows, column transform`, () =>
      runDataset(
        {
          ...tq,
          dataset: {
            a: { stream: 'u/d/s1', transform: '$ * 2 + 1', interpolator: 'closest' },
            b: { stream: 'u/d/s2', interpolator: 'mean' },
          },
        },
        reader,
      ),
    ),
  );
  results.push(
    measure(`${pass} X-dataset 100k reference rows, 1M column`, () =>
      runDataset({ stream: 'u/d/x', dataset: { y: { stream: 'u/d/s1', interpolator: 'closest' }, z: { stream: 'u/d/s2', interpolator: 'before' } } }, reader),
    ),
  );
  results.push(
    measure(`${pass} merge 3 x 300k`, () => runMerge([{ stream: 'u/d/m1' }, { stream: 'u/d/m2' }, { stream: 'u/d/m3' }], reader)),
  );
}
if (!global.gc) console.log('(run with node --expose-gc for steadier RSS figures)');
