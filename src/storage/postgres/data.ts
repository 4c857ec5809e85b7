import type pg from 'pg';
import { type DecodedChunk, decodeChunk, encodeChunk } from '../chunks';
import type {
  DatapointStorage,
  InsertRule,
  InsertTarget,
  LogEntry,
  Retention,
  StoredPoint,
  StreamStorageStats,
  Sub,
} from '../types';
import { type PgDb, type Queryable, type Row, errorCode, onClient, queryNamed } from './db';
import {
  CHUNK_BYTES,
  CHUNK_POINTS,
  FETCH,
  type Layout,
  cuts,
  lengthPlan,
  piecesPlan,
  runPieces,
  runPlan,
  time2indexPlan,
  toLayout,
} from './reads';

/**
 * The PostgreSQL datapoint engine: the SQLite engine's chunked layout (storage/sqlite/chunked.ts)
 * on the tables of migrations/postgres/001_init.sql, answering byte for byte what the SQLite
 * engine answers for the same inserts.
 *
 * Writers of one substream are serialised across processes by its `substreams` row, locked
 * (SELECT … FOR UPDATE) in the insert's transaction at READ COMMITTED; the primary keys are the
 * backstop. Nothing decoded is cached: another process may delete or rewrite any chunk.
 *
 * The exported `…On(c, …)` helpers run on a client the caller has inside a transaction (the
 * metadata writes of meta.ts use them for log entries and cascades); they never BEGIN or COMMIT.
 */

const nowSeconds = (): number => (performance.timeOrigin + performance.now()) / 1000;

/** One insert of a group. */
interface Item {
  target: InsertTarget;
  rule: InsertRule;
}

type Outcome = { ok: true; index: number } | { ok: false; error: unknown };

const key = (streamId: number, sub: number): string => `${streamId}:${sub}`;

/** Queued datapoints worth a second group committing beside the running one (see PgDatapoints.pump). */
const HEAVY_POINTS = CHUNK_POINTS;

/** How long a substream another writer changed under this process stays out of the one-round-trip path. */
const RACED_MS = 1000;

/**
 * The substreams this process committed last, each with its state then and the version (xmin) of
 * the row that commit left. An insert into substreams all known here skips the locking round
 * trip: it computes its writes from the known state and sends them with those versions in one
 * call (cdb_append, migrations/postgres/002), which locks, checks, writes and commits. A row
 * changed since, by any writer in any process, fails the guard; the insert is then redone the
 * usual way, so what this holds is only ever a guess that the database checks.
 */
export class KnownSubstreams {
  private readonly rows = new Map<string, { layout: Layout; v: string }>();
  private readonly raced = new Map<string, number>();

  constructor(private readonly max = 10000) {}

  get(k: string): { layout: Layout; v: string } | undefined {
    if (this.raced.size > 0) {
      const until = this.raced.get(k);
      if (until !== undefined) {
        if (Date.now() < until) return undefined;
        this.raced.delete(k);
      }
    }
    return this.rows.get(k);
  }

  set(k: string, layout: Layout, v: string): void {
    this.rows.delete(k);
    this.rows.set(k, { layout: { ...layout }, v });
    if (this.rows.size > this.max) this.rows.delete(this.rows.keys().next().value as string);
  }

  drop(k: string): void {
    this.rows.delete(k);
  }

  /** Another writer got there first: left to the locking path a while, so two processes sharing a stream do not keep colliding. */
  race(k: string): void {
    this.rows.delete(k);
    this.raced.set(k, Date.now() + RACED_MS);
    if (this.raced.size > this.max) this.raced.delete(this.raced.keys().next().value as string);
  }

  clear(): void {
    this.rows.clear();
  }
}

/** The guard failed: a substream row is not at the version this process last wrote. */
export const STALE_SUBSTREAM = 'CD001';

/** An integer for inlining into SQL text (the lock statement is a parameterless multi-statement query). */
function int(n: number): string {
  if (!Number.isSafeInteger(n)) throw new TypeError(`not an integer id: ${n}`);
  return String(n);
}

/** Several `;`-separated statements in one round trip (the simple protocol answers with one result each). */
async function multi(c: Queryable, text: string): Promise<pg.QueryResult[]> {
  const r = (await c.query(text)) as unknown as pg.QueryResult | pg.QueryResult[];
  return Array.isArray(r) ? r : [r];
}

interface SubPlan {
  streamId: number;
  sub: Sub;
  /** The locked state before the group. */
  before: Layout;
  /** The state after the group's appends. */
  after: Layout;
  points: StoredPoint[];
  added: number;
  keep?: Retention;
}

/**
 * Inserts a group of batches in the caller's transaction, or (`begin`) in its own: BEGIN goes in
 * the round trip of the locks and COMMIT in that of the writes (on a throw the caller rolls back).
 * Each batch goes through its rule in order against the state the previous ones left, so the
 * result equals inserting them one after another; a batch its rule or a quota refuses changes
 * nothing and gets its error in its outcome. SQL errors reject the whole call.
 * Round trips: 1 (BEGIN + create + lock + device bytes) + 1 (all writes + COMMIT), +1 when a tail
 * is sealed (its rows), + retention's statements only when whole chunks fall outside it.
 */
