import type { Config } from '../config';
import { Permissions, type EffectiveAccess, type Relationship } from '../permissions';
import { LocalPubSub, type PubSub } from '../pubsub';
import type { DatapointStorage, DeviceReads, MetaWrites, Storage, StreamReads, UserReads } from '../storage/types';
import type { DeviceRow, Operator, StreamRef, UserRow } from './types';
import { VerifiedCache } from './users/passwords';
import { Counters } from './counters';

/**
 * Everything the services share: the storage, the permissions table, the config and the
 * live-data bus. Built once per server (or per test app).
 */
export class Core {
  readonly users: UserReads;
  readonly devices: DeviceReads;
  readonly streams: StreamReads;
  readonly meta: MetaWrites;
  readonly data: DatapointStorage;
  readonly verified = new VerifiedCache();
  /** Bumped on every metadata change; a cache fill started before a bump is dropped. */
  generation = 0;
  readonly counters = new Counters();
  /** Readiness and size figures (metrics). */
  readonly stats: Pick<Storage, 'ping' | 'sizes'>;
  private readonly caches: Map<string, unknown>[] = [];
  /** `user/device/stream` → resolved stream, for the insert and read hot paths. */
  readonly streamRefs = this.cache<StreamRef>();
  /** API key → the operator it authenticates (logins that succeeded only). */
  readonly apikeyOps = this.cache<Operator>();

  constructor(
    readonly storage: Storage,
    readonly config: Config,
    public permissions: Permissions,
    readonly bus: PubSub = new LocalPubSub(),
  ) {
    this.users = storage.users;
    this.devices = storage.devices;
    this.streams = storage.streams;
    this.meta = storage.meta;
    this.data = storage.data;
    storage.onChange(() => this.invalidate());
    this.stats = storage;
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

  invalidate(): void {
    this.generation++;
    for (const c of this.caches) c.clear();
  }

  /**
   * A map that empties itself whenever users, devices or streams change, here or in another
   * process (the storage's change signal). `set` takes the generation read before the lookup
   * that produced the value: a change that landed while the lookup was awaited drops it.
   */
  cache<V>(): { get(k: string): V | undefined; set(k: string, v: V, gen: number): void } {
    const m = new Map<string, V>();
    this.caches.push(m as Map<string, unknown>);
    return {
      get: (k) => {
        this.storage.pollChanges();
        return m.get(k);
      },
      set: (k, v, gen) => {
        if (gen !== this.generation) return;
        if (m.size >= 10000) m.clear();
        m.set(k, v);
      },
    };
  }
}
