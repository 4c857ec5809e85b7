import { performance } from 'node:perf_hooks';
import { BadRequestError, ForbiddenError, NotFoundError } from '../../errors';
import type { Datapoint } from '../../pipescript/datapoint';
import type { StreamQuery, StreamReader } from '../../query/types';
import type { Core } from '../core';
import { CANT_ACCESS, findStream } from '../resolve';
import { validator } from '../streams/schema';
import type { Operator, StreamRef, StreamRow } from '../types';
import { DOWNLINK, MAIN, type StoredPoint, type Sub } from '../../storage/types';
import { type Transformer, compileTransform } from './transform';
import type { StorageStats } from '../../storage/sqlite/chunked';

export const nowSeconds = (): number => (performance.timeOrigin + performance.now()) / 1000;

/** A resolved read: a substream and an index range, optionally with a transform and output limit. */
export interface ReadPlan {
  ref: StreamRef;
  sub: Sub;
  i1: number;
  i2: number;
  transform: Transformer | null;
  /** Output limit after the transform (time queries with a transform); 0 = none. */
  limit: number;
}

export interface InsertOptions {
  restamp: boolean;
  /** The client asked for the downlink substream explicitly. */
  downlink: boolean;
}

/** Characters a canonical JSON number (as String(n) writes it) may contain after its first one. */
function numberTail(j: string, from: number, end: number): boolean {
  for (let k = from; k < end; k++) {
    const c = j.charCodeAt(k);
    if (!((c >= 48 && c <= 57) || c === 46 || c === 101 || c === 69 || c === 43 || c === 45)) return false;
  }
  return true;
}

/**
 * Turns a stored wire-form datapoint back into the object transforms, merges and datasets use.
 * Most sensor data is `{"t":<number>,"d":<number>}`: that shape is sliced directly, twice as fast
 * as JSON.parse; anything else (strings, objects, a writer `o`, t = 0) goes through JSON.parse.
 */
export function parseStored(j: string): Datapoint {
  // '{"t":' — t is non-zero, so the text starts with it.
  if (j.charCodeAt(2) === 116) {
    const i = j.indexOf(',"d":', 5);
    if (i > 0) {
      const c = j.charCodeAt(i + 5);
      const end = j.length - 1;
      if (((c >= 48 && c <= 57) || c === 45) && numberTail(j, i + 6, end)) return { t: +j.slice(5, i), d: +j.slice(i + 5, end) };
    }
  }
  const x = JSON.parse(j) as Datapoint;
  if (x.t === undefined) x.t = 0;
  if (x.d === undefined) x.d = null;
  return x;
}

/** The wire form of a datapoint: `t` omitted when 0, `d` when null, `o` when empty (data-model §5.1). */
export function wireJSON(t: number, dText: string | null, oText: string | null): string {
  let s = t === 0 ? '{' : '{"t":' + t;
  if (dText !== null) s += (s.length === 1 ? '"d":' : ',"d":') + dText;
  if (oText !== null) s += (s.length === 1 ? '"o":' : ',"o":') + oText;
  return s + '}';
}

/**
 * Datapoints: insert with the original's ordering and restamp rules, ranged reads, length and
 * time2index (rest-api §8, data-model §5–§9).
 */
export class DatapointService {
  constructor(private readonly core: Core) {}

  /** Parses the `downlink` parameter with Go's strconv.ParseBool (rest-api §7.6). */
  static goBool(v: unknown): boolean {
    return v === '1' || v === 't' || v === 'T' || v === 'TRUE' || v === 'true' || v === 'True';
  }

  private readable(op: Operator, ref: StreamRef, sub: Sub): boolean {
    const r = this.core.accessDevice(op, ref.device).read;
    return sub === MAIN ? r.can_access_stream_data : r.can_access_stream_downlink;
  }

  /** Resolve + read permission; not-found messages and the no-access answer are 403 here. */
  openForRead(op: Operator, user: string, device: string, stream: string, downlink: boolean, Err = ForbiddenError): { ref: StreamRef; sub: Sub } {
    const ref = findStream(this.core, user, device, stream, Err);
    const sub: Sub = downlink ? DOWNLINK : MAIN;
    if (!this.readable(op, ref, sub)) throw new Err(CANT_ACCESS);
    return { ref, sub };
  }

  length(op: Operator, user: string, device: string, stream: string, downlink: boolean): number {
    const { ref, sub } = this.openForRead(op, user, device, stream, downlink);
    return this.core.data.length(ref.stream.id, sub);
  }

