import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Operator } from '../domain/types';
import { CdbError, TooManyRequestsError } from '../errors';
import type { HttpContext, Register } from './context';
import { sendError } from './errors';
import { PAGE_CSP, pageOperator, safeNext, sendLogin, sendPage } from './website';

/**
 * Serves the web app (src/web, built by Vite into dist/public): its files under /app/ and /www/,
 * and index.html for `/` and every app page, so deep links work on reload (rest-api §10.3).
 *
 * The built files are few and small, so they are read once into memory with their `.br`/`.gz`
 * twins made at build time: no per-request filesystem access (nothing outside the build can be
 * reached by a crafted path), no compression work per request, and no static-file dependency.
 */

interface Asset {
  body: Buffer;
  br?: Buffer;
  gz?: Buffer;
  type: string;
  etag: string;
  cache: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.txt': 'text/plain; charset=utf-8',
  '.xml': 'application/xml; charset=utf-8',
  '.woff2': 'font/woff2',
};

/** Vite names built chunks `name-<8+ char hash>.ext`: their content never changes under that name. */
const HASHED = /^assets\/.+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/;
export const IMMUTABLE = 'public, max-age=31536000, immutable';
export const NO_STORE = 'no-store, must-revalidate';

/** The first candidate holding a build: dist/public next to the compiled server, or from src/. */
export function webDir(): string {
  const candidates = [path.resolve(__dirname, '..', 'public'), path.resolve(__dirname, '..', '..', 'dist', 'public')];
  return candidates.find((d) => existsSync(path.join(d, 'index.html'))) ?? candidates[0];
}

export class WebAssets {
  readonly files = new Map<string, Asset>();

  constructor(readonly dir: string) {
    if (!existsSync(dir)) return;
    const walk = (d: string): string[] =>
      readdirSync(d).flatMap((f) => {
        const p = path.join(d, f);
        return statSync(p).isDirectory() ? walk(p) : [p];
      });
    const all = new Set(walk(dir));
    for (const file of all) {
      if (file.endsWith('.br') || file.endsWith('.gz')) continue;
      const rel = path.relative(dir, file).split(path.sep).join('/');
      const body = readFileSync(file);
      this.files.set(rel, {
        body,
        br: all.has(file + '.br') ? readFileSync(file + '.br') : undefined,
        gz: all.has(file + '.gz') ? readFileSync(file + '.gz') : undefined,
        type: TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
        etag: '"' + createHash('sha256').update(body).digest('base64url').slice(0, 27) + '"',
        cache: rel === 'index.html' ? NO_STORE : HASHED.test(rel) ? IMMUTABLE : 'public, max-age=3600',
      });
    }
  }

  get index(): Asset | undefined {
    return this.files.get('index.html');
  }
}

const loaded = new Map<string, WebAssets>();
function assetsFor(dir: string): WebAssets {
  let a = loaded.get(dir);
  if (!a) loaded.set(dir, (a = new WebAssets(dir)));
  return a;
}

/** `br` or `gzip` when the client accepts it (a zero q-value refuses), else identity. */
export function pickEncoding(header: string | string[] | undefined, asset: Asset): 'br' | 'gzip' | undefined {
  if (!header) return undefined;
  const accepted = new Set<string>();
  for (const part of String(header).split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q && Number(q.slice(2)) === 0) continue;
    accepted.add(name.trim());
  }
  if (asset.br && (accepted.has('br') || accepted.has('*'))) return 'br';
  if (asset.gz && (accepted.has('gzip') || accepted.has('*'))) return 'gzip';
  return undefined;
}

function sendAsset(req: FastifyRequest, reply: FastifyReply, asset: Asset, status = 200): FastifyReply {
  reply.header('cache-control', asset.cache).header('vary', 'Accept-Encoding').header('etag', asset.etag);
  if (asset.type.startsWith('text/html')) reply.header('content-security-policy', PAGE_CSP);
  if (status === 200 && req.headers['if-none-match'] === asset.etag) return reply.code(304).send();
  const enc = pickEncoding(req.headers['accept-encoding'], asset);
  if (enc) reply.header('content-encoding', enc);
  return reply
    .code(status)
    .type(asset.type)
    .send(enc === 'br' ? asset.br : enc === 'gzip' ? asset.gz : asset.body);
}

