/**
 * A growable byte buffer that range reads append their answer to: chunks write their wire text
 * straight into it (see DecodedChunk.writeJoined), and the HTTP layer hands `bytes()` to the
 * socket, so a read allocates one buffer for its answer instead of one per chunk plus a concat.
 */
export class ByteSink {
  len = 0;
  constructor(public buf: Buffer) {}

  /** Room for n more bytes. */
  reserve(n: number): void {
    const need = this.len + n;
    if (need <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(need, 2 * this.buf.length));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  bytes(src: Uint8Array, start = 0, end = src.length): void {
    this.reserve(end - start);
    this.buf.set(src.subarray(start, end), this.len);
    this.len += end - start;
  }

  /** bytes(src, start, end) for a Buffer, without a view in between. */
  copy(src: Buffer, start: number, end: number): void {
    this.reserve(end - start);
    this.len += src.copy(this.buf, this.len, start, end);
  }

  /** The UTF-8 of a string (as Buffer.from(s, 'utf8') would give it). */
  string(s: string): void {
    this.reserve(3 * s.length);
    this.len += this.buf.write(s, this.len, 'utf8');
  }

  /** Starts over, empty, in `buf` (the bytes appended so far stay in the old buffer). */
  restart(buf: Buffer): void {
    this.buf = buf;
    this.len = 0;
  }

  /** What was appended so far (a view, not a copy). */
  bytesView(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}