  /** Index of the first datapoint newer than t; past the end, the length (the original said 0, rest-api §12). */
  time2index(op: Operator, user: string, device: string, stream: string, downlink: boolean, t: string | undefined): number {
    const { ref, sub } = this.openForRead(op, user, device, stream, downlink, NotFoundError);
    const tv = t === undefined || t === '' ? NaN : Number(t);
    if (!Number.isFinite(tv)) throw new ForbiddenError('time2index requires an argument of "t" which is a decimal timestamp');
    return this.core.data.time2index(ref.stream.id, sub, tv);
  }

  /** Python-style index range resolution (rest-api §8.2). */
  resolveIndexRange(length: number, i1: number, i2: number): [number, number] {
    if (length === 0) {
      if (i1 <= 0) return [0, 0];
      throw new ForbiddenError('Invalid index range.');
    }
    if (i1 < 0) i1 = Math.max(0, i1 + length);
    if (i2 <= 0) i2 += length;
    if (i2 > length) i2 = length;
    if (i2 < i1) throw new ForbiddenError('Invalid index range.');
    return [i1, i2];
  }

  /** Plans an index query on an opened substream. */
  planIndex(ref: StreamRef, sub: Sub, i1: number, i2: number, transform: Transformer | null): ReadPlan {
    const n = this.core.data.length(ref.stream.id, sub);
    const [a, b] = this.resolveIndexRange(n, i1, i2);
    return { ref, sub, i1: a, i2: b, transform, limit: 0 };
  }

  /** Plans a time query: t1 exclusive, t2 inclusive (0 = open), limit after the transform. */
  planTime(ref: StreamRef, sub: Sub, t1: number, t2: number, limit: number, transform: Transformer | null): ReadPlan {
    const id = ref.stream.id;
    const n = this.core.data.length(id, sub);
    const a = this.core.data.time2index(id, sub, t1, n);
    let b = t2 > 0 ? this.core.data.time2index(id, sub, t2, n) : n;
    if (b < a) b = a;
    if (limit > 0 && !transform && b - a > limit) b = a + limit;
    return { ref, sub, i1: a, i2: b, transform, limit: transform ? limit : 0 };
  }

  /**
   * Stored rows of a plan, one sealed chunk (or a bounded run of tail rows) at a time, so no
   * SQLite statement stays open across event-loop turns and memory stays flat.
   */
  *rows(plan: ReadPlan): Generator<string[]> {
    for (const pc of this.core.data.pieces(plan.ref.stream.id, plan.sub, plan.i1, plan.i2)) {
      // One string per chunk: the route joins rows with ',' and a chunk's text comes joined.
      yield [pc.chunk.joined(pc.from, pc.to)];
    }
  }

  /**
   * The plan's datapoints as objects, transform and limit applied: what merges and datasets
   * consume. Numeric chunks hand over their typed arrays, so no JSON text is parsed for them.
   */
  datapoints(plan: ReadPlan): Iterator<Datapoint> {
    const pieces = this.core.data.pieces(plan.ref.stream.id, plan.sub, plan.i1, plan.i2);
    function* source(): Generator<Datapoint> {
      for (const pc of pieces) {
        const v = pc.chunk.numeric;
        if (v) {
          const ts = pc.chunk.times;
          for (let k = pc.from; k < pc.to; k++) yield { t: ts[k], d: v[k] };
        } else {
          const tx = pc.chunk.wires(pc.from, pc.to);
          for (let k = 0; k < tx.length; k++) yield parseStored(tx[k]);
        }
      }
    }
    let it: Iterator<Datapoint> = source();
    if (plan.transform) it = plan.transform.run(it);
    if (plan.limit > 0) it = limitIter(it, plan.limit);
    return it;
  }

  /** A StreamReader for merges and datasets, acting with the caller's permissions. */
  reader(op: Operator): StreamReader {
    const open = (path: string) => {
      const parts = path.split('/');
      if (parts.length < 3 || parts.length > 4) throw new ForbiddenError('The requested stream was not found.');
      if (parts.length === 4 && parts[3] !== 'downlink') throw new ForbiddenError('Unrecognized substream type');
      return this.openForRead(op, parts[0], parts[1], parts[2], parts.length === 4);
    };
    return {
      query: (q: StreamQuery) => {
        const { ref, sub } = open(q.stream);
        const transform = compileTransform(q.transform);
        const isTime = !!(q.t1 || q.t2 || q.limit);
        if (isTime && (q.i1 || q.i2)) throw new ForbiddenError('Only one query method (index or time) can be used at a time');
        const plan = isTime
          ? this.planTime(ref, sub, q.t1 ?? 0, q.t2 ?? 0, q.limit ?? 0, transform)
          : this.planIndex(ref, sub, q.i1 ?? 0, q.i2 ?? 0, transform);
        return this.datapoints(plan);
      },
      queryFrom: (stream: string, transformSrc: string | undefined, tstart: number, backtrack: number) => {
        const { ref, sub } = open(stream);
        const transform = compileTransform(transformSrc);
        const n = this.core.data.length(ref.stream.id, sub);
        let i1 = 0;
        if (tstart !== 0) i1 = Math.max(0, this.core.data.time2index(ref.stream.id, sub, tstart, n) - backtrack);
        return this.datapoints({ ref, sub, i1, i2: n, transform, limit: 0 });
      },
    };
  }

