import type { Config } from '../config';
import { Permissions, type EffectiveAccess, type Relationship } from '../permissions';
import { LocalPubSub, type PubSub } from '../pubsub';
import type { DB } from '../storage/sqlite/db';
import { DatapointStore } from '../storage/sqlite/datapoints';
import { DeviceStore } from '../storage/sqlite/devices';
import { StreamStore } from '../storage/sqlite/streams';
import type { DeviceRow, Operator, StreamRef, UserRow } from './types';
import { UserStore } from '../storage/sqlite/users';
import { VerifiedCache } from './users/passwords';

/**
 * Everything the services share: the database, its stores, the permissions table, the config and
 * the live-data bus. Built once per server (or per test app).
 */
export class Core {
  readonly users: UserStore;
  readonly devices: DeviceStore;
  readonly streams: StreamStore;
  readonly data: DatapointStore;
  readonly verified = new VerifiedCache();
  /** Bumped on every metadata write (and failed transaction); caches of metadata key on it. */
  private generation = 0;
  private dataVersion = -1;
  private checkedAt = -Infinity;
  private readonly dataVersionStmt;
  private readonly caches: Map<string, unknown>[] = [];
  /** `user/device/stream` → resolved stream, for the insert and read hot paths. */
  readonly streamRefs = this.cache<StreamRef>();
  /** SHA-256 of an API key → the operator it authenticates. */
  readonly apikeyOps = this.cache<Operator>();

  constructor(
    readonly db: DB,
    readonly config: Config,
    public permissions: Permissions,
    readonly bus: PubSub = new LocalPubSub(),
  ) {
    // Prepared once: db.pragma() would compile the statement on every call of the hot path.
    this.dataVersionStmt = db.prepare('PRAGMA data_version').pluck(true);
    const changed = () => this.invalidate();
    this.users = new UserStore(db, changed);
    this.devices = new DeviceStore(db, changed);
    this.streams = new StreamStore(db, changed);
    this.data = new DatapointStore(db);
  }

  /** Relationship of the acting device to a user object (never `self`, permissions §1.1). */
  relUser(op: Operator, u: UserRow): Relationship {
    if (op.user.id === u.id) return 'user';
    return u.public ? 'public' : 'private';
  }

  /** Relationship to a device or its streams; only the device's own `public` flag counts. */
  relDevice(op: Operator, d: DeviceRow): Relationship {
    if (op.device.id === d.id) return 'self';
    if (op.user.id === d.user_id) return 'user';
    return d.public ? 'public' : 'private';
  }

  access(op: Operator, rel: Relationship): EffectiveAccess {
    return this.permissions.access(op.user.role, op.device.role, rel);
  }

  accessUser(op: Operator, u: UserRow): EffectiveAccess {
    return this.access(op, this.relUser(op, u));
  }

  accessDevice(op: Operator, d: DeviceRow): EffectiveAccess {
    return this.access(op, this.relDevice(op, d));
  }

  /** Runs fn in one SQLite transaction (nested calls join the outer one). */
  tx<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn)();
    } catch (e) {
      // A rolled-back transaction may have been seen by a cache: forget everything.
      this.invalidate();
      throw e;
    }
  }

  invalidate(): void {
    this.generation++;
    for (const c of this.caches) c.clear();
  }

  /**
   * A map that empties itself whenever users, devices or streams change, here or in another
   * process (an admin command on the same file bumps SQLite's data_version).
   */
  cache<V>(): { get(k: string): V | undefined; set(k: string, v: V): void } {
    const m = new Map<string, V>();
    this.caches.push(m as Map<string, unknown>);
    return {
      get: (k) => {
        this.checkExternal();
        return m.get(k);
      },
      set: (k, v) => {
        if (m.size >= 10000) m.clear();
        m.set(k, v);
      },
    };
  }

  private checkExternal(): void {
    // Every statement outside a transaction takes a WAL read lock; asking at most once a
    // millisecond keeps that off the per-request path while staying effectively immediate.
    const now = performance.now();
    if (now - this.checkedAt < 1) return;
    this.checkedAt = now;
    const v = this.dataVersionStmt.get() as number;
    if (v !== this.dataVersion) {
      this.dataVersion = v;
      this.invalidate();
    }
  }
}