export async function insertGroupOn(c: Queryable, items: readonly Item[], begin = false, known?: KnownSubstreams): Promise<Outcome[]> {
  const subs = new Map<string, { streamId: number; sub: Sub }>();
  const devices = new Set<number>();
  for (const it of items) {
    subs.set(key(it.target.streamId, it.target.sub), { streamId: it.target.streamId, sub: it.target.sub });
    if (it.rule.maxDeviceBytes > 0) devices.add(it.target.deviceId);
  }
  // Sorted, so two groups locking overlapping sets never deadlock.
  const order = [...subs.values()].sort((a, b) => a.streamId - b.streamId || a.sub - b.sub);
  const lockSql = (ks: { streamId: number; sub: Sub }[]): string => {
    const vals = ks.map((k) => `(${int(k.streamId)}, ${int(k.sub)}, 0, 0)`).join(', ');
    const pairs = ks.map((k) => `(${int(k.streamId)}, ${int(k.sub)})`).join(', ');
    return (
      `INSERT INTO substreams (stream_id, sub, length, last_t) VALUES ${vals} ON CONFLICT (stream_id, sub) DO NOTHING; ` +
      `SELECT stream_id, sub, length, last_t, bytes, base, sealed, tail_bytes FROM substreams WHERE (stream_id, sub) IN (${pairs}) ORDER BY stream_id, sub FOR UPDATE`
    );
  };
  // Known rows and nothing to read first (device quotas, retention): one round trip, see KnownSubstreams.
  if (begin && known && devices.size === 0 && items.every((it) => !hasRetention(it.target.keep))) {
    const fast = await insertKnown(c, items, order, known);
    if (fast) return fast;
  }
  let text = (begin ? 'BEGIN; ' : '') + lockSql(order);
  if (devices.size > 0) {
    text += `; SELECT st.device_id, coalesce(sum(s.bytes), 0)::int8 AS n FROM streams st JOIN substreams s ON s.stream_id = st.id
       WHERE st.device_id IN (${[...devices].map(int).join(', ')}) GROUP BY st.device_id`;
  }
  const res = await multi(c, text);
  const off = begin ? 1 : 0;
  const state = new Map<string, SubPlan>();
  const take = (rows: Row[]): void => {
    for (const r of rows) {
      const l = toLayout(r);
      const sid = Number(r.stream_id);
      const sub = Number(r.sub) as Sub;
      state.set(key(sid, sub), { streamId: sid, sub, before: l, after: { ...l }, points: [], added: 0 });
    }
  };
  take(res[off + 1].rows);
  // A row deleted (a substream cleared) while this waited for its lock: created again, fresh.
  for (let tries = 0; tries < 3 && state.size < order.length; tries++) {
    const missing = order.filter((k) => !state.has(key(k.streamId, k.sub)));
    const again = await multi(c, lockSql(missing));
    take(again[1].rows);
  }
  const devBytes = new Map<number, number>();
  for (const d of devices) devBytes.set(d, 0);
  if (devices.size > 0) for (const r of res[off + 2].rows) devBytes.set(Number(r.device_id), Number(r.n));

  const out = applyRules(items, state, devBytes);
  const touched = [...state.values()].filter((sp) => sp.points.length > 0);
  const retain = touched.filter((sp) => sp.keep);
  const stmts: string[] = [];
  // The row versions this commit leaves, for the next insert's one-round-trip path.
  const learn = begin && known !== undefined;
  if (touched.length > 0) stmts.push(appendSql(await planAppends(c, touched), learn));
  // A summary row this group created for batches that stored nothing goes again: the SQLite
  // engine has a row only once something was stored (a row that held data keeps base > 0 or length > 0).
  const unused = [...state.values()].filter((sp) => sp.points.length === 0 && sp.before.length === 0 && sp.before.base === 0);
  if (unused.length > 0) {
    const pairs = unused.map((sp) => `(${int(sp.streamId)}, ${int(sp.sub)})`).join(', ');
    stmts.push(`DELETE FROM substreams WHERE (stream_id, sub) IN (${pairs}) AND length = 0 AND base = 0`);
  }
  if (begin && retain.length === 0) {
    stmts.push('COMMIT');
    const res2 = await multi(c, stmts.join('; '));
    if (learn) remember(known, state, res2);
  } else {
    const res2 = stmts.length > 0 ? await multi(c, stmts.join('; ')) : [];
    for (const sp of retain) await dropOutsideRetention(c, sp.streamId, sp.sub, sp.after, sp.keep!);
    if (begin) await c.query('COMMIT');
    if (learn) {
      for (const sp of retain) known.drop(key(sp.streamId, sp.sub));
      remember(known, new Map([...state].filter(([, sp]) => !sp.keep)), res2);
    }
  }
  if (learn) for (const sp of unused) known.drop(key(sp.streamId, sp.sub));
  return out;
}

const hasRetention = (k: Retention | undefined): boolean => k !== undefined && (k.datapoints > 0 || k.seconds > 0);

/** Records, after its COMMIT, the state and row version each substream a group wrote is left at (the rows with a `v`: appendSql's RETURNING, cdb_append's answer). */
function remember(known: KnownSubstreams, state: ReadonlyMap<string, SubPlan>, results: readonly pg.QueryResult[]): void {
  for (const r of results) {
    for (const row of r.rows) {
      const k = key(Number(row.stream_id), Number(row.sub));
      const sp = state.get(k);
      if (sp && typeof row.v === 'string') known.set(k, sp.after, row.v);
    }
  }
}

/**
 * Each batch through its rule in order against the state the previous ones left (sp.after), the
 * quotas checked; a batch refused changes nothing and gets its error in its outcome.
 */
