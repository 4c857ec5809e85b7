import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Web, shots, startWeb } from './browser';

/** The join page in a real browser, on a server started with `--join`. */
let web: Web;
beforeAll(async () => {
  web = await startWeb({}, ['--join']);
});
afterAll(() => web?.close());

describe('joining', () => {
  it('the login page links to the join form, which creates the account and opens the app as the new user', async () => {
    const page = web.page;
    await page.goto(web.url + '/');
    await page.getByRole('link', { name: 'Join' }).click();
    await page.getByLabel('User name').fill('newbie');
    await page.getByLabel('Email').fill('newbie@example.org');
    await page.getByLabel('Password').fill('pw');
    await shots(page, 'join');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Devices', exact: true }).waitFor();
    expect(await page.evaluate('fetch("/api/v1/?q=this").then((r) => r.text())')).toBe('newbie/user');
    expect((await web.getJSON('/api/v1/crud/newbie')).role).toBe('user');
  });

  it('a refused join shows the server message on the form', async () => {
    const page = web.page;
    await page.context().clearCookies();
    await page.goto(web.url + '/join');
    await page.getByLabel('User name').fill('newbie');
    await page.getByLabel('Email').fill('other@example.org');
    await page.getByLabel('Password').fill('pw');
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/exists/);
  });
});
