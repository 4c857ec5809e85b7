import type { Statement } from 'better-sqlite3';
import type { ChunkPiece, StoredPoint, StreamStorageStats, Sub } from '../types';
import { type DecodedChunk, decodeChunk, decodeTimes, encodeChunk } from '../chunks';
import { CHUNK_BYTES, CHUNK_POINTS, type Layout, TailChunk, cuts } from '../chunks/layout';

export { CHUNK_BYTES, CHUNK_POINTS, type Layout } from '../chunks/layout';
import type { DB } from './db';
import type { ByteSink } from '../chunks';
import { type ChunkKey, WireCache } from './wirecache';



const EMPTY: Layout = { length: 0, last_t: 0, bytes: 0, base: 0, sealed: 0, tail_bytes: 0 };

/** A chunk's row: what identifies it (ChunkKey, which the read cache checks) and its blob. */
interface ChunkRow extends ChunkKey {
  data: Buffer;
}

/** A run of consecutive datapoints handed to readers: [from, to) of an opened chunk or tail rows. */
export type Piece = ChunkPiece;

const MULTI = 64;
/**
 * Decoded chunks kept by id. A time range read decodes the chunk at each end twice (time2index,
 * then the read) and a client paging through a stream decodes the chunk its pages share twice;
 * a few edge chunks cover both. Chunks a read takes whole are never added, so a big read neither
 * churns nor grows this.
 */
const DECODED_KEEP = 32;
/**
 * Bytes of chunk timestamps kept for time lookups (a time range read looks up the chunk at each
 * end): 2 MB is 256 chunks of 1,000 points. The chunks themselves mostly come from the wire-bytes
 * cache, so a lookup decodes only the time column, once.
 */
const TIMES_KEEP_BYTES = 2 * 1024 * 1024;
/** Chunks fetched per statement while streaming: no statement stays open across a yield. */
const FETCH = 8;
/** The same for rows fetched without their data (a few dozen bytes each): a 64,000-point read is one statement. */
const FETCH_META = 64;
/** Default bound of the wire-bytes cache (sql.read_cache_mb): about 1,000 chunks of the sensor workload, ~30 KB each. */
export const WIRE_CACHE_BYTES = 32 * 1024 * 1024;
/**
 * A read of more datapoints than this many full chunks is a scan: it uses cached wire bytes it
 * finds but adds none and reorders none, so it neither fills nor churns the cache (and its
 * memory stays flat).
 */
const SCAN_POINTS = 64 * CHUNK_POINTS;

export interface ChunkedOptions {
  /** Bound of the wire-bytes cache in bytes; 0 turns it off. */
  wireCacheBytes?: number;
}

/** A run of a range read: [from, to) of the sealed chunk `row` (data not fetched) or of tail rows. */
type Span = ({ row: ChunkRow; tail: null } | { row: null; tail: TailChunk }) & {
  from: number;
  to: number;
  /** Set by the consumer when it could not use the span: it is looked up again. */
  again: boolean;
};



/**
 * Datapoints in sealed compressed chunks plus a row-per-datapoint tail (issue 11). All writes
 * must run inside the caller's transaction; sealing happens in the insert that fills a chunk.
 */