function applyRules(items: readonly Item[], state: Map<string, SubPlan>, devBytes: Map<number, number>): Outcome[] {
  const out: Outcome[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const { target, rule } = items[i];
    const sp = state.get(key(target.streamId, target.sub));
    if (!sp) {
      out[i] = { ok: false, error: new Error(`substream ${target.streamId}/${target.sub} vanished`) };
      continue;
    }
    const s = sp.after;
    try {
      const b = rule.prepare({ ...s });
      if (b.points.length === 0) {
        out[i] = { ok: true, index: -1 };
        continue;
      }
      if (rule.maxStreamBytes > 0 && s.bytes + b.bytes > rule.maxStreamBytes) throw rule.quotaError('stream');
      const dev = devBytes.get(target.deviceId);
      if (rule.maxDeviceBytes > 0 && (dev ?? 0) + b.bytes > rule.maxDeviceBytes) throw rule.quotaError('device');
      if (dev !== undefined) devBytes.set(target.deviceId, dev + b.bytes);
      out[i] = { ok: true, index: s.length };
      for (const p of b.points) sp.points.push(p);
      s.length += b.points.length;
      s.last_t = b.points[b.points.length - 1].t;
      s.bytes += b.bytes;
      sp.added += b.bytes;
      if (target.keep && (target.keep.datapoints > 0 || target.keep.seconds > 0)) sp.keep = target.keep;
    } catch (e) {
      out[i] = { ok: false, error: e };
    }
  }
  return out;
}

/**
 * The group in one round trip from the known states: one call of cdb_append
 * (migrations/postgres/002), which locks the rows still at the known versions, writes and commits.
 * Undefined (nothing sent) when the group needs what only the locking path does: a substream not
 * known, a tail to seal (its rows must be read), a summary row to remove. A row at another
 * version rejects with SQLSTATE STALE_SUBSTREAM, everything rolled back; the caller retries.
 */
async function insertKnown(
  c: Queryable,
  items: readonly Item[],
  order: readonly { streamId: number; sub: Sub }[],
  known: KnownSubstreams,
): Promise<Outcome[] | undefined> {
  const state = new Map<string, SubPlan>();
  const vs: string[] = [];
  for (const k of order) {
    const kk = key(k.streamId, k.sub);
    const kn = known.get(kk);
    if (kn === undefined) return undefined;
    state.set(kk, { streamId: k.streamId, sub: k.sub, before: { ...kn.layout }, after: { ...kn.layout }, points: [], added: 0 });
    vs.push(kn.v);
  }
  const out = applyRules(items, state, new Map());
  const touched: SubPlan[] = [];
  for (const sp of state.values()) {
    if (sp.points.length > 0) touched.push(sp);
    else if (sp.before.length === 0 && sp.before.base === 0) return undefined;
  }
  if (touched.some(needsTailRows)) return undefined;
  const a = await planAppends(c, touched);
  const { tl, ch } = a;
  const u = { s: [] as number[], b: [] as number[], length: [] as number[], last_t: [] as number[], bytes: [] as number[], base: [] as number[], sealed: [] as number[], tail: [] as number[] };
  for (const sp of touched) {
    const x = sp.after;
    u.s.push(sp.streamId);
    u.b.push(sp.sub);
    u.length.push(x.length);
    u.last_t.push(x.last_t);
    u.bytes.push(x.bytes);
    u.base.push(x.base);
    u.sealed.push(x.sealed);
    u.tail.push(x.tail_bytes);
  }
  // Its own transaction (no BEGIN: one statement commits by itself, before the answer comes).
  const r = await queryNamed(
    c,
    'cdb_append',
    `SELECT o_stream AS stream_id, o_sub AS sub, o_v AS v FROM cdb_append($1::int[], $2::int2[], $3::text[],
       $4::int[], $5::int2[], $6::int8[], $7::float8[], $8::text[],
       $9::int[], $10::int2[], $11::int8[], $12::int8[], $13::float8[], $14::float8[], $15::int8[], $16::bytea[],
       $17::int[], $18::int2[], $19::int8[], $20::float8[], $21::int8[], $22::int8[], $23::int8[], $24::int8[])`,
    [
      order.map((k) => k.streamId),
      order.map((k) => k.sub),
      vs,
      tl.s,
      tl.b,
      tl.i,
      tl.t,
      tl.j,
      ch.s,
      ch.b,
      ch.i1,
      ch.i2,
      ch.t1,
      ch.t2,
      ch.w,
      ch.d,
      u.s,
      u.b,
      u.length,
      u.last_t,
      u.bytes,
      u.base,
      u.sealed,
      u.tail,
    ],
  );
  remember(known, state, [r]);
  return out;
}

/** Whether appending sp's points seals the tail rows already stored (which must be read first). */
function needsTailRows(sp: SubPlan): boolean {
  const b = sp.before;
  const tailN = b.base + b.length - b.sealed;
  return tailN > 0 && !(tailN + sp.points.length < CHUNK_POINTS && b.tail_bytes + sp.added < CHUNK_BYTES);
}

/** The rows an append writes, column by column: tail rows deleted (sealed) and inserted, chunks, summaries. */
interface Appends {
  del: { s: number[]; b: number[]; f: number[] };
  ch: ChunkCols;
  tl: { s: number[]; b: number[]; i: number[]; t: number[]; j: string[] };
  subs: SubPlan[];
}

/**
 * Plans each substream's new points after its locked (or known) state: the rows to write, and
 * sp.after updated. When the tail and the new points fill a chunk, the tail is sealed with them
 * (its rows fetched first, the only query here); a big batch goes straight into chunks and only
 * its remainder becomes tail rows.
 */
