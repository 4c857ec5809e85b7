import { randomUUID } from 'node:crypto';
import { ForbiddenError, NotFoundError } from '../../errors';
import type { RWAccess } from '../../permissions';
import type { Core } from '../core';
import { DEVICE_FIELDS, checkUpdate, readableMap } from '../fields';
import type { MetaLog } from '../metalog';
import { CANT_ACCESS, findDevice, findUser } from '../resolve';
import { type StreamService, createBody } from '../streams/service';
import type { DeviceRow, Operator, StreamRow, UserRow } from '../types';
import { checkIcon, validName } from '../validation';

const DEVICE_KEYS = ['name', 'nickname', 'description', 'icon', 'apikey', 'enabled', 'public', 'role', 'visible', 'user_editable'] as const;

export function deviceMap(d: DeviceRow, read: RWAccess): Record<string, unknown> {
  return readableMap('device', d as unknown as Record<string, unknown>, [...DEVICE_KEYS], read);
}

/** Struct form, only used for PUT responses (rest-api §6.1). */
export function deviceStruct(d: DeviceRow, read: RWAccess): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of DEVICE_KEYS) {
    const v = d[k];
    out[k] = read[`device_${k}`] ? v : typeof v === 'boolean' ? false : '';
  }
  return out;
}

export const newApiKey = (): string => randomUUID();

export type DeviceBody = Record<string, unknown> & { streams?: Record<string, unknown> };

export class DeviceService {
  constructor(
    private readonly core: Core,
    private readonly streams: StreamService,
    private readonly log: MetaLog,
  ) {}

  read(op: Operator, user: string, device: string): Record<string, unknown> {
    let d: DeviceRow;
    try {
      d = findDevice(this.core, user, device, NotFoundError).device;
    } catch {
      throw new NotFoundError(CANT_ACCESS);
    }
    const acc = this.core.accessDevice(op, d);
    if (!acc.read.can_access_device) throw new NotFoundError(CANT_ACCESS);
    return deviceMap(d, acc.read);
  }

  list(op: Operator, user: string): Record<string, unknown>[] {
    const u = this.core.users.get(user);
    if (!u) throw new NotFoundError(CANT_ACCESS);
    if (!this.core.accessUser(op, u).can_list_devices) throw new NotFoundError(CANT_ACCESS);
    const out: Record<string, unknown>[] = [];
    for (const d of this.core.devices.listForUser(u.id)) {
      const acc = this.core.accessDevice(op, d);
      if (acc.read.can_access_device) out.push(deviceMap(d, acc.read));
    }
    return out;
  }

  /**
   * Validates a device body and its nested streams. `nested` devices (inside a user-create body)
   * get zero values instead of the creator's defaults, as in the original (rest-api §5.5).
   */
  prepare(op: Operator, owner: UserRow, name: string, rawBody: unknown, nested: boolean): { row: Omit<DeviceRow, 'id'>; streams: [string, Record<string, unknown>][] } {
    const body = createBody(rawBody, DEVICE_FIELDS, 'DeviceMaker') as DeviceBody;
    const defs = nested
      ? { nickname: '', description: '', icon: '', role: '', enabled: false, public: false, visible: false, user_editable: false }
      : this.core.permissions.userRole(op.user.role).create_device_defaults;
    const str = (k: string, d: string) => (typeof body[k] === 'string' ? (body[k] as string) : d);
    const bool = (k: string, d: boolean) => (typeof body[k] === 'boolean' ? (body[k] as boolean) : d);
    const isPublic = bool('public', defs.public);
    const ownerRole = this.core.permissions.userRole(owner.role);
    if (isPublic && !owner.public) throw new ForbiddenError("Can't make private user have public device");
    if (!isPublic && ownerRole.max_private_devices > 0 && this.core.devices.countPrivateForUser(owner.id) >= ownerRole.max_private_devices) {
      throw new ForbiddenError('Exceeded maximum number of private devices for user');
    }
    if (!validName(name)) throw new ForbiddenError('The provided name is not valid, it may not contain /, \\, space, ? or be blank');
    const icon = str('icon', defs.icon);
    checkIcon(icon);
    const role = str('role', defs.role);
    // The original accepted any role on create; rest-api §12 recommends validating as on update.
    if (!this.core.permissions.hasDeviceRole(role)) throw new ForbiddenError(`Could not find device role '${role}'`);
    const streamEntries = nestedMap(body.streams);
    if (ownerRole.max_streams > 0 && streamEntries.length > ownerRole.max_streams) throw new ForbiddenError('Exceeded stream limit for device');
    if (ownerRole.max_devices > 0 && this.core.devices.countForUser(owner.id) >= ownerRole.max_devices) {
      throw new ForbiddenError("Can't create device: Device number limit exceeded.");
    }
    if (this.core.devices.get(owner.id, name)) throw new ForbiddenError('Device with this name already exists');
    let apikey = str('apikey', '');
    if (apikey === '') apikey = newApiKey();
    else if (this.core.devices.getByApikey(apikey)) throw new ForbiddenError('Device with this API key already exists');
    return {
      row: {
        user_id: owner.id,
        name,
        nickname: str('nickname', defs.nickname),
        description: str('description', defs.description),
        icon,
        apikey,
        enabled: bool('enabled', defs.enabled),
        public: isPublic,
        role,
        visible: bool('visible', defs.visible),
        user_editable: bool('user_editable', defs.user_editable),
      },
      streams: streamEntries,
    };
  }

