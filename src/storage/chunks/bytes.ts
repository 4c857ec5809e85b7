import zlib from 'node:zlib';

/** A chunk that fails its checksum or does not parse: never decoded into a wrong answer. */
export class ChunkCorruptError extends Error {
  override name = 'ChunkCorruptError';
  constructor(msg: string) {
    super(`corrupt datapoint chunk: ${msg}`);
  }
}

/** Scaled integers stay at or below this so deltas, delta-of-deltas and zigzag stay exact doubles. */
export const INT_LIMIT = 2 ** 50;

/** A growable byte buffer. */
export class ByteWriter {
  buf: Uint8Array;
  pos = 0;
  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
  }
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.pos));
    this.buf = b;
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  /** Unsigned LEB128 of a whole number in [0, 2^53]. */
  uvarint(x: number): void {
    this.ensure(8);
    const buf = this.buf;
    let p = this.pos;
    if (x < 0x80000000) {
      while (x >= 0x80) {
        buf[p++] = (x & 0x7f) | 0x80;
        x >>>= 7;
      }
    } else {
      while (x >= 0x80) {
        buf[p++] = (x % 128) | 0x80;
        x = Math.floor(x / 128);
      }
    }
    buf[p++] = x;
    this.pos = p;
  }
  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

/** Bounds-checked reading: running off the end is a corrupt chunk, never `undefined` turned NaN. */
export class ByteReader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    pos = 0,
    readonly end = buf.length,
  ) {
    this.pos = pos;
  }
  byte(): number {
    if (this.pos >= this.end) throw new ChunkCorruptError('truncated');
    return this.buf[this.pos++];
  }
  uvarint(): number {
    const buf = this.buf;
    let p = this.pos;
    if (p >= this.end) throw new ChunkCorruptError('truncated');
    let b = buf[p++];
    if (b < 0x80) {
      this.pos = p;
      return b;
    }
    let x = b & 0x7f;
    let mul = 128;
    for (let i = 1; ; i++) {
      if (p >= this.end) throw new ChunkCorruptError('truncated varint');
      b = buf[p++];
      x += (b & 0x7f) * mul;
      if (b < 0x80) break;
      mul *= 128;
      if (i >= 7) throw new ChunkCorruptError('varint too long');
    }
    if (x > 2 ** 53) throw new ChunkCorruptError('varint out of range');
    this.pos = p;
    return x;
  }
  take(n: number): Uint8Array {
    if (n > this.end - this.pos) throw new ChunkCorruptError('truncated');
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
}

export const zigzag = (z: number): number => (z >= 0 ? 2 * z : -2 * z - 1);
export const unzigzag = (u: number): number => (u % 2 === 0 ? u / 2 : -(u + 1) / 2);

export function uvarintLength(x: number): number {
  if (x < 128) return 1;
  if (x < 16384) return 2;
  if (x < 2097152) return 3;
  let n = 1;
  while (x >= 128) {
    x = Math.floor(x / 128);
    n++;
  }
  return n;
}

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** CRC-32 (zlib's), native where this Node has it (20.15+). */
export const crc32: (b: Uint8Array) => number =
  typeof zlib.crc32 === 'function'
    ? (b) => zlib.crc32(b)
    : (b) => {
        let c = -1;
        for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
        return (c ^ -1) >>> 0;
      };

export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
