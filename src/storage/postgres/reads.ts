/**
 * Datapoint reads of the PostgreSQL engine as query PLANS, so one piece of logic serves both the
 * asynchronous engine (data.ts, over `pg`) and a synchronous driver (sync.ts, which runs SQL in a
 * worker thread and blocks on it).
 *
 * The plan API
 * - A plan is a generator. Each time it needs rows it yields a `Query` ({ text, values }: one
 *   parameterised statement, `$1`… placeholders) and expects the statement's rows (`Row[]`, the
 *   `rows` of a pg result) back as the value of that `yield`. It never awaits anything itself and
 *   keeps no statement open between yields, so whoever drives it decides how the SQL runs.
 * - Value plans (`Plan<T>`) finish by returning their answer: `lengthPlan`, `layoutPlan`,
 *   `time2indexPlan`, `readPlan` (wire strings of [i1, i2)).
 * - The streaming plan `piecesPlan` (Generator<Query | ChunkPiece, void, Row[] | undefined>) also
 *   yields its output, `ChunkPiece`s ([from, to) of one decoded chunk; tail rows come dressed as a
 *   chunk, `TailChunk`), one chunk at a time, after fetching a few chunks per statement. For a
 *   piece the driver passes `undefined` back (tell them apart with `isQuery`). Asked to
 *   (`sendAhead`), it yields the next statement early marked `ahead`, so it can run while the
 *   consumer works (see Query); a driver that ignores the mark and answers with rows at once is
 *   correct too. Memory stays
 *   flat: at most two statements' compressed chunks (2 × FETCH) and one decoded chunk.
 * - Drivers: `runPlan(q, plan)` / `runPieces(q, plan)` (async, over any Queryable), and
 *   `runPlanSync(exec, plan)` / `runPiecesSync(exec, plan)` for a synchronous `exec(query) → rows`.
 * - Rows may come from a driver that parses int8 as strings and bytea as Uint8Array (a worker
 *   thread's structured clone turns Buffers into Uint8Arrays): plans convert with Number() and
 *   accept any Uint8Array.
 * - Consistency: READ COMMITTED, statement by statement, like the SQLite engine's reads between
 *   yields. A seal that moves tail rows into a chunk while a read streams is noticed (the layout is
 *   read again), so a streaming read never misses datapoints.
 */
import { decodeChunk, firstAfter } from '../chunks';
import { CHUNK_POINTS, type Layout, TailChunk } from '../chunks/layout';
import type { ChunkPiece, StoredPoint, Sub } from '../types';
import type { Queryable, Row } from './db';
/** The chunk layout of both engines (storage/chunks/layout.ts), so both store alike. */
/** Same sealing thresholds as the SQLite engine (storage/sqlite/chunked.ts), so both store alike. */
export { CHUNK_BYTES, CHUNK_POINTS, TailChunk, cuts, type Layout } from '../chunks/layout';
/** Chunks fetched per statement while streaming. */
export const FETCH = 16;

export interface Query {
  text: string;
  values: unknown[];
  /**
   * Sent ahead: the plan will need these rows a little later. A driver may answer at once with the
   * rows (a synchronous driver does), or start the statement, answer `undefined`, and answer with
   * its rows when the plan yields this same object again (then no longer marked).
   */
  ahead?: true;
}

export type Plan<T> = Generator<Query, T, Row[]>;
export type PiecePlan = Generator<Query | ChunkPiece, void, Row[] | undefined>;

export const isQuery = (v: Query | ChunkPiece): v is Query => 'text' in v;


export const EMPTY_LAYOUT: Readonly<Layout> = { length: 0, last_t: 0, bytes: 0, base: 0, sealed: 0, tail_bytes: 0 };

export function toLayout(r: Row): Layout {
  return {
    length: Number(r.length),
    last_t: Number(r.last_t),
    bytes: Number(r.bytes),
    base: Number(r.base),
    sealed: Number(r.sealed),
    tail_bytes: Number(r.tail_bytes),
  };
}



const toBytes = (v: unknown): Uint8Array => v as Uint8Array;

const LAYOUT_SQL = 'SELECT length, last_t, bytes, base, sealed, tail_bytes FROM substreams WHERE stream_id = $1 AND sub = $2';

export function* layoutPlan(streamId: number, sub: Sub): Plan<Layout | undefined> {
  const rows = yield { text: LAYOUT_SQL, values: [streamId, sub] };
  return rows.length ? toLayout(rows[0]) : undefined;
}

export function* lengthPlan(streamId: number, sub: Sub): Plan<number> {
  const rows = yield { text: 'SELECT length FROM substreams WHERE stream_id = $1 AND sub = $2', values: [streamId, sub] };
  return rows.length ? Number(rows[0].length) : 0;
}

/**
 * Index of the first datapoint with t strictly greater than `t` (the length when none), in one
 * statement: the first chunk whose last timestamp is past t (chunks_t), its blob only when t falls
 * inside it; past every chunk, the first tail row past t (the tail is at most one chunk of rows).
 * Then a binary search inside the decoded chunk.
 */
