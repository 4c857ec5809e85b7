import type { FastifyReply, FastifyRequest } from 'fastify';
import { NOBODY, type Operator } from '../domain/types';
import { CdbError, TooManyRequestsError, UnauthorizedError } from '../errors';
import { type HttpContext, type Register, requireBody } from './context';
import { sendError } from './errors';
import { COOKIE_NAME, authenticate, parseCookies, passwordLogin, setSessionCookie } from './auth';

/**
 * The server's own pages: login, logout, join and the 404 page. They are plain HTML forms that
 * work without JavaScript (the app itself is src/web, served by src/http/web.ts); no user data
 * is rendered into them, only the form's own error message.
 */

export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The pages' policy: nothing but our own files; the app's websocket is same-origin. */
export const PAGE_CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const STYLE = `:root{color-scheme:light dark;--bg:#f6f7f9;--s:#fff;--fg:#1b1f24;--m:#57606a;--b:#d0d7de;--a:#0060a0;--af:#fff;--d:#b3261e}
@media (prefers-color-scheme:dark){:root{--bg:#0f1216;--s:#181c22;--fg:#e6e8eb;--m:#9aa4af;--b:#353c45;--a:#56b4e9;--af:#0b0d10;--d:#ff8a80}}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Ubuntu,sans-serif}
main{max-width:24rem;margin:8vh auto;padding:0 1rem}.box{background:var(--s);border:1px solid var(--b);border-radius:8px;padding:1.25rem}
h1{font-size:1.5rem;margin:0 0 1rem}h1 span{color:var(--a)}label{display:block;font-weight:600;font-size:.92rem;margin:.75rem 0 .2rem}
input{font:inherit;color:var(--fg);background:var(--bg);border:1px solid var(--b);border-radius:6px;padding:.5rem .6rem;width:100%}
.check{display:flex;gap:.5rem;align-items:center;font-weight:400}.check input{width:1.1rem;height:1.1rem;accent-color:var(--a)}
button{font:inherit;margin-top:1rem;width:100%;padding:.6rem;border-radius:6px;border:1px solid var(--a);background:var(--a);color:var(--af);font-weight:600;cursor:pointer}
:focus-visible{outline:3px solid #e69f00;outline-offset:2px}a{color:var(--a)}.m{color:var(--m);font-size:.92rem}
.alert{border:1px solid var(--d);color:var(--d);border-radius:6px;padding:.5rem .75rem;margin:0 0 .5rem}`;

export function htmlPage(title: string, body: string, script?: string): string {
  return (
    `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>${escapeHtml(title)}</title><link rel="icon" href="/www/favicon.svg" type="image/svg+xml"><style>${STYLE}</style>` +
    (script ? `<script src="${script}" defer></script>` : '') +
    `</head><body><main>${body}</main></body></html>`
  );
}

export function sendPage(reply: FastifyReply, status: number, title: string, body: string, script?: string): FastifyReply {
  return reply
    .code(status)
    .headers({ 'content-security-policy': PAGE_CSP, 'cache-control': 'no-store, must-revalidate' })
    .type('text/html; charset=utf-8')
    .send(htmlPage(title, body, script));
}

export function sendNotFoundPage(reply: FastifyReply): FastifyReply {
  return sendPage(
    reply,
    404,
    'Not Found',
    '<div class="box"><h1>404</h1><p>The page you are looking for does not exist.</p><p><a href="/">Go to the start page</a></p></div>',
  );
}

