import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DESKTOP, PHONE, type Web, login, overflowX, shots, startWeb, unlabelled } from './browser';

/** The app shell in a real browser: login form, navigation, CRUD pages, API key, phone size. */
let web: Web;
beforeAll(async () => {
  web = await startWeb();
  await web.rest('POST', '/api/v1/crud/test/phone', { nickname: 'My phone' });
  await web.rest('POST', '/api/v1/crud/test/phone/steps', { schema: '{"type":"integer"}' });
  await web.rest('POST', '/api/v1/crud/test/user/mood', { schema: '{"type":"integer","minimum":1,"maximum":10}', datatype: 'rating.stars' });
});
afterAll(() => web?.close());

describe('login and logout through the form', () => {
  it('a wrong password shows the error on the form, after the failed-login delay', async () => {
    const page = web.page;
    await page.goto(web.url + '/');
    await shots(page, 'login', { dark: true });
    await page.getByLabel('Username or email').fill('test');
    await page.getByLabel('Password').fill('wrong');
    const start = Date.now();
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('Incorrect Password');
    expect(Date.now() - start).toBeGreaterThanOrEqual(250);
    expect(await page.getByLabel('Username or email').inputValue()).toBe('test');
    await shots(page, 'login-error');
    expect((await web.context.cookies()).find((c) => c.name === 'connectordb-session')).toBeUndefined();
  });

  it('logging in lands on the home page with the session cookie; logging out returns to the form', async () => {
    const page = web.page;
    await login(web);
    expect(new URL(page.url()).pathname).toBe('/');
    await page.getByRole('heading', { name: 'Devices', exact: true }).waitFor();
    const cookie = (await web.context.cookies()).find((c) => c.name === 'connectordb-session')!;
    expect(cookie.httpOnly).toBe(true);
    expect(cookie.sameSite).toBe('Lax');
    expect(await page.evaluate('document.cookie')).toBe('');
    await page.getByRole('link', { name: 'Log out' }).first().click();
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    expect((await web.context.cookies()).find((c) => c.name === 'connectordb-session')).toBeUndefined();
  });
});

describe('navigation', () => {
  it('a deep link without a session goes through the login form and back to the page', async () => {
    const page = web.page;
    await page.goto(web.url + '/test/phone');
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.getByLabel('Username or email').fill('test');
    await page.getByLabel('Password').fill('test');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'My phone' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/test/phone');
  });

  it('deep links survive a reload; breadcrumbs and links navigate without one', async () => {
    const page = web.page;
    await page.goto(web.url + '/test/phone/steps');
    await page.getByText('test/phone/steps').first().waitFor();
    await page.reload();
    await page.getByText('test/phone/steps').first().waitFor();
    await page.evaluate('window.marker = 1');
    await page.getByRole('navigation', { name: 'Breadcrumbs' }).getByRole('link', { name: 'phone' }).click();
    await page.getByRole('heading', { name: 'My phone' }).waitFor();
    await page.getByRole('link', { name: /steps/ }).click();
    await page.getByText('test/phone/steps').first().waitFor();
    expect(await page.evaluate('window.marker')).toBe(1);
    await page.goBack();
    await page.getByRole('heading', { name: 'My phone' }).waitFor();
  });

  it('the home page lists devices and the streams of all devices, with a filter', async () => {
    const page = web.page;
    await page.goto(web.url + '/');
    const streams = page.getByRole('list', { name: 'Streams' });
    await streams.getByText('phone/steps').waitFor();
    await streams.getByText('user/mood').waitFor();
    await page.getByLabel('Filter streams').fill('moo');
    await expect.poll(() => streams.getByRole('link').count()).toBe(1);
    await shots(page, 'home', { dark: true });
  });

  it('the search palette (Ctrl+K) finds a stream by path and opens it with Enter', async () => {
    const page = web.page;
    await page.goto(web.url + '/');
    await page.getByRole('heading', { name: 'Devices', exact: true }).waitFor();
    await page.keyboard.press('Control+k');
    const box = page.getByRole('combobox', { name: 'Search devices, streams and pages' });
    await box.fill('steps');
    await page.getByRole('option', { name: /test\/phone\/steps/ }).waitFor();
    await shots(page, 'search');
    await box.press('Enter');
    await page.waitForURL(/\/test\/phone\/steps$/);
  });

  it('an unknown page and an unknown stream show a readable message, not a blank page', async () => {
    const page = web.page;
    const r = await page.goto(web.url + '/test/ghost');
    expect(r?.status()).toBe(404);
    await page.getByRole('heading', { name: 'Not found' }).waitFor();
    await page.goto(web.url + '/test/phone/ghost');
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toContain("Can't access this resource.");
  });

  it("a stream that cannot be read shows why even when its data read fails before its metadata read", async () => {
    const page = web.page;
    // The metadata answer held back, so the data read's failure comes first (a race CI hit).
    const meta = /\/api\/v1\/crud\/test\/phone\/ghost2$/;
    await page.route(meta, async (route) => {
      await new Promise((r) => setTimeout(r, 700));
      await route.continue();
    });
    try {
      await page.goto(web.url + '/test/phone/ghost2');
      await page.getByRole('alert').waitFor();
      const alerts = await page.getByRole('alert').allTextContents();
      expect(alerts.join(' | ')).toContain("Can't access this resource.");
      expect(alerts.join(' | ')).not.toContain('not found');
    } finally {
      await page.unroute(meta);
    }
  });

  it('the server page shows the URL and version', async () => {
    const page = web.page;
    await page.goto(web.url + '/_/server');
    await expect.poll(() => page.getByTestId('version').textContent()).toMatch(/^\d+\.\d+/);
    expect(await page.getByRole('link', { name: web.url }).count()).toBe(1);
    await shots(page, 'server');
  });
});