export function* time2indexPlan(streamId: number, sub: Sub, t: number): Plan<number> {
  const rows = yield {
    text: `SELECT s.base, s.length, c.i1, CASE WHEN c.t1 > $3 THEN NULL ELSE c.data END AS data,
                  CASE WHEN c.i1 IS NULL THEN
                    (SELECT min(d.idx) FROM datapoints d WHERE d.stream_id = $1 AND d.sub = $2 AND d.idx >= s.sealed AND d.t > $3)
                  END AS tail
             FROM substreams s
             LEFT JOIN LATERAL (SELECT i1, t1, data FROM chunks WHERE stream_id = $1 AND sub = $2 AND t2 > $3 ORDER BY t2, i1 LIMIT 1) c ON true
            WHERE s.stream_id = $1 AND s.sub = $2`,
    values: [streamId, sub, t],
  };
  if (rows.length === 0) return 0;
  const r = rows[0];
  const base = Number(r.base);
  if (r.i1 !== null && r.i1 !== undefined) {
    const i1 = Number(r.i1);
    if (r.data === null || r.data === undefined) return i1 - base;
    return i1 + firstAfter(decodeChunk(toBytes(r.data)).times, t) - base;
  }
  if (r.tail !== null && r.tail !== undefined) return Number(r.tail) - base;
  return Number(r.length);
}

/** Chunks from the one holding physical index $3 up to (not including) physical $4, at most $5. */
const CHUNKS_SQL = `SELECT i1, i2, data FROM chunks
  WHERE stream_id = $1 AND sub = $2
    AND i1 >= coalesce((SELECT max(i1) FROM chunks WHERE stream_id = $1 AND sub = $2 AND i1 <= $3), $3)
    AND i1 < $4
  ORDER BY i1 LIMIT $5`;
const TAIL_SQL = 'SELECT t, j FROM datapoints WHERE stream_id = $1 AND sub = $2 AND idx >= $3 AND idx < $4 ORDER BY idx';

/**
 * The first statement of a read: the layout (k = 0) and, on whichever side of the seal logical
 * $3 falls, the first chunks (k = 1) or the first tail rows (k = 2), so a short read is one round
 * trip. $4 is the logical end, $5 the chunks wanted.
 */
const FIRST_SQL = `WITH s AS (
    SELECT length, last_t, bytes, base, sealed, tail_bytes, base + $3::int8 AS p, base + least($4::int8, length) AS pe
      FROM substreams WHERE stream_id = $1 AND sub = $2)
  SELECT 0 AS k, length, last_t, bytes, base, sealed, tail_bytes, NULL::int8 AS i1, NULL::int8 AS i2, NULL::bytea AS data, NULL::float8 AS t, NULL::text AS j FROM s
  UNION ALL
  SELECT 1, NULL, NULL, NULL, NULL, NULL, NULL, c.i1, c.i2, c.data, NULL, NULL FROM s CROSS JOIN LATERAL (
    SELECT i1, i2, data FROM chunks
     WHERE s.p < s.sealed AND s.p < s.pe AND stream_id = $1 AND sub = $2
       AND i1 >= coalesce((SELECT max(i1) FROM chunks WHERE stream_id = $1 AND sub = $2 AND i1 <= s.p), s.p) AND i1 < s.pe
     ORDER BY i1 LIMIT $5) c
  UNION ALL
  SELECT 2, NULL, NULL, NULL, NULL, NULL, NULL, d.idx, NULL, NULL, d.t, d.j FROM s CROSS JOIN LATERAL (
    SELECT idx, t, j FROM datapoints
     WHERE s.p >= s.sealed AND stream_id = $1 AND sub = $2 AND idx >= s.p AND idx < least(s.pe, s.p + ${CHUNK_POINTS})
     ORDER BY idx) d
  ORDER BY k, i1`;

const tailPoints = (rows: readonly Row[]): StoredPoint[] => {
  const pts: StoredPoint[] = new Array(rows.length);
  for (let k = 0; k < rows.length; k++) pts[k] = { t: Number(rows[k].t), j: rows[k].j as string };
  return pts;
};

/**
 * Logical [i1, i2) as pieces, a chunk at a time (see the plan API above). With `sendAhead`, the
 * next chunk statement is yielded early, marked `ahead` (see Query), so it can run while the
 * consumer takes this statement's chunks; without (the default), each statement is yielded when
 * its rows are needed, after the previous statement's pieces, and a driver may read ahead itself.
 */
