/** A datapoint as the API and PipeScript see it: `t` Unix seconds, `d` any JSON, `o` the writer. */
export interface Datapoint {
  t: number;
  d: unknown;
  /** Writer path (`user/device`) when the writer was not the stream's owner; absent or empty otherwise. */
  o?: string;
}

/**
 * "No datapoint yet, ask again": what a pull source hands up a pipeline when it has worked for its
 * time slice without finishing, so the caller can give the event loop a turn and pull again later.
 * Compared by identity only, never serialised. Only a pipeline that says it passes pauses
 * (Script.pausable) ever sees one; every stage of such a pipeline hands it on untouched, with its
 * own state as it was, so pulling again continues exactly where it stopped.
 */
export const PAUSE: Datapoint = Object.freeze({ t: Number.NaN, d: null });

/**
 * Work a pausing source does at most between two PAUSEs: short enough that a ping beside a read
 * of millions of points waits a few ms, long enough that the turns cost nothing measurable.
 */
export const PAUSE_SLICE_MS = 10;
