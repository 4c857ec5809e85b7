import { randomUUID } from 'node:crypto';
import { ForbiddenError, NotFoundError } from '../../errors';
import type { RWAccess } from '../../permissions';
import type { Core } from '../core';
import { DEVICE_FIELDS, checkUpdate, readableMap } from '../fields';
import { StorageConflict } from '../../storage/errors';
import type { NewDeviceTree } from '../../storage/types';
import type { LogPlan, MetaLog, NewUserTarget } from '../metalog';
import { CANT_ACCESS, findDevice, findUser } from '../resolve';
import { type StreamService, createBody } from '../streams/service';
import type { DeviceRow, Operator, UserRow } from '../types';
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

  async read(op: Operator, user: string, device: string): Promise<Record<string, unknown>> {
    let d: DeviceRow;
    try {
      d = (await findDevice(this.core, user, device, NotFoundError)).device;
    } catch {
      throw new NotFoundError(CANT_ACCESS);
    }
    const acc = this.core.accessDevice(op, d);
    if (!acc.read.can_access_device) throw new NotFoundError(CANT_ACCESS);
    return deviceMap(d, acc.read);
  }

  async list(op: Operator, user: string): Promise<Record<string, unknown>[]> {
    const u = await this.core.users.get(user);
    if (!u) throw new NotFoundError(CANT_ACCESS);
    if (!this.core.accessUser(op, u).can_list_devices) throw new NotFoundError(CANT_ACCESS);
    const out: Record<string, unknown>[] = [];
    for (const d of await this.core.devices.listForUser(u.id)) {
      const acc = this.core.accessDevice(op, d);
      if (acc.read.can_access_device) out.push(deviceMap(d, acc.read));
    }
    return out;
  }

  /**
   * Validates a device body and its nested streams. `nested` devices (inside a user-create body)
   * get zero values instead of the creator's defaults, as in the original (rest-api §5.5).
   * `planned` are the devices of a user created by the same operation, planned so far.
   */
  async prepare(
    op: Operator,
    owner: UserRow,
    name: string,
    rawBody: unknown,
    nested: boolean,
    planned?: Omit<DeviceRow, 'id' | 'user_id'>[],
  ): Promise<{ row: Omit<DeviceRow, 'id'>; streams: [string, Record<string, unknown>][] }> {
    const body = createBody(rawBody, DEVICE_FIELDS, 'DeviceMaker') as DeviceBody;
    const defs = nested
      ? { nickname: '', description: '', icon: '', role: '', enabled: false, public: false, visible: false, user_editable: false }
      : this.core.permissions.userRole(op.user.role).create_device_defaults;
    const str = (k: string, d: string) => (typeof body[k] === 'string' ? (body[k] as string) : d);
    const bool = (k: string, d: boolean) => (typeof body[k] === 'boolean' ? (body[k] as boolean) : d);
    const isPublic = bool('public', defs.public);
    const ownerRole = this.core.permissions.userRole(owner.role);
    if (isPublic && !owner.public) throw new ForbiddenError("Can't make private user have public device");
    const privateCount = async () => (planned ? planned.filter((d) => !d.public).length : await this.core.devices.countPrivateForUser(owner.id));
    if (!isPublic && ownerRole.max_private_devices > 0 && (await privateCount()) >= ownerRole.max_private_devices) {
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
    const count = planned ? planned.length : await this.core.devices.countForUser(owner.id);
    if (ownerRole.max_devices > 0 && count >= ownerRole.max_devices) {
      throw new ForbiddenError("Can't create device: Device number limit exceeded.");
    }
    if (planned ? planned.some((d) => d.name === name) : await this.core.devices.get(owner.id, name)) throw new ForbiddenError('Device with this name already exists');
    let apikey = str('apikey', '');
    if (apikey === '') apikey = newApiKey();
    else if ((planned && planned.some((d) => d.apikey === apikey)) || (await this.core.devices.getByApikey(apikey))) {
      throw new ForbiddenError('Device with this API key already exists');
    }
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
   * The device with its validated streams as one tree to store, and its log entries (CreateDevice,
   * then CreateStream for each stream) added to `log`.
   */
  async plan(
    op: Operator,
    owner: UserRow,
    p: { row: Omit<DeviceRow, 'id'>; streams: [string, Record<string, unknown>][] },
    log: LogPlan,
    target: UserRow | NewUserTarget,
  ): Promise<NewDeviceTree> {
    await this.log.write(log, op, 'CreateDevice', `${owner.name}/${p.row.name}`, target);
    const { user_id: _, ...device } = p.row;
    void _;
    return { device, streams: await this.planStreams(op, owner, p.row.name, p.streams, log, target) };
  }

  /** Validates the streams of a device created by the same operation; logs CreateStream for each. */
  async planStreams(
    op: Operator,
    owner: UserRow,
    deviceName: string,
    streams: [string, Record<string, unknown>][],
    log: LogPlan,
    target: UserRow | NewUserTarget,
  ): Promise<NewDeviceTree['streams']> {
    const planned = { planned: [] as string[] };
    const out: NewDeviceTree['streams'] = [];
    for (const [sname, sbody] of streams) {
      if (!sname || /[/\\ ?]/.test(sname)) throw new ForbiddenError('Invalid Username, usernames may not contain / \\ ? or spaces');
      const b = createBody(sbody, { schema: 'string', nickname: 'string', description: 'string', icon: 'string', datatype: 'string', ephemeral: 'boolean', downlink: 'boolean' }, 'StreamMaker');
      const { device_id: _, ...row } = await this.streams.prepare(op, owner, planned, sname, b);
      void _;
      out.push(row);
      await this.log.write(log, op, 'CreateStream', `${owner.name}/${deviceName}/${sname}`, target);
    }
    return out;
  }

  async create(op: Operator, user: string, device: string, rawBody: unknown): Promise<Record<string, unknown>> {
    createBody(rawBody, DEVICE_FIELDS, 'DeviceMaker');
    const u = await findUser(this.core, user, ForbiddenError);
    if (!this.core.accessUser(op, u).can_create_device) throw new ForbiddenError(CANT_ACCESS);
    const log = this.log.plan();
    const tree = await this.plan(op, u, await this.prepare(op, u, device, rawBody, false), log, u);
    let d: DeviceRow;
    try {
      d = await this.core.meta.createDevice(u.id, tree, log.entries);
    } catch (e) {
      if (e instanceof StorageConflict) throw new ForbiddenError(e.what === 'device' ? 'Device with this name already exists' : 'Stream with this name already exists');
      throw e;
    }
    log.publish();
    return deviceMap(d, this.core.accessDevice(op, d).read);
  }

  async update(op: Operator, user: string, device: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const { user: u, device: d } = await findDevice(this.core, user, device, ForbiddenError);
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
      const other = await this.core.devices.getByApikey(ch.apikey);
      if (other && other.id !== d.id) throw new ForbiddenError('Device with this API key already exists');
    }
    if (ch.public === false && d.public) {
      const r = this.core.permissions.userRole(u.role);
      if (r.max_private_devices > 0 && (await this.core.devices.countPrivateForUser(u.id)) >= r.max_private_devices) {
        throw new ForbiddenError('Exceeded maximum number of private devices for user');
      }
    }
    const log = await this.log.write(this.log.plan(), op, 'UpdateDevice', `${u.name}/${d.name}`, u);
    try {
      await this.core.meta.updateDevice(d.id, ch as Partial<DeviceRow>, log.entries);
    } catch (e) {
      if (e instanceof StorageConflict) throw new ForbiddenError('Device with this API key already exists');
      throw e;
    }
    log.publish();
    const nd = (await this.core.devices.getById(d.id))!;
    return deviceStruct(nd, this.core.accessDevice(op, nd).read);
  }

  async delete(op: Operator, user: string, device: string): Promise<void> {
    const { user: u, device: d } = await findDevice(this.core, user, device, ForbiddenError);
    if (!this.core.accessDevice(op, d).can_delete_device) throw new ForbiddenError(CANT_ACCESS);
    if (d.name === 'user') throw new ForbiddenError('user device cannot be deleted');
    if (d.name === 'meta') throw new ForbiddenError('meta device cannot be deleted');
    const log = await this.log.write(this.log.plan(), op, 'DeleteDevice', `${u.name}/${d.name}`, u);
    await this.core.meta.deleteDevice(d.id, log.entries);
    log.publish();
  }
}

/** A `streams`/`devices` map of a create body as entries (non-objects count as empty bodies). */
export function nestedMap(v: unknown): [string, Record<string, unknown>][] {
  if (v === undefined || v === null) return [];
  if (typeof v !== 'object' || Array.isArray(v)) throw new ForbiddenError('Nested objects must be given as a JSON object of name to properties');
  return Object.entries(v as Record<string, unknown>).map(([k, b]) => [k, (b && typeof b === 'object' ? b : {}) as Record<string, unknown>]);
}