export class ChunkedDatapointStore {
  private readonly info: Statement<[number, number], Layout>;
  private readonly upsertInfo: Statement<unknown[]>;
  private readonly ins1: Statement<unknown[]>;
  private readonly insN: Statement<unknown[]>;
  private readonly tailRange: Statement<[number, number, number, number], { t: number; j: string }>;
  private readonly tailAll: Statement<[number, number, number], { t: number; j: string }>;
  private readonly tailDel: Statement<[number, number, number]>;
  private readonly tailDelRange: Statement<[number, number, number, number]>;
  private readonly tAtStmt: Statement<[number, number, number], { t: number }>;
  private readonly insChunk: Statement<unknown[]>;
  private readonly chunkAt: Statement<[number, number, number], ChunkRow>;
  /** The chunk holding physical index p (or the first after it) and those after it before pEnd. */
  private readonly chunksFrom: Statement<[number, number, number, number, number, number, number], ChunkRow>;
  private readonly chunksFromMeta: Statement<[number, number, number, number, number, number, number], ChunkRow>;
  private readonly chunkAfterT: Statement<[number, number, number], ChunkRow>;
  private readonly delSub;
  private readonly delSubChunks;
  private readonly delSubInfo;
  private readonly delStream;
  private readonly delStreamChunks;
  private readonly delDevice;
  private readonly delDeviceChunks;
  private readonly delUser;
  private readonly delUserChunks;
  private readonly deviceBytes: Statement<[number], { n: number | null }>;
  private readonly chunkData: Statement<[number], { data: Buffer }>;
  /** Insertion-ordered: the first key is the oldest. Ids are reused after deletes, so every delete clears it. */
  private readonly decoded = new Map<number, DecodedChunk>();
  /** Sealed chunks' texts as answer bytes (see WireCache); emptied with `decoded`. */
  readonly wireCache: WireCache;
  /** Timestamps of chunks by id, insertion-ordered like `decoded`; emptied with it. */
  private readonly times = new Map<number, Float64Array>();
  private timesBytes = 0;
  /** Counts forget()s: a read that fetched chunk rows before one fetches them again. */
  private generation = 0;

  constructor(
    private readonly db: DB,
    opts: ChunkedOptions = {},
  ) {
    this.wireCache = new WireCache(opts.wireCacheBytes ?? WIRE_CACHE_BYTES);
    this.info = db.prepare('SELECT length, last_t, bytes, base, sealed, tail_bytes FROM substreams WHERE stream_id = ? AND sub = ?');
    this.upsertInfo = db.prepare(
      `INSERT INTO substreams (stream_id, sub, length, last_t, bytes, base, sealed, tail_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (stream_id, sub) DO UPDATE SET length = excluded.length, last_t = excluded.last_t, bytes = excluded.bytes,
         base = excluded.base, sealed = excluded.sealed, tail_bytes = excluded.tail_bytes`,
    );
    const one = '(?, ?, ?, ?, ?)';
    this.ins1 = db.prepare(`INSERT INTO datapoints (stream_id, sub, idx, t, j) VALUES ${one}`);
    this.insN = db.prepare(`INSERT INTO datapoints (stream_id, sub, idx, t, j) VALUES ${Array(MULTI).fill(one).join(',')}`);
    this.tailRange = db.prepare('SELECT t, j FROM datapoints WHERE stream_id = ? AND sub = ? AND idx >= ? AND idx < ? ORDER BY idx');
    this.tailAll = db.prepare('SELECT t, j FROM datapoints WHERE stream_id = ? AND sub = ? AND idx >= ? ORDER BY idx');
    this.tailDel = db.prepare('DELETE FROM datapoints WHERE stream_id = ? AND sub = ? AND idx >= ?');
    this.tailDelRange = db.prepare('DELETE FROM datapoints WHERE stream_id = ? AND sub = ? AND idx >= ? AND idx < ?');
    this.tAtStmt = db.prepare('SELECT t FROM datapoints WHERE stream_id = ? AND sub = ? AND idx = ?');
    this.insChunk = db.prepare('INSERT INTO chunks (stream_id, sub, i1, i2, t1, t2, wire, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    this.chunkAt = db.prepare(
      'SELECT id, i1, i2, t1, t2, wire, data FROM chunks WHERE stream_id = ? AND sub = ? AND i1 <= ? ORDER BY i1 DESC LIMIT 1',
    );
    // The first chunk is the last one starting at or before p (the subquery is one index seek).
    const from = (cols: string) =>
      `SELECT ${cols} FROM chunks WHERE stream_id = ? AND sub = ?
         AND i1 >= coalesce((SELECT max(i1) FROM chunks WHERE stream_id = ? AND sub = ? AND i1 <= ?), 0)
         AND i1 < ? ORDER BY i1 LIMIT ?`;
    this.chunksFrom = db.prepare(from('id, i1, i2, t1, t2, wire, data'));
    this.chunksFromMeta = db.prepare(from('id, i1, i2, t1, t2, wire, NULL AS data'));
    this.chunkAfterT = db.prepare(
      'SELECT id, i1, i2, t1, t2, wire, NULL AS data FROM chunks WHERE stream_id = ? AND sub = ? AND t2 > ? ORDER BY t2, i1 LIMIT 1',
    );
    this.chunkData = db.prepare('SELECT data FROM chunks WHERE id = ?');
    this.delSub = db.prepare('DELETE FROM datapoints WHERE stream_id = ? AND sub = ?');
    this.delSubChunks = db.prepare('DELETE FROM chunks WHERE stream_id = ? AND sub = ?');
    this.delSubInfo = db.prepare('DELETE FROM substreams WHERE stream_id = ? AND sub = ?');
    this.delStream = db.prepare('DELETE FROM datapoints WHERE stream_id = ?');
    this.delStreamChunks = db.prepare('DELETE FROM chunks WHERE stream_id = ?');
    const ofDevice = 'stream_id IN (SELECT id FROM streams WHERE device_id = ?)';
    this.delDevice = db.prepare(`DELETE FROM datapoints WHERE ${ofDevice}`);
    this.delDeviceChunks = db.prepare(`DELETE FROM chunks WHERE ${ofDevice}`);
    const ofUser = 'stream_id IN (SELECT s.id FROM streams s JOIN devices d ON s.device_id = d.id WHERE d.user_id = ?)';
    this.delUser = db.prepare(`DELETE FROM datapoints WHERE ${ofUser}`);
    this.delUserChunks = db.prepare(`DELETE FROM chunks WHERE ${ofUser}`);
    this.deviceBytes = db.prepare(
      'SELECT sum(bytes) AS n FROM substreams WHERE stream_id IN (SELECT id FROM streams WHERE device_id = ?)',
    );
  }

