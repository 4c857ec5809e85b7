import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Web, login, overflowX, shots, startWeb, unlabelled } from './browser';

/**
 * The stream page, data entry, downlinks and datasets in a real browser (Debian's Chromium)
 * against the built server on a temp database, through the shell's harness.
 */
let web: Web;

beforeAll(async () => {
  web = await startWeb();
  web.context.setDefaultTimeout(8000);
  await login(web);
});
afterAll(() => web?.close());

async function stream(path: string, body: Record<string, unknown>): Promise<void> {
  const r = await web.rest('POST', `/api/v1/crud/${path}`, body);
  expect(r.status, await r.text()).toBe(200);
}
async function insert(path: string, points: { t?: number; d: unknown }[]): Promise<void> {
  const r = await web.rest('POST', `/api/v1/crud/${path}/data`, points);
  expect(r.status, await r.text()).toBe(200);
}
async function open(url: string): Promise<Page> {
  const page = await web.context.newPage();
  await page.goto(web.url + url);
  return page;
}
/** The live indicator turns "live" once the websocket is open and the page's subscriptions are sent. */
async function waitLive(page: Page): Promise<void> {
  await page.locator('[data-testid=live-state][data-state=open]').first().waitFor({ timeout: 10000 });
}

describe('stream page', () => {
  it('a number entered by hand is confirmed and appears in the chart, the latest value and the table', async () => {
    await stream('test/user/weight', { schema: '{"type":"number"}' });
    const page = await open('/test/user/weight');
    await waitLive(page);
    await page.getByLabel('Value for weight').fill('71.5');
    await page.getByRole('button', { name: 'Insert', exact: true }).click();
    await page.getByText(/^Saved 71\.5 at /).waitFor();
    await page.locator('[data-testid=latest]', { hasText: '71.5' }).waitFor();
    await page.locator('.cdb-chart[data-points="1"]').waitFor();
    await page.getByRole('tab', { name: 'Table' }).click();
    await page.getByRole('cell', { name: '71.5', exact: true }).waitFor();
    // and it was stored: a reload (the view stays in the URL) reads it back from the server
    await page.reload();
    expect(new URL(page.url()).searchParams.get('view')).toBe('table');
    await page.getByRole('cell', { name: '71.5', exact: true }).waitFor();
    await page.close();
  });

  it('the server refuses an entry older than the stream and the form shows its message', async () => {
    const page = await open('/test/user/weight');
    await page.getByLabel('Value for weight').fill('70');
    await page.getByLabel('Custom time').check();
    await page.getByLabel('Time of the datapoint').fill('2001-01-01T10:00:00');
    await page.getByRole('button', { name: 'Insert', exact: true }).click();
    await page.getByText('Greater timestamp already exists for the stream. Insert Failed.').waitFor();
    await page.close();
  });

  it('a datapoint inserted over REST appears live in the latest value and the chart', async () => {
    await stream('test/user/temp', { schema: '{"type":"number"}' });
    await insert('test/user/temp', [{ d: 20 }]);
    const page = await open('/test/user/temp');
    await waitLive(page);
    await page.locator('.cdb-chart[data-points="1"]').waitFor();
    // The protocol acknowledges no subscription: insert until the page shows it (normally once).
    let v = 21;
    for (;;) {
      await insert('test/user/temp', [{ d: v }]);
      try {
        await page.locator('[data-testid=latest]', { hasText: String(v) }).waitFor({ timeout: 1000 });
        break;
      } catch (e) {
        if (++v > 25) throw e;
      }
    }
    await page.locator(`.cdb-chart[data-points="${v - 19}"]`).waitFor();
    await page.close();
  });

  it('a transform with an error shows the server message in place; a valid one recomputes the views', async () => {
    await stream('test/user/steps', { schema: '{"type":"number"}' });
    await insert('test/user/steps', [{ t: 1000, d: 3 }, { t: 2000, d: 4 }]);
    const r = await web.rest('GET', `/api/v1/crud/test/user/steps/data?i1=0&i2=0&transform=${encodeURIComponent('if $ >')}`);
    expect([400, 403]).toContain(r.status);
    const expected = { body: (await r.json()) as { msg: string } };
    const page = await open('/test/user/steps?range=all');
    await page.locator('#cdb-transform').fill('if $ >');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.locator('[data-testid=transform-error]', { hasText: expected.body.msg as string }).waitFor();
    expect(new URL(page.url()).searchParams.get('transform')).toBe('if $ >');
    await page.locator('#cdb-transform').fill('$ * 10');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByRole('tab', { name: 'Table' }).click();
    await page.getByRole('cell', { name: '40', exact: true }).waitFor();
    expect(await page.locator('[data-testid=transform-error]').count()).toBe(0);
    // the transform result downloads as CSV and JSON, straight from the API
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'CSV' }).click()]);
    expect(csv.suggestedFilename()).toBe('steps.csv');
    expect(readFileSync((await csv.path())!, 'utf8').trim().split(/\r?\n/).slice(1).map((l) => l.split(',').pop())).toEqual(['30', '40']);
    const [json] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'JSON' }).click()]);
    expect(JSON.parse(readFileSync((await json.path())!, 'utf8'))).toEqual([{ t: 1000, d: 30 }, { t: 2000, d: 40 }]);
    await page.close();
  });
});

