import type { Core } from './core';
import type { DatapointService } from './datapoints/service';
import { MAIN } from '../storage/types';
import type { Operator, StreamRow, UserRow } from './types';

export const LOG_SCHEMA = '{"type":"object","properties":{"cmd":{"type":"string"},"arg":{"type":"string"}},"required":["cmd","arg"]}';

/** The `meta/log` stream of a user's meta device (data-model §4.3). */
export const logStreamRow = (metaDeviceId: number) => ({
  device_id: metaDeviceId,
  name: 'log',
  nickname: '',
  description: 'A log of all create update and delete operations done on this user',
  icon: 'material:assignment',
  schema: LOG_SCHEMA,
  datatype: '',
  ephemeral: false,
  downlink: false,
});

export type LogCmd =
  | 'CreateUser'
  | 'UpdateUser'
  | 'DeleteUser'
  | 'CreateDevice'
  | 'UpdateDevice'
  | 'DeleteDevice'
  | 'CreateStream'
  | 'UpdateStream'
  | 'DeleteStream'
  /** Beyond the original: a range of datapoints deleted; arg is `user/device/stream[/downlink]?range`. */
  | 'DeleteDatapoints';

/**
 * The `<user>/meta/log` streams (data-model §4.3): one entry per successful operation, in the
 * actor's log and, when the object belongs to another user, in that user's log too.
 */
export class MetaLog {
  constructor(
    private readonly core: Core,
    private readonly data: DatapointService,
  ) {}

  /** The meta device and its log stream, re-created when a user deleted them. */
  ensureLog(user: UserRow): StreamRow | undefined {
    const meta = this.core.devices.get(user.id, 'meta');
    if (!meta) return undefined;
    let log = this.core.streams.get(meta.id, 'log');
    if (!log) {
      const id = this.core.streams.insert(logStreamRow(meta.id));
      log = this.core.streams.getById(id)!;
    }
    return log;
  }

  private append(user: UserRow, cmd: LogCmd, arg: string): void {
    const log = this.ensureLog(user);
    if (!log) return;
    const meta = this.core.devices.getById(log.device_id)!;
    this.data.store({ user, device: meta, stream: log, path: `${user.name}/meta/log` }, MAIN, [{ t: 0, d: { cmd, arg } }], 'ConnectorDB', true);
  }

  /** `target` is the user the object belongs to (undefined when it no longer exists). */
  write(op: Operator, cmd: LogCmd, arg: string, target: UserRow | undefined): void {
    if (!op.nobody) {
      const actor = this.core.users.getById(op.user.id);
      if (actor && !(cmd === 'DeleteUser' && target && target.id === actor.id)) this.append(actor, cmd, arg);
    }
    if (target && target.id !== op.user.id && cmd !== 'DeleteUser') {
      const fresh = this.core.users.getById(target.id);
      if (fresh) this.append(fresh, cmd, arg);
    }
  }
}
