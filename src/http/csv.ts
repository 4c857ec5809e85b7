import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { type Datapoint, PAUSE } from '../pipescript/datapoint';
import { BadRequestError, CdbError, PayloadTooLargeError } from '../errors';
import { PipeScriptError } from '../pipescript';
import { API_HEADERS, sendError } from './errors';

/*
 * CSV in both directions (issue 14). Output is written here rather than with csv-stringify: rows are
 * numbers and ISO times that never need quoting, so a per-cell check and string concatenation into
 * 64 KiB writes is all RFC 4180 asks and several times faster than a record-object stringifier.
 * Input goes through csv-parse (streamed), where quoting, embedded newlines and BOMs are real work.
 */

const FLUSH_AT = 64 * 1024;
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const CSV_TYPE = 'text/csv; charset=utf-8';

/** Datapoints whose values are scanned for object fields before the header is written. */
export const CSV_SAMPLE = 2000;

/** The value columns after `time,t`: `d` for plain values, `d.<field>` per object field. */
export interface CsvColumns {
  plain: boolean;
  fields: string[];
}

/** RFC 4180: quote cells holding a separator, quote or line break (and keep edge spaces). */
export function csvCell(s: string): string {
  if (s === '') return s;
  if (/[",\r\n]/.test(s) || s.charCodeAt(0) === 32 || s.charCodeAt(s.length - 1) === 32) return '"' + s.replace(/"/g, '""') + '"';
  return s;
}

function valueCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string') return csvCell(v);
  return csvCell(JSON.stringify(v));
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Seconds → ISO 8601 in UTC with milliseconds (the seconds column keeps full precision). */
export function isoTime(t: number): string {
  const d = new Date(Math.round(t * 1000));
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

/** Adds the fields of a value to the columns (first-seen order). */
export function addColumns(cols: CsvColumns, seen: Set<string>, d: unknown): void {
  if (isObj(d)) {
    for (const k of Object.keys(d)) {
      if (!seen.has(k)) {
        seen.add(k);
        cols.fields.push(k);
      }
    }
  } else if (d !== null && d !== undefined) cols.plain = true;
}

function header(cols: CsvColumns): string {
  let h = 'time,t';
  if (cols.plain || cols.fields.length === 0) h += ',d';
  for (const f of cols.fields) h += ',' + csvCell('d.' + f);
  return h + '\r\n';
}

function row(cols: CsvColumns, dp: Datapoint): string {
  let s = isoTime(dp.t) + ',' + String(dp.t);
  const d = dp.d;
  if (cols.plain || cols.fields.length === 0) s += ',' + (isObj(d) && cols.fields.length > 0 ? '' : valueCell(d));
  if (cols.fields.length > 0) {
    const o = isObj(d) ? d : undefined;
    for (const f of cols.fields) s += ',' + (o ? valueCell(o[f]) : '');
  }
  return s + '\r\n';
}

/**
 * Streams datapoints as CSV: `time` (ISO 8601), `t` (seconds), then the value columns. `head`
 * holds datapoints already pulled (the column sample) and is written first. An error before the
 * first byte is an error body; a later one ends the file where it stands, logged, like the JSON reads.
 */
export function sendCsv(reply: FastifyReply, cols: CsvColumns, head: Datapoint[], it: Iterator<Datapoint>, filename: string): FastifyReply {
  let buf = header(cols);
  for (const dp of head) buf += row(cols, dp);
  reply.headers(API_HEADERS).type(CSV_TYPE).header('content-disposition', `attachment; filename="${filename.replace(/["\\\r\n]/g, '_')}"`);
  const log = reply.log;
  // A turn after every write and on every PAUSE (a read that found nothing to write for a while):
  // see nextTurn in stream.ts for why backpressure alone does not let other clients in.
  async function* body(): AsyncGenerator<string> {
    let out = buf;
    try {
      for (let r = it.next(); !r.done; r = it.next()) {
        if (r.value === PAUSE) {
          await nextTurn();
          continue;
        }
        out += row(cols, r.value);
        if (out.length >= FLUSH_AT) {
          yield out;
          out = '';
          await nextTurn();
        }
      }
    } catch (e) {
      log.warn({ err: e instanceof Error ? e.message : String(e) }, 'CSV response cut short by an error');
    }
    yield out;
  }
  return reply.send(Readable.from(body(), { objectMode: false }));
}

/**
 * Adds the fields of every remaining value to the columns, giving the event loop a turn every
 * CSV_SAMPLE datapoints: object streams are scanned once so no field is left out of the header.
 */
export async function scanColumns(cols: CsvColumns, seen: Set<string>, it: Iterator<Datapoint>): Promise<void> {
  let k = 0;
  for (let r = it.next(); !r.done; r = it.next()) {
    if (r.value === PAUSE) {
      await nextTurn();
      continue;
    }
    addColumns(cols, seen, r.value.d);
    if (++k % CSV_SAMPLE === 0) await new Promise((res) => setImmediate(res));
  }
}

/** Pulls up to n datapoints, with a turn on every PAUSE; errors on the first pull become the route's error answer. */
export async function pull(it: Iterator<Datapoint>, n: number): Promise<Datapoint[]> {
  const out: Datapoint[] = [];
  while (out.length < n) {
    const r = it.next();
    if (r.done) break;
    if (r.value === PAUSE) await nextTurn();
    else out.push(r.value);
  }
  return out;
}

/** The original's status for an error raised while producing data (a transform at run time: 500). */
export function sendProduceError(reply: FastifyReply, e: unknown): FastifyReply {
  if (e instanceof CdbError) return sendError(reply, e.status, e.message);
  if (e instanceof PipeScriptError) return sendError(reply, e.kind === 'parse' ? 403 : 500, e.message);
  throw e;
}

// ---- upload -------------------------------------------------------------------------------------

/** How a cell of a column becomes a JSON value, from the stream schema's `type` for it. */
export type CellType = 'number' | 'integer' | 'string' | 'boolean' | 'any';

export interface CsvUpload {
  points: Datapoint[];
  /** The file line each datapoint started on (1 = the header). */
  lines: number[];
}

const SECONDS = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const ISO = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2})(?::(\d{2})(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/** A timestamp cell: seconds since 1970, or ISO 8601 (UTC when it has no offset). NaN when neither. */
export function parseTime(s: string): number {
  if (SECONDS.test(s)) return Number(s);
  const m = ISO.exec(s);
  if (!m) return NaN;
  const zone = m[5] === undefined ? 'Z' : m[5].toUpperCase() === 'Z' ? 'Z' : m[5].length === 5 ? `${m[5].slice(0, 3)}:${m[5].slice(3)}` : m[5];
  const ms = Date.parse(`${m[1]}T${m[2] ?? '00:00'}:${m[3] ?? '00'}${zone}`);
  if (Number.isNaN(ms)) return NaN;
  // Fractions kept exactly in the seconds (Date would cut them to milliseconds).
  return ms / 1000 + (m[4] ? Number(m[4]) : 0);
}

function cellValue(s: string, type: CellType, line: number, col: string): unknown {
  switch (type) {
    case 'string':
      return s;
    case 'number':
    case 'integer': {
      const n = s.trim() === '' ? NaN : Number(s);
      if (!Number.isFinite(n)) throw new BadRequestError(`line ${line}: column "${col}" must be a number, not ${JSON.stringify(s.slice(0, 60))}`);
      return n;
    }
    case 'boolean':
      if (s === 'true' || s === '1') return true;
      if (s === 'false' || s === '0') return false;
      throw new BadRequestError(`line ${line}: column "${col}" must be true or false, not ${JSON.stringify(s.slice(0, 60))}`);
    default:
      // Untyped: JSON where the cell is JSON (numbers, booleans, null, objects, arrays), else text.
      try {
        return JSON.parse(s);
      } catch {
        return s;
      }
  }
}

/** The `type` a JSON schema gives a value, when it gives exactly one of the scalar types. */
function typeOf(schema: unknown): CellType {
  if (!isObj(schema)) return 'any';
  const t = schema.type;
  return t === 'number' || t === 'integer' || t === 'string' || t === 'boolean' ? t : 'any';
}

/** Cell types for `d` and each `d.<field>` from a stream's schema text. */
export function cellTypes(schemaText: string): { d: CellType; field: (name: string) => CellType } {
  let schema: unknown;
  try {
    schema = JSON.parse(schemaText);
  } catch {
    schema = {};
  }
  const props = isObj(schema) && isObj(schema.properties) ? schema.properties : {};
  return { d: typeOf(schema), field: (name) => typeOf(props[name]) };
}

/**
 * Parses an uploaded CSV stream into datapoints without holding the file: a header row with a
 * time column (`t`, or `time` when there is no `t`) and either `d` or `d.<field>` columns. Every
 * problem is a 400 naming the line. Bytes past `limit` are a 413.
 */
export async function parseCsvUpload(input: NodeJS.ReadableStream, limit: number, types: ReturnType<typeof cellTypes>): Promise<CsvUpload> {
  const { parse } = await import('csv-parse');
  const parser = parse({ bom: true, skip_empty_lines: true, info: true, relax_column_count: false });
  let bytes = 0;
  let tooLarge = false;
  const feed = (chunk: Buffer | string) => {
    bytes += chunk.length;
    if (bytes > limit) {
      tooLarge = true;
      parser.destroy(new PayloadTooLargeError(`The CSV file is larger than the limit of ${limit} bytes`));
      return;
    }
    if (!parser.write(chunk)) {
      input.pause();
      parser.once('drain', () => input.resume());
    }
  };
  input.on('data', feed);
  let ended = false;
  input.once('end', () => {
    ended = true;
    parser.end();
  });
  input.once('error', (e) => parser.destroy(e));
  // A client that goes away mid-upload must not leave the parse waiting forever.
  input.once('close', () => {
    if (!ended) parser.destroy(new BadRequestError('The upload ended before the end of the file'));
  });

  const points: Datapoint[] = [];
  const lines: number[] = [];
  let tcol = -1;
  let dcol = -1;
  let fields: { i: number; name: string; type: CellType }[] = [];
  let first = true;
  try {
    for await (const rec of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const r = rec.record;
      const line = rec.info.lines;
      if (first) {
        first = false;
        const names = r.map((c) => c.trim());
        tcol = names.indexOf('t');
        if (tcol < 0) tcol = names.indexOf('time');
        dcol = names.indexOf('d');
        fields = names.flatMap((n, i) => (n.startsWith('d.') && n.length > 2 ? [{ i, name: n.slice(2), type: types.field(n.slice(2)) }] : []));
        if (tcol < 0) throw new BadRequestError(`line ${line}: the header row needs a time column "t" (seconds or ISO 8601) or "time"`);
        if (dcol < 0 && fields.length === 0) throw new BadRequestError(`line ${line}: the header row needs a value column "d" or "d.<field>" columns`);
        if (dcol >= 0 && fields.length > 0) throw new BadRequestError(`line ${line}: the header row has both "d" and "d.<field>" columns; use one form`);
        continue;
      }
      const tc = r[tcol].trim();
      // An empty time is "now", as a missing t in a JSON insert.
      const t = tc === '' ? 0 : parseTime(tc);
      if (!Number.isFinite(t) || t < 0) {
        throw new BadRequestError(`line ${line}: the time ${JSON.stringify(tc.slice(0, 60))} is neither seconds since 1970 nor ISO 8601`);
      }
      let d: unknown;
      if (dcol >= 0) {
        const c = r[dcol];
        d = c === '' ? null : cellValue(c, types.d, line, 'd');
      } else {
        const o: Record<string, unknown> = {};
        for (const f of fields) {
          const c = r[f.i];
          if (c !== '') o[f.name] = cellValue(c, f.type, line, 'd.' + f.name);
        }
        d = o;
      }
      points.push({ t, d });
      lines.push(line);
    }
  } catch (e) {
    input.removeListener('data', feed);
    // Let the rest of the body arrive (and be dropped) so the client reads the answer.
    input.resume();
    if (tooLarge) throw new PayloadTooLargeError(`The CSV file is larger than the limit of ${limit} bytes`);
    if (e instanceof CdbError) throw e;
    const err = e as { code?: string; lines?: number; message?: string };
    if (typeof err.code === 'string' && err.code.startsWith('CSV_')) {
      throw new BadRequestError(`line ${err.lines ?? '?'}: ${(err.message ?? 'invalid CSV').replace(/^Invalid (Record Length|Opening Quote|Closing Quote):\s*/, '')}`);
    }
    throw e;
  }
  if (first) throw new BadRequestError('The CSV file is empty: it needs a header row, e.g. "t,d"');
  return { points, lines };
}