  /**
   * Validates the body of an insert (400 for shapes the original's JSON decoder refused) and
   * returns the datapoints with missing/zero timestamps still 0.
   */
  static parseInsertBody(body: unknown): Datapoint[] {
    if (!Array.isArray(body)) {
      throw new BadRequestError(`json: cannot unmarshal ${goType(body)} into Go value of type []datastream.Datapoint`);
    }
    const out: Datapoint[] = new Array(body.length);
    for (let i = 0; i < body.length; i++) {
      const e = body[i] as { t?: unknown; d?: unknown } | null;
      if (e === null) {
        out[i] = { t: 0, d: null };
        continue;
      }
      if (typeof e !== 'object' || Array.isArray(e)) {
        throw new BadRequestError(`json: cannot unmarshal ${goType(e)} into Go value of type datastream.Datapoint`);
      }
      const t = e.t;
      if (t !== undefined && t !== null && typeof t !== 'number') {
        throw new BadRequestError(`json: cannot unmarshal ${goType(t)} into Go struct field Datapoint.t of type float64`);
      }
      out[i] = { t: (t as number | null | undefined) ?? 0, d: e.d === undefined ? null : e.d };
    }
    return out;
  }

  /**
   * The insert of rest-api §8.1 steps 1–8. `points` come from parseInsertBody (or the websocket);
   * their `t` may be rewritten. All-or-nothing; publishes what was stored.
   */
  insert(op: Operator, user: string, device: string, stream: string, points: Datapoint[], opts: InsertOptions): void {
    const ref = findStream(this.core, user, device, stream, ForbiddenError);
    this.insertInto(op, ref, points, opts);
  }

  insertInto(op: Operator, ref: StreamRef, points: Datapoint[], opts: InsertOptions): void {
    const owner = op.device.id === ref.device.id;
    let sub: Sub = opts.downlink ? DOWNLINK : MAIN;
    let o = '';
    if (!owner) {
      o = op.name;
      if (ref.stream.downlink) sub = DOWNLINK;
    }
    const w = this.core.accessDevice(op, ref.device).write;
    if (sub === MAIN && !w.can_access_stream_data) throw new ForbiddenError('Write access to stream data denied.');
    if (sub === DOWNLINK && !w.can_access_stream_downlink) throw new ForbiddenError('Write access to stream downlink denied.');
    this.store(ref, sub, points, o, opts.restamp);
  }

  /** Steps 4–8 without permission checks: also used for the meta log and imports. */
  store(ref: StreamRef, sub: Sub, points: Datapoint[], o: string, restamp: boolean): void {
    const n = points.length;
    if (n > 0) {
      let now = 0;
      for (let i = 0; i < n; i++) {
        if (points[i].t === 0) {
          if (now === 0) now = nowSeconds();
          points[i].t = now;
        }
      }
      const validate = validator(ref.stream.schema);
      if (validate) {
        for (let i = 0; i < n; i++) {
          if (!validate(points[i].d)) throw new ForbiddenError("At least one datapoint did not conform to the stream's schema");
        }
      }
      for (let i = 1; i < n; i++) {
        if (points[i].t < points[i - 1].t) throw new ForbiddenError('Timestamps are not ordered!');
      }
      const oo = o === '' ? null : o;
      for (let i = 0; i < n; i++) {
        if (oo === null) delete points[i].o;
        else points[i].o = oo;
      }
      if (!ref.stream.ephemeral) this.persist(ref, sub, points, oo, restamp);
    }
    this.publish(ref, sub, points);
  }