  /**
   * Forgets every decoded chunk: after any delete here (a deleted id may come back with other
   * points) and whenever the engine sees a rollback or another connection's write.
   */
  forget(): void {
    this.decoded.clear();
    this.wireCache.clear();
    this.times.clear();
    this.timesBytes = 0;
    this.generation++;
  }

  /** The decoded chunk `id`, from the kept ones or from `data` (fetched when not given). */
  private open(id: number, data: Buffer | null, keep: boolean): DecodedChunk {
    const hit = this.decoded.get(id);
    if (hit !== undefined) {
      if (keep) {
        this.decoded.delete(id);
        this.decoded.set(id, hit);
      }
      return hit;
    }
    const chunk = decodeChunk(data ?? this.chunkData.get(id)!.data);
    if (keep) this.remember(id, chunk);
    return chunk;
  }

  /** Keeps a decoded chunk as the most recent. */
  private remember(id: number, chunk: DecodedChunk): void {
    this.decoded.delete(id);
    if (this.decoded.size >= DECODED_KEEP) this.decoded.delete(this.decoded.keys().next().value as number);
    this.decoded.set(id, chunk);
  }

  /** The timestamps of chunk `c` (its data is fetched only when they are not kept). */
  private timesOf(c: ChunkRow): Float64Array {
    const d = this.decoded.get(c.id);
    if (d !== undefined) return d.times;
    const n = c.i2 - c.i1 + 1;
    const hit = this.times.get(c.id);
    if (hit !== undefined && hit.length === n && hit[0] === c.t1 && hit[n - 1] === c.t2) {
      this.times.delete(c.id);
      this.times.set(c.id, hit);
      return hit;
    }
    const ts = decodeTimes(this.chunkData.get(c.id)!.data);
    if (hit !== undefined) {
      this.times.delete(c.id);
      this.timesBytes -= hit.byteLength;
    }
    if (8 * ts.byteLength <= TIMES_KEEP_BYTES) {
      while (this.timesBytes + ts.byteLength > TIMES_KEEP_BYTES) {
        const [id, old] = this.times.entries().next().value as [number, Float64Array];
        this.times.delete(id);
        this.timesBytes -= old.byteLength;
      }
      this.times.set(c.id, ts);
      this.timesBytes += ts.byteLength;
    }
    return ts;
  }

