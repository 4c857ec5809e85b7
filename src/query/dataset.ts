/**
 * The dataset query (interpolators-datasets.md §3): T-datasets on a time grid, X-datasets on the
 * datapoints of a reference query. Validation runs completely inside `runDataset`; rows are then
 * produced one at a time as the caller pulls, each interpolator pulling its column forward, so
 * memory stays flat however many rows the query spans.
 */
import { type Datapoint, PAUSE, PAUSE_SLICE_MS } from '../pipescript/datapoint';
import { parseScript, PipeScriptError, type Script } from '../pipescript';
import { ForbiddenError } from '../errors';
import { decodeDatasetBody, type DecodedElement, type DecodedStreamQuery } from './decode';
import { compileInterpolator, type Interpolator } from './interpolators';
import { PAUSED, hasRange, openMerge, toStreamQuery } from './merge';
import type { StreamReader } from './types';

/** How many datapoints before the start a column without a range of its own is read from (§3.3). */
export const BACKTRACK = 10;
/** §3.2 step 4: the most rows a T-dataset may have, and its smallest step. */
export const TDATASET_MAX_ROWS = 10_000_000;
export const TDATASET_MIN_DT = 0.001;

export const DatasetMessages = {
  noDataset: 'The dataset query must have a dataset!',
  elementBoth: 'Dataset element cannot have both a merge and a stream',
  elementMergeTransform: 'Set transforms within each merge element instead of overall for dataset element',
  elementNone: 'No stream(s) were selected for dataset element',
  tRange: 'Tdataset range invalid',
  tAbuse: 'To avoid abuse, Tdataset is limited to a max of 10000000 datapoints with min dt 0.001000',
  xWithDt: 'Dataset must be either time or stream based. Not both.',
  xBoth: "Dataset can't be based both on a stream and on a merge!",
  xColumn: "Dataset already contains field of name 'x'",
} as const;

/** Parse failures found while validating are request errors (403), not engine errors. */
function forbidParse<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof PipeScriptError && e.kind === 'parse') throw new ForbiddenError(e.message);
    throw e;
  }
}

interface Column {
  name: string;
  allownil: boolean;
  interpolator: Interpolator;
}

/** Yields row timestamps and, for X-datasets, the reference datapoint's data. */
interface RowSource {
  /** Advances; false at the end, PAUSE when the reference paused (ask again). */
  advance(): boolean | typeof PAUSE;
  t: number;
  x: unknown;
}

/** §3.4: `ts += dt` by repeated float addition, exactly as the original, so t2 stays exclusive. */
class TimeGrid implements RowSource {
  t: number;
  x: unknown = undefined;
  private first = true;
  constructor(
    t1: number,
    private readonly t2: number,
    private readonly dt: number,
  ) {
    this.t = t1;
  }
  advance(): boolean {
    if (this.first) this.first = false;
    else this.t += this.dt;
    return this.t < this.t2;
  }
}

class ReferenceRows implements RowSource {
  t = 0;
  x: unknown = null;
  constructor(private readonly ref: Iterator<Datapoint>) {}
  advance(): boolean | typeof PAUSE {
    const r = this.ref.next();
    if (r.done) return false;
    if (r.value === PAUSE) return PAUSE;
    this.t = r.value.t;
    this.x = r.value.d;
    return true;
  }
}

/** Builds row datapoints with keys in sorted order, as the original's map serialisation had them. */
class RowIterator implements IterableIterator<Datapoint> {
  /** For each output key in sorted order: the column index, or -1 for `x`. */
  private readonly order: { key: string; col: number }[];
  private readonly values: unknown[];
  private done = false;
  /** Rows produced, and when this iterator last paused (with `pauses`). */
  private n = 0;
  private since = 0;
  /** The column the current row is at (a column's input paused), or -1 between rows. */
  private col = -1;

  constructor(
    private readonly rows: RowSource,
    private readonly columns: readonly Column[],
    withX: boolean,
    /** When set, rows with a null in a column whose allownil is false are skipped (§3.5). */
    private readonly dropNil: boolean,
    private readonly closeables: readonly Iterator<Datapoint>[],
    /**
     * Whether next() may return PAUSE: when the reference pauses, and every 256 rows once a
     * slice is used up (rows a posttransform drops, a T-dataset's grid, cost time too).
     */
    private readonly pauses: boolean,
  ) {
    if (pauses) this.since = performance.now();
    const keys = columns.map((c, i) => ({ key: c.name, col: i }));
    if (withX) keys.push({ key: 'x', col: -1 });
    this.order = keys.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    this.values = new Array<unknown>(columns.length);
  }

  next(): IteratorResult<Datapoint> {
    const { rows, columns, values } = this;
    while (!this.done) {
      if (this.col < 0) {
        if (this.pauses && (++this.n & 255) === 0 && performance.now() - this.since >= PAUSE_SLICE_MS) {
          this.since = performance.now();
          return PAUSED;
        }
        const a = rows.advance();
        if (a === PAUSE) {
          this.since = performance.now();
          return PAUSED;
        }
        if (!a) {
          this.done = true;
          break;
        }
        this.col = 0;
      }
      const t = rows.t;
      for (let i = this.col; i < columns.length; i++) {
        const dp = columns[i].interpolator.interpolate(t);
        if (dp === PAUSE) {
          // The row is finished on the next call, from this column on.
          this.col = i;
          this.since = performance.now();
          return PAUSED;
        }
        values[i] = dp === null ? null : dp.d;
      }
      this.col = -1;
      // Every interpolator is still called for a dropped row, so their state moves on as in the original.
      if (this.dropNil && this.hasNil()) continue;
      const d: Record<string, unknown> = {};
      for (const { key, col } of this.order) d[key] = col < 0 ? rows.x : values[col];
      return { done: false, value: { t, d } };
    }
    return { done: true, value: undefined };
  }

