import type { StoredPoint, SubstreamInfo } from '../types';
import { type ByteSink, type DecodedChunk, FORMAT_TEXT, type WireBytes } from './index';

/** The chunked datapoint layout both engines keep (SQLite: sqlite/chunked.ts; PostgreSQL: postgres/data.ts). */

/**
 * A chunk seals at 1,000 datapoints or once its wire text reaches 64 KB, whichever comes first.
 * Measured with the codec on the workload (64k points): numeric 1.84 / 1.80 / 1.77 / 1.76
 * B/dp at 250 / 500 / 1,000 / 2,000 points a chunk, {x,y,z} 5.18 / 5.09 / 5.05 / 5.02, plus ~40 B
 * of row and index per chunk; past 1,000 the gain is under 1% while a short range read must
 * decode a bigger chunk (4,000 points cost ~8x the decode time of 1,000). The byte cap keeps a
 * chunk of large objects from growing into megabytes that a 1-point read would have to inflate.
 */
export const CHUNK_POINTS = 1000;
export const CHUNK_BYTES = 64 * 1024;

/** A substream's summary with where its chunks end and its tail begins. */
export interface Layout extends SubstreamInfo {
  /** Physical index of logical index 0. */
  base: number;
  /** Physical index where the tail starts. */
  sealed: number;
  /** Wire bytes in the tail (-1: not yet upgraded). */
  tail_bytes: number;
}

/** Splits points greedily into chunks of CHUNK_POINTS or CHUNK_BYTES; returns the end of each complete chunk. */
export function cuts(points: readonly StoredPoint[]): number[] {
  const out: number[] = [];
  let n = 0;
  let bytes = 0;
  for (let i = 0; i < points.length; i++) {
    n++;
    bytes += points[i].j.length;
    if (n >= CHUNK_POINTS || bytes >= CHUNK_BYTES) {
      out.push(i + 1);
      n = 0;
      bytes = 0;
    }
  }
  return out;
}

/** Tail rows dressed as a chunk, so readers handle one shape. */
export class TailChunk implements DecodedChunk {
  readonly format = FORMAT_TEXT;
  readonly count: number;
  readonly times: Float64Array;
  readonly numeric = null;
  readonly record = null;
  constructor(private readonly rows: readonly StoredPoint[]) {
    this.count = rows.length;
    this.times = new Float64Array(rows.length);
    for (let i = 0; i < rows.length; i++) this.times[i] = rows[i].t;
  }
  wire(i: number): string {
    return this.rows[i].j;
  }
  wires(from = 0, to = this.count): string[] {
    const out: string[] = new Array(to - from);
    for (let i = from; i < to; i++) out[i - from] = this.rows[i].j;
    return out;
  }
  joined(from = 0, to = this.count): string {
    return this.wires(from, to).join(',');
  }
  writeJoined(sink: ByteSink, from = 0, to = this.count): void {
    sink.string(this.joined(from, to));
  }
  /** Tail rows change (they are sealed, deleted): never cached. */
  wireBytes(): WireBytes | null {
    return null;
  }
}