  substream(streamId: number, sub: Sub): Layout {
    return this.info.get(streamId, sub) ?? { ...EMPTY };
  }

  length(streamId: number, sub: Sub): number {
    return this.info.get(streamId, sub)?.length ?? 0;
  }

  deviceBytesUsed(deviceId: number): number {
    return this.deviceBytes.get(deviceId)?.n ?? 0;
  }

  private saveInfo(streamId: number, sub: Sub, s: Layout): void {
    this.upsertInfo.run(streamId, sub, s.length, s.last_t, s.bytes, s.base, s.sealed, s.tail_bytes);
  }

  private insertTail(streamId: number, sub: Sub, idx: number, points: readonly StoredPoint[], from: number): void {
    let i = from;
    const n = points.length;
    if (n - i >= MULTI) {
      const args: unknown[] = new Array(MULTI * 5);
      for (; n - i >= MULTI; i += MULTI) {
        for (let j = 0; j < MULTI; j++) {
          const p = points[i + j];
          const k = j * 5;
          args[k] = streamId;
          args[k + 1] = sub;
          args[k + 2] = idx++;
          args[k + 3] = p.t;
          args[k + 4] = p.j;
        }
        this.insN.run(args);
      }
    }
    for (; i < n; i++) {
      const p = points[i];
      this.ins1.run(streamId, sub, idx++, p.t, p.j);
    }
  }

  private seal(streamId: number, sub: Sub, i1: number, points: readonly StoredPoint[], from: number, to: number): number {
    const part = from === 0 && to === points.length ? points : points.slice(from, to);
    let wire = 0;
    for (const p of part) wire += p.j.length;
    this.insChunk.run(streamId, sub, i1, i1 + part.length - 1, part[0].t, part[part.length - 1].t, wire, encodeChunk(part));
    return wire;
  }

  /**
   * Appends points (already ordered and restamped) after `info`; must run inside a transaction.
   * When the tail and the new points fill a chunk, the tail is sealed with them; a big batch goes
   * straight into chunks and only its remainder becomes tail rows.
   */
  append(streamId: number, sub: Sub, info: Layout, points: StoredPoint[], addedBytes: number): void {
    const n = points.length;
    const s: Layout = { ...info };
    const end = s.base + s.length;
    const tailN = end - s.sealed;
    s.length += n;
    s.last_t = points[n - 1].t;
    s.bytes += addedBytes;
    if (s.tail_bytes < 0) s.tail_bytes = this.tailBytes(streamId, sub, s.sealed);
    if (tailN + n < CHUNK_POINTS && s.tail_bytes + addedBytes < CHUNK_BYTES) {
      this.insertTail(streamId, sub, end, points, 0);
      s.tail_bytes += addedBytes;
      this.saveInfo(streamId, sub, s);
      return;
    }
    // The old tail cannot fill a chunk alone, so the first chunk always takes all of it.
    let all: StoredPoint[] = points;
    if (tailN > 0) {
      all = this.tailAll.all(streamId, sub, s.sealed);
      for (let i = 0; i < n; i++) all.push(points[i]);
      this.tailDel.run(streamId, sub, s.sealed);
    }
    const c = cuts(all);
    let from = 0;
    for (const to of c) {
      this.seal(streamId, sub, s.sealed, all, from, to);
      s.sealed += to - from;
      from = to;
    }
    let rest = 0;
    for (let i = from; i < all.length; i++) rest += all[i].j.length;
    if (from === 0) {
      // Nothing sealed (cannot happen given the test above, kept for safety): rows stay rows.
      this.insertTail(streamId, sub, end, points, 0);
      s.tail_bytes += addedBytes;
    } else {
      this.insertTail(streamId, sub, s.sealed, all, from);
      s.tail_bytes = rest;
    }
    this.saveInfo(streamId, sub, s);
  }

