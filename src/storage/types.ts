import type { ByteSink, DecodedChunk } from './chunks';

/**
 * The storage interface: everything the services know about where users, devices, streams and
 * datapoints live. Types only; the engines implement it (`sqlite/` today, `postgres/` next), and
 * the services import nothing else from `storage/`.
 *
 * Shape, and why:
 * - Every method returns a Promise, so an engine that talks to a server over a socket (PostgreSQL
 *   through `pg`) implements it as it is. The SQLite engine answers from synchronous
 *   better-sqlite3 calls; its promises are already settled, so the cost is one microtask per call.
 * - Hot paths are one call per batch or chunk, never per datapoint: an insert of any size is one
 *   `insertDatapoints`, a read is one `readBatches` iterator that yields chunk-sized arrays.
 * - Writes are coarse and atomic. better-sqlite3 cannot keep a transaction open across `await`,
 *   and a PostgreSQL transaction is a round trip per statement, so there is no generic
 *   `tx(async fn)` on the hot paths: the service validates first (reads may be awaited), then
 *   hands the engine one complete operation (a user with its devices, streams and log entries; a
 *   delete with its cascade; a batch of datapoints with the rule that orders and encodes them),
 *   which the engine runs in one transaction — SQLite synchronously inside `db.transaction`,
 *   PostgreSQL as BEGIN … SELECT … FOR UPDATE … COMMIT on one pooled client.
 * - Whatever must be decided against the committed state inside that transaction (the ordering
 *   and restamp rule, which needs the substream's last timestamp) is passed in as a pure,
 *   synchronous function of that state (`InsertRule.prepare`): the engine locks the state, calls
 *   the function, writes what it returns. The function never touches storage.
 * - Uniqueness that the service checked before the write (names, e-mails, API keys) is enforced
 *   again by the engine's own constraints; a lost race surfaces as `StorageConflict`.
 */

/** Rows as the engines hand them to services (booleans already converted). */
export interface UserRow {
  id: number;
  name: string;
  nickname: string;
  email: string;
  description: string;
  icon: string;
  public: boolean;
  role: string;
  password: string;
  password_salt: string;
  password_scheme: string;
}

export interface DeviceRow {
  id: number;
  user_id: number;
  name: string;
  nickname: string;
  description: string;
  icon: string;
  apikey: string;
  enabled: boolean;
  public: boolean;
  role: string;
  visible: boolean;
  user_editable: boolean;
}

export interface StreamRow {
  id: number;
  device_id: number;
  name: string;
  nickname: string;
  description: string;
  icon: string;
  schema: string;
  datatype: string;
  ephemeral: boolean;
  downlink: boolean;
  /** Retention (beyond the original): keep at most this many datapoints; 0 or absent = no limit. */
  keep_datapoints?: number;
  /** Retention: keep only datapoints newer than this many seconds; 0 or absent = no limit. */
  keep_seconds?: number;
}

/** A stream row listed with the device fields that `GET /crud/{user}?q=streams` filters on. */
export interface UserStreamRow extends StreamRow {
  device_name: string;
  device_public: boolean;
  device_visible: boolean;
}

export type NewUser = Omit<UserRow, 'id'>;
export type NewDevice = Omit<DeviceRow, 'id'>;
export type NewStream = Omit<StreamRow, 'id'>;

/** Substreams of a stream: its main data and its downlink (data-model §5). */
export const MAIN = 0;
export const DOWNLINK = 1;
export type Sub = typeof MAIN | typeof DOWNLINK;

/** The per-substream summary an insert decides on; the engine reads it locked. */
export interface SubstreamInfo {
  length: number;
  last_t: number;
  /** Bytes of wire text stored, for the size quotas. */
  bytes: number;
}

/** A datapoint ready for storage: its timestamp and its wire-form JSON text. */
export interface StoredPoint {
  t: number;
  j: string;
}

/** What `InsertRule.prepare` hands back: the points to append and their size for the quotas. */
export interface StoredBatch {
  points: StoredPoint[];
  bytes: number;
}

/**
 * How a batch of datapoints goes in. `prepare` is synchronous: called inside the engine's
 * transaction with the substream's current (locked) summary, it applies the ordering and
 * restamp rule and encodes the points, or throws to refuse the batch (the error reaches the
 * caller unchanged). The engine then checks the quotas, assigns indexes from `info.length` and
 * updates the summary, all in the same transaction. An engine may call it again with another
 * summary (a group retried, a guessed summary the database found stale); each call answers as
 * if it were the first, and the last one is the one that counts.
 */
