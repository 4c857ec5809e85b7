/**
 * Answers for requests that fail below the router: framing errors from Node's HTTP parser, and
 * the rest of a body too large to read.
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { errorBody } from './errors';

/** What the parser's error codes mean, in words a person can act on. */
const PARSER_ERRORS: Record<string, [number, string]> = {
  HPE_UNEXPECTED_CONTENT_LENGTH: [400, 'The request has both a Content-Length and Transfer-Encoding: chunked; send only one'],
  HPE_INVALID_CONTENT_LENGTH: [400, 'The request has an invalid Content-Length header'],
  HPE_INVALID_TRANSFER_ENCODING: [400, 'The request has an invalid Transfer-Encoding header, or one together with a Content-Length; send only one'],
  HPE_INVALID_CHUNK_SIZE: [400, 'The request body has an invalid chunk size'],
  HPE_HEADER_OVERFLOW: [431, 'The request headers are too large'],
  HPE_INVALID_METHOD: [400, 'The request method is not valid HTTP'],
  HPE_INVALID_HEADER_TOKEN: [400, 'The request has an invalid header'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'The request took too long to arrive'],
  ERR_HTTP_HEADERS_TIMEOUT: [408, 'The request headers took too long to arrive'],
};

/**
 * Fastify's `clientErrorHandler`: the ConnectorDB error body instead of Fastify's own, then the
 * connection is closed (the parser cannot find the next request after a framing error).
 */
export function clientErrorHandler(this: { log?: FastifyBaseLogger } | undefined, err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [code, msg] = PARSER_ERRORS[err.code ?? ''] ?? [400, `The request is not valid HTTP (${err.code ?? err.message})`];
  const body = errorBody(code, msg);
  this?.log?.info({ code, err: err.code }, msg);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${code} ${STATUS_CODES[code]}\r\nContent-Type: application/json; charset=utf-8\r\nCache-Control: no-store, must-revalidate\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

/** After a 413, the rest of the body read and thrown away: at most this much, for at most this long. */
export const DRAIN_MAX_BYTES = 64 * 1024 * 1024;
export const DRAIN_MAX_MS = 10_000;

/**
 * Closing right after the 413 while the client is still sending makes the kernel reset the
 * connection, and clients that send the whole body before reading (Python's `requests`) see a
 * BrokenPipeError instead of the answer. So the answer goes out, our side is half-closed, and
 * the rest of the body is read and discarded until it ends or a bound is reached.
 */
export function drainRequest(req: IncomingMessage, maxBytes = DRAIN_MAX_BYTES, maxMs = DRAIN_MAX_MS): void {
  if (req.complete) return;
  const socket = req.socket as Socket & { destroySoon?: () => void };
  let seen = 0;
  const done = () => {
    clearTimeout(timer);
    socket.destroy();
  };
  const timer = setTimeout(done, maxMs);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > maxBytes) done();
  });
  req.once('end', done);
  req.once('error', done);
  socket.once('close', () => clearTimeout(timer));
  // Node ends a `Connection: close` response with destroySoon(), which resets a socket that still
  // has unread data: end our side only, and keep reading until done().
  socket.destroySoon = () => {
    socket.end();
  };
}
