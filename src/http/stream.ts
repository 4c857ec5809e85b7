import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { datapointToJSON, type Datapoint } from '../pipescript';
import { PAUSE } from '../pipescript/datapoint';
import { API_HEADERS, sendError } from './errors';
import { CdbError } from '../errors';
import { PipeScriptError } from '../pipescript';
import { ByteSink } from '../storage/chunks';

/** Bytes gathered before a write: few syscalls, flat memory. */
const FLUSH_AT = 64 * 1024;

/**
 * Between chunks the producer waits for the event loop's check phase, so other clients' requests
 * are read and answered while a big answer streams. Waiting on backpressure alone is not enough:
 * on a fast local socket every write completes at once and `drain` comes on process.nextTick,
 * which never lets I/O in (a 1,000,000-datapoint read held every other client for a second).
 */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A transform that drops most datapoints (`filter`, `if`) fills a chunk slowly: the producer also
 * yields when this much time went by since the last turn, whatever it has gathered.
 */
const SLICE_MS = 10;

/** Streams an async generator's strings or bytes; Readable.from pulls one only when the socket wants more. */
function streamOf(body: AsyncGenerator<string | Buffer>): Readable {
  return Readable.from(body, { objectMode: false });
}

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
export async function sendRowChunks(reply: FastifyReply, chunks: AsyncIterator<string[]> | Iterator<string[]>): Promise<FastifyReply> {
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
  const log = reply.log;
  async function* body(): AsyncGenerator<string> {
    yield head;
    let out = '';
    try {
      for (let n = await chunks.next(); !n.done; n = await chunks.next()) {
        if (n.value.length === 0) continue;
        out += ',' + n.value.join(',');
        if (out.length >= FLUSH_AT) {
          yield out;
          out = '';
          await nextTurn();
        }
      }
    } catch (e) {
      // Headers and part of the body are out: all that is left is to say so in the log and cut
      // the connection, so the client sees a broken transfer rather than a short, valid answer.
      log.error({ err: e instanceof Error ? e.message : String(e) }, 'streamed answer failed part way: connection cut');
      throw e;
    }
    yield out + ']';
  }
  return reply.headers(API_HEADERS).type(JSON_TYPE).send(streamOf(body()));
}

/**
 * Once an answer streams, bytes gathered per socket write. Bigger than FLUSH_AT: stored chunks
 * write their text as bytes quickly (a 10,000-datapoint read, ~330 KB, in about a millisecond),
 * so fewer writes and event-loop turns cost less; a turn is still given between writes, so a
 * failure part way (storage gone) still cuts an answer of a few hundred KB, as before.
 */
const WRITE_AT = 256 * 1024;
/** Answer buffers kept for reuse: a read's first WRITE_AT bytes are written into one of them. */
const POOL_BUFFER = WRITE_AT + 256 * 1024;
const POOL_MAX = 16;
const pool: Buffer[] = [];
const takeBuffer = (): Buffer => pool.pop() ?? Buffer.allocUnsafeSlow(POOL_BUFFER);
/** The first buffers of an answer go back to the pool once it finished; later ones (long streams) are left to the GC, so memory stays flat. */
const POOLED_PER_ANSWER = 2;

/**
 * sendRowChunks for engines that write the stored texts as bytes (DatapointStorage
 * readJoinedInto): the body is the same bytes sendRowChunks writes, built in one buffer instead of
 * a string per batch. An answer under FLUSH_AT goes out with a Content-Length, a longer one
 * streams, WRITE_AT at a time. The first two buffers come from a small pool and go back once the
 * response finished (its bytes are then with the operating system), never before.
 */