export interface InsertRule {
  prepare(info: SubstreamInfo): StoredBatch;
  /** 0 = no limit. Compared with the stored bytes of the substream / of all the device's streams. */
  maxStreamBytes: number;
  maxDeviceBytes: number;
  /** The error to throw when a quota would be exceeded. */
  quotaError(which: 'stream' | 'device'): Error;
}

/** Retention: keep at most `datapoints` and/or only those newer than `seconds`; 0 = no limit. */
export interface Retention {
  datapoints: number;
  seconds: number;
}

/** One insert: the target substream (the device for its quota) and the rule. */
export interface InsertTarget {
  streamId: number;
  deviceId: number;
  sub: Sub;
  /**
   * The stream's retention: after the append, in the same transaction, the engine may drop the
   * oldest datapoints that fall outside it when that is cheap (whole chunks); the sweep trims exactly.
   */
  keep?: Retention;
  /** How many datapoints the batch brings (a scheduling hint: an engine may commit big batches side by side). */
  points?: number;
}

/**
 * An entry of a user's `meta/log` stream written in the same transaction as the operation it
 * records. The engine finds the user's `meta` device (no entry when it is gone), re-creates the
 * `log` stream from `logStream` when the user deleted it, and inserts with `rule` (restamped).
 * `userId` NEW_USER (0, never a row id) means the user created by the same operation.
 */
export interface LogEntry {
  userId: number;
  rule: InsertRule;
  logStream: Omit<NewStream, 'device_id'>;
}
export const NEW_USER = 0;

/** A device to create with its streams. */
export interface NewDeviceTree {
  device: Omit<NewDevice, 'user_id'>;
  streams: Omit<NewStream, 'device_id'>[];
}

/** Bytes and counts of one stream's storage, for `dbinfo` and the admin query. */
export interface StreamStorageStats {
  streamId: number;
  sub: Sub;
  datapoints: number;
  /** Sealed chunks (0 for an engine that stores a row per datapoint). */
  chunks: number;
  /** Datapoints not yet sealed into a chunk (all of them for a row-per-datapoint engine). */
  tail: number;
  /** Bytes the substream's datapoints take: chunk bytes plus the tail's text. */
  bytes: number;
}

/** Metadata reads. Engines answer from committed state. */
export interface UserReads {
  get(name: string): Promise<UserRow | undefined>;
  getById(id: number): Promise<UserRow | undefined>;
  /** Password logins match name or email case-insensitively (rest-api §2). */
  findLogin(nameOrEmail: string): Promise<UserRow | undefined>;
  nameTaken(name: string): Promise<boolean>;
  emailTakenBy(email: string): Promise<UserRow | undefined>;
  list(): Promise<UserRow[]>;
  count(): Promise<number>;
}

export interface DeviceReads {
  get(userId: number, name: string): Promise<DeviceRow | undefined>;
  getById(id: number): Promise<DeviceRow | undefined>;
  /** Lookup by the key's hash; the caller compares the key itself in constant time. */
  getByApikey(key: string): Promise<DeviceRow | undefined>;
  listForUser(userId: number): Promise<DeviceRow[]>;
  count(): Promise<number>;
  countForUser(userId: number): Promise<number>;
  countPrivateForUser(userId: number): Promise<number>;
}

export interface StreamReads {
  get(deviceId: number, name: string): Promise<StreamRow | undefined>;
  getById(id: number): Promise<StreamRow | undefined>;
  listForDevice(deviceId: number): Promise<StreamRow[]>;
  listForUser(userId: number): Promise<UserStreamRow[]>;
  count(): Promise<number>;
  countForDevice(deviceId: number): Promise<number>;
}

/**
 * Metadata writes: each one transaction including its meta-log entries and cascades, and each
 * signals a change (see `Storage.onChange`). A uniqueness violation is a `StorageConflict`.
 */
