/** A datapoint as the API and PipeScript see it: `t` Unix seconds, `d` any JSON, `o` the writer. */
export interface Datapoint {
  t: number;
  d: unknown;
  /** Writer path (`user/device`) when the writer was not the stream's owner; absent or empty otherwise. */
  o?: string;
}
