// The read figures of issue 11 alone, on one 1M-point series of the storage workload: 10,000-point
// index/time range reads with 4 clients, and `mean | if last` / `sum | if last` over all of it.
// Quicker than `storage` (no ingest, size or upgrade figures), for measuring the read path. Each
// figure also comes as the server's CPU time (/proc/<pid>/stat), which other load on a shared
// machine distorts much less than the wall-clock rate.
// BENCH_N (default 1,000,000), BENCH_READS (default 800), BENCH_ROUNDS (default 3: every round is
// printed, so a loaded machine shows its spread), BENCH_TRANSFORMS=0 skips the transforms.
import { readFileSync } from 'node:fs';
import { ensureOk, fmt, startServer } from './lib.mjs';
import { sensorBatches } from './storage.mjs';

const N = Number(process.env.BENCH_N ?? 1_000_000);
const READS = Number(process.env.BENCH_READS ?? 800);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const R = 10_000;

/** CPU seconds (user + system) the process used so far. */
function cpuOf(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / 100;
}

const s = await startServer();
try {
  const p = '/api/v1/crud/bench/user/s0';
  await ensureOk(await s.req('POST', p, JSON.stringify({ schema: '{"type":"number"}' })), 'create stream');
  const ts = [];
  for (const b of sensorBatches(10, N)) {
    await ensureOk(await s.req('POST', `${p}/data`, JSON.stringify(b)), 'insert');
    for (const x of b) ts.push(x.t);
  }
  for (let round = 0; round < ROUNDS; round++) {
    let done = 0;
    let i = 0;
    const c0 = cpuOf(s.pid);
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (done < READS) {
          done++;
          const k = (i++ * 7919) % (N - R);
          const q = i % 2 ? `i1=${k}&i2=${k + R}` : `t1=${ts[k] - 0.0005}&t2=${ts[k + R - 1]}`;
          const r = await ensureOk(await s.req('GET', `${p}/data?${q}`), 'range read');
          if (r.body.length < R * 10) throw new Error('short range read');
        }
      }),
    );
    const rate = done / ((performance.now() - t0) / 1000);
    const cpu = ((cpuOf(s.pid) - c0) / done) * 1000;
    const tr = [];
    for (const f of process.env.BENCH_TRANSFORMS === '0' ? [] : ['mean | if last', 'sum | if last']) {
      const url = `${p}/data?i1=0&i2=0&transform=${encodeURIComponent(f)}`;
      // The first run warms the JIT; then the best of 5 and the server CPU per run.
      await ensureOk(await s.req('GET', url), 'transform');
      let best = Infinity;
      const c1 = cpuOf(s.pid);
      for (let rep = 0; rep < 5; rep++) {
        const t = performance.now();
        await ensureOk(await s.req('GET', url), 'transform');
        best = Math.min(best, (performance.now() - t) / 1000);
      }
      tr.push(`${f}: ${best.toFixed(3)} s (server CPU ${((cpuOf(s.pid) - c1) / 5).toFixed(3)} s)`);
    }
    console.log(`reads  round ${round + 1}: ${fmt(R)}-point range reads, 4 clients ${fmt(rate)} req/s (server CPU ${cpu.toFixed(2)} ms/req)${tr.map((x) => '; ' + x).join('')}`);
  }
} finally {
  await s.stop();
}
console.log('(the machine is shared: figures are distorted by other load)');