export interface MetaWrites {
  /** A user with its devices (the automatic `user` and `meta` ones included) and their streams. */
  createUser(user: NewUser, devices: NewDeviceTree[], log: LogEntry[]): Promise<UserRow>;
  createDevice(userId: number, tree: NewDeviceTree, log: LogEntry[]): Promise<DeviceRow>;
  createStream(stream: NewStream, log: LogEntry[]): Promise<StreamRow>;
  updateUser(id: number, fields: Partial<NewUser>, log: LogEntry[]): Promise<void>;
  /** A key change updates its hash too. */
  updateDevice(id: number, fields: Partial<NewDevice>, log: LogEntry[]): Promise<void>;
  /** `clearDownlink` drops the downlink's data in the same transaction (downlink switched off). */
  updateStream(id: number, fields: Partial<NewStream>, clearDownlink: boolean, log: LogEntry[]): Promise<void>;
  /** Deletes with everything below, datapoints included. */
  deleteUser(id: number, log: LogEntry[]): Promise<void>;
  deleteDevice(id: number, log: LogEntry[]): Promise<void>;
  deleteStream(id: number, log: LogEntry[]): Promise<void>;
  /** Drops one substream's data and summary (DELETE ?downlink=true). */
  clearSubstream(streamId: number, sub: Sub, log: LogEntry[]): Promise<void>;
}

/**
 * Datapoints. Indexes are 0-based, ranges half-open [i1, i2) and already resolved by the service
 * (no negative indexes reach an engine). Timestamps never decrease along the index.
 */
export interface DatapointStorage {
  length(streamId: number, sub: Sub): Promise<number>;
  /** Index of the first datapoint with t strictly greater than `t` (the length when none). */
  time2index(streamId: number, sub: Sub, t: number): Promise<number>;
  /**
   * Appends one batch atomically (see InsertRule). Concurrent calls may share a transaction
   * (group commit) but each is all-or-nothing on its own and settles only after the commit that
   * holds it: an acknowledged write is durable to the configured `synchronous` level.
   * Resolves to the index the batch's first datapoint got (the substream's length before it), or
   * -1 when the rule stored nothing: the bus carries it so subscribers of several writer
   * processes can put batches in order.
   */
  insertDatapoints(target: InsertTarget, rule: InsertRule): Promise<number>;
  /**
   * Wire texts of [i1, i2) in index order, as arrays of about `chunk` points (an engine with a
   * chunked layout may yield its own chunk sizes). Memory stays flat: nothing is fetched before it
   * is pulled, and no statement or cursor stays open between pulls longer than one batch.
   */
  readBatches(streamId: number, sub: Sub, i1: number, i2: number, chunk?: number): AsyncIterableIterator<string[]>;
  /**
   * The same datapoints as readBatches, each batch already joined with ',' (the inside of a JSON
   * array): what a plain range read sends. Optional: an engine with compressed chunks produces
   * this text directly, without a string per datapoint.
   */
  readJoined?(streamId: number, sub: Sub, i1: number, i2: number): AsyncIterableIterator<string>;
  /**
   * readJoined as UTF-8 bytes written into `sink`, what a plain range read sends as it is: each
   * step appends the next batch's text (no separator; the caller writes the ',' between batches
   * before pulling). Optional: an engine whose chunks hold numbers as columns writes their text
   * as bytes directly, with no string per batch.
   */
  readJoinedInto?(streamId: number, sub: Sub, i1: number, i2: number, sink: ByteSink): AsyncIterableIterator<void>;
  /**
   * Removes [i1, i2) of one substream; later datapoints' indexes shift down by i2 − i1 and the
   * summary is updated (length, bytes; last_t when the tail went). Returns the count removed.
   */
  deleteRange(streamId: number, sub: Sub, i1: number, i2: number, log?: LogEntry[]): Promise<number>;
  /**
   * Trims every substream to its retention exactly: the stream's own (`keep_datapoints`,
   * `keep_seconds`), else `defaults`; `now` in seconds. One transaction per substream; returns the
   * datapoints removed. Subscribers are not told.
   */
  sweepRetention(defaults: Retention, now: number): Promise<number>;
  /** Storage figures per substream of the given streams (all streams when omitted). */
  storageStats(streamIds?: number[]): Promise<StreamStorageStats[]>;
}