async function planAppends(c: Queryable, subs: SubPlan[]): Promise<Appends> {
  const seal = subs.filter(needsTailRows);
  const oldTail = new Map<string, StoredPoint[]>();
  if (seal.length > 0) {
    const r = await c.query(
      `SELECT d.stream_id, d.sub, d.t, d.j FROM unnest($1::int[], $2::int2[], $3::int8[]) AS k(s, b, f)
         JOIN datapoints d ON d.stream_id = k.s AND d.sub = k.b AND d.idx >= k.f ORDER BY d.stream_id, d.sub, d.idx`,
      [seal.map((sp) => sp.streamId), seal.map((sp) => sp.sub), seal.map((sp) => sp.before.sealed)],
    );
    for (const row of r.rows) {
      const k = key(Number(row.stream_id), Number(row.sub));
      let a = oldTail.get(k);
      if (!a) oldTail.set(k, (a = []));
      a.push({ t: Number(row.t), j: row.j as string });
    }
  }
  // Columns of the statement's arrays.
  const del = { s: [] as number[], b: [] as number[], f: [] as number[] };
  const ch = { s: [] as number[], b: [] as number[], i1: [] as number[], i2: [] as number[], t1: [] as number[], t2: [] as number[], w: [] as number[], d: [] as Buffer[] };
  const tl = { s: [] as number[], b: [] as number[], i: [] as number[], t: [] as number[], j: [] as string[] };
  const addTail = (sp: SubPlan, idx: number, pts: readonly StoredPoint[], from: number): void => {
    for (let q = from; q < pts.length; q++) {
      tl.s.push(sp.streamId);
      tl.b.push(sp.sub);
      tl.i.push(idx++);
      tl.t.push(pts[q].t);
      tl.j.push(pts[q].j);
    }
  };
  for (const sp of subs) {
    const b = sp.before;
    const s = sp.after;
    const end = b.base + b.length;
    const tailN = end - b.sealed;
    if (tailN + sp.points.length < CHUNK_POINTS && b.tail_bytes + sp.added < CHUNK_BYTES) {
      addTail(sp, end, sp.points, 0);
      s.tail_bytes = b.tail_bytes + sp.added;
      continue;
    }
    // The old tail cannot fill a chunk alone, so the first chunk always takes all of it.
    let all = sp.points;
    if (tailN > 0) {
      all = oldTail.get(key(sp.streamId, sp.sub)) ?? [];
      if (all.length !== tailN) throw new Error(`substream ${sp.streamId}/${sp.sub}: ${all.length} tail rows, expected ${tailN}`);
      for (const p of sp.points) all.push(p);
      del.s.push(sp.streamId);
      del.b.push(sp.sub);
      del.f.push(b.sealed);
    }
    let from = 0;
    for (const to of cuts(all)) {
      pushChunk(ch, sp.streamId, sp.sub, s.sealed, all, from, to);
      s.sealed += to - from;
      from = to;
    }
    let rest = 0;
    for (let q = from; q < all.length; q++) rest += all[q].j.length;
    addTail(sp, s.sealed, all, from);
    s.tail_bytes = rest;
  }
  return { del, ch, tl, subs };
}

/**
 * The appends as one parameterless statement, the values inlined (ints and floats checked, texts
 * escaped, blobs hex), so the owner of the transaction can send COMMIT in the same round trip:
 * tail rows and chunks as data-modifying CTEs of one UPDATE of the summaries (which, with
 * `returning`, answers the row versions the commit will leave).
 */
function appendSql({ del, ch, tl, subs }: Appends, returning: boolean): string {
  const ctes: string[] = [];
  if (del.s.length > 0) {
    const rows = del.s.map((sid, q) => `(${int(sid)}, ${int(del.b[q])}, ${int(del.f[q])})`).join(', ');
    ctes.push(`del AS (DELETE FROM datapoints d USING (VALUES ${rows}) AS k(s, b, f) WHERE d.stream_id = k.s AND d.sub = k.b AND d.idx >= k.f)`);
  }
  if (ch.s.length > 0) {
    const rows = ch.s
      .map((sid, q) => `(${int(sid)}, ${int(ch.b[q])}, ${int(ch.i1[q])}, ${int(ch.i2[q])}, ${num(ch.t1[q])}, ${num(ch.t2[q])}, ${int(ch.w[q])}, decode('${ch.d[q].toString('hex')}', 'hex'))`)
      .join(', ');
    ctes.push(`ch AS (INSERT INTO chunks (stream_id, sub, i1, i2, t1, t2, wire, data) VALUES ${rows})`);
  }
  if (tl.s.length > 0) {
    const parts: string[] = new Array(tl.s.length);
    for (let q = 0; q < tl.s.length; q++) parts[q] = `(${int(tl.s[q])}, ${int(tl.b[q])}, ${int(tl.i[q])}, ${num(tl.t[q])}, ${lit(tl.j[q])})`;
    ctes.push(`tl AS (INSERT INTO datapoints (stream_id, sub, idx, t, j) VALUES ${parts.join(', ')})`);
  }
  const rows = subs
    .map((sp) => {
      const a = sp.after;
      return `(${int(sp.streamId)}, ${int(sp.sub)}, ${int(a.length)}, ${num(a.last_t)}, ${int(a.bytes)}, ${int(a.base)}, ${int(a.sealed)}, ${int(a.tail_bytes)})`;
    })
    .join(', ');
  const up = `UPDATE substreams x SET length = k.length, last_t = k.last_t, bytes = k.bytes, base = k.base, sealed = k.sealed, tail_bytes = k.tail_bytes
    FROM (VALUES ${rows}) AS k(s, b, length, last_t, bytes, base, sealed, tail_bytes) WHERE x.stream_id = k.s AND x.sub = k.b${
      returning ? ' RETURNING x.stream_id, x.sub, x.xmin::text AS v' : ''
    }`;
  return ctes.length ? `WITH ${ctes.join(',\n')}\n${up}` : up;
}

