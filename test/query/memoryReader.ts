/**
 * An in-memory StreamReader implementing interpolators-datasets.md §2 and rest-api §8.2 (index and
 * time rules, transform, limit after transform) plus the §3.3 backtracking read. Test helper for
 * the query library; also usable to cross-check the server's own reader.
 */
import type { Datapoint } from '../../src/pipescript/datapoint';
import { parseScript, PipeScriptError } from '../../src/pipescript';
import { ForbiddenError } from '../../src/errors';
import type { StreamQuery, StreamReader } from '../../src/query/types';

export const Msg = {
  notFound: 'The requested stream was not found.',
  substream: 'Unrecognized substream type',
  twoMethods: 'Only one query method (index or time) can be used at a time',
  indexRange: 'Invalid index range.',
} as const;

/** Lazily walks `arr[from, to)`; never copies the array. */
class SliceIterator implements Iterator<Datapoint> {
  constructor(
    private readonly arr: readonly Datapoint[],
    private i: number,
    private readonly to: number,
  ) {}
  next(): IteratorResult<Datapoint> {
    if (this.i >= this.to) return { done: true, value: undefined };
    return { done: false, value: this.arr[this.i++] };
  }
}

function* limited(it: Iterator<Datapoint>, limit: number): Generator<Datapoint> {
  let n = 0;
  while (n < limit) {
    const r = it.next();
    if (r.done) return;
    n++;
    yield r.value;
  }
}

/** Index of the first datapoint with `t > t` (the stream is sorted by t). */
export function firstAfter(arr: readonly Datapoint[], t: number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid].t <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class MemoryReader implements StreamReader {
  private readonly streams = new Map<string, readonly Datapoint[]>();
  /** Every query the library made, for assertions about what was read. */
  readonly log: { method: 'query' | 'queryFrom'; args: unknown[] }[] = [];

  constructor(streams: Record<string, readonly Datapoint[]> = {}) {
    for (const [k, v] of Object.entries(streams)) this.streams.set(k, v);
  }

  set(path: string, data: readonly Datapoint[]): void {
    this.streams.set(path, data);
  }

  private data(path: string): readonly Datapoint[] {
    const parts = path.split('/');
    if (parts.length === 4) {
      if (parts[3] !== 'downlink') throw new ForbiddenError(Msg.substream);
      const base = parts.slice(0, 3).join('/');
      if (!this.streams.has(base)) throw new ForbiddenError(Msg.notFound);
      return this.streams.get(path) ?? [];
    }
    const s = parts.length === 3 ? this.streams.get(path) : undefined;
    if (s === undefined) throw new ForbiddenError(Msg.notFound);
    return s;
  }

  private transformed(it: Iterator<Datapoint>, transform: string | undefined): Iterator<Datapoint> {
    if (transform === undefined || transform === '') return it;
    let script;
    try {
      script = parseScript(transform);
    } catch (e) {
      if (e instanceof PipeScriptError) throw new ForbiddenError(e.message);
      throw e;
    }
    return script.run(it);
  }

  query(q: StreamQuery): Iterator<Datapoint> {
    this.log.push({ method: 'query', args: [q] });
    const i1 = q.i1 ?? 0;
    const i2 = q.i2 ?? 0;
    const t1 = q.t1 ?? 0;
    const t2 = q.t2 ?? 0;
    const limit = q.limit ?? 0;
    const arr = this.data(q.stream);
    if (t1 !== 0 || t2 !== 0 || limit !== 0) {
      if (i1 !== 0 || i2 !== 0) throw new ForbiddenError(Msg.twoMethods);
      const from = firstAfter(arr, t1);
      const to = t2 <= 0 ? arr.length : firstAfter(arr, t2);
      const out = this.transformed(new SliceIterator(arr, from, Math.max(from, to)), q.transform);
      return limit > 0 ? limited(out, limit) : out;
    }
    const n = arr.length;
    let a = i1;
    let b = i2;
    if (a < 0) a = Math.max(0, a + n);
    if (b <= 0) b += n;
    if (b > n) b = n;
    if (b < a) throw new ForbiddenError(Msg.indexRange);
    return this.transformed(new SliceIterator(arr, a, b), q.transform);
  }

  queryFrom(stream: string, transform: string | undefined, tstart: number, backtrack: number, _pauses?: boolean): Iterator<Datapoint> {
    this.log.push({ method: 'queryFrom', args: [stream, transform, tstart, backtrack] });
    const arr = this.data(stream);
    const from = tstart === 0 ? 0 : Math.max(0, firstAfter(arr, tstart) - backtrack);
    return this.transformed(new SliceIterator(arr, from, arr.length), transform);
  }
}