/**
 * The synchronous read capability the query pipeline runs on: PipeScript transforms, merges,
 * datasets and the Atom feed pull datapoints one at a time through synchronous iterators, with
 * no per-datapoint `await` (which would cost more than the transforms). Reads without a
 * transform (plain index and time ranges, exports, the websocket) never need it: they stream
 * `readBatches` straight to the socket.
 *
 * - SQLite answers from better-sqlite3 directly.
 * - PostgreSQL (postgres/sync.ts) answers through a synchronous query bridge (postgres/bridge.ts):
 *   a worker thread with its own connection runs each statement while the main thread blocks in
 *   Atomics.wait, then hands the rows over. Chosen over the two alternatives once written here
 *   (prefetching whole plans into memory before running the pipeline; running the pipeline
 *   itself in a worker fed by the main thread) because the stages, the services and the plans'
 *   SQL stay exactly as they are, memory stays flat, and the cost is one round trip per batch of
 *   chunks, mostly hidden by sending the next statement before the current batch is consumed.
 *   The price: the event loop waits during each round trip, so every statement is kept to a few
 *   chunks, and every wait is bounded by a timeout (an error, never a hang).
 *
 * An engine may leave `Storage.sync` undefined; the pipeline's routes then fail with a 500.
 */
export interface SyncReads {
  /**
   * True when every call blocks the event loop for a round trip to a server (PostgreSQL): the
   * services then take the awaited DatapointStorage path wherever they can await (plans of plain
   * reads), and these reads only where the pipeline needs them synchronously.
   */
  readonly remote?: boolean;
  resolveStream(user: string, device: string, stream: string): { user?: UserRow; device?: DeviceRow; stream?: StreamRow };
  length(streamId: number, sub: Sub): number;
  time2index(streamId: number, sub: Sub, t: number, length?: number): number;
  read(streamId: number, sub: Sub, i1: number, i2: number): string[];
  /**
   * [i1, i2) as decoded chunks, lazily, a few per statement: numeric chunks carry their values as
   * typed arrays, so the pipeline builds datapoints without parsing JSON text.
   */
  pieces?(streamId: number, sub: Sub, i1: number, i2: number): Iterator<ChunkPiece>;
}

/** Points [from, to) of one decoded chunk. */
export interface ChunkPiece {
  chunk: DecodedChunk;
  from: number;
  to: number;
}

/** What operators ask of the database as a whole (readiness, metrics). */
export interface StorageSizes {
  /** Bytes of the database pages (SQLite: the main file without its write-ahead log). */
  databaseBytes: number;
  /** Datapoints stored in every substream. */
  datapoints: number;
}

/** The whole interface: one per open database (one per server process). */
export interface Storage {
  readonly kind: 'sqlite' | 'postgres';
  readonly users: UserReads;
  readonly devices: DeviceReads;
  readonly streams: StreamReads;
  readonly meta: MetaWrites;
  readonly data: DatapointStorage;
  /** Present when the engine can answer reads synchronously (SQLite). */
  readonly sync?: SyncReads;

  /** The stream with its device and user by names, in one call (the resolve on cache misses). */
  resolveStream(user: string, device: string, stream: string): Promise<{ user?: UserRow; device?: DeviceRow; stream?: StreamRow }>;

  /**
   * The change signal for metadata caches (API-key logins, stream paths): `listener` runs after
   * every local metadata write (and after a failed write, which may have been seen half-done),
   * and whenever another process changed the data. SQLite learns of other processes through
   * PRAGMA data_version, which it asks in `pollChanges` (cheap, at most once a millisecond);
   * PostgreSQL through LISTEN/NOTIFY, pushed, so its `pollChanges` does nothing — and while its
   * listening connection is down it reports a change on every poll, so caches are bypassed.
   */
  onChange(listener: () => void): void;
  pollChanges(): void;

  /** Rejects when the database does not answer a real read (readiness). */
  ping(): Promise<void>;
  /** Database size and stored datapoints, in one cheap query (metrics). */
  sizes(): Promise<StorageSizes>;

  /**
   * Offline bulk work (import, export, admin commands run from the CLI): `fn` runs inside one
   * transaction that may span awaits; the engine's other writes wait until it ends. Not for
   * request handlers: on SQLite other requests would read the open transaction's writes.
   * `mode: 'read'` is a consistent snapshot for reading only. The calls `fn` makes on this same
   * Storage object belong to the transaction: SQLite has one connection, so they do by
   * construction; PostgreSQL binds its transaction's client to `fn`'s async context
   * (AsyncLocalStorage) and routes those calls to it (REPEATABLE READ for 'read').
   */
  exclusive<T>(mode: 'read' | 'write', fn: () => Promise<T>): Promise<T>;

  close(): Promise<void>;
}