/** A browser navigating (rather than a program): it is sent to the login page, not given a 401. */
export function wantsHtml(req: FastifyRequest): boolean {
  return /\btext\/html\b/.test(String(req.headers.accept ?? ''));
}

/** First path segments that are never a user's page (rest-api §10.3). */
const RESERVED = new Set(['api', 'www', 'app']);
/** The app's own pages, `/_/{page}` (no name may start with `_`). */
export const APP_PAGES = new Set(['server', 'users', 'insert', 'downlinks', 'analysis']);

export const registerWeb: Register = (app, ctx) => {
  const dir = webDir();
  const assets = () => assetsFor(dir);

  const sendIndex = (req: FastifyRequest, reply: FastifyReply, status = 200) => {
    const index = assets().index;
    if (!index) {
      return sendPage(reply, 503, 'ConnectorDB', '<div class="box"><h1>Web app not built</h1><p>Run <code>npm run build</code> and restart the server. The REST API works meanwhile.</p></div>');
    }
    return sendAsset(req, reply, index, status);
  };

  const serveFile = (req: FastifyRequest, reply: FastifyReply) => {
    const rel = (req.params as { '*': string })['*'] ?? '';
    const asset = rel && !rel.split('/').includes('..') ? assets().files.get(rel) : undefined;
    if (!asset) return reply.callNotFound();
    return sendAsset(req, reply, asset);
  };
  app.get('/app/*', serveFile);
  app.get('/www/*', serveFile);
  for (const f of ['favicon.ico', 'robots.txt', 'sitemap.xml']) app.get(`/${f}`, (_req, reply) => reply.redirect(`/www/${f}`, 301));

  app.get('/', async (req, reply) => {
    if (!ctx.state.enabled) return sendError(reply, 503, 'ConnectorDB is currently inactive');
    const auth = await pageOperator(ctx, req, reply);
    if ('error' in auth) return sendLogin(ctx, reply, auth.error instanceof TooManyRequestsError ? 429 : 401, { error: auth.error.message });
    if (auth.op.nobody) return sendLogin(ctx, reply, 200);
    return sendIndex(req, reply);
  });

  /** An app page: index.html when logged in (404 status when the object cannot be read). */
  const appPage =
    (exists: (ctx: HttpContext, op: Operator, names: string[]) => Promise<boolean>) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      const parts = (req.url.split('?')[0] ?? '').split('/').filter(Boolean);
      let names: string[];
      try {
        names = parts.map(decodeURIComponent);
      } catch {
        return reply.callNotFound();
      }
      if (RESERVED.has(names[0])) return reply.callNotFound();
      if (!ctx.state.enabled) return sendError(reply, 503, 'ConnectorDB is currently inactive');
      const auth = await pageOperator(ctx, req, reply);
      const nobody = 'error' in auth || auth.op.nobody;
      if (nobody) {
        if (wantsHtml(req)) return reply.redirect('/login?next=' + encodeURIComponent(safeNext(req.url)), 302);
        if ('error' in auth) return sendError(reply, auth.error instanceof TooManyRequestsError ? 429 : 401, auth.error.message);
        // Nobody can read nothing: like the original, a page that is not there.
        return reply.callNotFound();
      }
      const ok = await exists(ctx, auth.op, names).catch((e: unknown) => {
        if (e instanceof CdbError) return false;
        throw e;
      });
      return sendIndex(req, reply, ok ? 200 : 404);
    };

  app.get(
    '/:user',
    appPage(async ({ svc }, op, [u]) => !!(await svc.users.read(op, u))),
  );
  app.get(
    '/:user/:device',
    appPage(async ({ svc }, op, [u, d]) => (u === '_' ? APP_PAGES.has(d) : !!(await svc.devices.read(op, u, d)))),
  );
  app.get(
    '/:user/:device/:stream',
    appPage(async ({ svc }, op, [u, d, s]) => (u === '_' ? APP_PAGES.has(d) : !!(await svc.streams.read(op, u, d, s)))),
  );
};
