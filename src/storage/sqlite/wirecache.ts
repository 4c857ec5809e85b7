import type { WireBytes } from '../chunks';

/** What identifies a sealed chunk's content besides its id: checked on every hit. */
export interface ChunkKey {
  id: number;
  i1: number;
  i2: number;
  t1: number;
  t2: number;
  wire: number;
}

export interface WireEntry extends WireBytes {
  readonly count: number;
  readonly t1: number;
  readonly t2: number;
  readonly wire: number;
  /** Bytes this entry is charged: its texts, its offsets and a little for the objects. */
  readonly size: number;
}

/** Map entry, objects and typed-array headers, roughly. */
const OVERHEAD = 256;

/**
 * A bounded cache of sealed chunks' wire bytes (their texts joined by ',', UTF-8, with where each
 * starts), by chunk id: a range read of a cached chunk is a copy of a slice into the answer, with
 * no decode and no formatting. Emptied by `clear()` wherever the decoded chunks are forgotten (any
 * delete or rewrite, a rollback, another connection's write). A hit also checks the chunk's count,
 * times and wire length against the row just read, so an id reused for other points can never be
 * answered from here even if a clear were missed.
 *
 * Bounded by bytes, as a segmented LRU: a protected part (7/8) and a probation part (1/8). A new
 * chunk goes to the protected part while that has room, else to probation; a hit in probation
 * promotes it (the protected part's least recently used moves down to probation), and evictions
 * take probation's oldest first. Plain LRU loses everything to a working set a little bigger than
 * itself read round and round (each chunk is evicted just before it is read again: measured 28%
 * hits on the issue's read benchmark with 32 MB, against ~90% for this); here the protected part
 * stays and only probation turns over, while chunks read again soon still get in.
 */
export class WireCache {
  /** Insertion-ordered: the first key is the least recently used. */
  private readonly prot = new Map<number, WireEntry>();
  private readonly prob = new Map<number, WireEntry>();
  private protBytes = 0;
  private probBytes = 0;
  /** What the protected part may hold. */
  private readonly protMax: number;
  /** Reads of a chunk answered from here, and reads that found nothing (diagnostics, tests). */
  hits = 0;
  misses = 0;

  constructor(readonly maxBytes: number) {
    this.protMax = maxBytes - Math.ceil(maxBytes / 8);
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.protBytes + this.probBytes;
  }

  get size(): number {
    return this.prot.size + this.prob.size;
  }

  /** The entry for the chunk `r`; `touch` counts the hit (a scan's hits move nothing). */
  get(r: ChunkKey, touch: boolean): WireEntry | undefined {
    let e = this.prot.get(r.id);
    const inProt = e !== undefined;
    if (e === undefined) e = this.prob.get(r.id);
    if (e === undefined) {
      this.misses++;
      return undefined;
    }
    if (e.count !== r.i2 - r.i1 + 1 || e.t1 !== r.t1 || e.t2 !== r.t2 || e.wire !== r.wire) {
      this.remove(r.id);
      this.misses++;
      return undefined;
    }
    this.hits++;
    if (!touch) return e;
    if (inProt) {
      this.prot.delete(r.id);
      this.prot.set(r.id, e);
    } else {
      this.prob.delete(r.id);
      this.probBytes -= e.size;
      this.protect(r.id, e);
    }
    return e;
  }

  /**
   * Keeps `w` as the texts of chunk `r`; returns the entry, or undefined when it is bigger than an
   * eighth of the cache (one huge chunk must not empty it) or does not match the row.
   */
  put(r: ChunkKey, w: WireBytes): WireEntry | undefined {
    const size = w.bytes.length + w.offs.byteLength + OVERHEAD;
    if (8 * size > this.maxBytes) return undefined;
    // ASCII texts: their bytes are the chunk's wire characters plus the commas between them.
    if (w.bytes.length !== r.wire + r.i2 - r.i1 || w.offs.length !== r.i2 - r.i1 + 2) return undefined;
    this.remove(r.id);
    const e: WireEntry = { bytes: w.bytes, offs: w.offs, count: r.i2 - r.i1 + 1, t1: r.t1, t2: r.t2, wire: r.wire, size };
    if (this.protBytes + size <= this.protMax) this.protect(r.id, e);
    else {
      this.prob.set(r.id, e);
      this.probBytes += size;
      this.trim();
    }
    return e;
  }

  clear(): void {
    this.prot.clear();
    this.prob.clear();
    this.protBytes = 0;
    this.probBytes = 0;
  }

  /** Into the protected part as most recently used, moving its least recently used down to probation. */
  private protect(id: number, e: WireEntry): void {
    this.prot.set(id, e);
    this.protBytes += e.size;
    while (this.protBytes > this.protMax) {
      const [d, de] = this.prot.entries().next().value as [number, WireEntry];
      this.prot.delete(d);
      this.protBytes -= de.size;
      this.prob.set(d, de);
      this.probBytes += de.size;
    }
    this.trim();
  }

  /** Evicts probation's oldest until everything fits. */
  private trim(): void {
    while (this.protBytes + this.probBytes > this.maxBytes && this.prob.size > 0) {
      const [d, de] = this.prob.entries().next().value as [number, WireEntry];
      this.prob.delete(d);
      this.probBytes -= de.size;
    }
  }

  private remove(id: number): void {
    const a = this.prot.get(id);
    if (a !== undefined) {
      this.prot.delete(id);
      this.protBytes -= a.size;
    }
    const b = this.prob.get(id);
    if (b !== undefined) {
      this.prob.delete(id);
      this.probBytes -= b.size;
    }
  }
}
