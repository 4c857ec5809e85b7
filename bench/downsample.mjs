// The downsampling read end to end through the real server: 1,000,000 numeric datapoints into
// 1,000 buckets (the chart and Grafana read), with and without a transform, beside a plain read
// of the same range for scale, and the latency of a small request made while it runs.
import { ensureOk, fmt, startServer, withPeakRss } from './lib.mjs';

const N = Number(process.env.BENCH_DOWNSAMPLE_N ?? 1_000_000);
const BUCKETS = 1000;

async function main() {
  const s = await startServer();
  try {
    const p = '/api/v1/crud/bench/user/ds';
    await ensureOk(await s.req('POST', p, '{"schema":"{\\"type\\":\\"number\\"}"}'), 'create');
    const t0 = 1700000000;
    for (let k = 0; k < N; k += 5000) {
      const m = Math.min(5000, N - k);
      const body = JSON.stringify(Array.from({ length: m }, (_, i) => ({ t: t0 + (k + i) * 0.5, d: Math.round(Math.sin((k + i) / 1000) * 10000) / 100 })));
      await ensureOk(await s.req('POST', `${p}/data`, body), 'fill');
    }
    const t2 = t0 + (N - 1) * 0.5;
    const run = async (label, q, expectBuckets) => {
      // one warm-up, then the best of three
      await ensureOk(await s.req('GET', `${p}/data?${q}`), label);
      let best = Infinity;
      let growth = 0;
      let body = '';
      for (let i = 0; i < 3; i++) {
        const [r, g] = await withPeakRss(s.pid, async () => {
          const t = performance.now();
          const res = await s.req('GET', `${p}/data?${q}`);
          return { res, secs: (performance.now() - t) / 1000 };
        });
        await ensureOk(r.res, label);
        body = r.res.body;
        best = Math.min(best, r.secs);
        growth = Math.max(growth, g);
      }
      const rows = JSON.parse(body).length;
      if (expectBuckets !== undefined && rows !== expectBuckets) throw new Error(`${label}: ${rows} rows, expected ${expectBuckets}`);
      console.log(
        `downsample ${label.padEnd(50)} ${best.toFixed(3)} s, ${fmt(N / best)} dp/s, ${fmt(rows)} rows, server RSS +${(growth / 1048576).toFixed(1)} MB`,
      );
    };
    await run(`${fmt(N)} dp → ${fmt(BUCKETS)} buckets (t1, t2)`, `t1=${t0 - 1}&t2=${t2}&downsample=${BUCKETS}`, BUCKETS);
    await run(`${fmt(N)} dp → ${fmt(BUCKETS)} buckets, transform "$ * 2"`, `t1=${t0 - 1}&t2=${t2}&downsample=${BUCKETS}&transform=${encodeURIComponent('$ * 2')}`, BUCKETS);
    await run(`plain read of the same ${fmt(N)} dp (for scale)`, `i1=0&i2=0`, N);

    // Small requests made while a downsampling read runs: the read yields after every chunk.
    const quiet = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      await ensureOk(await s.req('GET', '/api/v1/meta/version'), 'version');
      quiet.push(performance.now() - t);
    }
    const big = s.req('GET', `${p}/data?t1=${t0 - 1}&t2=${t2}&downsample=${BUCKETS}`);
    let done = false;
    big.then(() => (done = true));
    const during = [];
    while (!done) {
      const t = performance.now();
      await ensureOk(await s.req('GET', '/api/v1/meta/version'), 'version');
      if (!done) during.push(performance.now() - t);
    }
    await ensureOk(await big, 'big');
    const med = (a) => a.sort((x, y) => x - y)[a.length >> 1] ?? 0;
    console.log(
      `downsample GET /meta/version while a 1M-dp downsample runs: ${during.length} requests, median ${med(during).toFixed(1)} ms, max ${Math.max(0, ...during).toFixed(1)} ms (idle median ${med(quiet).toFixed(1)} ms)`,
    );
  } finally {
    await s.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