/** A float8 literal (timestamps: finite by validation; checked anyway). */
function num(x: number): string {
  if (!Number.isFinite(x)) throw new TypeError(`not a finite number: ${x}`);
  return `${x}::float8`;
}

/**
 * A text literal. Without backslashes a plain '…' means the same whatever
 * standard_conforming_strings says; with them, E'…' always interprets the doubled backslashes.
 */
function lit(s: string): string {
  return s.includes('\\') ? `E'${s.replace(/[\\']/g, '$&$&')}'` : `'${s.replace(/'/g, "''")}'`;
}

interface ChunkCols {
  s: number[];
  b: number[];
  i1: number[];
  i2: number[];
  t1: number[];
  t2: number[];
  w: number[];
  d: Buffer[];
}

function pushChunk(ch: ChunkCols, streamId: number, sub: Sub, i1: number, points: readonly StoredPoint[], from: number, to: number): void {
  const part = from === 0 && to === points.length ? points : points.slice(from, to);
  let wire = 0;
  for (const pt of part) wire += pt.j.length;
  const data = encodeChunk(part);
  ch.s.push(streamId);
  ch.b.push(sub);
  ch.i1.push(i1);
  ch.i2.push(i1 + part.length - 1);
  ch.t1.push(part[0].t);
  ch.t2.push(part[part.length - 1].t);
  ch.w.push(wire);
  ch.d.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
}

async function insertChunks(c: Queryable, ch: ChunkCols): Promise<void> {
  if (ch.s.length === 0) return;
  await c.query(
    `INSERT INTO chunks (stream_id, sub, i1, i2, t1, t2, wire, data)
     SELECT * FROM unnest($1::int[], $2::int2[], $3::int8[], $4::int8[], $5::float8[], $6::float8[], $7::int8[], $8::bytea[])`,
    [ch.s, ch.b, ch.i1, ch.i2, ch.t1, ch.t2, ch.w, ch.d],
  );
}

const newChunkCols = (): ChunkCols => ({ s: [], b: [], i1: [], i2: [], t1: [], t2: [], w: [], d: [] });

/**
 * Retention at insert: drops the whole sealed chunks lying entirely before the retention's limits
 * (cheap, never what this insert just wrote to the tail), like the SQLite engine.
 */
async function dropOutsideRetention(c: Queryable, streamId: number, sub: Sub, s: Layout, keep: Retention): Promise<void> {
  const keepFrom = keep.datapoints > 0 ? s.length - keep.datapoints : -1;
  const tMin = keep.seconds > 0 ? nowSeconds() - keep.seconds : -Infinity;
  const r = await c.query(
    'SELECT max(i2) AS i2 FROM chunks WHERE stream_id = $1 AND sub = $2 AND i2 < $3 AND (t2 <= $4 OR i2 < $5)',
    [streamId, sub, s.sealed, tMin === -Infinity ? '-Infinity' : tMin, s.base + keepFrom],
  );
  const m = r.rows[0]?.i2;
  if (m === null || m === undefined) return;
  const drop = Number(m) + 1 - s.base;
  if (drop > 0) await deleteRangeOn(c, streamId, sub, 0, drop);
}

/** One batch in the caller's transaction: the first index it got, or -1 when the rule stored nothing. */
export async function insertOn(c: Queryable, target: InsertTarget, rule: InsertRule): Promise<number> {
  const [o] = await insertGroupOn(c, [{ target, rule }]);
  if (!o.ok) throw o.error;
  return o.index;
}

/**
 * Drops a substream's data and summary, in the caller's transaction. The summary row is locked
 * first, by its own statement: the deletes then run on a snapshot that includes whatever an insert
 * holding the lock committed meanwhile, so no row is left behind.
 */
export async function dropSubstreamData(c: Queryable, streamId: number, sub: Sub): Promise<void> {
  await c.query('SELECT 1 FROM substreams WHERE stream_id = $1 AND sub = $2 FOR UPDATE', [streamId, sub]);
  await c.query(
    `WITH a AS (DELETE FROM datapoints WHERE stream_id = $1 AND sub = $2), b AS (DELETE FROM chunks WHERE stream_id = $1 AND sub = $2)
     DELETE FROM substreams WHERE stream_id = $1 AND sub = $2`,
    [streamId, sub],
  );
}

/** Drops every datapoint and summary of the given streams, in the caller's transaction (locked first, as above). */
export async function dropStreamsData(c: Queryable, streamIds: readonly number[]): Promise<void> {
  if (streamIds.length === 0) return;
  await c.query('SELECT 1 FROM substreams WHERE stream_id = ANY($1::int[]) ORDER BY stream_id, sub FOR UPDATE', [streamIds]);
  await c.query(
    `WITH a AS (DELETE FROM datapoints WHERE stream_id = ANY($1::int[])), b AS (DELETE FROM chunks WHERE stream_id = ANY($1::int[]))
     DELETE FROM substreams WHERE stream_id = ANY($1::int[])`,
    [streamIds],
  );
}