describe('downlinks', () => {
  it('a control requests a value and shows the acknowledgement written back by the device', async () => {
    expect((await web.rest('POST', '/api/v1/crud/test/lamp', {})).status).toBe(200);
    await stream('test/lamp/light', { schema: '{"type":"boolean"}', downlink: true });
    const key = ((await (await web.rest('GET', '/api/v1/crud/test/lamp')).json()) as { apikey: string }).apikey;
    // The lamp: reads its downlink and acknowledges by writing the value to the main stream.
    const ws = new WebSocket(`${web.url.replace('http', 'ws')}/api/v1/websocket?apikey=${key}`);
    const seen: unknown[] = [];
    ws.on('message', (m) => {
      const msg = JSON.parse(String(m)) as { stream: string; data: unknown[] };
      seen.push(msg);
      if (msg.stream === 'test/lamp/light/downlink') ws.send(JSON.stringify({ cmd: 'insert', arg: 'test/lamp/light', d: msg.data }));
    });
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ cmd: 'subscribe', arg: 'test/lamp/light/downlink', transform: '' }));
    // Wait until the lamp is listening: a request written over REST reaches it.
    for (let i = 0; i < 50 && seen.length === 0; i++) {
      await insert('test/lamp/light', [{ d: false }]);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen.length).toBeGreaterThan(0);

    const page = await open('/_/downlinks');
    const card = page.locator('article[data-stream="test/lamp/light"]');
    await card.locator('[data-testid=acknowledged]', { hasText: 'false' }).waitFor();
    await page.locator('.live-dot[data-state=open]').first().waitFor();
    await new Promise((r) => setTimeout(r, 200)); // the page's subscriptions are unacknowledged
    await card.getByRole('switch').click();
    await card.locator('[data-testid=requested]', { hasText: 'true' }).waitFor();
    await card.locator('[data-testid=acknowledged]', { hasText: 'true' }).waitFor();
    const main = (await (await web.rest('GET', '/api/v1/crud/test/lamp/light/data?i1=-1&i2=0')).json()) as { d: unknown }[];
    expect(main.map((p) => p.d)).toEqual([true]);
    await shots(page, 'downlinks', { dark: true });
    await page.setViewportSize({ width: 360, height: 740 });
    await expect.poll(() => overflowX(page)).toBe(0);
    ws.close();
    await page.close();
  });
});