  private persist(ref: StreamRef, sub: Sub, points: Datapoint[], o: string | null, restamp: boolean): void {
    const core = this.core;
    const id = ref.stream.id;
    const role = core.permissions.userRole(ref.user.role);
    core.tx(() => {
      const info = core.data.substream(id, sub);
      const e = info.length === 0 ? 0 : info.last_t;
      if (e > points[0].t) {
        if (!restamp) throw new ForbiddenError('Greater timestamp already exists for the stream. Insert Failed.');
        // data-model §6.2, without the original's +0.00001 artefact (its own recommendation).
        for (let i = 0; i < points.length && points[i].t <= e; i++) points[i].t = e;
      }
      const stored: StoredPoint[] = new Array(points.length);
      const oText = o === null ? null : JSON.stringify(o);
      let bytes = 0;
      for (let i = 0; i < points.length; i++) {
        const d = points[i].d;
        const j = wireJSON(points[i].t, d === null ? null : typeof d === 'number' ? numText(d) : JSON.stringify(d), oText);
        bytes += j.length;
        stored[i] = { t: points[i].t, j };
      }
      if (role.max_stream_size > 0 && info.bytes + bytes > role.max_stream_size) {
        throw new ForbiddenError('Insert Failed: Exceeded stream size limit');
      }
      if (role.max_device_size > 0 && core.data.deviceBytesUsed(ref.device.id) + bytes > role.max_device_size) {
        throw new ForbiddenError('Insert Failed: Exceeded device size limit');
      }
      core.data.append(id, sub, info, stored, bytes);
      const keep = this.retention(ref.stream);
      if (keep) {
        // Whole sealed chunks only: cheap, and never touches what this insert just wrote.
        const drop = core.data.droppableChunks(id, sub, keep.n > 0 ? info.length + stored.length - keep.n : -1, keep.d > 0 ? nowSeconds() - keep.d : -Infinity);
        if (drop > 0) core.data.deleteRange(id, sub, 0, drop);
      }
    });
  }

  /** Datapoints, chunks and bytes on disk per substream (admins only over REST). */
  storageInfo(op: Operator): StorageStats {
    if (op.user.role !== 'admin') throw new ForbiddenError('Only an admin may read the database figures');
    return this.core.data.stats();
  }

  /** The retention that applies to a stream: its own, else the config's; null when none. */
  retention(s: StreamRow): { n: number; d: number } | null {
    if (s.keep_datapoints || s.keep_seconds) return { n: s.keep_datapoints ?? 0, d: s.keep_seconds ?? 0 };
    const r = this.core.config.retention;
    if (r && (r.datapoints > 0 || r.seconds > 0)) return { n: r.datapoints, d: r.seconds };
    return null;
  }

  /**
   * Trims every substream to its retention exactly (the insert only drops whole chunks), one
   * transaction per substream, then returns freed pages to the file system a little at a time.
   * Returns the datapoints removed.
   */
  sweepRetention(now = nowSeconds()): number {
    const core = this.core;
    const all = core.config.retention && (core.config.retention.datapoints > 0 || core.config.retention.seconds > 0);
    let removed = 0;
    for (const r of core.data.substreamsWithRetention(!!all)) {
      const stream = core.streams.getById(r.stream_id);
      if (!stream) continue;
      const keep = this.retention(stream);
      if (!keep) continue;
      removed += core.tx(() => {
        const n = core.data.length(r.stream_id, r.sub);
        let k = keep.n > 0 ? n - keep.n : 0;
        if (keep.d > 0) k = Math.max(k, core.data.time2index(r.stream_id, r.sub, now - keep.d, n));
        return k > 0 ? core.data.deleteRange(r.stream_id, r.sub, 0, k) : 0;
      });
    }
    if (removed > 0) core.data.vacuumSome();
    return removed;
  }

  private publish(ref: StreamRef, sub: Sub, points: Datapoint[]): void {
    const path = sub === DOWNLINK ? `${ref.path}/downlink` : ref.path;
    if (this.core.bus.listenerCount(path) > 0) this.core.bus.publish({ stream: path, data: points });
  }

  /** Deletes the data of one substream (DELETE ?downlink=true, downlink switched off). */
  clearSubstream(stream: StreamRow, sub: Sub): void {
    this.core.data.deleteSubstream(stream.id, sub);
  }
}

function* limitIter(it: Iterator<Datapoint>, n: number): Generator<Datapoint> {
  for (let i = 0; i < n; i++) {
    const r = it.next();
    if (r.done) return;
    yield r.value;
  }
}

/** Numbers as JSON writes them (JSON has no NaN/Infinity; they cannot arrive through JSON.parse). */
function numText(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}

/** Go's JSON type names, for decoder-style error messages. */
export function goType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  return typeof v === 'boolean' ? 'bool' : typeof v;
}
