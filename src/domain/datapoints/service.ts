import { performance } from 'node:perf_hooks';
import { BadRequestError, ForbiddenError, NotFoundError } from '../../errors';
import { type Datapoint, PAUSE, PAUSE_SLICE_MS } from '../../pipescript/datapoint';
import type { Reducer } from '../../pipescript/reduce';
import type { ByteSink } from '../../storage/chunks';
import type { StreamQuery, StreamReader } from '../../query/types';
import type { UserRole } from '../../permissions';
import { DOWNLINK, type InsertRule, MAIN, type Retention, type StoredPoint, type StreamRow, type Sub, type SyncReads } from '../../storage/types';
import type { Core } from '../core';
import { CANT_ACCESS, findStream, findStreamSync } from '../resolve';
import { validator } from '../streams/schema';
import type { Operator, StreamRef } from '../types';
import { type Transformer, compileTransform } from './transform';
import { Buckets, addStored } from './downsample';

/** Rows per SQLite read while streaming: big enough to amortise the query, small enough to stay flat in memory. */
export const READ_CHUNK = 2000;

/** Python-style index range resolution (rest-api §8.2); also what a DELETE of a range resolves. */
export function resolveIndexRange(length: number, i1: number, i2: number): [number, number] {
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

/** Storage figures in total and per substream. */
export interface StorageInfo {
  datapoints: number;
  chunks: number;
  /** Bytes of the datapoints: chunk bytes plus tail rows' text (not the metadata, not free pages). */
  bytes: number;
  bytes_per_datapoint: number;
  substreams: {
    stream: string;
    substream: 'main' | 'downlink';
    datapoints: number;
    chunks: number;
    /** Datapoints still rows, waiting for enough to seal a chunk. */
    tail: number;
    bytes: number;
    bytes_per_datapoint: number;
  }[];
}

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
  async openForRead(op: Operator, user: string, device: string, stream: string, downlink: boolean, Err = ForbiddenError): Promise<{ ref: StreamRef; sub: Sub }> {
    const ref = await findStream(this.core, user, device, stream, Err);
    return this.checkRead(op, ref, downlink, Err);
  }

  /** openForRead for the synchronous query pipeline (see SyncReads in storage/types.ts). */
  openForReadSync(op: Operator, user: string, device: string, stream: string, downlink: boolean, Err = ForbiddenError): { ref: StreamRef; sub: Sub } {
    return this.checkRead(op, findStreamSync(this.core, user, device, stream, Err), downlink, Err);
  }

  private checkRead(op: Operator, ref: StreamRef, downlink: boolean, Err: typeof ForbiddenError): { ref: StreamRef; sub: Sub } {
    const sub: Sub = downlink ? DOWNLINK : MAIN;
    if (!this.readable(op, ref, sub)) throw new Err(CANT_ACCESS);
    return { ref, sub };
  }

  async length(op: Operator, user: string, device: string, stream: string, downlink: boolean): Promise<number> {
    const { ref, sub } = await this.openForRead(op, user, device, stream, downlink);
    return this.core.data.length(ref.stream.id, sub);
  }

  /** Index of the first datapoint newer than t; past the end, the length (the original said 0, rest-api §12). */
  async time2index(op: Operator, user: string, device: string, stream: string, downlink: boolean, t: string | undefined): Promise<number> {
    const { ref, sub } = await this.openForRead(op, user, device, stream, downlink, NotFoundError);
    const tv = t === undefined || t === '' ? NaN : Number(t);
    if (!Number.isFinite(tv)) throw new ForbiddenError('time2index requires an argument of "t" which is a decimal timestamp');
    return this.core.data.time2index(ref.stream.id, sub, tv);
  }

  /** Python-style index range resolution (rest-api §8.2). */
  resolveIndexRange(length: number, i1: number, i2: number): [number, number] {
    return resolveIndexRange(length, i1, i2);
  }

  /** Plans an index query on an opened substream. */
  async planIndex(ref: StreamRef, sub: Sub, i1: number, i2: number, transform: Transformer | null): Promise<ReadPlan> {
    const n = await this.core.data.length(ref.stream.id, sub);
    const [a, b] = this.resolveIndexRange(n, i1, i2);
    return { ref, sub, i1: a, i2: b, transform, limit: 0 };
  }

  /** Plans a time query: t1 exclusive, t2 inclusive (0 = open), limit after the transform. */
  async planTime(ref: StreamRef, sub: Sub, t1: number, t2: number, limit: number, transform: Transformer | null): Promise<ReadPlan> {
    const id = ref.stream.id;
    const sync = this.core.storage.sync;
    // Three lookups: on SQLite one synchronous pass (the length once); awaited where a synchronous
    // call would block the event loop on a round trip (PostgreSQL).
    if (sync && !sync.remote) return timePlan(ref, sub, t1, t2, limit, transform, sync);
    const n = await this.core.data.length(id, sub);
    const a = n === 0 ? 0 : await this.core.data.time2index(id, sub, t1);
    let b = t2 > 0 && n > 0 ? await this.core.data.time2index(id, sub, t2) : n;
    if (b < a) b = a;
    if (limit > 0 && !transform && b - a > limit) b = a + limit;
    return { ref, sub, i1: a, i2: b, transform, limit: transform ? limit : 0 };
  }

  /** Stored wire texts of a plan, in batches: what a read without a transform sends as is. */
  rows(plan: ReadPlan): AsyncIterableIterator<string[]> {
    const data = this.core.data;
    const counters = this.core.counters;
    const id = plan.ref.stream.id;
    // A chunk's text comes joined: one element per chunk, which the route's join leaves as is.
    const joined = data.readJoined?.(id, plan.sub, plan.i1, plan.i2);
    const n = plan.i2 - plan.i1;
    return (async function* () {
      if (!joined) {
        for await (const rows of data.readBatches(id, plan.sub, plan.i1, plan.i2, READ_CHUNK)) {
          counters.datapointsRead += rows.length;
          yield rows;
        }
        return;
      }
      for await (const s of joined) yield [s];
      counters.datapointsRead += n;
    })();
  }

  /**
   * The plan's stored wire texts as UTF-8 bytes, for engines that write them so (readJoinedInto):
   * a function that starts the read into a sink, each step appending one batch (the caller puts
   * the ',' between batches); null otherwise, then rows().
   */
  joinedInto(plan: ReadPlan): ((sink: ByteSink) => AsyncIterator<void>) | null {
    const data = this.core.data;
    if (!data.readJoinedInto) return null;
    const counters = this.core.counters;
    const id = plan.ref.stream.id;
    return (sink) => {
      counters.datapointsRead += plan.i2 - plan.i1;
      return data.readJoinedInto!(id, plan.sub, plan.i1, plan.i2, sink);
    };
  }

  /**
   * The plan's datapoints as objects, transform and limit applied: what merges and datasets
   * consume. Synchronous, over the engine's synchronous reads (see SyncReads in storage/types.ts).
   * With `pauses`, a consumer that gives the event loop a turn on a PAUSE (pipescript/datapoint.ts)
   * gets one whenever the read has worked PAUSE_SLICE_MS without handing it one, output or not
   * (a transform that drops everything must not hold every other request until it is done); a
   * transform that cannot pass pauses (Script.pausable) is fed without them.
   */
  datapoints(plan: ReadPlan, pauses = false): Iterator<Datapoint> {
    const sync = this.syncReads();
    const id = plan.ref.stream.id;
    const sub = plan.sub;
    const i1 = plan.i1;
    const i2 = plan.i2;
    // Chunked, so no SQLite statement stays open across event-loop turns (a pause included: a
    // piece is read whole before it is handed on). Numeric chunks hand over their typed arrays:
    // no JSON text is parsed for them.
    const counters = this.core.counters;
    // `sum | if last` and its kin over chunked storage: numeric chunks are reduced from their
    // typed arrays, with the answer of the general pipeline (pipescript/reduce.ts).
    const reducer = sync.pieces ? (plan.transform?.reducer() ?? null) : null;
    const pausing = pauses && (reducer !== null || !plan.transform || plan.transform.pausable);
    function* source(): Generator<Datapoint> {
      let since = pausing ? performance.now() : 0;
      if (sync.pieces) {
        for (let it = sync.pieces(id, sub, i1, i2), r = it.next(); !r.done; r = it.next()) {
          const pc = r.value;
          counters.datapointsRead += pc.to - pc.from;
          const v = pc.chunk.numeric;
          if (v) {
            const ts = pc.chunk.times;
            for (let k = pc.from; k < pc.to; k++) yield { t: ts[k], d: v[k] };
          } else {
            const tx = pc.chunk.wires(pc.from, pc.to);
            for (let k = 0; k < tx.length; k++) yield parseStored(tx[k]);
          }
          if (pausing && performance.now() - since >= PAUSE_SLICE_MS) {
            yield PAUSE;
            since = performance.now();
          }
        }
        return;
      }
      for (let i = i1; i < i2; i += READ_CHUNK) {
        const rows = sync.read(id, sub, i, Math.min(i2, i + READ_CHUNK));
        if (rows.length === 0) return;
        counters.datapointsRead += rows.length;
        for (const r of rows) yield parseStored(r);
        if (pausing && performance.now() - since >= PAUSE_SLICE_MS) {
          yield PAUSE;
          since = performance.now();
        }
      }
    }
    let it: Iterator<Datapoint>;
    if (reducer !== null) it = reduced(sync, id, sub, i1, i2, reducer, counters, pausing);
    else {
      it = source();
      if (plan.transform) it = plan.transform.run(it);
    }
    if (plan.limit > 0) it = limitIter(it, plan.limit);
    return it;
  }

  private syncReads(): SyncReads {
    const sync = this.core.storage.sync;
    // Both engines have it (storage/types.ts, SyncReads); an engine without it cannot run pipelines.
    if (!sync) throw new Error('transforms, merges and datasets need an engine with synchronous reads');
    return sync;
  }

  /**
   * Min, max, mean and count per bucket of equal width: `n` buckets over (t1, t2] for time plans
   * (t1 = 0: the first datapoint's time; t2 = 0: the last one's), over the first to last
   * datapoint's time for index plans. Stored numeric text is read in place; the loop gives the
   * event loop a turn after every chunk so a read of millions of points stalls no other request.
   */
  async downsample(plan: ReadPlan, n: number, t1 = 0, t2 = 0): Promise<Buckets> {
    if (plan.i2 <= plan.i1) return new Buckets(n, 0, 0);
    const lo = t1 > 0 ? t1 : await this.tAt(plan, plan.i1);
    const hi = t2 > 0 ? t2 : await this.tAt(plan, plan.i2 - 1);
    const b = new Buckets(n, lo, Math.max(lo, hi));
    if (plan.transform) {
      const it = this.datapoints(plan, true);
      let k = 0;
      for (let r = it.next(); !r.done; r = it.next()) {
        if (r.value === PAUSE) await yieldTurn();
        else {
          b.addDatapoint(r.value);
          if (++k % READ_CHUNK === 0) await yieldTurn();
        }
      }
      return b;
    }
    // readBatches, not rows(): rows() hands a whole chunk's texts joined as one element.
    for await (const rows of this.core.data.readBatches(plan.ref.stream.id, plan.sub, plan.i1, plan.i2, READ_CHUNK)) {
      this.core.counters.datapointsRead += rows.length;
      for (let i = 0; i < rows.length; i++) addStored(b, rows[i]);
      await yieldTurn();
    }
    return b;
  }

  /** The timestamp of the datapoint at index `i` of the plan's substream. */
  private async tAt(plan: ReadPlan, i: number): Promise<number> {
    for await (const rows of this.core.data.readBatches(plan.ref.stream.id, plan.sub, i, i + 1, 1)) if (rows.length > 0) return parseStored(rows[0]).t;
    return 0;
  }

  /**
   * A StreamReader for merges and datasets, acting with the caller's permissions. Its queries
   * pause (datapoints(), `pauses`) when asked to.
   */
  reader(op: Operator): StreamReader {
    const open = (path: string) => {
      // Recorded from the original: an element without `stream` (`[{"t1":0}]`) is this 403.
      if (path === '') throw new ForbiddenError('The given path is invalid.');
      const parts = path.split('/');
      if (parts.length < 3 || parts.length > 4) throw new ForbiddenError('The requested stream was not found.');
      if (parts.length === 4 && parts[3] !== 'downlink') throw new ForbiddenError('Unrecognized substream type');
      return this.openForReadSync(op, parts[0], parts[1], parts[2], parts.length === 4);
    };
    const sync = this.syncReads();
    return {
      query: (q: StreamQuery, pauses = false) => {
        const { ref, sub } = open(q.stream);
        const transform = compileTransform(q.transform);
        const isTime = !!(q.t1 || q.t2 || q.limit);
        if (isTime && (q.i1 || q.i2)) throw new ForbiddenError('Only one query method (index or time) can be used at a time');
        let plan: ReadPlan;
        if (isTime) plan = timePlan(ref, sub, q.t1 ?? 0, q.t2 ?? 0, q.limit ?? 0, transform, sync);
        else {
          const [a, b] = this.resolveIndexRange(sync.length(ref.stream.id, sub), q.i1 ?? 0, q.i2 ?? 0);
          plan = { ref, sub, i1: a, i2: b, transform, limit: 0 };
        }
        return this.datapoints(plan, pauses);
      },
      queryFrom: (stream: string, transformSrc: string | undefined, tstart: number, backtrack: number, pauses = false) => {
        const { ref, sub } = open(stream);
        const transform = compileTransform(transformSrc);
        const n = sync.length(ref.stream.id, sub);
        let i1 = 0;
        if (tstart !== 0) i1 = Math.max(0, sync.time2index(ref.stream.id, sub, tstart, n) - backtrack);
        return this.datapoints({ ref, sub, i1, i2: n, transform, limit: 0 }, pauses);
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
   * their `t` may be rewritten. All-or-nothing; publishes what was stored once it is committed.
   */
  async insert(op: Operator, user: string, device: string, stream: string, points: Datapoint[], opts: InsertOptions): Promise<void> {
    const ref = await findStream(this.core, user, device, stream, ForbiddenError);
    return this.insertInto(op, ref, points, opts);
  }

  insertInto(op: Operator, ref: StreamRef, points: Datapoint[], opts: InsertOptions): Promise<void> {
    const { sub, o } = this.writeTarget(op, ref, opts.downlink);
    return this.store(ref, sub, points, o, opts.restamp);
  }

  /** Steps 2–3 of an insert: the substream and writer name, or 403 when the caller may not write. */
  writeTarget(op: Operator, ref: StreamRef, downlink: boolean): { sub: Sub; o: string } {
    const owner = op.device.id === ref.device.id;
    let sub: Sub = downlink ? DOWNLINK : MAIN;
    let o = '';
    if (!owner) {
      o = op.name;
      if (ref.stream.downlink) sub = DOWNLINK;
    }
    const w = this.core.accessDevice(op, ref.device).write;
    if (sub === MAIN && !w.can_access_stream_data) {
      // The default permissions let only the owning device write its data; a user trying it with
      // their password (the usual first attempt) is told what works instead.
      const ownUser = !op.nobody && op.device.name === 'user' && op.user.id === ref.user.id;
      throw new ForbiddenError(
        ownUser
          ? `Write access to stream data denied. Only the device that owns a stream writes its data: use the API key of ${ref.user.name}/${ref.device.name} (or make the stream a downlink to send it commands).`
          : 'Write access to stream data denied.',
      );
    }
    if (sub === DOWNLINK && !w.can_access_stream_downlink) throw new ForbiddenError('Write access to stream downlink denied.');
    return { sub, o };
  }

  /**
   * Resolves a stream for an insert and checks write access without writing: what an upload
   * checks before reading its file. Same errors as insert.
   */
  async openForWrite(op: Operator, user: string, device: string, stream: string, downlink: boolean): Promise<StreamRef> {
    const ref = await findStream(this.core, user, device, stream, ForbiddenError);
    this.writeTarget(op, ref, downlink);
    return ref;
  }

  /** Index of the first value that fails the stream's schema, or -1 (uploads name its line). */
  firstInvalid(ref: StreamRef, points: Datapoint[]): number {
    const validate = validator(ref.stream.schema);
    if (!validate) return -1;
    for (let i = 0; i < points.length; i++) if (!validate(points[i].d)) return i;
    return -1;
  }

  /**
   * Steps 4–7: timestamps, schema and order within the batch; returns the points with their
   * writer set. Throws on the first refusal, before anything reaches storage.
   */
  validate(ref: StreamRef, points: Datapoint[], o: string): Datapoint[] {
    const n = points.length;
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
    for (let i = 0; i < n; i++) {
      if (o === '') delete points[i].o;
      else points[i].o = o;
    }
    return points;
  }

  /**
   * The part of the insert decided against the stored state, inside the engine's transaction:
   * the ordering and restamp rule (data-model §6), the wire text, the owner's size quotas.
   * `points` must be validated; their `t` is restamped in place.
   */
  insertRule(owner: { role: string }, points: Datapoint[], o: string, restamp: boolean): InsertRule {
    const role: UserRole = this.core.permissions.userRole(owner.role);
    // The original timestamps of the points an earlier call restamped: an engine may run the rule
    // again (a group retried, a guess of the stored state found stale), and each run must start
    // from the points as they came.
    let restamped: Float64Array | null = null;
    return {
      prepare: (info) => {
        if (restamped !== null) {
          for (let i = 0; i < restamped.length; i++) points[i].t = restamped[i];
          restamped = null;
        }
        const e = info.length === 0 ? 0 : info.last_t;
        if (e > points[0].t) {
          if (!restamp) throw new ForbiddenError('Greater timestamp already exists for the stream. Insert Failed.');
          // data-model §6.2, without the original's +0.00001 artefact (its own recommendation).
          let k = 0;
          while (k < points.length && points[k].t <= e) k++;
          restamped = new Float64Array(k);
          for (let i = 0; i < k; i++) {
            restamped[i] = points[i].t;
            points[i].t = e;
          }
        }
        const stored: StoredPoint[] = new Array(points.length);
        const oText = o === '' ? null : JSON.stringify(o);
        let bytes = 0;
        for (let i = 0; i < points.length; i++) {
          const d = points[i].d;
          const j = wireJSON(points[i].t, d === null ? null : typeof d === 'number' ? numText(d) : JSON.stringify(d), oText);
          bytes += j.length;
          stored[i] = { t: points[i].t, j };
        }
        return { points: stored, bytes };
      },
      maxStreamBytes: role.max_stream_size > 0 ? role.max_stream_size : 0,
      maxDeviceBytes: role.max_device_size > 0 ? role.max_device_size : 0,
      quotaError: (which) => new ForbiddenError(which === 'stream' ? 'Insert Failed: Exceeded stream size limit' : 'Insert Failed: Exceeded device size limit'),
    };
  }

  /** Steps 4–8 without permission checks: also used for imports. */
  async store(ref: StreamRef, sub: Sub, points: Datapoint[], o: string, restamp: boolean): Promise<void> {
    let index: number | undefined;
    if (points.length > 0) {
      this.validate(ref, points, o);
      if (!ref.stream.ephemeral) {
        const keep = this.retention(ref.stream) ?? undefined;
        const first = await this.core.data.insertDatapoints({ streamId: ref.stream.id, deviceId: ref.device.id, sub, keep, points: points.length }, this.insertRule(ref.user, points, o, restamp));
        if (first >= 0) index = first;
        this.core.counters.insertBatch(points.length);
      }
    }
    this.publish(ref, sub, points, index);
  }

  /** The retention that applies to a stream: its own, else the config's; null when none. */
  retention(s: StreamRow): Retention | null {
    if (s.keep_datapoints || s.keep_seconds) return { datapoints: s.keep_datapoints ?? 0, seconds: s.keep_seconds ?? 0 };
    const r = this.core.config.retention;
    if (r && (r.datapoints > 0 || r.seconds > 0)) return { datapoints: r.datapoints, seconds: r.seconds };
    return null;
  }

  /** Trims every stream to its retention exactly (inserts drop whole chunks only); the datapoints removed. */
  sweepRetention(now = nowSeconds()): Promise<number> {
    const r = this.core.config.retention;
    return this.core.data.sweepRetention({ datapoints: r?.datapoints ?? 0, seconds: r?.seconds ?? 0 }, now);
  }

  /** Datapoints, chunks and bytes on disk per substream, with stream paths (`dbinfo`; admins only over REST). */
  async storageInfo(op: Operator | null): Promise<StorageInfo> {
    if (op && op.user.role !== 'admin') throw new ForbiddenError('Only an admin may read the database figures');
    const stats = await this.core.data.storageStats();
    const substreams: StorageInfo['substreams'] = [];
    let datapoints = 0;
    let chunks = 0;
    let bytes = 0;
    for (const s of stats) {
      const st = await this.core.streams.getById(s.streamId);
      const dev = st && (await this.core.devices.getById(st.device_id));
      const usr = dev && (await this.core.users.getById(dev.user_id));
      datapoints += s.datapoints;
      chunks += s.chunks;
      bytes += s.bytes;
      substreams.push({
        stream: usr && dev && st ? `${usr.name}/${dev.name}/${st.name}` : `#${s.streamId}`,
        substream: s.sub === DOWNLINK ? 'downlink' : 'main',
        datapoints: s.datapoints,
        chunks: s.chunks,
        tail: s.tail,
        bytes: s.bytes,
        bytes_per_datapoint: s.datapoints ? Math.round((s.bytes / s.datapoints) * 100) / 100 : 0,
      });
    }
    return { datapoints, chunks, bytes, bytes_per_datapoint: datapoints ? Math.round((bytes / datapoints) * 100) / 100 : 0, substreams };
  }

  private publish(ref: StreamRef, sub: Sub, points: Datapoint[], index?: number): void {
    const path = sub === DOWNLINK ? `${ref.path}/downlink` : ref.path;
    if (this.core.bus.wantsPublish(path)) this.core.bus.publish(index === undefined ? { stream: path, data: points } : { stream: path, data: points, index, sid: ref.stream.id });
  }
}

/** A time plan over synchronous reads: the length once, two binary searches. */
function timePlan(ref: StreamRef, sub: Sub, t1: number, t2: number, limit: number, transform: Transformer | null, sync: SyncReads): ReadPlan {
  const id = ref.stream.id;
  const n = sync.length(id, sub);
  const a = sync.time2index(id, sub, t1, n);
  let b = t2 > 0 ? sync.time2index(id, sub, t2, n) : n;
  if (b < a) b = a;
  if (limit > 0 && !transform && b - a > limit) b = a + limit;
  return { ref, sub, i1: a, i2: b, transform, limit: transform ? limit : 0 };
}

const yieldTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * The single output of a reduction over [i1, i2): typed arrays for numeric chunks, parsed
 * datapoints otherwise; with `pausing`, a PAUSE between pieces once a slice is used up.
 */
function* reduced(sync: SyncReads, id: number, sub: Sub, i1: number, i2: number, r: Reducer, counters: { datapointsRead: number }, pausing: boolean): Generator<Datapoint> {
  let since = pausing ? performance.now() : 0;
  for (let it = sync.pieces!(id, sub, i1, i2), p = it.next(); !p.done; p = it.next()) {
    const pc = p.value;
    counters.datapointsRead += pc.to - pc.from;
    const v = pc.chunk.numeric;
    if (v) r.numbers(pc.chunk.times, v, pc.from, pc.to);
    else {
      const tx = pc.chunk.wires(pc.from, pc.to);
      for (let k = 0; k < tx.length; k++) {
        const dp = parseStored(tx[k]);
        r.point(dp.t, dp.d);
      }
    }
    if (pausing && performance.now() - since >= PAUSE_SLICE_MS) {
      yield PAUSE;
      since = performance.now();
    }
  }
  const out = r.result();
  if (out !== null) yield out;
}

/** The first n outputs; pauses pass and do not count. */
function* limitIter(it: Iterator<Datapoint>, n: number): Generator<Datapoint> {
  for (let i = 0; i < n; ) {
    const r = it.next();
    if (r.done) return;
    if (r.value !== PAUSE) i++;
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