/** Only local paths are followed after login, never another site (no open redirect). */
export function safeNext(next: unknown): string {
  if (typeof next !== 'string' || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  if (/^\/(login|logout|join)(\/|\?|$)/.test(next) || /[\r\n]/.test(next)) return '/';
  return next;
}

interface LoginForm {
  error?: string;
  username?: string;
  next?: string;
  remember: boolean;
  canJoin: boolean;
}

function loginBody(f: LoginForm): string {
  const err = f.error ? `<div class="alert" role="alert" id="login-error">${escapeHtml(f.error)}</div>` : '';
  const describedBy = f.error ? ' aria-describedby="login-error" aria-invalid="true"' : '';
  return (
    `<div class="box"><h1>Connector<span>DB</span></h1>` +
    `<form method="post" action="/login" aria-label="Log in">${err}` +
    (f.next && f.next !== '/' ? `<input type="hidden" name="next" value="${escapeHtml(f.next)}">` : '') +
    `<label for="username">Username or email</label>` +
    `<input id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus value="${escapeHtml(f.username ?? '')}"${describedBy}>` +
    `<label for="password">Password</label>` +
    `<input id="password" name="password" type="password" autocomplete="current-password" required${describedBy}>` +
    `<label class="check" for="remember"><input id="remember" name="remember" type="checkbox" value="true"${f.remember ? ' checked' : ''}> Remember me</label>` +
    `<button type="submit">Log in</button></form></div>` +
    (f.canJoin ? `<p class="m">No account? <a href="/join">Join</a></p>` : '')
  );
}

/** Whether the caller's role may create an account now (rest-api §10.3). */
function joinAllowed(ctx: HttpContext, op: Operator): boolean {
  const perms = ctx.svc.core.permissions;
  const role = perms.userRole(op.user.role);
  const max = perms.file.max_users;
  return role.join && !(max >= 0 && ctx.svc.core.users.count() >= max);
}

export function sendLogin(ctx: HttpContext, reply: FastifyReply, status: number, f: Partial<LoginForm> = {}): FastifyReply {
  const canJoin = joinAllowed(ctx, { nobody: true, user: { role: 'nobody' } } as Operator);
  return sendPage(reply, status, 'Log in · ConnectorDB', loginBody({ remember: ctx.config.cookie.remember, canJoin, ...f }));
}

export type PageAuth = { op: Operator } | { error: UnauthorizedError | TooManyRequestsError };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The operator of a website request. A session cookie that no longer logs in (device deleted,
 * key reset) is removed and the visitor is nobody, so a stale cookie never locks a browser out
 * of the login page; failing Basic or apikey credentials are an error, after the failed-login delay.
 */
export async function pageOperator(ctx: HttpContext, req: FastifyRequest, reply: FastifyReply): Promise<PageAuth> {
  try {
    return { op: await authenticate(ctx.svc, ctx.cookies, req, ctx.logins) };
  } catch (e) {
    if (e instanceof TooManyRequestsError) return { error: e };
    if (!(e instanceof UnauthorizedError)) throw e;
    const q = req.query as Record<string, unknown> | undefined;
    const explicit = !!req.headers.authorization || (typeof q?.apikey === 'string' && q.apikey !== '');
    if (!explicit && parseCookies(req.headers.cookie)[COOKIE_NAME]) {
      setSessionCookie(reply, req, ctx.config, null);
      return { op: NOBODY };
    }
    if (ctx.config.failed_login_delay > 0) await sleep(ctx.config.failed_login_delay);
    return { error: e };
  }
}

function sendTooManyPage(ctx: HttpContext, reply: FastifyReply, e: TooManyRequestsError): FastifyReply {
  reply.header('retry-after', String(e.retryAfter));
  return sendLogin(ctx, reply, 429, { error: e.message });
}

/** Form bodies for the login form; the rest of the server parses every body as JSON. */
function parseForm(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(text)) if (!(k in out)) out[k] = v;
  return out;
}

