import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { datapointToJSON, type Datapoint } from '../pipescript';
import { API_HEADERS, sendError } from './errors';
import { CdbError } from '../errors';
import { PipeScriptError } from '../pipescript';

/** Bytes gathered before a write: few syscalls, flat memory. */
const FLUSH_AT = 64 * 1024;

const JSON_TYPE = 'application/json; charset=utf-8';

function sendEmpty(reply: FastifyReply): FastifyReply {
  return reply.headers(API_HEADERS).type(JSON_TYPE).send('[]');
}

function errorOf(e: unknown): { status: number; msg: string } {
  if (e instanceof CdbError) return { status: e.status, msg: e.message };
  if (e instanceof PipeScriptError) return { status: 500, msg: e.message };
  throw e;
}

/**
 * Writes an array of already-serialised rows, pulled batch by batch from the storage (one await
 * per batch, none per row). Nothing is materialised beyond one batch; an empty result is exactly
 * `[]` with a Content-Length (rest-api §1.4).
 */
export async function sendRowChunks(reply: FastifyReply, chunks: AsyncIterator<string[]>): Promise<FastifyReply> {
  let buf = '';
  let r = await chunks.next();
  // Small answers (the common 1,000-datapoint read) go out as one string with a length;
  // only answers past FLUSH_AT become a stream.
  for (; !r.done; r = await chunks.next()) {
    if (r.value.length === 0) continue;
    buf += (buf === '' ? '[' : ',') + r.value.join(',');
    if (buf.length >= FLUSH_AT) break;
  }
  if (buf === '') return sendEmpty(reply);
  if (r.done) return reply.headers(API_HEADERS).type(JSON_TYPE).send(buf + ']');
  const head = buf;
  async function* body(): AsyncGenerator<string> {
    yield head;
    let out = '';
    for (let n = await chunks.next(); !n.done; n = await chunks.next()) {
      if (n.value.length === 0) continue;
      out += ',' + n.value.join(',');
      if (out.length >= FLUSH_AT) {
        yield out;
        out = '';
      }
    }
    yield out + ']';
  }
  return reply.headers(API_HEADERS).type(JSON_TYPE).send(Readable.from(body(), { objectMode: false }));
}

/**
 * Writes datapoints produced lazily (transforms, merges, datasets). A failure on the first
 * datapoint is a 500 error body; a later failure ends the body where it stands, unclosed, as the
 * original did (pipescript §10.2) — clients already see invalid JSON there.
 */
export function sendDatapoints(reply: FastifyReply, it: Iterator<Datapoint>, toJSON: (dp: Datapoint) => string = stripO): FastifyReply {
  let buf: string;
  try {
    const first = it.next();
    if (first.done) return sendEmpty(reply);
    buf = '[' + toJSON(first.value);
  } catch (e) {
    const { status, msg } = errorOf(e);
    return sendError(reply, status, msg);
  }
  const log = reply.log;
  const cut = (e: unknown) =>
    log.warn({ err: e instanceof Error ? e.message : String(e) }, 'response cut short by an error after the first datapoint');
  // Gather up to FLUSH_AT first: small answers go out as one string with a length.
  try {
    for (let r = it.next(); ; r = it.next()) {
      if (r.done) return reply.headers(API_HEADERS).type(JSON_TYPE).send(buf + ']');
      buf += ',' + toJSON(r.value);
      if (buf.length >= FLUSH_AT) break;
    }
  } catch (e) {
    cut(e);
    return reply.headers(API_HEADERS).type(JSON_TYPE).send(buf);
  }
  const head = buf;
  function* body(): Generator<string> {
    yield head;
    let out = '';
    try {
      for (let r = it.next(); !r.done; r = it.next()) {
        out += ',' + toJSON(r.value);
        if (out.length >= FLUSH_AT) {
          yield out;
          out = '';
        }
      }
    } catch (e) {
      cut(e);
      yield out;
      return;
    }
    yield out + ']';
  }
  return reply.headers(API_HEADERS).type(JSON_TYPE).send(Readable.from(body(), { objectMode: false }));
}

/** Transformed, merged and dataset datapoints carry only t and d. */
export function stripO(dp: Datapoint): string {
  return datapointToJSON(dp.o === undefined ? dp : { t: dp.t, d: dp.d });
}