describe('creating and changing things', () => {
  it('creates a device and a stream with a schema preset through the forms', async () => {
    const page = web.page;
    await page.goto(web.url + '/test');
    await page.getByRole('button', { name: 'Add device' }).click();
    const form = page.getByRole('form', { name: 'New device' });
    await form.getByLabel('Device name').fill('scale');
    await form.getByLabel('Nickname').fill('Bathroom scale');
    await form.getByLabel('User editable').uncheck();
    await shots(page, 'device-new');
    await page.getByRole('button', { name: 'Create device' }).click();
    await page.getByRole('heading', { name: 'Bathroom scale' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/test/scale');
    const dev = await web.getJSON('/api/v1/crud/test/scale');
    expect(dev).toMatchObject({ nickname: 'Bathroom scale', user_editable: false, enabled: true });

    await page.getByRole('button', { name: 'Add stream' }).click();
    const sf = page.getByRole('form', { name: 'New stream' });
    await sf.getByLabel('Stream name').fill('weight');
    await sf.getByRole('button', { name: 'Custom JSON' }).click();
    await sf.getByLabel('JSON Schema').fill('{"type": "number",');
    await sf.getByText('Not valid JSON').waitFor();
    await sf.getByRole('button', { name: 'Choice' }).click();
    await sf.getByLabel('Choices').fill('light, heavy, heavy');
    await sf.getByRole('button', { name: 'Number' }).click();
    await sf.getByLabel('Ephemeral').check();
    await shots(page, 'stream-new');
    await sf.getByRole('button', { name: 'Create stream' }).click();
    await page.waitForURL(/\/test\/scale\/weight$/);
    const s = await web.getJSON('/api/v1/crud/test/scale/weight');
    expect(s).toMatchObject({ schema: '{"type":"number"}', ephemeral: true, downlink: false });
    await shots(page, 'stream');
  });

  it('a refused create shows the server message in the form', async () => {
    const page = web.page;
    await page.goto(web.url + '/test/scale');
    await page.getByRole('button', { name: 'Add stream' }).click();
    const sf = page.getByRole('form', { name: 'New stream' });
    await sf.getByLabel('Stream name').fill('weight');
    await sf.getByRole('button', { name: 'Create stream' }).click();
    await expect.poll(() => sf.getByRole('alert').textContent()).toMatch(/already exists/);
  });

  it('edits a stream into an enum through its settings and keeps the other fields', async () => {
    const page = web.page;
    await page.goto(web.url + '/test/scale/weight');
    await page.getByText('Stream settings').click();
    const sf = page.getByRole('form', { name: 'Edit stream weight' });
    await sf.getByRole('button', { name: 'Choice' }).click();
    await sf.getByLabel('Choices').fill('light, heavy');
    await sf.getByLabel('Downlink').check();
    await sf.getByRole('button', { name: 'Save stream' }).click();
    await expect
      .poll(async () => (await web.getJSON('/api/v1/crud/test/scale/weight')).schema)
      .toBe('{"type":"string","enum":["light","heavy"]}');
    const s = await web.getJSON('/api/v1/crud/test/scale/weight');
    expect(s).toMatchObject({ downlink: true, ephemeral: true });
  });

  it('resets the API key after a confirmation and shows the new one', async () => {
    const page = web.page;
    const before = (await web.getJSON('/api/v1/crud/test/phone')).apikey as string;
    await page.goto(web.url + '/test/phone');
    await page.getByRole('button', { name: 'Show' }).click();
    expect(await page.getByTestId('apikey').textContent()).toBe(before);
    await page.getByRole('button', { name: 'QR code' }).click();
    await page.getByRole('img', { name: /QR code of the API key/ }).waitFor();
    await shots(page, 'device', { dark: true });
    await page.getByRole('button', { name: 'Reset API key' }).click();
    const dialog = page.getByRole('dialog', { name: /Reset the API key/ });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect((await web.getJSON('/api/v1/crud/test/phone')).apikey).toBe(before);
    await page.getByRole('button', { name: 'Reset API key' }).click();
    await dialog.getByRole('button', { name: 'Reset key' }).click();
    await expect.poll(() => page.getByTestId('apikey').textContent()).not.toBe(before);
    const after = (await web.getJSON('/api/v1/crud/test/phone')).apikey as string;
    expect(await page.getByTestId('apikey').textContent()).toBe(after);
    const old = await fetch(web.url + '/api/v1/?q=this', { headers: { Authorization: 'Basic ' + Buffer.from(':' + before).toString('base64') } });
    expect(old.status).toBe(401);
  });

  it('an admin creates, edits and deletes a user', async () => {
    const page = web.page;
    await page.goto(web.url + '/_/users');
    await page.getByRole('button', { name: 'Add user' }).click();
    const uf = page.getByRole('form', { name: 'New user' });
    await uf.getByLabel('User name').fill('bob');
    await uf.getByLabel('Email').fill('bob@example.org');
    await uf.getByLabel('Password', { exact: true }).fill('bobpw');
    await shots(page, 'users');
    await uf.getByRole('button', { name: 'Create user' }).click();
    await page.waitForURL(/\/bob$/);
    await page.getByText('User settings').click();
    const ef = page.getByRole('form', { name: 'Edit user bob' });
    await ef.getByLabel('Nickname').fill('Bobby');
    await ef.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(async () => (await web.getJSON('/api/v1/crud/bob')).nickname).toBe('Bobby');
    await page.getByRole('button', { name: 'Delete user' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete user' }).click();
    await page.waitForURL(/\/_\/users$/);
    expect((await web.rest('GET', '/api/v1/crud/bob')).status).toBe(404);
  });
});

describe('accessibility', () => {
  it('every visible control on every page, open forms included, has a label', async () => {
    const page = web.page;
    const pages: [string, string | undefined][] = [
      ['/', 'Add device'],
      ['/test/phone', 'Add stream'],
      ['/test/scale/weight', undefined],
      ['/_/server', undefined],
      ['/_/users', 'Add user'],
    ];
    for (const [p, open] of pages) {
      await page.goto(web.url + p);
      await page.getByRole('main').waitFor();
      await page.waitForLoadState('networkidle');
      if (open) await page.getByRole('button', { name: open }).click();
      for (const d of await page.locator('details').all()) await d.evaluate('(el) => (el.open = true)');
      expect(await unlabelled(page), p).toEqual([]);
    }
    await page.keyboard.press('Control+k');
    expect(await unlabelled(page), 'search').toEqual([]);
    await page.keyboard.press('Escape');
  });

  it('the keyboard reaches a skip link first, and the search palette opens with "/"', async () => {
    const page = web.page;
    await page.goto(web.url + '/');
    await page.getByRole('heading', { name: 'Devices', exact: true }).waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate('document.activeElement.id')).toBe('main');
    await page.keyboard.press('/');
    await page.getByRole('combobox', { name: 'Search devices, streams and pages' }).waitFor();
    await page.keyboard.press('Escape');
  });
});

describe('a phone-sized viewport', () => {
  it('fits 360 px without sideways scrolling, with the navigation behind a menu button', async () => {
    const page = web.page;
    await page.setViewportSize(PHONE);
    try {
      for (const p of ['/', '/test/phone', '/test/scale/weight', '/_/server']) {
        await page.goto(web.url + p);
        await page.getByRole('main').waitFor();
        await page.waitForLoadState('networkidle');
        expect(await overflowX(page), p).toBeLessThanOrEqual(0);
      }
      const nav = page.getByRole('navigation', { name: 'Main' });
      expect(await nav.isVisible()).toBe(false);
      await page.getByRole('button', { name: 'Menu' }).click();
      await nav.getByRole('link', { name: 'Server' }).click();
      await page.waitForURL(/\/_\/server$/);
      await expect.poll(() => nav.isVisible()).toBe(false);
    } finally {
      await page.setViewportSize(DESKTOP);
    }
  });
});
