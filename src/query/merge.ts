/**
 * The merge query (interpolators-datasets.md §4) and the k-way merge shared with dataset columns
 * and X-dataset references.
 */
import { type Datapoint, PAUSE } from '../pipescript/datapoint';

/** The one result a pausing iterator hands up for a PAUSE: never mutated by consumers. */
export const PAUSED: IteratorResult<Datapoint> = Object.freeze({ done: false, value: PAUSE });
import { ForbiddenError } from '../errors';
import { decodeMergeBody, type DecodedStreamQuery } from './decode';
import type { StreamQuery, StreamReader } from './types';

export const MAX_MERGE = 10;
export const MERGE_TOO_MANY = 'Merging more than 10 streams is disabled.';
export const MERGE_ELEMENT_INVALID = 'Dataset merge array element invalid';

/** True when the query selects a range of its own (any of i1, i2, t1, t2, limit non-zero). */
export function hasRange(q: DecodedStreamQuery): boolean {
  return q.i1 !== 0 || q.i2 !== 0 || q.t1 !== 0 || q.t2 !== 0 || q.limit !== 0;
}

export function toStreamQuery(q: DecodedStreamQuery): StreamQuery {
  const out: StreamQuery = { stream: q.stream };
  if (q.transform !== '') out.transform = q.transform;
  if (q.i1 !== 0) out.i1 = q.i1;
  if (q.i2 !== 0) out.i2 = q.i2;
  if (q.t1 !== 0) out.t1 = q.t1;
  if (q.t2 !== 0) out.t2 = q.t2;
  if (q.limit !== 0) out.limit = q.limit;
  return out;
}

/**
 * Lazily interleaves sorted iterators by timestamp. On equal timestamps the iterator that comes
 * first in `sources` wins (strict `<` in the scan), and each source keeps its own order. `o` is
 * dropped: merged output never says which stream a datapoint came from. A source that pauses
 * (PAUSE) makes the merge pause: that head is asked again on the next call.
 */
export class MergeIterator implements IterableIterator<Datapoint> {
  private heads: (Datapoint | undefined)[] = [];
  private started = false;
  private finished = false;

  constructor(private readonly sources: Iterator<Datapoint>[]) {}

  next(): IteratorResult<Datapoint> {
    if (this.finished) return { done: true, value: undefined };
    const { sources, heads } = this;
    if (!this.started) {
      this.started = true;
      for (const s of sources) {
        const r = s.next();
        heads.push(r.done ? undefined : r.value);
      }
    }
    let best = -1;
    let bestT = 0;
    for (let i = 0; i < heads.length; i++) {
      let h = heads[i];
      if (h === PAUSE) {
        const r = sources[i].next();
        h = heads[i] = r.done ? undefined : r.value;
        if (h === PAUSE) return PAUSED;
      }
      if (h !== undefined && (best < 0 || h.t < bestT)) {
        best = i;
        bestT = h.t;
      }
    }
    if (best < 0) {
      this.finished = true;
      return { done: true, value: undefined };
    }
    const dp = heads[best]!;
    const r = sources[best].next();
    heads[best] = r.done ? undefined : r.value;
    return { done: false, value: { t: dp.t, d: dp.d } };
  }

  /** Lets a consumer that stops early (client gone, error) release the underlying readers. */
  return(): IteratorResult<Datapoint> {
    this.finished = true;
    for (const s of this.sources) s.return?.();
    return { done: true, value: undefined };
  }

  [Symbol.iterator](): IterableIterator<Datapoint> {
    return this;
  }
}

/**
 * Opens the elements of a merge through the reader, eagerly and in order, so that the first
 * element's error is the one reported. `open` decides how each element is read (datasets
 * backtrack columns without a range of their own).
 */
export function openMerge(
  elements: readonly (DecodedStreamQuery | null)[],
  open: (q: DecodedStreamQuery) => Iterator<Datapoint>,
): MergeIterator {
  if (elements.length > MAX_MERGE) throw new ForbiddenError(MERGE_TOO_MANY);
  const opened: Iterator<Datapoint>[] = [];
  try {
    for (const el of elements) {
      if (el === null) throw new ForbiddenError(MERGE_ELEMENT_INVALID);
      opened.push(open(el));
    }
  } catch (e) {
    for (const it of opened) it.return?.();
    throw e;
  }
  return new MergeIterator(opened);
}

/**
 * `POST /api/v1/query/merge`. Throws BadRequestError for a body of the wrong shape and CdbError
 * (403 from the reader or here) for every other validation failure, all before returning; the
 * returned iterator is lazy and throws runtime (transform) errors from `next()`; with `pauses`
 * it may also yield PAUSE (StreamReader.query).
 */
export function runMerge(body: unknown, reader: StreamReader, pauses = false): IterableIterator<Datapoint> {
  const elements = decodeMergeBody(body);
  return openMerge(elements, (q) => reader.query(toStreamQuery(q), pauses));
}