export async function sendJoinedBytes(reply: FastifyReply, start: (sink: ByteSink) => AsyncIterator<void>): Promise<FastifyReply> {
  const pooled = [takeBuffer()];
  const sink = new ByteSink(pooled[0]);
  const res = reply.raw;
  res.once('finish', () => {
    for (const b of pooled) if (pool.length < POOL_MAX) pool.push(b);
  });
  const chunks = start(sink);
  sink.byte(91); // [
  let r: IteratorResult<void>;
  for (;;) {
    const mark = sink.len;
    if (mark > 1) sink.byte(44); // ,
    r = await chunks.next();
    if (r.done) {
      sink.len = mark;
      break;
    }
    if (sink.len >= FLUSH_AT) break;
  }
  if (sink.len === 1) return sendEmpty(reply);
  if (r.done) {
    sink.byte(93); // ]
    return reply.headers(API_HEADERS).type(JSON_TYPE).send(sink.bytesView());
  }
  const log = reply.log;
  async function* body(): AsyncGenerator<Buffer> {
    try {
      for (;;) {
        if (sink.len >= WRITE_AT) {
          yield sink.bytesView();
          // The yielded bytes stay as they are until written: the next ones go to a new buffer
          // (the same sink, which the read holds).
          let next: Buffer;
          if (pooled.length < POOLED_PER_ANSWER) pooled.push((next = takeBuffer()));
          else next = Buffer.allocUnsafe(POOL_BUFFER);
          sink.restart(next);
          await nextTurn();
        }
        const mark = sink.len;
        sink.byte(44);
        const n = await chunks.next();
        if (n.done) {
          sink.len = mark;
          break;
        }
      }
    } catch (e) {
      log.error({ err: e instanceof Error ? e.message : String(e) }, 'streamed answer failed part way: connection cut');
      throw e;
    }
    sink.byte(93);
    yield sink.bytesView();
  }
  return reply.headers(API_HEADERS).type(JSON_TYPE).send(streamOf(body()));
}

/**
 * Writes datapoints produced lazily (transforms, merges, datasets). A failure on the first
 * datapoint is a 500 error body; a later failure ends the body where it stands, unclosed, as the
 * original did (pipescript §10.2) — clients already see invalid JSON there. A PAUSE from the
 * iterator (a read asked to pause, pipescript/datapoint.ts) gives the event loop a turn, before
 * the first datapoint as after it: a transform that outputs nothing for a long while holds no
 * other request up.
 */
export async function sendDatapoints(reply: FastifyReply, it: Iterator<Datapoint>, toJSON: (dp: Datapoint) => string = stripO): Promise<FastifyReply> {
  // A client gone while nothing was written yet: the rest of the work is for nobody, so the read
  // is closed and the (unread) answer ended at once.
  const gone = () => reply.raw.destroyed || reply.raw.socket?.destroyed === true;
  const abandon = () => {
    it.return?.();
    return sendEmpty(reply);
  };
  let buf: string;
  try {
    let first = it.next();
    while (!first.done && first.value === PAUSE) {
      await nextTurn();
      if (gone()) return abandon();
      first = it.next();
    }
    if (first.done) return sendEmpty(reply);
    buf = '[' + toJSON(first.value);
  } catch (e) {
    const { status, msg } = errorOf(e);
    return sendError(reply, status, msg);
  }
  const log = reply.log;
  const cut = (e: unknown) =>
    log.error({ err: e instanceof Error ? e.message : String(e) }, 'streamed answer cut short by an error after the first datapoint');
  // Gather up to FLUSH_AT first: small answers go out as one string with a length.
  const t0 = performance.now();
  let n = 0;
  try {
    for (let r = it.next(); ; r = it.next()) {
      if (r.done) return reply.headers(API_HEADERS).type(JSON_TYPE).send(buf + ']');
      if (r.value === PAUSE) {
        await nextTurn();
        if (gone()) return abandon();
        continue;
      }
      buf += ',' + toJSON(r.value);
      if (buf.length >= FLUSH_AT || ((++n & 255) === 0 && performance.now() - t0 > SLICE_MS)) break;
    }
  } catch (e) {
    cut(e);
    return reply.headers(API_HEADERS).type(JSON_TYPE).send(buf);
  }
  const head = buf;
  async function* body(): AsyncGenerator<string> {
    yield head;
    let out = '';
    let since = performance.now();
    n = 0;
    try {
      for (let r = it.next(); !r.done; r = it.next()) {
        if (r.value === PAUSE) {
          await nextTurn();
          // A client that went away while nothing was written is noticed here, not at a write.
          if (gone()) {
            it.return?.();
            return;
          }
          since = performance.now();
          continue;
        }
        out += ',' + toJSON(r.value);
        if (out.length >= FLUSH_AT || ((++n & 255) === 0 && performance.now() - since > SLICE_MS)) {
          if (out !== '') yield out;
          out = '';
          await nextTurn();
          since = performance.now();
        }
      }
    } catch (e) {
      cut(e);
      yield out;
      return;
    }
    yield out + ']';
  }
  return reply.headers(API_HEADERS).type(JSON_TYPE).send(streamOf(body()));
}

/** Transformed, merged and dataset datapoints carry only t and d. */
export function stripO(dp: Datapoint): string {
  return datapointToJSON(dp.o === undefined ? dp : { t: dp.t, d: dp.d });
}
