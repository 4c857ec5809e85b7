/**
 * The browser-test harness: the built server (dist/main.js) on a temp database as a child
 * process, and Debian's Chromium driven by playwright-core (never a downloaded browser).
 * Shared by every test/web/*.test.ts file.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BrowserContext, type Page, chromium } from 'playwright-core';
import { ROOT, type ServerProcess, createDb, runServer } from '../process';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const ADMIN_USER = 'test';
export const ADMIN_PASSWORD = 'test';
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 360, height: 740 };
export const SCREENSHOTS = path.join(ROOT, '.tmp', 'screenshots');

export interface Web {
  /** `http://127.0.0.1:<port>` of the server. */
  url: string;
  server: ServerProcess;
  /** The browser profile: one cookie jar shared by its pages. */
  context: BrowserContext;
  /** A first page, at the desktop size. */
  page: Page;
  /** An admin request to the REST API (Basic auth), for setting up and checking state. */
  rest(method: string, path: string, body?: unknown): Promise<Response>;
  /** GET as the admin, the JSON answer (throws on an error status). */
  getJSON(path: string): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/**
 * Starts the server on a fresh database with the admin `test`/`test` (`env` and `args` go to
 * `connectordb run`, e.g. `['--join']`), and Chromium with a fresh profile. A missing Chromium fails loudly: the browser tests never skip silently.
 */
export async function startWeb(env: Record<string, string> = {}, args: string[] = []): Promise<Web> {
  if (!existsSync(path.join(ROOT, 'dist', 'public', 'index.html'))) throw new Error('dist/public is missing: run `npm run build` (the test setup builds it)');
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (the browser tests need it)`);
  const dir = createDb(`${ADMIN_USER}:${ADMIN_PASSWORD}`);
  const server = await runServer(dir, env, args);
  const profile = mkdtempSync(path.join(tmpdir(), 'cdb-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: DESKTOP,
      // Downloads are checked by the tests (CSV/JSON); they land in the temp profile.
      acceptDownloads: true,
    });
  } catch (e) {
    server.proc.kill('SIGKILL');
    throw e;
  }
  context.setDefaultTimeout(15000);
  const page = context.pages()[0] ?? (await context.newPage());
  const auth = 'Basic ' + Buffer.from(`${ADMIN_USER}:${ADMIN_PASSWORD}`).toString('base64');
  const rest = (method: string, p: string, body?: unknown) =>
    fetch(server.url + p, {
      method,
      headers: { Authorization: auth, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  return {
    url: server.url,
    server,
    context,
    page,
    rest,
    async getJSON(p) {
      const r = await rest('GET', p);
      if (!r.ok) throw new Error(`GET ${p}: ${r.status} ${await r.text()}`);
      return (await r.json()) as Record<string, unknown>;
    },
    async close() {
      await context.close().catch(() => {});
      server.proc.kill('SIGTERM');
      await new Promise((r) => (server.proc.exitCode !== null ? r(null) : server.proc.once('exit', r)));
      rmSync(profile, { recursive: true, force: true });
      rmSync(path.dirname(dir), { recursive: true, force: true });
    },
  };
}

/** Logs in through the login form and waits for the app to show. */
export async function login(web: Web, page: Page = web.page, user = ADMIN_USER, password = ADMIN_PASSWORD): Promise<void> {
  await page.goto(web.url + '/login');
  await page.getByLabel('Username or email').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor({ state: 'attached' });
}

/** A full-page screenshot into .tmp/screenshots/<name>.png, to look at. */
export async function shot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  // Scrolled to the top, so the sticky header is drawn where it belongs.
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Screenshots at desktop and phone size (restoring the desktop size); `dark` adds both in the dark theme. */
export async function shots(page: Page, name: string, opts: { dark?: boolean } = {}): Promise<void> {
  for (const scheme of opts.dark ? (['light', 'dark'] as const) : (['light'] as const)) {
    await page.emulateMedia({ colorScheme: scheme });
    const suffix = scheme === 'dark' ? '-dark' : '';
    await page.setViewportSize(DESKTOP);
    await shot(page, `${name}-desktop${suffix}`);
    await page.setViewportSize(PHONE);
    await page.waitForTimeout(100);
    await shot(page, `${name}-phone${suffix}`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize(DESKTOP);
}

/** The page has no horizontal scrolling at its current width (nothing overflows a phone). */
export async function overflowX(page: Page): Promise<number> {
  // A string, not a function: the server's tsconfig has no DOM types.
  return page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
}

/**
 * Visible form controls and buttons without an accessible name (label, aria-label(ledby), text),
 * described for the failure message; [] when every control is labelled.
 */
export async function unlabelled(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(`(() => {
    const named = (el) => {
      if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')) return true;
      if (el.labels && el.labels.length > 0) return true;
      if ((el.tagName === 'BUTTON' || el.tagName === 'A') && el.textContent.trim()) return true;
      return el.type === 'hidden' || el.type === 'submit' && !!el.value;
    };
    return [...document.querySelectorAll('input, select, textarea, button, a[href]')]
      .filter((el) => el.offsetParent !== null || el.closest('dialog[open]'))
      .filter((el) => !named(el))
      .map((el) => el.outerHTML.slice(0, 120));
  })()`);
}