/** Drops a stream's data (both substreams) and summaries, in the caller's transaction. */
export function dropStreamData(c: Queryable, streamId: number): Promise<void> {
  return dropStreamsData(c, [streamId]);
}

async function lockedLayout(c: Queryable, streamId: number, sub: Sub): Promise<Layout | undefined> {
  const r = await c.query(
    'SELECT length, last_t, bytes, base, sealed, tail_bytes FROM substreams WHERE stream_id = $1 AND sub = $2 FOR UPDATE',
    [streamId, sub],
  );
  return r.rows.length ? toLayout(r.rows[0]) : undefined;
}

async function saveLayout(c: Queryable, streamId: number, sub: Sub, s: Layout): Promise<void> {
  await c.query('UPDATE substreams SET length = $3, last_t = $4, bytes = $5, base = $6, sealed = $7, tail_bytes = $8 WHERE stream_id = $1 AND sub = $2', [
    streamId,
    sub,
    s.length,
    s.last_t,
    s.bytes,
    s.base,
    s.sealed,
    s.tail_bytes,
  ]);
}

/** The timestamp of logical index i. */
async function tAt(c: Queryable, streamId: number, sub: Sub, i: number, s: Layout): Promise<number> {
  const p = s.base + i;
  if (p >= s.sealed) {
    const r = await c.query('SELECT t FROM datapoints WHERE stream_id = $1 AND sub = $2 AND idx = $3', [streamId, sub, p]);
    return Number(r.rows[0].t);
  }
  const r = await c.query('SELECT i1, data FROM chunks WHERE stream_id = $1 AND sub = $2 AND i1 <= $3 ORDER BY i1 DESC LIMIT 1', [streamId, sub, p]);
  return decodeChunk(r.rows[0].data as Uint8Array).times[p - Number(r.rows[0].i1)];
}

/**
 * Removes logical [i1, i2) of one substream in the caller's transaction (the summary row locked
 * first); later datapoints' indexes shift down. Chunks inside the range are dropped, the one or
 * two overlapping its ends rewritten, exactly as the SQLite engine does. Returns the count removed.
 */
export async function deleteRangeOn(c: Queryable, streamId: number, sub: Sub, i1: number, i2: number): Promise<number> {
  const s = await lockedLayout(c, streamId, sub);
  if (!s) return 0;
  if (i2 > s.length) i2 = s.length;
  if (i1 < 0) i1 = 0;
  if (i2 <= i1) return 0;
  const k = i2 - i1;
  const pa = s.base + i1;
  const pb = s.base + i2;
  let removedBytes = 0;
  const sealedEnd = s.sealed;
  const keepRight: StoredPoint[] = [];
  const ch = newChunkCols();
  if (pa < sealedEnd) {
    // Chunks overlapping [pa, pb); the blobs of those wholly inside are not needed, only their bytes.
    const r = await c.query(
      `SELECT i1, i2, wire, CASE WHEN i1 >= $3 AND i2 < $4 THEN NULL ELSE data END AS data FROM chunks
        WHERE stream_id = $1 AND sub = $2
          AND i1 >= coalesce((SELECT max(i1) FROM chunks WHERE stream_id = $1 AND sub = $2 AND i1 <= $3), $3)
          AND i1 < $4 AND i2 >= $3
        ORDER BY i1`,
      [streamId, sub, pa, pb],
    );
    const rewrite: { i1: number; chunk: DecodedChunk }[] = [];
    for (const row of r.rows) {
      const c1 = Number(row.i1);
      const c2 = Number(row.i2);
      if (c1 >= pa && c2 < pb) removedBytes += Number(row.wire);
      else rewrite.push({ i1: c1, chunk: decodeChunk(row.data as Uint8Array) });
    }
    await c.query('DELETE FROM chunks WHERE stream_id = $1 AND sub = $2 AND ((i1 >= $3 AND i2 < $4) OR i1 = ANY($5::int8[]))', [
      streamId,
      sub,
      pa,
      pb,
      rewrite.map((x) => x.i1),
    ]);
    for (const { i1: c1, chunk } of rewrite) {
      const texts = chunk.wires();
      const left: StoredPoint[] = [];
      for (let q = 0; q < chunk.count; q++) {
        const idx = c1 + q;
        const pt = { t: chunk.times[q], j: texts[q] };
        if (idx < pa) left.push(pt);
        else if (idx >= pb) keepRight.push(pt);
        else removedBytes += texts[q].length;
      }
      if (left.length) pushChunk(ch, streamId, sub, c1, left, 0, left.length);
    }
    await insertChunks(c, ch);
  }
  // Tail rows inside the range (at most one chunk's worth).
  const tailFrom = Math.max(pa, sealedEnd);
  if (tailFrom < pb) {
    const r = await c.query('DELETE FROM datapoints WHERE stream_id = $1 AND sub = $2 AND idx >= $3 AND idx < $4 RETURNING j', [streamId, sub, tailFrom, pb]);
    let b = 0;
    for (const row of r.rows) b += (row.j as string).length;
    removedBytes += b;
    s.tail_bytes -= b;
  }
  const right = newChunkCols();
  if (i1 === 0) {
    // A delete from the start moves the base instead of renumbering what follows.
    s.base = pb;
    if (keepRight.length) pushChunk(right, streamId, sub, pb, keepRight, 0, keepRight.length);
    if (s.sealed < pb) s.sealed = pb;
  } else {
    // Shift everything at or after pb down by k, through negative keys so the primary key never
    // sees two rows on one index.
    await c.query(
      `WITH a AS (UPDATE chunks SET i1 = -1 - (i1 - $1), i2 = i2 - $1 WHERE stream_id = $2 AND sub = $3 AND i1 >= $4),
            b AS (UPDATE datapoints SET idx = -1 - (idx - $1) WHERE stream_id = $2 AND sub = $3 AND idx >= $4)
       SELECT 1`,
      [k, streamId, sub, pb],
    );
    await c.query(
      `WITH a AS (UPDATE chunks SET i1 = -1 - i1 WHERE stream_id = $1 AND sub = $2 AND i1 < 0),
            b AS (UPDATE datapoints SET idx = -1 - idx WHERE stream_id = $1 AND sub = $2 AND idx < 0)
       SELECT 1`,
      [streamId, sub],
    );
    if (keepRight.length) pushChunk(right, streamId, sub, pa, keepRight, 0, keepRight.length);
    s.sealed = s.sealed >= pb ? s.sealed - k : Math.min(s.sealed, pa);
  }
  await insertChunks(c, right);
  s.length -= k;
  s.bytes -= removedBytes;
  if (i2 === s.length + k) {
    // The end went: the ordering rule now starts from the new last datapoint.
    s.last_t = s.length === 0 ? 0 : await tAt(c, streamId, sub, s.length - 1, s);
  }
  await saveLayout(c, streamId, sub, s);
  return k;
}