describe('analysis', () => {
  it('a T-dataset built on the page runs and downloads as CSV', async () => {
    await stream('test/user/mood', { schema: '{"type":"number"}' });
    await insert('test/user/mood', [{ t: 100, d: 3 }, { t: 200, d: 7 }, { t: 300, d: 5 }]);
    const spec = { kind: 'T', t1: 100, t2: 400, dt: 100, x: '', xtransform: '', columns: [{ name: '', stream: '', interpolator: 'closest', transform: '' }], posttransform: '' };
    const page = await open(`/_/analysis?ds=${encodeURIComponent(JSON.stringify(spec))}`);
    await page.locator('#col-name-0').fill('mood');
    await page.locator('#col-stream-0').fill('test/user/mood');
    await page.getByRole('button', { name: 'Run dataset' }).click();
    await page.locator('[data-testid=dataset-result]', { hasText: '3 rows' }).waitFor();
    expect(await page.locator('[data-testid=query-json]').textContent()).toContain('"test/user/mood"');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
    expect(download.suggestedFilename()).toBe('dataset.csv');
    expect(readFileSync((await download.path())!, 'utf8')).toBe('t,mood\n100,3\n200,7\n300,5\n');
    await shots(page, 'dataset');
    await page.setViewportSize({ width: 360, height: 740 });
    await expect.poll(() => overflowX(page)).toBe(0);
    await page.close();
  });
});

describe('stream page at desktop and phone size', () => {
  it('the chart, table and entry form fit a 360 px phone (screenshots in .tmp/screenshots)', async () => {
    await stream('test/user/pulse', { schema: '{"type":"number"}', nickname: 'Resting pulse' });
    const now = Math.floor(Date.now() / 1000);
    await insert('test/user/pulse', Array.from({ length: 400 }, (_, i) => ({ t: now - 400 * 3000 + i * 3000, d: Math.round(60 + 8 * Math.sin(i / 30) + (i % 7)) })));
    await stream('test/user/rating', { schema: '{"type":"integer","minimum":1,"maximum":10}', datatype: 'rating.stars' });
    await insert('test/user/rating', Array.from({ length: 20 }, (_, i) => ({ t: now - 20 * 86400 + i * 86400, d: 1 + ((i * 7) % 10) })));
    const page = await open('/test/user/pulse');
    await page.locator('.cdb-chart[data-drawn]').waitFor();
    await shots(page, 'stream-chart');
    await page.getByText('Custom range').click();
    await page.setViewportSize({ width: 360, height: 740 });
    await expect.poll(() => overflowX(page)).toBe(0);
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByRole('tab', { name: 'Table' }).click();
    await page.getByRole('columnheader', { name: 'Value' }).waitFor();
    await shots(page, 'stream-table');
    await page.goto(web.url + '/test/user/rating');
    await page.getByRole('button', { name: '7 of 10 stars' }).click();
    await page.getByText(/^Saved 7 at /).waitFor();
    await shots(page, 'stream-entry');
    await page.setViewportSize({ width: 360, height: 740 });
    await expect.poll(() => overflowX(page)).toBe(0);
    // quick entry lists the hand-filled streams, each with its own form
    await page.goto(web.url + '/_/insert');
    await page.getByRole('form', { name: 'Insert into rating' }).getByRole('button', { name: '3 of 10 stars' }).click();
    await page.getByRole('form', { name: 'Insert into rating' }).getByText(/^Saved 3 at /).waitFor();
    await expect.poll(() => overflowX(page)).toBe(0);
    await shots(page, 'quick-entry');
    await page.goto(web.url + '/test/user/pulse');
    await page.locator('.cdb-chart[data-drawn]').waitFor();
    await shots(page, 'stream', { dark: true });
    await page.close();
  });
});

describe('accessibility of the views pages', () => {
  it('every visible control on the stream, insert, downlinks and analysis pages has a label', async () => {
    const page = await open('/');
    for (const p of ['/test/user/pulse', '/test/user/pulse?view=table', '/test/user/pulse?view=histogram', '/test/user/rating', '/_/insert', '/_/downlinks', '/_/analysis']) {
      await page.goto(web.url + p);
      await page.getByRole('main').waitFor();
      await page.waitForLoadState('networkidle');
      for (const d of await page.locator('details').all()) await d.evaluate('(el) => (el.open = true)');
      expect(await unlabelled(page), p).toEqual([]);
    }
    await page.close();
  });
});
