import type { Config } from '../config';
import { Permissions, defaultPermissions } from '../permissions';
import type { PubSub } from '../pubsub';
import { LocalPubSub } from '../pubsub';
import type { Storage } from '../storage/types';
import { Core } from './core';
import { DatapointService } from './datapoints/service';
import { DeviceService } from './devices/service';
import { MetaLog } from './metalog';
import { StreamService } from './streams/service';
import { UserService } from './users/service';

export { Core } from './core';
export type { Operator, UserRow, DeviceRow, StreamRow, StreamRef } from './types';
export { NOBODY } from './types';

/** The service layer: what routes, the websocket and the CLI call. */
export interface Services {
  core: Core;
  users: UserService;
  devices: DeviceService;
  streams: StreamService;
  data: DatapointService;
  log: MetaLog;
}

export function buildServices(storage: Storage, config: Config, permissions = new Permissions(defaultPermissions()), bus: PubSub = new LocalPubSub()): Services {
  const core = new Core(storage, config, permissions, bus);
  const data = new DatapointService(core);
  const log = new MetaLog(core, data);
  const streams = new StreamService(core, log);
  const devices = new DeviceService(core, streams, log);
  const users = new UserService(core, devices, log);
  return { core, users, devices, streams, data, log };
}