interface Pending extends Item {
  resolve: (v: number) => void;
  reject: (e: unknown) => void;
}

export interface PgDatapointsOptions {
  /**
   * Writes the meta-log entries of a datapoint delete on the delete's transaction client (the
   * engine's index.ts wires meta.ts's LogEntry logic in here).
   */
  log?: (c: pg.PoolClient, entries: LogEntry[]) => Promise<void>;
  /** Insert groups committing at once, each on its own pooled client (default 2; 1 with a pool of 3 or fewer). */
  writers?: number;
}

/**
 * The datapoint half of the PostgreSQL engine. Inserts are group-committed: the inserts that
 * arrive while a group commits form the next one, which locks their substreams, runs their rules
 * in arrival order, writes everything in one statement and commits once; each insert settles
 * after that commit. A group failing in SQL (a stream deleted meanwhile) is retried one insert
 * per transaction, so only the insert at fault fails.
 */
export class PgDatapoints implements DatapointStorage {
  private queue: Pending[] = [];
  private running = 0;
  private scheduled = false;
  /** Substreams of the groups committing now. */
  private readonly busy = new Set<string>();
  private readonly writers: number;
  private readonly known = new KnownSubstreams();

  constructor(
    private readonly db: PgDb,
    private readonly opts: PgDatapointsOptions = {},
  ) {
    this.writers = opts.writers ?? Math.max(1, Math.min(2, Math.floor(db.options.max / 2)));
  }

  length(streamId: number, sub: Sub): Promise<number> {
    return runPlan(this.db, lengthPlan(streamId, sub));
  }

  time2index(streamId: number, sub: Sub, t: number): Promise<number> {
    return runPlan(this.db, time2indexPlan(streamId, sub, t));
  }

