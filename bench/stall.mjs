// Issue 13 "the event loop must never stall": while one client runs a heavy request, another
// client's `GET /api/v1/meta/version` must answer within 250 ms. For each heavy request this
// prints how long it took and the worst meta/version latency seen while it ran.
//
// Sizes are kept small enough that the whole run stays bounded in time even before the fixes
// (the evil regex doubles per character, so it uses 24 `a`s, ~1 s on a backtracking engine).
// BENCH_STALL_BIG scales the streams (default 1,000,000 datapoints). BENCH_STALL_ONLY=quiet runs
// only the reads whose output stays empty for a long while (a filter that drops everything, a
// filtered reduction, a merge or dataset whose transform drops everything): those stalled the
// others until they ended, for their output never made them wait for the socket.
import http from 'node:http';
import { ensureOk, fmt, startServer } from './lib.mjs';

const BIG = Number(process.env.BENCH_STALL_BIG ?? 1_000_000);
const GOAL_MS = 250;

async function fill(s, name, n, t0, dt, value, schema = '{}') {
  const p = `/api/v1/crud/bench/user/${name}`;
  await ensureOk(await s.req('POST', p, JSON.stringify({ schema })), 'create');
  for (let k = 0; k < n; k += 10000) {
    const m = Math.min(10000, n - k);
    const body = JSON.stringify(Array.from({ length: m }, (_, i) => ({ t: t0 + (k + i) * dt, d: value(k + i) })));
    await ensureOk(await s.req('POST', `${p}/data`, body), 'fill');
  }
  return `bench/user/${name}`;
}

/** Probes meta/version on its own connection every 20 ms until stop() and reports the worst latency. */
function probe(port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let worst = 0;
  let n = 0;
  let running = true;
  const one = () =>
    new Promise((resolve, reject) => {
      const t = performance.now();
      http
        .get({ host: '127.0.0.1', port, path: '/api/v1/meta/version', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(performance.now() - t));
        })
        .on('error', reject);
    });
  const loop = (async () => {
    while (running) {
      const ms = await one();
      n++;
      if (ms > worst) worst = ms;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      agent.destroy();
      return { worst, n };
    },
  };
}

async function heavy(s, label, method, route, body, check) {
  const p = probe(s.port);
  await new Promise((r) => setTimeout(r, 50));
  const t = performance.now();
  const res = await s.req(method, route, body === undefined ? undefined : JSON.stringify(body));
  const secs = (performance.now() - t) / 1000;
  const { worst, n } = await p.stop();
  const note = check(res);
  const verdict = worst <= GOAL_MS ? 'ok' : `OVER ${GOAL_MS} ms`;
  console.log(`stall    ${label.padEnd(46)} ${secs.toFixed(2).padStart(6)} s  ${note.padEnd(22)} worst meta/version ${fmt(worst).padStart(5)} ms over ${n} probes  ${verdict}`);
  return worst;
}

const rowsOf = (what) => (res) => {
  if (res.status !== 200) throw new Error(`${what}: ${res.status} ${res.body.slice(0, 300)}`);
  return `${fmt(JSON.parse(res.body).length)} rows`;
};
const statusOf = (res) => `status ${res.status}`;