  /**
   * Inserts a prepared device and its streams; must run inside a transaction. As in the original,
   * one create logs one entry: the nested streams (and a device nested in a user create) are not
   * logged on their own.
   */
  insertPrepared(op: Operator, owner: UserRow, p: { row: Omit<DeviceRow, 'id'>; streams: [string, Record<string, unknown>][] }, nested = false): DeviceRow {
    const id = this.core.devices.insert(p.row);
    const d = this.core.devices.getById(id)!;
    if (!nested) this.log.write(op, 'CreateDevice', `${owner.name}/${d.name}`, owner);
    this.createStreams(op, owner, d, p.streams);
    return d;
  }

  /** Streams nested in a device or user create (not logged on their own). */
  createStreams(op: Operator, owner: UserRow, d: DeviceRow, streams: [string, Record<string, unknown>][]): StreamRow[] {
    return streams.map(([sname, sbody]) => {
      if (!sname || /[/\\ ?]/.test(sname)) throw new ForbiddenError('Invalid Username, usernames may not contain / \\ ? or spaces');
      const b = createBody(sbody, { schema: 'string', nickname: 'string', description: 'string', icon: 'string', datatype: 'string', ephemeral: 'boolean', downlink: 'boolean' }, 'StreamMaker');
      return this.streams.insertPrepared(op, owner, d, this.streams.prepare(op, owner, d, sname, b), true);
    });
  }

  create(op: Operator, user: string, device: string, rawBody: unknown): Record<string, unknown> {
    createBody(rawBody, DEVICE_FIELDS, 'DeviceMaker');
    const u = findUser(this.core, user, ForbiddenError);
    if (!this.core.accessUser(op, u).can_create_device) throw new ForbiddenError(CANT_ACCESS);
    const d = this.core.tx(() => this.insertPrepared(op, u, this.prepare(op, u, device, rawBody, false)));
    return deviceMap(d, this.core.accessDevice(op, d).read);
  }

  update(op: Operator, user: string, device: string, body: Record<string, unknown>): Record<string, unknown> {
    const { user: u, device: d } = findDevice(this.core, user, device, ForbiddenError);
    const acc = this.core.accessDevice(op, d);
    if (!acc.write.can_access_device) throw new ForbiddenError(CANT_ACCESS);
    const ch = checkUpdate('device', DEVICE_FIELDS, body, acc.write);
    if ('name' in ch && ch.name !== d.name) throw new ForbiddenError('ConnectorDB does not support modification of device names');
    delete ch.name;
    if (typeof ch.role === 'string') {
      if (!this.core.permissions.hasDeviceRole(ch.role)) throw new ForbiddenError(`Could not find device role '${ch.role}'`);
      // permissions §8: a user could demote its own `user` device and lock itself out.
      if (d.name === 'user' && ch.role !== d.role && !this.core.accessUser(op, u).write.user_role) {
        throw new ForbiddenError("Only an administrator can change the role of a user's 'user' device");
      }
    }
    if (typeof ch.icon === 'string') checkIcon(ch.icon);
    if (ch.apikey === '' || (d.apikey === '' && ch.apikey === undefined)) ch.apikey = newApiKey();
    if (typeof ch.apikey === 'string' && ch.apikey !== d.apikey) {
      const other = this.core.devices.getByApikey(ch.apikey);
      if (other && other.id !== d.id) throw new ForbiddenError('Device with this API key already exists');
    }
    if (ch.public === false && d.public) {
      const r = this.core.permissions.userRole(u.role);
      if (r.max_private_devices > 0 && this.core.devices.countPrivateForUser(u.id) >= r.max_private_devices) {
        throw new ForbiddenError('Exceeded maximum number of private devices for user');
      }
    }
    this.core.tx(() => {
      this.core.devices.update(d.id, ch as Partial<DeviceRow>);
      this.log.write(op, 'UpdateDevice', `${u.name}/${d.name}`, u);
    });
    const nd = this.core.devices.getById(d.id)!;
    return deviceStruct(nd, this.core.accessDevice(op, nd).read);
  }

  delete(op: Operator, user: string, device: string): void {
    const { user: u, device: d } = findDevice(this.core, user, device, ForbiddenError);
    if (!this.core.accessDevice(op, d).can_delete_device) throw new ForbiddenError(CANT_ACCESS);
    if (d.name === 'user') throw new ForbiddenError('user device cannot be deleted');
    if (d.name === 'meta') throw new ForbiddenError('meta device cannot be deleted');
    this.core.tx(() => {
      this.core.data.deleteDevice(d.id);
      this.core.devices.delete(d.id);
      this.log.write(op, 'DeleteDevice', `${u.name}/${d.name}`, u);
    });
  }
}

/** A `streams`/`devices` map of a create body as entries (non-objects count as empty bodies). */
export function nestedMap(v: unknown): [string, Record<string, unknown>][] {
  if (v === undefined || v === null) return [];
  if (typeof v !== 'object' || Array.isArray(v)) throw new ForbiddenError('Nested objects must be given as a JSON object of name to properties');
  return Object.entries(v as Record<string, unknown>).map(([k, b]) => [k, (b && typeof b === 'object' ? b : {}) as Record<string, unknown>]);
}