  private tailBytes(streamId: number, sub: Sub, sealed: number): number {
    let b = 0;
    for (const r of this.tailAll.iterate(streamId, sub, sealed)) b += r.j.length;
    return b;
  }

  /**
   * Seals what an earlier version left as rows, at most `maxChunks` chunks; returns the
   * datapoints sealed (0 when the substream is done). Runs inside the caller's transaction.
   */
  upgradeStep(streamId: number, sub: Sub, maxChunks: number): { sealed: number; done: boolean } {
    const s = this.substream(streamId, sub);
    if (s.tail_bytes >= 0) return { sealed: 0, done: true };
    const limit = maxChunks * CHUNK_POINTS;
    const rows = this.tailRange.all(streamId, sub, s.sealed, s.sealed + limit);
    const c = cuts(rows);
    let from = 0;
    for (const to of c) {
      this.seal(streamId, sub, s.sealed + from, rows, from, to);
      from = to;
    }
    if (from > 0) this.tailDelRange.run(streamId, sub, s.sealed, s.sealed + from);
    this.forget();
    s.sealed += from;
    // Reading fewer rows than asked for means the end was reached: what is left cannot fill a chunk.
    const done = rows.length < limit;
    if (done) s.tail_bytes = this.tailBytes(streamId, sub, s.sealed);
    this.saveInfo(streamId, sub, s);
    return { sealed: from, done };
  }

  /**
   * Opened pieces covering logical [i1, i2), a few chunks per statement so no statement stays open
   * while the consumer writes to a socket. A seal that happens meanwhile moves tail rows into a
   * chunk: the position is then looked up again, so a streaming read never misses datapoints.
   */
  *pieces(streamId: number, sub: Sub, i1: number, i2: number): Generator<Piece> {
    for (const sp of this.spans(streamId, sub, i1, i2, true)) {
      if (sp.row === null) yield { chunk: sp.tail, from: sp.from, to: sp.to };
      else {
        const count = sp.row.i2 - sp.row.i1 + 1;
        yield { chunk: this.open(sp.row.id, sp.row.data, sp.from > 0 || sp.to < count), from: sp.from, to: sp.to };
      }
    }
  }

  /**
   * Appends the UTF-8 of logical [i1, i2)'s wire texts joined by ',' to `sink`, one chunk (or run
   * of tail rows) per step: what a range read answers. Sealed chunks come from the wire-bytes
   * cache when there (a slice copy), else are decoded, and kept there whole, unless the read is
   * a scan (SCAN_POINTS) or the chunk is not ASCII.
   */
  *writeJoined(streamId: number, sub: Sub, i1: number, i2: number, sink: ByteSink): Generator<void> {
    if (i2 <= i1) return;
    const s = this.substream(streamId, sub);
    const cache = this.wireCache;
    const keep = cache.maxBytes > 0 && Math.min(i2, s.length) - i1 <= SCAN_POINTS;
    for (const sp of this.spans(streamId, sub, i1, i2, false, s)) {
      if (sp.row === null) {
        sp.tail.writeJoined(sink, sp.from, sp.to);
        yield;
        continue;
      }
      const r = sp.row;
      let e = cache.get(r, keep);
      if (e === undefined) {
        const count = r.i2 - r.i1 + 1;
        const partial = sp.from > 0 || sp.to < count;
        const data = this.decoded.has(r.id) ? null : this.chunkData.get(r.id)?.data;
        if (data === undefined) {
          // Gone since its row was read: another connection's write the engine has not seen yet.
          this.forget();
          sp.again = true;
          continue;
        }
        // A chunk whose bytes get cached needs no decoded copy kept as well.
        const chunk = this.open(r.id, data, partial && !keep);
        const w = keep ? chunk.wireBytes() : null;
        if (w !== null) e = cache.put(r, w);
        if (e === undefined) {
          if (partial && keep) this.remember(r.id, chunk);
          chunk.writeJoined(sink, sp.from, sp.to);
          yield;
          continue;
        }
      }
      sink.copy(e.bytes, e.offs[sp.from], e.offs[sp.to] - 1);
      yield;
    }
  }

