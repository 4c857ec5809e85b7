// The web app in headless Chromium (Debian's /usr/bin/chromium through playwright-core): time from
// navigation to a drawn chart for a 1,000,000- and a 10,000-point stream, and the gzipped size
// of the JavaScript the login page and the stream page load. Targets: 1.5 s, 0.5 s, 150 KB.
import { gzipSync } from 'node:zlib';
import { existsSync } from 'node:fs';
import { ensureOk, fmt, startServer } from './lib.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

async function fill(s, path, n) {
  await ensureOk(await s.req('POST', path, '{"schema":"{\\"type\\":\\"number\\"}"}'), 'create');
  const t0 = Math.floor(Date.now() / 1000) - n;
  for (let k = 0; k < n; k += 10000) {
    const m = Math.min(10000, n - k);
    const body = JSON.stringify(Array.from({ length: m }, (_, i) => ({ t: t0 + k + i, d: Math.round(Math.sin((k + i) / 5000) * 1000 + Math.random() * 100) / 10 })));
    await ensureOk(await s.req('POST', `${path}/data`, body), 'fill');
  }
}

async function main() {
  if (!existsSync(CHROMIUM)) {
    console.log(`web: skipped, no Chromium at ${CHROMIUM}`);
    return;
  }
  const { chromium } = await import('playwright-core');
  const s = await startServer();
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  try {
    await fill(s, '/api/v1/crud/bench/user/million', 1_000_000);
    await fill(s, '/api/v1/crud/bench/user/tenk', 10_000);

    // Sizes: every script a page loads, gzipped the way the server sends it.
    const sizeOf = async (page, url, ready) => {
      const bodies = new Map();
      page.on('response', async (r) => {
        if (r.request().resourceType() === 'script') bodies.set(r.url(), await r.body().catch(() => Buffer.alloc(0)));
      });
      await page.goto(url);
      await ready(page);
      await page.waitForLoadState('networkidle');
      let gz = 0;
      for (const b of bodies.values()) gz += gzipSync(b, { level: 9 }).length;
      return { gz, files: bodies.size };
    };
    const ctx0 = await browser.newContext();
    const login = await sizeOf(await ctx0.newPage(), `${s.url}/login`, (page) => page.waitForSelector('input[type=password]'));
    await ctx0.close();

    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await ensureOk(await ctx.request.get(`${s.url}/api/v1/login`, { headers: { Authorization: 'Basic ' + Buffer.from('bench:bench').toString('base64') } }).then(async (r) => ({ status: r.status(), body: await r.text() })), 'login');
    const chartSel = '.cdb-chart[data-drawn]';
    const streamPage = await sizeOf(await ctx.newPage(), `${s.url}/bench/user/tenk?range=all`, (page) => page.waitForSelector(chartSel));

    const timeChart = async (url) => {
      const times = [];
      for (let i = 0; i < 4; i++) {
        const page = await ctx.newPage();
        const t = performance.now();
        await page.goto(url);
        await page.waitForSelector(chartSel, { timeout: 30000 });
        times.push((performance.now() - t) / 1000);
        if (process.env.BENCH_WEB_TRACE && i === 3) {
          console.log(await page.evaluate(() => performance.getEntriesByType('resource').map((e) => `${Math.round(e.startTime)}-${Math.round(e.responseEnd)} ${e.name.replace(location.origin, '')}`).join('\n')));
          console.log(await page.evaluate(() => JSON.stringify(performance.getEntriesByType('navigation')[0])));
        }
        await page.close();
      }
      // the first navigation pays for the cold server cache; report it and the median of the rest
      const warm = times.slice(1).sort((a, b) => a - b)[1];
      return { first: times[0], warm };
    };
    const big = await timeChart(`${s.url}/bench/user/million?range=all`);
    const mid = await timeChart(`${s.url}/bench/user/tenk?range=all`);
    console.log(`web chart drawn, 1,000,000-point stream: ${big.warm.toFixed(3)} s (first ${big.first.toFixed(3)} s; target 1.5 s)`);
    console.log(`web chart drawn, 10,000-point stream:    ${mid.warm.toFixed(3)} s (first ${mid.first.toFixed(3)} s; target 0.5 s)`);
    console.log(`web JS gzipped, login page:  ${fmt(login.gz / 1024)} KB in ${login.files} files (target 150 KB)`);
    console.log(`web JS gzipped, stream page: ${fmt(streamPage.gz / 1024)} KB in ${streamPage.files} files (target 150 KB)`);
  } finally {
    await browser.close();
    await s.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