  /** A column without allownil is null in the current row. */
  private hasNil(): boolean {
    const { columns, values } = this;
    for (let i = 0; i < columns.length; i++) if (values[i] === null && !columns[i].allownil) return true;
    return false;
  }

  return(): IteratorResult<Datapoint> {
    this.done = true;
    for (const c of this.closeables) c.return?.();
    return { done: true, value: undefined };
  }

  [Symbol.iterator](): IterableIterator<Datapoint> {
    return this;
  }
}

/** The posttransform's output, closing the rows underneath when the consumer stops early. */
class PostIterator implements IterableIterator<Datapoint> {
  private readonly out: Iterator<Datapoint>;
  constructor(
    script: Script,
    private readonly rows: RowIterator,
  ) {
    this.out = script.run(rows);
  }
  next(): IteratorResult<Datapoint> {
    return this.out.next();
  }
  return(): IteratorResult<Datapoint> {
    this.out.return?.();
    return this.rows.return();
  }
  [Symbol.iterator](): IterableIterator<Datapoint> {
    return this;
  }
}

const EMPTY_ELEMENT: DecodedElement = {
  stream: '',
  transform: '',
  i1: 0,
  i2: 0,
  t1: 0,
  t2: 0,
  limit: 0,
  merge: [],
  interpolator: '',
  allownil: false,
};

/**
 * `POST /api/v1/query/dataset`. Throws BadRequestError (400) for a body of the wrong shape and
 * ForbiddenError / the reader's CdbError (403) for validation failures, in the order of §3.2, all
 * before returning. The returned iterator is lazy; runtime errors (interpolator, column transform,
 * posttransform) throw from its `next()`. With `pauses` it may also yield PAUSE when the
 * reference or a column query pauses (StreamReader.query), and every so often between rows.
 */
export function runDataset(body: unknown, reader: StreamReader, pauses = false): IterableIterator<Datapoint> {
  const q = decodeDatasetBody(body);

  const post = q.posttransform === '' ? undefined : forbidParse(() => parseScript(q.posttransform));
  // The rows pause (with the reference's and the columns' queries) only where whatever reads them
  // hands the pause up to the caller.
  const rowPauses = pauses && (post === undefined || post.pausable);

  if (q.dataset === undefined || q.dataset.size === 0) throw new ForbiddenError(DatasetMessages.noDataset);

  const isX = q.stream !== '' || q.merge.length > 0;
  // For an X-dataset this is the reference query's own t1; 0 makes columns read their whole stream.
  const tstart = q.t1;
  const openColumnQuery = (sq: DecodedStreamQuery): Iterator<Datapoint> =>
    hasRange(sq)
      ? reader.query(toStreamQuery(sq), rowPauses)
      : reader.queryFrom(sq.stream, sq.transform === '' ? undefined : sq.transform, tstart, BACKTRACK, rowPauses);

  const opened: Iterator<Datapoint>[] = [];
  try {
    const columns: Column[] = [];
    for (const [name, el0] of q.dataset) {
      const el = el0 ?? EMPTY_ELEMENT;
      const isMerge = el.merge.length > 0;
      if (el.stream !== '' && isMerge) throw new ForbiddenError(DatasetMessages.elementBoth);
      if (isMerge && el.transform !== '') throw new ForbiddenError(DatasetMessages.elementMergeTransform);
      if (el.stream === '' && !isMerge) throw new ForbiddenError(DatasetMessages.elementNone);
      const input = forbidParse(() => (isMerge ? openMerge(el.merge, openColumnQuery) : openColumnQuery(el)));
      opened.push(input);
      const interp = forbidParse(() => compileInterpolator(el.interpolator));
      columns.push({ name, allownil: el.allownil, interpolator: interp.create(input) });
    }

    let rows: RowSource;
    if (!isX) {
      if (q.t1 < 0 || q.t2 < q.t1 + q.dt || q.i1 !== 0 || q.i2 !== 0) throw new ForbiddenError(DatasetMessages.tRange);
      if (q.dt < TDATASET_MIN_DT || (q.t2 - q.t1) / q.dt > TDATASET_MAX_ROWS) {
        throw new ForbiddenError(DatasetMessages.tAbuse);
      }
      rows = new TimeGrid(q.t1, q.t2, q.dt);
    } else {
      if (q.dt !== 0) throw new ForbiddenError(DatasetMessages.xWithDt);
      if (q.stream !== '' && q.merge.length > 0) throw new ForbiddenError(DatasetMessages.xBoth);
      const ref = forbidParse(() =>
        q.merge.length > 0
          ? openMerge(q.merge, (sq) => reader.query(toStreamQuery(sq), rowPauses))
          : reader.query(toStreamQuery(q), rowPauses),
      );
      opened.push(ref);
      if (q.dataset.has('x')) throw new ForbiddenError(DatasetMessages.xColumn);
      rows = new ReferenceRows(ref);
    }

    // §3.5: without a posttransform nothing is dropped and allownil has no effect.
    const it = new RowIterator(rows, columns, isX, post !== undefined, opened, rowPauses);
    return post === undefined ? it : new PostIterator(post, it);
  } catch (e) {
    for (const it of opened) it.return?.();
    throw e;
  }
}
