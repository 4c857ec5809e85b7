import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config';
import type { Services } from '../domain';
import type { Operator } from '../domain/types';
import { BadRequestError, CdbError, UnauthorizedError } from '../errors';
import { type CookieCodec, authenticate } from './auth';
import { API_HEADERS, errorHandler, sendError } from './errors';
import { nameSanitary } from '../domain/validation';

/** What the JSON parser hands routes: a value, nothing (empty body), or the parse failure. */
export class BadJson {
  constructor(readonly message: string) {}
}

export const MAX_JSON_DEPTH = 1000;

/** True when valid JSON text nests arrays/objects deeper than max (strings skipped). */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      // skip a string, honouring escapes
      for (i++; i < text.length; i++) {
        const k = text.charCodeAt(i);
        if (k === 92) i++;
        else if (k === 34) break;
      }
    } else if (c === 91 || c === 123) {
      if (++depth > max) return true;
    } else if (c === 93 || c === 125) depth--;
  }
  return false;
}

export type Handler = (req: FastifyRequest, reply: FastifyReply, op: Operator) => unknown;

export interface HttpContext {
  svc: Services;
  config: Config;
  cookies: CookieCodec;
  /** false while disabled by config or shutting down: authenticated routes answer 503. */
  state: { enabled: boolean };
  /** Wraps an authenticated API handler. */
  api(h: Handler): (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function makeContext(svc: Services, config: Config, cookies: CookieCodec): HttpContext {
  const state = { enabled: config.frontend_enabled };
  return {
    svc,
    config,
    cookies,
    state,
    api(h) {
      return async (req, reply) => {
        if (!state.enabled) {
          return reply.code(503).send('{"code": 503, "msg": "ConnectorDB is currently inactive", "ref": "DISABLED"}');
        }
        let op: Operator;
        try {
          op = await authenticate(svc, cookies, req);
        } catch (e) {
          if (e instanceof UnauthorizedError) {
            if (config.failed_login_delay > 0) await sleep(config.failed_login_delay);
            return sendError(reply, 401, e.message);
          }
          throw e;
        }
        req.operator = op.name;
        try {
          return await h(req, reply, op);
        } catch (e) {
          if (e instanceof CdbError || e instanceof Error) return errorHandler(e, req, reply);
          throw e;
        }
      };
    },
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who acted, for the request log line. */
    operator?: string;
  }
}

/** The body for create/insert/query routes: must be present and valid JSON. */
export function requireBody(req: FastifyRequest): unknown {
  const b = req.body;
  if (b instanceof BadJson) throw new BadRequestError(b.message);
  if (b === undefined) throw new BadRequestError('unexpected end of JSON input');
  return b;
}

/** The body of an update: malformed JSON is a 400 (rest-api §12), empty means no changes. */
export function updateBody(req: FastifyRequest): Record<string, unknown> {
  const b = req.body;
  if (b instanceof BadJson) throw new BadRequestError(b.message);
  if (b === undefined || b === null) return {};
  if (typeof b !== 'object' || Array.isArray(b)) throw new BadRequestError('The update must be a JSON object of fields to change');
  return b as Record<string, unknown>;
}

export function checkNames(...names: string[]): void {
  for (const n of names) if (!nameSanitary(n)) throw new BadRequestError('The given name did not pass sanitation.');
}

/** `v` may not be a Promise: a forgotten `await` would send `{}`. */
export function sendJSON<T>(reply: FastifyReply, v: T extends PromiseLike<unknown> ? never : T): FastifyReply {
  return reply.headers(API_HEADERS).type('application/json; charset=utf-8').send(JSON.stringify(v));
}

export function sendText(reply: FastifyReply, text: string, cache = true): FastifyReply {
  if (cache) reply.headers(API_HEADERS);
  return reply.type('text/plain; charset=utf-8').send(text);
}

export type Register = (app: FastifyInstance, ctx: HttpContext) => void;