  /**
   * The runs covering logical [i1, i2): sealed chunks' rows (their data only when `withData`), a
   * few per statement so no statement stays open while the consumer writes to a socket, then tail
   * rows. A seal that happens meanwhile moves tail rows into a chunk: the position is then looked
   * up again, so a streaming read never misses datapoints. So is a forget() (a delete or another
   * connection's write) between two chunks of one fetch.
   */
  private *spans(streamId: number, sub: Sub, i1: number, i2: number, withData: boolean, s0?: Layout): Generator<Span> {
    if (i2 <= i1) return;
    let s = s0 ?? this.substream(streamId, sub);
    let p = s.base + i1;
    const pEnd = s.base + Math.min(i2, s.length);
    const stmt = withData ? this.chunksFrom : this.chunksFromMeta;
    while (p < pEnd) {
      if (p < s.sealed) {
        const rows = stmt.all(streamId, sub, streamId, sub, p, pEnd, withData ? FETCH : FETCH_META);
        if (rows.length === 0) return;
        const gen = this.generation;
        for (const r of rows) {
          const count = r.i2 - r.i1 + 1;
          const from = Math.max(0, p - r.i1);
          const to = Math.min(count, pEnd - r.i1);
          if (to > from) {
            const sp: Span = { row: r, tail: null, from, to, again: false };
            yield sp;
            if (sp.again) break;
          }
          if (r.i1 + to > p) p = r.i1 + to;
          // The rows fetched with this one may be stale now.
          if (this.generation !== gen) break;
        }
        continue;
      }
      const want = Math.min(pEnd, p + CHUNK_POINTS) - p;
      const rows = this.tailRange.all(streamId, sub, p, p + want);
      if (rows.length > 0) {
        yield { row: null, tail: new TailChunk(rows), from: 0, to: rows.length, again: false };
        p += rows.length;
      }
      if (rows.length < want) {
        const before = s.sealed;
        s = this.substream(streamId, sub);
        if (s.sealed === before) return;
      }
    }
  }

  /** Wire-form datapoints [i1, i2) in index order. */
  read(streamId: number, sub: Sub, i1: number, i2: number): string[] {
    const out: string[] = [];
    for (const pc of this.pieces(streamId, sub, i1, i2)) {
      for (const w of pc.chunk.wires(pc.from, pc.to)) out.push(w);
    }
    return out;
  }

