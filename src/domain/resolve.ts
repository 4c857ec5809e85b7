import { CdbError } from '../errors';
import type { Core } from './core';
import type { DeviceRow, StreamRef, UserRow } from './types';

export const USER_NOT_FOUND = 'The requested user was not found.';
export const DEVICE_NOT_FOUND = 'The requested device was not found.';
export const STREAM_NOT_FOUND = 'The requested stream was not found.';
export const CANT_ACCESS = "Can't access this resource.";

type ErrCtor = new (msg: string) => CdbError;

export async function findUser(core: Core, name: string, Err: ErrCtor): Promise<UserRow> {
  const u = await core.users.get(name);
  if (!u) throw new Err(USER_NOT_FOUND);
  return u;
}

export async function findDevice(core: Core, user: string, device: string, Err: ErrCtor): Promise<{ user: UserRow; device: DeviceRow }> {
  const u = await findUser(core, user, Err);
  const d = await core.devices.get(u.id, device);
  if (!d) throw new Err(DEVICE_NOT_FOUND);
  return { user: u, device: d };
}

/** A cache hit answers without a storage call; a miss is one `resolveStream`. */
export async function findStream(core: Core, user: string, device: string, stream: string, Err: ErrCtor): Promise<StreamRef> {
  const key = `${user}/${device}/${stream}`;
  const hit = core.streamRefs.get(key);
  if (hit) return hit;
  const gen = core.generation;
  const r = await core.storage.resolveStream(user, device, stream);
  const ref = toRef(r, Err);
  core.streamRefs.set(key, ref, gen);
  return ref;
}

/** The synchronous resolve for the query pipeline (engines with `storage.sync`). */
export function findStreamSync(core: Core, user: string, device: string, stream: string, Err: ErrCtor): StreamRef {
  const key = `${user}/${device}/${stream}`;
  const hit = core.streamRefs.get(key);
  if (hit) return hit;
  const sync = core.storage.sync;
  if (!sync) throw new Error('this storage engine has no synchronous reads');
  const gen = core.generation;
  const ref = toRef(sync.resolveStream(user, device, stream), Err);
  core.streamRefs.set(key, ref, gen);
  return ref;
}

function toRef(r: { user?: UserRow; device?: DeviceRow; stream?: StreamRef['stream'] }, Err: ErrCtor): StreamRef {
  if (!r.user) throw new Err(USER_NOT_FOUND);
  if (!r.device) throw new Err(DEVICE_NOT_FOUND);
  if (!r.stream) throw new Err(STREAM_NOT_FOUND);
  return { user: r.user, device: r.device, stream: r.stream, path: `${r.user.name}/${r.device.name}/${r.stream.name}` };
}
