import type { Datapoint } from '../pipescript/datapoint';

/**
 * A stream query as merges and datasets send it (rest-api §9, interpolators-datasets §2).
 * Zero / empty / missing values mean "not set".
 */
export interface StreamQuery {
  stream: string;
  transform?: string;
  i1?: number;
  i2?: number;
  t1?: number;
  t2?: number;
  limit?: number;
}

/**
 * What the query library needs from the data layer. Implemented by the datapoint service with the
 * caller's permissions; it throws CdbError (src/errors.ts) for every failure. All validation
 * (stream exists, permission, range rules, transform parses) happens eagerly when the method is
 * called, before the first datapoint is pulled; the returned iterators are lazy and stream.
 */
export interface StreamReader {
  /**
   * Evaluates a stream query exactly as rest-api §9 / interpolators-datasets §2 say: time query if
   * any of t1/t2/limit is non-zero (error `Only one query method (index or time) can be used at a
   * time` if i1/i2 also non-zero), else index query; transform applied to the selection; for time
   * queries `limit` counts transform outputs. With `pauses`, the iterator may also yield PAUSE
   * (pipescript/datapoint.ts) between datapoints: the caller gives the event loop a turn and
   * pulls again.
   */
  query(q: StreamQuery, pauses?: boolean): Iterator<Datapoint>;

  /**
   * The backtracking read of interpolators-datasets §3.3, for a query that has no range of its own:
   * from `backtrack` datapoints before the first datapoint with `t > tstart` (clamped to 0) to the
   * end of the stream, with `transform` applied. `tstart = 0` reads the whole stream.
   */
  queryFrom(stream: string, transform: string | undefined, tstart: number, backtrack: number, pauses?: boolean): Iterator<Datapoint>;
}
