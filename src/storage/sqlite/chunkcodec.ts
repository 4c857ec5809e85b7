import { deflateRawSync, inflateRawSync } from 'node:zlib';

import type { StoredPoint } from '../types';

/** One chunk opened for reading. */
export interface OpenChunk {
  readonly n: number;
  readonly t: ArrayLike<number>;
  /** The exact wire texts. */
  texts(): string[];
  /** The values when every datapoint is `{t, d: number}` without `o`, else null. */
  values(): Float64Array | null;
}

/**
 * The engine's view of the chunk codec (src/storage/chunks/). A stand-in until the codec branch
 * lands: the wire texts deflated, newline-separated (JSON text never holds a raw newline).
 */
export function encodeChunk(points: readonly StoredPoint[]): Buffer {
  let s = '';
  for (let i = 0; i < points.length; i++) s += (i ? '\n' : '') + points[i].j;
  const z = deflateRawSync(Buffer.from(s, 'utf8'));
  const out = Buffer.allocUnsafe(z.length + 1);
  out[0] = 0x01;
  z.copy(out, 1);
  return out;
}

export function decodeChunk(bytes: Uint8Array, ts?: ArrayLike<number>): OpenChunk {
  const texts = inflateRawSync(bytes.subarray(1)).toString('utf8').split('\n');
  let t = ts;
  if (!t) {
    const a = new Float64Array(texts.length);
    for (let i = 0; i < texts.length; i++) {
      const x = texts[i];
      a[i] = x.charCodeAt(2) === 116 ? parseFloat(x.slice(5)) : 0;
    }
    t = a;
  }
  const tt = t;
  return { n: texts.length, t: tt, texts: () => texts, values: () => null };
}
