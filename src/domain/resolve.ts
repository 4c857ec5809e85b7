import { CdbError } from '../errors';
import type { Core } from './core';
import type { DeviceRow, StreamRef, StreamRow, UserRow } from './types';

export const USER_NOT_FOUND = 'The requested user was not found.';
export const DEVICE_NOT_FOUND = 'The requested device was not found.';
export const STREAM_NOT_FOUND = 'The requested stream was not found.';
export const CANT_ACCESS = "Can't access this resource.";

type ErrCtor = new (msg: string) => CdbError;

export function findUser(core: Core, name: string, Err: ErrCtor): UserRow {
  const u = core.users.get(name);
  if (!u) throw new Err(USER_NOT_FOUND);
  return u;
}

export function findDevice(core: Core, user: string, device: string, Err: ErrCtor): { user: UserRow; device: DeviceRow } {
  const u = findUser(core, user, Err);
  const d = core.devices.get(u.id, device);
  if (!d) throw new Err(DEVICE_NOT_FOUND);
  return { user: u, device: d };
}

export function findStream(core: Core, user: string, device: string, stream: string, Err: ErrCtor): StreamRef {
  const key = `${user}/${device}/${stream}`;
  const hit = core.streamRefs.get(key);
  if (hit) return hit;
  const ref = lookupStream(core, user, device, stream, Err);
  core.streamRefs.set(key, ref);
  return ref;
}

function lookupStream(core: Core, user: string, device: string, stream: string, Err: ErrCtor): StreamRef {
  const { user: u, device: d } = findDevice(core, user, device, Err);
  const s: StreamRow | undefined = core.streams.get(d.id, stream);
  if (!s) throw new Err(STREAM_NOT_FOUND);
  return { user: u, device: d, stream: s, path: `${u.name}/${d.name}/${s.name}` };
}