  insertDatapoints(target: InsertTarget, rule: InsertRule): Promise<number> {
    // Inside exclusive(): on its client, now, under a savepoint.
    if (this.db.bound) return this.db.tx((c) => insertOn(c, target, rule));
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ target, rule, resolve, reject });
      // Deferred a turn of the event loop so the inserts arriving together share a group.
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.pump();
        });
      }
    });
  }

  private queuedPoints(): number {
    let n = 0;
    for (const p of this.queue) n += p.target.points ?? HEAVY_POINTS;
    return n;
  }

  /**
   * Starts groups while fewer than `writers` commit: each takes every queued insert whose
   * substream no committing group holds (a second group on a held substream would only wait for
   * its row lock); the others stay queued, in order, for the next group.
   */
  private pump(): void {
    while (this.running < this.writers && this.queue.length > 0) {
      // A second group at once pays only for big batches, which PostgreSQL then works on side by
      // side. Small inserts wait for the running group's commit and all go in the next one: fewer
      // round trips and statements per insert (single-point POSTs from 10 clients used about a
      // quarter less PostgreSQL CPU per insert that way).
      if (this.running > 0 && this.queuedPoints() < HEAVY_POINTS) return;
      const group: Pending[] = [];
      const rest: Pending[] = [];
      for (const p of this.queue) (this.busy.has(key(p.target.streamId, p.target.sub)) ? rest : group).push(p);
      if (group.length === 0) return;
      this.queue = rest;
      const keys = new Set(group.map((p) => key(p.target.streamId, p.target.sub)));
      for (const k of keys) this.busy.add(k);
      this.running++;
      const done = (): void => {
        for (const k of keys) this.busy.delete(k);
        this.running--;
        this.pump();
      };
      void this.commitGroup(group, done);
    }
  }

  /** Commits the group; `done` runs once it no longer holds its substreams (exactly once). */
  private async commitGroup(group: Pending[], done: () => void): Promise<void> {
    let outcomes: Outcome[];
    try {
      outcomes = await this.runGroup(group);
    } catch (e) {
      try {
        if (group.length === 1) {
          group[0].reject(e);
          return;
        }
        // One insert spoilt the group's transaction: each on its own, so only that one fails.
        for (const p of group) {
          try {
            p.resolve(await this.db.tx((c) => insertOn(c, p.target, p.rule)));
          } catch (e2) {
            p.reject(e2);
          }
        }
        return;
      } finally {
        done();
      }
    }
    // The next group goes to PostgreSQL first, and this one's inserts settle (their answers are
    // written, their batches published) while it runs there: the commits' round trips and the
    // answers' CPU overlap instead of taking turns. Single-point POSTs from 10 clients: see
    // bench/pg.mjs (3).
    setImmediate(() => {
      for (let i = 0; i < group.length; i++) {
        const o = outcomes[i];
        if (o.ok) group[i].resolve(o.index);
        else group[i].reject(o.error);
      }
    });
    done();
  }

  /** The group in its own transaction on one pooled client. */
  private async runGroup(group: Pending[]): Promise<Outcome[]> {
    // insertGroupOn opens and commits the transaction itself (its COMMIT rides with the writes).
    const run = (): Promise<Outcome[]> => onClient(this.db.pool, null, (c) => insertGroupOn(c, group, true, this.known));
    try {
      return await run();
    } catch (e) {
      if (errorCode(e) !== STALE_SUBSTREAM) {
        // Whatever committed or not, the per-insert retries leave versions nobody recorded.
        for (const p of group) this.known.drop(key(p.target.streamId, p.target.sub));
        throw e;
      }
      // Rolled back untouched (onClient): redone through the locks, which reads the real state.
      for (const p of group) this.known.race(key(p.target.streamId, p.target.sub));
      return run();
    }
  }

  readBatches(streamId: number, sub: Sub, i1: number, i2: number): AsyncIterableIterator<string[]> {
    const db = this.db;
    return (async function* () {
      for await (const pc of runPieces(db, piecesPlan(streamId, sub, i1, i2, FETCH, true))) yield pc.chunk.wires(pc.from, pc.to);
    })();
  }

  readJoined(streamId: number, sub: Sub, i1: number, i2: number): AsyncIterableIterator<string> {
    const db = this.db;
    return (async function* () {
      for await (const pc of runPieces(db, piecesPlan(streamId, sub, i1, i2, FETCH, true))) yield pc.chunk.joined(pc.from, pc.to);
    })();
  }

  deleteRange(streamId: number, sub: Sub, i1: number, i2: number, log: LogEntry[] = []): Promise<number> {
    if (log.length > 0 && !this.opts.log) return Promise.reject(new Error('PgDatapoints: no meta-log writer configured'));
    // Saves the next insert a guard that would fail (the row's version changes).
    this.known.drop(key(streamId, sub));
    return this.db.tx(async (c) => {
      const k = await deleteRangeOn(c, streamId, sub, i1, i2);
      if (log.length > 0) await this.opts.log!(c, log);
      return k;
    });
  }

  async sweepRetention(defaults: Retention, now: number): Promise<number> {
    const all = defaults.datapoints > 0 || defaults.seconds > 0;
    const list = await this.db.query<{ stream_id: number; sub: Sub }>(
      `SELECT s.stream_id, s.sub FROM substreams s JOIN streams st ON st.id = s.stream_id
        WHERE $1 OR st.keep_datapoints > 0 OR st.keep_seconds > 0 ORDER BY s.stream_id, s.sub`,
      [all],
    );
    let removed = 0;
    this.known.clear();
    for (const r of list.rows) {
      removed += await this.db.tx(async (c) => {
        const st = await c.query('SELECT keep_datapoints, keep_seconds FROM streams WHERE id = $1', [r.stream_id]);
        if (st.rows.length === 0) return 0;
        const ownN = Number(st.rows[0].keep_datapoints);
        const ownD = Number(st.rows[0].keep_seconds);
        const own = ownN > 0 || ownD > 0;
        const keepN = own ? ownN : defaults.datapoints;
        const keepD = own ? ownD : defaults.seconds;
        const s = await lockedLayout(c, r.stream_id, r.sub);
        if (!s) return 0;
        let k = keepN > 0 ? s.length - keepN : 0;
        if (keepD > 0) k = Math.max(k, await runPlan(c, time2indexPlan(r.stream_id, r.sub, now - keepD)));
        return k > 0 ? deleteRangeOn(c, r.stream_id, r.sub, 0, k) : 0;
      });
    }
    return removed;
  }

  async storageStats(streamIds?: number[]): Promise<StreamStorageStats[]> {
    const r = await this.db.query<Row>(
      `SELECT s.stream_id, s.sub, s.length,
              (SELECT count(*) FROM chunks c WHERE c.stream_id = s.stream_id AND c.sub = s.sub) AS chunks,
              s.base + s.length - s.sealed AS tail,
              (SELECT coalesce(sum(octet_length(data)), 0) FROM chunks c WHERE c.stream_id = s.stream_id AND c.sub = s.sub)
                + (SELECT coalesce(sum(octet_length(j)), 0) FROM datapoints p WHERE p.stream_id = s.stream_id AND p.sub = s.sub) AS bytes
         FROM substreams s ${streamIds ? 'WHERE s.stream_id = ANY($1::int[])' : ''} ORDER BY s.stream_id, s.sub`,
      streamIds ? [streamIds] : [],
    );
    return r.rows.map((x) => ({
      streamId: Number(x.stream_id),
      sub: Number(x.sub) as Sub,
      datapoints: Number(x.length),
      chunks: Number(x.chunks),
      tail: Number(x.tail),
      bytes: Number(x.bytes),
    }));
  }
}