async function main() {
  const s = await startServer();
  let worstAll = 0;
  try {
    const big = await fill(s, 'big', BIG, 1, 1, (i) => i % 100);
    const results = [];
    // Reads that output nothing (or one datapoint at the very end) for their whole length.
    const quiet = [
      ['transform that drops everything (if $ > 1000)', 'GET', `/api/v1/crud/bench/user/big/data?i1=0&i2=0&transform=${encodeURIComponent('if $ > 1000')}`, undefined],
      ['filtered reduction (if $ >= 99 | sum | if last)', 'GET', `/api/v1/crud/bench/user/big/data?i1=0&i2=0&transform=${encodeURIComponent('if $ >= 99 | sum | if last')}`, undefined],
      ['reduction from typed arrays (sum | if last)', 'GET', `/api/v1/crud/bench/user/big/data?i1=0&i2=0&transform=${encodeURIComponent('sum | if last')}`, undefined],
      ['map into two counts (map($ > 50, count))', 'GET', `/api/v1/crud/bench/user/big/data?i1=0&i2=0&transform=${encodeURIComponent('map($ > 50, count)')}`, undefined],
      ['CSV download, transform drops everything', 'GET', `/api/v1/crud/bench/user/big/data.csv?i1=0&i2=0&transform=${encodeURIComponent('if $ > 1000')}`, undefined],
      ['merge whose transform drops everything', 'POST', '/api/v1/query/merge', [{ stream: big, transform: 'if $ > 1000' }]],
      ['X-dataset whose reference drops everything', 'POST', '/api/v1/query/dataset', { stream: big, transform: 'if $ > 1000', dataset: { a: { stream: big, interpolator: 'closest' } } }],
      ['T-dataset, a column\'s transform drops everything', 'POST', '/api/v1/query/dataset', { t1: 1, t2: 101, dt: 1, dataset: { a: { stream: big, transform: 'if $ > 1000', interpolator: 'closest' } } }],
      [`T-dataset of ${fmt(BIG)} rows, posttransform drops all`, 'POST', '/api/v1/query/dataset', { t1: 1, t2: 1 + BIG, dt: 1, dataset: { a: { stream: big, interpolator: 'closest' } }, posttransform: 'if $("a") > 1000' }],
    ];
    for (const [label, method, route, body] of quiet) results.push(await heavy(s, label, method, route, body, route.includes('.csv') ? statusOf : rowsOf(label)));
    if (process.env.BENCH_STALL_ONLY === 'quiet') {
      worstAll = Math.max(...results);
      console.log(`stall    worst meta/version latency beside a read that outputs nothing: ${fmt(worstAll)} ms (goal ${GOAL_MS} ms)`);
      return;
    }
    const merged = [];
    for (let k = 0; k < 10; k++) merged.push(await fill(s, `m${k}`, BIG / 10, 1 + k / 10, 1, (i) => i));
    await ensureOk(await s.req('POST', '/api/v1/crud/bench/user/txt', '{"schema":"{}"}'), 'create');
    await ensureOk(await s.req('POST', '/api/v1/crud/bench/user/txt/data', JSON.stringify([{ t: 1, d: 'a'.repeat(24) + 'b' }])), 'fill');

    results.push(await heavy(s, `raw read of ${fmt(BIG)} datapoints`, 'GET', '/api/v1/crud/bench/user/big/data?i1=0&i2=0', undefined, rowsOf('raw')));
    results.push(
      await heavy(s, `merge of 10 streams of ${fmt(BIG / 10)}`, 'POST', '/api/v1/query/merge', merged.map((stream) => ({ stream })), rowsOf('merge')),
    );
    const rows = 2 * BIG;
    results.push(
      await heavy(
        s,
        `T-dataset of ${fmt(rows)} rows, closest`,
        'POST',
        '/api/v1/query/dataset',
        { t1: 1, t2: 1 + rows * 0.5, dt: 0.5, dataset: { a: { stream: big, interpolator: 'closest' } } },
        rowsOf('tdataset'),
      ),
    );
    results.push(
      await heavy(s, 'X-dataset over a 1M reference, two columns', 'POST', '/api/v1/query/dataset', { stream: big, dataset: { a: { stream: merged[0], interpolator: 'closest' }, b: { stream: merged[1], interpolator: 'before' } } }, rowsOf('xdataset')),
    );
    results.push(
      await heavy(s, 'transform over 1M datapoints ($ * 2 + 1)', 'GET', `/api/v1/crud/bench/user/big/data?i1=0&i2=0&transform=${encodeURIComponent('$ * 2 + 1')}`, undefined, rowsOf('transform')),
    );
    results.push(
      await heavy(s, 'evil regex (a+)+$ on 24 a\'s and a b', 'GET', `/api/v1/crud/bench/user/txt/data?i1=0&i2=0&transform=${encodeURIComponent('regex("(a+)+$")')}`, undefined, rowsOf('regex')),
    );
    // A 350 KB schema: an object with 7,000 typed properties, each with a pattern.
    const props = {};
    for (let k = 0; k < 7000; k++) props[`property_${k}`] = { type: 'string', pattern: `^v${k}[a-z]*$` };
    const schema = JSON.stringify({ type: 'object', properties: props });
    results.push(
      await heavy(s, `stream schema of ${fmt(schema.length / 1024)} KB`, 'POST', '/api/v1/crud/bench/user/schemabig', { schema }, statusOf),
    );
    // The largest schema accepted by default (max_schema_bytes = 32 KB): compiled, not refused.
    const limitProps = {};
    for (let k = 0; k < 550; k++) limitProps[`property_${k}`] = { type: 'string', pattern: `^v${k}[a-z]*$` };
    const limitSchema = JSON.stringify({ type: 'object', properties: limitProps });
    results.push(
      await heavy(s, `stream schema of ${fmt(limitSchema.length / 1024)} KB (under the limit)`, 'POST', '/api/v1/crud/bench/user/schemalimit', { schema: limitSchema }, statusOf),
    );
    // Sent in a merge body: a script this long does not fit in a URL. 2,000 is the default max_stages.
    for (const n of [2000, 10000, 25000]) {
      const stages = Array.from({ length: n }, () => '$ + 1').join(' | ');
      results.push(await heavy(s, `PipeScript of ${fmt(n)} stages ($ + 1)`, 'POST', '/api/v1/query/merge', [{ stream: 'bench/user/big', i1: 0, i2: 10, transform: stages }], statusOf));
    }
    worstAll = Math.max(...results);
    console.log(`stall    worst meta/version latency beside any heavy request: ${fmt(worstAll)} ms (goal ${GOAL_MS} ms)`);
  } finally {
    await s.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