  /**
   * Index of the first datapoint with timestamp strictly greater than `t` (the length when there
   * is none): the first chunk whose last timestamp is past t (one index seek), then a binary
   * search inside it; past every chunk, a binary search over the tail rows.
   */
  time2index(streamId: number, sub: Sub, t: number, _length?: number): number {
    const s = this.substream(streamId, sub);
    const c = this.chunkAfterT.get(streamId, sub, t);
    if (c) {
      if (c.t1 > t) return c.i1 - s.base;
      const ts = this.timesOf(c);
      let lo = 0;
      let hi = ts.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (ts[mid] > t) hi = mid;
        else lo = mid + 1;
      }
      return c.i1 + lo - s.base;
    }
    let lo = s.sealed;
    let hi = s.base + s.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.tAtStmt.get(streamId, sub, mid)!.t > t) hi = mid;
      else lo = mid + 1;
    }
    return lo - s.base;
  }

  /**
   * Removes logical [i1, i2) (already clamped); later datapoints' indexes shift down. Chunks
   * inside the range are dropped, the one or two overlapping its ends rewritten. Runs inside the
   * caller's transaction; returns the number of datapoints removed.
   */
  deleteRange(streamId: number, sub: Sub, i1: number, i2: number): number {
    const s = this.substream(streamId, sub);
    if (i2 > s.length) i2 = s.length;
    if (i1 < 0) i1 = 0;
    if (i2 <= i1) return 0;
    this.forget();
    const k = i2 - i1;
    const pa = s.base + i1;
    const pb = s.base + i2;
    let removedBytes = 0;
    // Chunks: overlapping [pa, pb) means i1 < pb and i2 >= pa.
    const sealedEnd = s.sealed;
    const keepRight: StoredPoint[] = [];
    if (pa < sealedEnd) {
      const first = this.chunkAt.get(streamId, sub, pa);
      const start = first ? first.i1 : pa;
      const rows = this.db
        .prepare<[number, number, number, number], ChunkRow>(
          'SELECT id, i1, i2, t1, t2, wire, data FROM chunks WHERE stream_id = ? AND sub = ? AND i1 >= ? AND i1 < ? ORDER BY i1',
        )
        .iterate(streamId, sub, start, pb);
      const drop: number[] = [];
      const rewrite: { row: ChunkRow; chunk: DecodedChunk }[] = [];
      for (const r of rows) {
        if (r.i2 < pa) continue;
        if (r.i1 >= pa && r.i2 < pb) {
          removedBytes += r.wire;
          drop.push(r.id);
        } else rewrite.push({ row: r, chunk: decodeChunk(r.data) });
      }
      const delChunk = this.db.prepare('DELETE FROM chunks WHERE id = ?');
      for (const id of drop) delChunk.run(id);
      for (const { row, chunk } of rewrite) {
        delChunk.run(row.id);
        const texts = chunk.wires();
        const left: StoredPoint[] = [];
        const right: StoredPoint[] = [];
        for (let q = 0; q < chunk.count; q++) {
          const idx = row.i1 + q;
          const pt = { t: chunk.times[q], j: texts[q] };
          if (idx < pa) left.push(pt);
          else if (idx >= pb) right.push(pt);
          else removedBytes += texts[q].length;
        }
        if (left.length) this.seal(streamId, sub, row.i1, left, 0, left.length);
        // The right part is re-sealed after the shift, at its new place.
        for (const pt of right) keepRight.push(pt);
      }
    }
    // Tail rows inside the range.
    const tailFrom = Math.max(pa, sealedEnd);
    if (tailFrom < pb) {
      let b = 0;
      for (const r of this.tailRange.iterate(streamId, sub, tailFrom, pb)) b += r.j.length;
      removedBytes += b;
      if (s.tail_bytes >= 0) s.tail_bytes -= b;
      this.tailDelRange.run(streamId, sub, tailFrom, pb);
    }
    if (i1 === 0) {
      // A delete from the start moves the base instead of renumbering what follows.
      s.base = pb;
      if (keepRight.length) {
        this.seal(streamId, sub, pb, keepRight, 0, keepRight.length);
      }
      if (s.sealed < pb) s.sealed = pb;
    } else {
      // Shift everything at or after pb down by k, through negative keys so the unique index
      // never sees two rows at once on one index.
      this.db.prepare('UPDATE chunks SET i1 = -1 - (i1 - ?), i2 = i2 - ? WHERE stream_id = ? AND sub = ? AND i1 >= ?').run(k, k, streamId, sub, pb);
      this.db.prepare('UPDATE chunks SET i1 = -1 - i1 WHERE stream_id = ? AND sub = ? AND i1 < 0').run(streamId, sub);
      this.db.prepare('UPDATE datapoints SET idx = -1 - (idx - ?) WHERE stream_id = ? AND sub = ? AND idx >= ?').run(k, streamId, sub, pb);
      this.db.prepare('UPDATE datapoints SET idx = -1 - idx WHERE stream_id = ? AND sub = ? AND idx < 0').run(streamId, sub);
      if (keepRight.length) this.seal(streamId, sub, pa, keepRight, 0, keepRight.length);
      s.sealed = s.sealed >= pb ? s.sealed - k : Math.min(s.sealed, pa);
    }
    s.length -= k;
    s.bytes -= removedBytes;
    if (s.tail_bytes < 0) s.tail_bytes = this.tailBytes(streamId, sub, s.sealed);
    if (i2 === s.length + k) {
      // The end went: the ordering rule now starts from the new last datapoint.
      s.last_t = s.length === 0 ? 0 : this.tAt(streamId, sub, s.length - 1, s);
    }
    this.saveInfo(streamId, sub, s);
    return k;
  }

  tAt(streamId: number, sub: Sub, i: number, s: Layout = this.substream(streamId, sub)): number {
    const p = s.base + i;
    if (p >= s.sealed) return this.tAtStmt.get(streamId, sub, p)!.t;
    const c = this.chunkAt.get(streamId, sub, p)!;
    return this.open(c.id, c.data, true).times[p - c.i1];
  }

  /**
   * How many datapoints from the start form whole sealed chunks that lie entirely before logical
   * index `keepFrom` or at or before time `tMin` (what retention may drop without rewriting).
   */
  droppableChunks(streamId: number, sub: Sub, keepFrom: number, tMin: number): number {
    const s = this.substream(streamId, sub);
    // The last chunk ending before both limits: everything up to its end may go.
    const r = this.db
      .prepare<[number, number, number, number, number], { i2: number | null }>(
        'SELECT max(i2) AS i2 FROM chunks WHERE stream_id = ? AND sub = ? AND i2 < ? AND (t2 <= ? OR i2 < ?)',
      )
      .get(streamId, sub, s.sealed, tMin, s.base + keepFrom);
    if (!r || r.i2 === null) return 0;
    return r.i2 + 1 - s.base;
  }

  /** Substreams whose stream has its own retention (or every substream when `all`). */
  substreamsWithRetention(all: boolean): { stream_id: number; sub: Sub }[] {
    return this.db
      .prepare<[number], { stream_id: number; sub: Sub }>(
        `SELECT s.stream_id, s.sub FROM substreams s JOIN streams st ON st.id = s.stream_id
          WHERE ? OR st.keep_datapoints > 0 OR st.keep_seconds > 0 ORDER BY s.stream_id, s.sub`,
      )
      .all(all ? 1 : 0);
  }

  /** Gives up to ~4 MB of free pages back to the file system (a no-op unless auto_vacuum is INCREMENTAL). */
  vacuumSome(): void {
    this.db.pragma('incremental_vacuum(1024)');
  }

  /** Figures per substream for the storage interface's storageStats. */
  substreamStats(): StreamStorageStats[] {
    return this.db
      .prepare<[], StreamStorageStats>(
        `SELECT s.stream_id AS streamId, s.sub, s.length AS datapoints,
                (SELECT count(*) FROM chunks c WHERE c.stream_id = s.stream_id AND c.sub = s.sub) AS chunks,
                s.base + s.length - s.sealed AS tail,
                (SELECT coalesce(sum(length(data)), 0) FROM chunks c WHERE c.stream_id = s.stream_id AND c.sub = s.sub)
                  + (SELECT coalesce(sum(length(CAST(j AS BLOB))), 0) FROM datapoints p WHERE p.stream_id = s.stream_id AND p.sub = s.sub) AS bytes
           FROM substreams s ORDER BY s.stream_id, s.sub`,
      )
      .all();
  }

  deleteSubstream(streamId: number, sub: Sub): void {
    this.forget();
    this.delSub.run(streamId, sub);
    this.delSubChunks.run(streamId, sub);
    this.delSubInfo.run(streamId, sub);
  }
  deleteStream(streamId: number): void {
    this.forget();
    this.delStream.run(streamId);
    this.delStreamChunks.run(streamId);
  }
  deleteDevice(deviceId: number): void {
    this.forget();
    this.delDevice.run(deviceId);
    this.delDeviceChunks.run(deviceId);
  }
  deleteUser(userId: number): void {
    this.forget();
    this.delUser.run(userId);
    this.delUserChunks.run(userId);
  }
}
