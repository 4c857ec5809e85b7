import type { Config } from '../config';
import { Permissions, type EffectiveAccess, type Relationship } from '../permissions';
import { LocalPubSub, type PubSub } from '../pubsub';
import type { DB } from '../storage/db';
import { DatapointStore } from './datapoints/store';
import { DeviceStore } from './devices/store';
import { StreamStore } from './streams/store';
import type { DeviceRow, Operator, UserRow } from './types';
import { UserStore } from './users/store';
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

  constructor(
    readonly db: DB,
    readonly config: Config,
    public permissions: Permissions,
    readonly bus: PubSub = new LocalPubSub(),
  ) {
    this.users = new UserStore(db);
    this.devices = new DeviceStore(db);
    this.streams = new StreamStore(db);
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
    return this.db.transaction(fn)();
  }
}