export function* piecesPlan(streamId: number, sub: Sub, i1: number, i2: number, fetch = FETCH, sendAhead = false): PiecePlan {
  if (i2 <= i1) return;
  const first = (yield { text: FIRST_SQL, values: [streamId, sub, i1, i2, fetch] }) as Row[];
  if (first.length === 0 || Number(first[0].k) !== 0) return;
  let s = toLayout(first[0]);
  let p = s.base + i1;
  const pEnd = s.base + Math.min(i2, s.length);
  let chunkRows: Row[] | undefined;
  let tailRows: Row[] | undefined;
  if (p < s.sealed) chunkRows = first.filter((r) => Number(r.k) === 1);
  else tailRows = first.filter((r) => Number(r.k) === 2);
  let ahead: Query | undefined;
  while (p < pEnd) {
    if (p < s.sealed) {
      let rows = chunkRows;
      chunkRows = undefined;
      if (!rows) {
        if (ahead && ahead.values[2] === p) {
          // Taking the statement sent ahead: the same object, no longer marked.
          delete ahead.ahead;
          rows = (yield ahead) as Row[];
        } else rows = (yield { text: CHUNKS_SQL, values: [streamId, sub, p, pEnd, fetch] }) as Row[];
        ahead = undefined;
      }
      if (rows.length === 0) return;
      const next = Number(rows[rows.length - 1].i2) + 1;
      if (sendAhead && rows.length === fetch && next < pEnd && next < s.sealed) {
        const q: Query = { text: CHUNKS_SQL, values: [streamId, sub, next, pEnd, fetch], ahead: true };
        const got = (yield q) as Row[] | undefined;
        if (got) chunkRows = got;
        else ahead = q;
      }
      for (const r of rows) {
        const c1 = Number(r.i1);
        const count = Number(r.i2) - c1 + 1;
        const from = Math.max(0, p - c1);
        const to = Math.min(count, pEnd - c1);
        if (to > from) yield { chunk: decodeChunk(toBytes(r.data)), from, to };
        if (c1 + to > p) p = c1 + to;
      }
      continue;
    }
    const want = Math.min(pEnd, p + CHUNK_POINTS) - p;
    let rows = tailRows;
    tailRows = undefined;
    rows ??= (yield { text: TAIL_SQL, values: [streamId, sub, p, p + want] }) as Row[];
    if (rows.length > 0) {
      const pts = tailPoints(rows);
      yield { chunk: new TailChunk(pts), from: 0, to: pts.length };
      p += rows.length;
    }
    if (rows.length < want) {
      // Fewer rows than expected: a seal moved them into a chunk meanwhile, or they were deleted.
      const before = s.sealed;
      const again = (yield { text: LAYOUT_SQL, values: [streamId, sub] }) as Row[];
      if (again.length === 0) return;
      s = toLayout(again[0]);
      if (s.sealed === before) return;
    }
  }
}

/** Wire strings of logical [i1, i2). */
export function* readPlan(streamId: number, sub: Sub, i1: number, i2: number): Plan<string[]> {
  const out: string[] = [];
  const plan = piecesPlan(streamId, sub, i1, i2);
  let step = plan.next();
  while (!step.done) {
    const v = step.value;
    if (isQuery(v)) step = plan.next(yield v);
    else {
      const w = v.chunk.wires(v.from, v.to);
      for (let k = 0; k < w.length; k++) out.push(w[k]);
      step = plan.next(undefined);
    }
  }
  return out;
}

/** Runs a value plan over an async Queryable. */
export async function runPlan<T>(q: Queryable, plan: Plan<T>): Promise<T> {
  let step = plan.next();
  while (!step.done) {
    const r = await q.query(step.value.text, step.value.values);
    step = plan.next(r.rows);
  }
  return step.value;
}

/**
 * Runs a streaming plan over an async Queryable: pieces come out as the consumer pulls them, and a
 * statement the plan sends ahead runs while the consumer works on the previous one's chunks.
 */
export async function* runPieces(q: Queryable, plan: PiecePlan): AsyncGenerator<ChunkPiece> {
  const started = new Map<Query, Promise<Row[]>>();
  try {
    let step = plan.next();
    while (!step.done) {
      const v = step.value;
      if (!isQuery(v)) {
        yield v;
        step = plan.next(undefined);
      } else if (v.ahead) {
        const pr = q.query(v.text, v.values).then((r) => r.rows);
        // Settled later (or never taken when the read stops early): never an unhandled rejection.
        pr.catch(() => {});
        started.set(v, pr);
        step = plan.next(undefined);
      } else {
        const pr = started.get(v);
        started.delete(v);
        step = plan.next(pr ? await pr : (await q.query(v.text, v.values)).rows);
      }
    }
  } finally {
    // A statement sent ahead and not taken still holds a pooled connection until it ends.
    await Promise.allSettled(started.values());
  }
}

/** Runs a value plan with a synchronous `exec` (sync.ts's worker-thread driver). */
export function runPlanSync<T>(exec: (q: Query) => Row[], plan: Plan<T>): T {
  let step = plan.next();
  while (!step.done) step = plan.next(exec(step.value));
  return step.value;
}

/** Runs a streaming plan with a synchronous `exec`, lazily: a statement only when the consumer needs more. */
export function* runPiecesSync(exec: (q: Query) => Row[], plan: PiecePlan): Generator<ChunkPiece> {
  let step = plan.next();
  while (!step.done) {
    const v = step.value;
    if (isQuery(v)) step = plan.next(exec(v));
    else {
      yield v;
      step = plan.next(undefined);
    }
  }
}
