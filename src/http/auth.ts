import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config';
import type { Services } from '../domain';
import { NOBODY, type Operator } from '../domain/types';
import { UnauthorizedError } from '../errors';
import type { LoginLimiter } from './loginlimit';

export const COOKIE_NAME = 'connectordb-session';

/**
 * Session cookies carry the device's API key encrypted and authenticated with AES-256-GCM under a
 * key derived from the config's cookie secrets, so they survive restarts but not a key change.
 */
export class CookieCodec {
  private readonly key: Buffer;
  constructor(config: Config) {
    this.key = createHash('sha256').update(`${config.cookie.encryptionkey}\0${config.cookie.authkey}`).digest();
  }
  encode(apikey: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    const ct = Buffer.concat([c.update(apikey, 'utf8'), c.final()]);
    return Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64url');
  }
  decode(value: string): string | undefined {
    try {
      const buf = Buffer.from(value, 'base64url');
      if (buf.length < 29) return undefined;
      const d = createDecipheriv('aes-256-gcm', this.key, buf.subarray(0, 12));
      d.setAuthTag(buf.subarray(12, 28));
      return Buffer.concat([d.update(buf.subarray(28)), d.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    const k = part.slice(0, i).trim();
    if (!(k in out)) out[k] = part.slice(i + 1).trim();
  }
  return out;
}

/** Basic credentials, or undefined when the header is absent or not well formed (rest-api §2). */
export function basicCredentials(header: string | undefined): [string, string] | undefined {
  if (!header) return undefined;
  const m = /^basic\s+(.*)$/i.exec(header.trim());
  if (!m) return undefined;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const i = text.indexOf(':');
  if (i < 0) return undefined;
  return [text.slice(0, i), text.slice(i + 1)];
}

/**
 * A password login counted by the failed-login limiter: the Basic header and the website's login
 * form both come here. Throws UnauthorizedError, or TooManyRequestsError past the limit.
 */
export async function passwordLogin(svc: Services, req: FastifyRequest, user: string, pass: string, limiter?: LoginLimiter): Promise<Operator> {
  if (!limiter?.enabled) return svc.users.loginPassword(user, pass);
  // Throws 429 before any hash is computed, so a flood costs nothing but a map lookup.
  const attempt = limiter.begin(req.ip, user);
  const op = await svc.users.loginPassword(user, pass).catch((e: unknown) => {
    if (!(e instanceof UnauthorizedError)) attempt.cancel();
    throw e;
  });
  attempt.succeeded();
  return op;
}

/**
 * request → operator, in the original's order: Basic (password or empty-user API key), the
 * `apikey` query parameter, the session cookie, else nobody. Throws UnauthorizedError.
 */
export async function authenticate(svc: Services, cookies: CookieCodec, req: FastifyRequest, limiter?: LoginLimiter): Promise<Operator> {
  try {
    return await identify(svc, cookies, req, limiter);
  } catch (e) {
    if (e instanceof UnauthorizedError) svc.core.counters.failedLogins++;
    throw e;
  }
}

async function identify(svc: Services, cookies: CookieCodec, req: FastifyRequest, limiter?: LoginLimiter): Promise<Operator> {
  const basic = basicCredentials(req.headers.authorization);
  if (basic) {
    const [user, pass] = basic;
    if (user === '') return svc.users.loginApikey(pass);
    return passwordLogin(svc, req, user, pass, limiter);
  }
  const q = req.query as Record<string, unknown> | undefined;
  const key = q && typeof q.apikey === 'string' ? q.apikey : '';
  if (key !== '') return svc.users.loginApikey(key);
  const c = parseCookies(req.headers.cookie)[COOKIE_NAME];
  if (c) {
    const k = c ? cookies.decode(c) : undefined;
    // An empty key inside a cookie means nobody, never some meta device (rest-api §2).
    if (k) return svc.users.loginApikey(k);
  }
  return NOBODY;
}

/**
 * Whether the client reached us over https: the site's public URL says so, or a trusted proxy
 * (`trust_proxy`, which makes Fastify honour X-Forwarded-Proto) says so.
 */
export function isHttps(config: Config, req: FastifyRequest): boolean {
  return /^https:\/\//i.test(config.siteurl) || req.protocol === 'https';
}

/**
 * Sets (or, with value null, clears) the session cookie: the one place its attributes are chosen.
 * HttpOnly keeps it from scripts, SameSite=Lax from cross-site posts, Secure from plain http when
 * the site is served over https. `maxAge` undefined makes a browser-session cookie.
 */
export function setSessionCookie(reply: FastifyReply, req: FastifyRequest, config: Config, value: string | null, maxAge?: number): void {
  const age = value === null ? '; Max-Age=0' : maxAge === undefined ? '' : `; Max-Age=${maxAge}`;
  const secure = isHttps(config, req) ? '; Secure' : '';
  reply.header('set-cookie', `${COOKIE_NAME}=${value ?? ''}; Path=/${age}; HttpOnly; SameSite=Lax${secure}`);
}
