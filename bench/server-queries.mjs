// Issue 5 figures, end to end through the real server: a T-dataset of 100,000 rows over two
// 1,000,000-datapoint streams (closest, and with a column transform), an X-dataset with a
// 100,000-datapoint reference stream, and a merge of three 300,000-datapoint streams.
import { ensureOk, fmt, startServer, withPeakRss } from './lib.mjs';

const BIG = Number(process.env.BENCH_BIG ?? 1_000_000);

async function fill(s, name, n, t0, dt, value) {
  const p = `/api/v1/crud/bench/user/${name}`;
  await ensureOk(await s.req('POST', p, '{"schema":"{}"}'), 'create');
  for (let k = 0; k < n; k += 5000) {
    const m = Math.min(5000, n - k);
    const body = JSON.stringify(Array.from({ length: m }, (_, i) => ({ t: t0 + (k + i) * dt, d: value(k + i) })));
    await ensureOk(await s.req('POST', `${p}/data`, body), 'fill');
  }
  return `bench/user/${name}`;
}

async function timed(s, label, route, body, expectRows) {
  const [r, growth] = await withPeakRss(s.pid, async () => {
    const t = performance.now();
    const res = await s.req('POST', route, JSON.stringify(body));
    return { res, secs: (performance.now() - t) / 1000 };
  });
  await ensureOk(r.res, label);
  const rows = JSON.parse(r.res.body).length;
  if (expectRows !== undefined && rows !== expectRows) throw new Error(`${label}: ${rows} rows, expected ${expectRows}`);
  console.log(`query    ${label.padEnd(58)} ${r.secs.toFixed(3)} s, ${fmt(rows)} rows, server RSS +${(growth / 1048576).toFixed(1)} MB`);
}

async function main() {
  const s = await startServer();
  try {
    // Two 1M streams one second apart; 100,000 rows at dt = 10 s cover the whole span.
    const a = await fill(s, 'ta', BIG, 1, 1, (i) => i % 100);
    const b = await fill(s, 'tb', BIG, 1.5, 1, (i) => (i * 7) % 50);
    const rows = BIG / 10;
    await timed(
      s,
      `T-dataset ${fmt(rows)} rows over two ${fmt(BIG)}-dp streams, closest`,
      '/api/v1/query/dataset',
      { t1: 1, t2: 1 + rows * 10, dt: 10, dataset: { a: { stream: a, interpolator: 'closest' }, b: { stream: b, interpolator: 'closest' } } },
      rows,
    );
    await timed(
      s,
      `T-dataset ${fmt(rows)} rows, closest + column transform`,
      '/api/v1/query/dataset',
      {
        t1: 1,
        t2: 1 + rows * 10,
        dt: 10,
        dataset: { a: { stream: a, interpolator: 'closest', transform: '$ * 2 + 1' }, b: { stream: b, interpolator: 'mean' } },
      },
      rows,
    );
    const x = await fill(s, 'tx', BIG / 10, 2.25, 10, (i) => i);
    await timed(
      s,
      `X-dataset, ${fmt(BIG / 10)}-dp reference stream, closest`,
      '/api/v1/query/dataset',
      { stream: x, dataset: { a: { stream: a, interpolator: 'closest' }, b: { stream: b, interpolator: 'before' } } },
      BIG / 10,
    );
    const m = [];
    for (let k = 0; k < 3; k++) m.push(await fill(s, `m${k}`, (BIG * 3) / 10, 1 + k / 3, 1, (i) => i));
    await timed(
      s,
      `merge of three ${fmt((BIG * 3) / 10)}-dp streams`,
      '/api/v1/query/merge',
      m.map((stream) => ({ stream })),
      (BIG * 9) / 10,
    );
  } finally {
    await s.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