export const registerWebsite: Register = (app, ctx) => {
  const { svc, cookies, config, api } = ctx;
  const disabled = (reply: FastifyReply) => reply.code(503).send('{"code": 503, "msg": "ConnectorDB is currently inactive", "ref": "DISABLED"}');

  app.get('/login', async (req, reply) => {
    if (!ctx.state.enabled) return disabled(reply);
    const next = safeNext((req.query as Record<string, unknown>).next);
    const auth = await pageOperator(ctx, req, reply);
    if ('error' in auth) {
      if (auth.error instanceof TooManyRequestsError) return sendTooManyPage(ctx, reply, auth.error);
      return sendLogin(ctx, reply, 401, { error: auth.error.message, next });
    }
    const op = auth.op;
    if (op.nobody || op.device.apikey === '') return sendLogin(ctx, reply, 200, { next });
    // Basic or ?apikey= on GET /login starts a browser session (rest-api §10.3).
    const r = (req.query as Record<string, unknown>).remember;
    const remember = r === undefined ? config.cookie.remember : r === 'true';
    setSessionCookie(reply, req, config, cookies.encode(op.device.apikey), remember ? config.cookie.maxage : undefined);
    return reply.redirect(next, 302);
  });

  // The login form posts application/x-www-form-urlencoded: its own parser, in its own scope.
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 16384 }, (_req, body, done) => done(null, parseForm(body as string)));
    scope.post('/login', async (req, reply) => {
      if (!ctx.state.enabled) return disabled(reply);
      const form = (req.body ?? {}) as Record<string, string>;
      const username = (form.username ?? '').trim();
      const password = form.password ?? '';
      const next = safeNext(form.next);
      const remember = form.remember === 'true' || form.remember === 'on';
      if (!username || !password) return sendLogin(ctx, reply, 400, { error: 'Enter your username (or email) and your password.', username, next, remember });
      let op: Operator;
      try {
        op = await passwordLogin(svc, req, username, password, ctx.logins);
      } catch (e) {
        if (e instanceof TooManyRequestsError) return sendTooManyPage(ctx, reply, e);
        if (!(e instanceof UnauthorizedError)) throw e;
        if (config.failed_login_delay > 0) await sleep(config.failed_login_delay);
        return sendLogin(ctx, reply, 401, { error: e.message, username, next, remember });
      }
      req.operator = op.name;
      setSessionCookie(reply, req, config, cookies.encode(op.device.apikey), remember ? config.cookie.maxage : undefined);
      // 303: the browser follows with a GET, and reload does not re-post the password.
      return reply.redirect(next, 303);
    });
  });

  // The join form (rest-api §10.3): JSON user-create body with a name; the session switches to the new user.
  app.post(
    '/join',
    api(async (req, reply, op) => {
      const perms = svc.core.permissions;
      const role = perms.userRole(op.user.role);
      if (!joinAllowed(ctx, op)) return sendError(reply, 403, role.join_disabled_message);
      const body = requireBody(req);
      const name = body && typeof body === 'object' && typeof (body as { name?: unknown }).name === 'string' ? (body as { name: string }).name : '';
      try {
        await svc.users.create(op, name, body, role.join_role);
      } catch (e) {
        if (e instanceof CdbError) return sendError(reply, 400, e.message);
        throw e;
      }
      const u = svc.core.users.get(name)!;
      const dev = svc.core.devices.get(u.id, 'user')!;
      setSessionCookie(reply, req, config, cookies.encode(dev.apikey), config.cookie.remember ? config.cookie.maxage : undefined);
      return reply.type('text/plain; charset=utf-8').send('ok');
    }),
  );

  app.get('/join', async (req, reply) => {
    if (!ctx.state.enabled) return disabled(reply);
    const auth = await pageOperator(ctx, req, reply);
    const op = 'op' in auth ? auth.op : undefined;
    if (!op || !joinAllowed(ctx, op)) {
      const msg = op ? svc.core.permissions.userRole(op.user.role).join_disabled_message : 'Joining is not possible right now.';
      return sendPage(reply, 200, 'Join · ConnectorDB', `<div class="box"><h1>Join</h1><p id="join-status">${escapeHtml(msg || 'Joining is disabled on this server.')}</p><p><a href="/login">Log in</a></p></div>`);
    }
    // The form posts JSON (the route's original body) from /www/join.js; without JavaScript it cannot.
    return sendPage(
      reply,
      200,
      'Join · ConnectorDB',
      `<div class="box"><h1>Join Connector<span style="color:var(--a)">DB</span></h1><form id="join" aria-label="Create an account">` +
        `<div class="alert" role="alert" id="join-error" hidden></div>` +
        `<label for="name">User name</label><input id="name" name="name" autocomplete="username" autocapitalize="none" spellcheck="false" required pattern="[A-Za-z][A-Za-z0-9_\\-]{0,28}" aria-describedby="name-hint">` +
        `<div class="m" id="name-hint">Letters, digits, _ and -, starting with a letter.</div>` +
        `<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="email" required>` +
        `<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="new-password" required>` +
        `<button type="submit">Create account</button></form></div><p class="m">Have an account? <a href="/login">Log in</a></p>`,
      '/www/join.js',
    );
  });

  app.get('/logout', (req, reply) => {
    setSessionCookie(reply, req, config, null);
    return reply.redirect('/', 302);
  });
};
