// The cost of metrics.enabled on the hottest small request: single-datapoint POSTs from 10 clients
// against a server with metrics off and one with metrics on (scraped once a second meanwhile),
// alternating rounds so machine load hits both alike.
import { ensureOk, fmt, startServer } from './lib.mjs';

const SINGLE = Number(process.env.BENCH_SINGLE ?? 20000);
const ROUNDS = 3;
const C = 10;

async function round(s, tag) {
  let sent = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: C }, async (_, c) => {
      while (sent < SINGLE) {
        const k = ++sent;
        await ensureOk(await s.req('POST', `/api/v1/crud/bench/user/m${c}/data`, `[{"t":${1e9 + tag * 1e7 + k},"d":${k}}]`), 'single');
      }
    }),
  );
  return sent / ((performance.now() - t0) / 1000);
}

async function main() {
  const off = await startServer();
  const on = await startServer({ CONNECTORDB_METRICS_ENABLED: 'true' });
  try {
    for (const s of [off, on]) for (let c = 0; c < C; c++) await ensureOk(await s.req('POST', `/api/v1/crud/bench/user/m${c}`, '{"schema":"{}"}'), 'create');
    const scrape = setInterval(() => on.req('GET', '/metrics').catch(() => {}), 1000);
    const best = { off: 0, on: 0 };
    for (let r = 0; r < ROUNDS; r++) {
      best.off = Math.max(best.off, await round(off, r * 2));
      best.on = Math.max(best.on, await round(on, r * 2 + 1));
    }
    clearInterval(scrape);
    const m = await on.req('GET', '/metrics');
    await ensureOk(m, 'metrics');
    console.log(`metrics  single-datapoint POSTs, 10 clients: metrics off ${fmt(best.off)} req/s, on ${fmt(best.on)} req/s (${((1 - best.on / best.off) * 100).toFixed(1)}% less), /metrics ${fmt(m.body.length)} bytes`);
  } finally {
    await off.stop();
    await on.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
