import type { Datapoint } from '../pipescript/datapoint';
import { type LogEntry, NEW_USER } from '../storage/types';
import type { Core } from './core';
import { type DatapointService, nowSeconds } from './datapoints/service';
import type { Operator, UserRow } from './types';

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

const { device_id: _, ...LOG_STREAM } = logStreamRow(0);
void _;

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

/** Log entries planned for one operation: handed to the storage write, published after its commit. */
export class LogPlan {
  readonly entries: LogEntry[] = [];
  private readonly sent: { path: string; points: Datapoint[] }[] = [];

  constructor(private readonly core: Core) {}

  add(user: { name: string; role: string }, userId: number, points: Datapoint[], rule: LogEntry['rule']): void {
    this.entries.push({ userId, rule, logStream: LOG_STREAM });
    this.sent.push({ path: `${user.name}/meta/log`, points });
  }

  /** After the commit: subscribers of the log streams see the entries as stored. */
  publish(): void {
    for (const s of this.sent) if (this.core.bus.wantsPublish(s.path)) this.core.bus.publish({ stream: s.path, data: s.points });
  }
}

/** A user about to be created by the same operation: logs go to its log by NEW_USER. */
export interface NewUserTarget {
  newUser: { name: string; role: string };
}

/**
 * The `<user>/meta/log` streams (data-model §4.3): one entry per successful operation, in the
 * actor's log and, when the object belongs to another user, in that user's log too. Entries are
 * written by the storage in the transaction of the operation they record.
 */
export class MetaLog {
  constructor(
    private readonly core: Core,
    private readonly data: DatapointService,
  ) {}

  plan(): LogPlan {
    return new LogPlan(this.core);
  }

  private append(plan: LogPlan, user: { name: string; role: string }, userId: number, cmd: LogCmd, arg: string): void {
    const points: Datapoint[] = [{ t: nowSeconds(), d: { cmd, arg }, o: 'ConnectorDB' }];
    plan.add(user, userId, points, this.data.insertRule(user, points, 'ConnectorDB', true));
  }

  /**
   * Adds the entries of one operation to `plan`. `target` is the user the object belongs to
   * (undefined when it no longer exists, a NewUserTarget when the operation creates it).
   * `skipTarget`: the object was the target's own log, which is not re-created to record its
   * deletion (the original answered `ok` and logged nothing about it there).
   */
  async write(plan: LogPlan, op: Operator, cmd: LogCmd, arg: string, target: UserRow | NewUserTarget | undefined, skipTarget = false): Promise<LogPlan> {
    const isNew = target !== undefined && 'newUser' in target;
    const targetId = target === undefined ? undefined : isNew ? NEW_USER : target.id;
    if (!op.nobody) {
      const actor = await this.core.users.getById(op.user.id);
      const own = actor !== undefined && targetId === actor.id;
      if (actor && !(own && (cmd === 'DeleteUser' || skipTarget))) this.append(plan, actor, actor.id, cmd, arg);
    }
    if (target && targetId !== op.user.id && cmd !== 'DeleteUser' && !skipTarget) {
      if (isNew) this.append(plan, target.newUser, NEW_USER, cmd, arg);
      else {
        const fresh = await this.core.users.getById(target.id);
        if (fresh) this.append(plan, fresh, fresh.id, cmd, arg);
      }
    }
    return plan;
  }
}
