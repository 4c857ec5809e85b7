import { randomUUID } from 'node:crypto';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { CdbError } from '../errors';
import { PipeScriptError } from '../pipescript';
import { drainRequest } from './framing';
import { StorageRefused } from '../storage/errors';
import { storageFailureKind } from '../storage/integrity';

export const API_HEADERS = { 'cache-control': 'no-store, must-revalidate' };

/** The one place errors become ConnectorDB's `{code,msg,ref}` body (rest-api §1.5). */
export function errorBody(code: number, msg: string, ref: string = randomUUID()): string {
  return JSON.stringify({ code, msg, ref });
}

/** A top-level browser navigation: Accept names text/html (fetch and API clients send JSON or any type). */
const wantsPage = (accept: string | undefined): boolean => accept !== undefined && accept.includes('text/html');

export function sendError(reply: FastifyReply, code: number, msg: string): FastifyReply {
  const ref = randomUUID();
  // The ref is logged with the message so an operator can find what a user reports.
  if (code >= 500) reply.log.error({ ref, code }, msg);
  else reply.log.info({ ref, code }, msg);
  // A person who opens an API address in the browser tab itself gets the browser's login box; the
  // web app's and other clients' requests (no text/html in Accept) never do.
  if (code === 401 && wantsPage(reply.request.headers.accept)) reply.header('www-authenticate', 'Basic realm="ConnectorDB", charset="UTF-8"');
  return reply
    .code(code)
    .headers(API_HEADERS)
    .type('application/json; charset=utf-8')
    .send(errorBody(code, msg, ref));
}

/** 507 Insufficient Storage: nothing of the request was stored (each write is one transaction). */
export const DISK_FULL = "The server's disk is full: nothing of this request was stored. Free some space on the server (or raise its quota), then send it again";
export const UNAVAILABLE = 'The database does not answer at the moment: try again shortly';
export const DAMAGED = 'The database file is damaged: the server operator must restore it from a backup (see the server log)';

/** Fastify's own error codes mapped to statuses and messages a person understands. */
export function errorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err instanceof CdbError) return sendError(reply, err.status, err.message);
  if (err instanceof PipeScriptError) return sendError(reply, (err as PipeScriptError).kind === 'parse' ? 403 : 500, err.message);
  const fe = err as FastifyError;
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    drainRequest(req.raw);
    return sendError(reply, 413, `The request body is larger than the limit of ${req.routeOptions.bodyLimit ?? 'the configured'} bytes`);
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return sendError(reply, fe.statusCode, fe.message);
  }
  if (err instanceof StorageRefused) return sendError(reply, 403, err.message);
  const storage = storageFailureKind(err);
  if (storage === 'full') {
    req.log.error({ err: err.message }, 'the disk is full: a write was refused');
    return sendError(reply, 507, DISK_FULL);
  }
  if (storage === 'unavailable') {
    req.log.error({ err: err.message }, 'the database does not answer: a request was refused');
    reply.header('retry-after', '5');
    return sendError(reply, 503, UNAVAILABLE);
  }
  if (storage === 'damaged') {
    req.log.error({ err: err.message }, 'the database file is damaged');
    return sendError(reply, 500, DAMAGED);
  }
  req.log.error({ err }, 'unhandled error');
  return sendError(reply, 500, 'Internal server error');
}
