import type { StorageInfo } from '../domain/datapoints/service';
import type { Services } from '../domain';
import { newApiKey } from '../domain/devices/service';
import type { DeviceRow, UserRow } from '../domain/types';
import { hashPassword } from '../domain/users/passwords';
import { checkIcon, validEmail, validName } from '../domain/validation';

/**
 * The original's shell commands (server-cli-config §1.5) as functions for non-interactive CLI
 * sub-commands. They act as the database operator: no permission checks, no meta-log entries,
 * but the same validation as the API (names, emails, roles, uniqueness).
 */
export class AdminError extends Error {}

async function user(svc: Services, name: string): Promise<UserRow> {
  const u = await svc.core.users.get(name);
  if (!u) throw new AdminError(`User '${name}' does not exist`);
  return u;
}

/** `user/device`, or just `user` meaning its `user` device. */
export function splitDevicePath(p: string): [string, string] {
  const parts = p.split('/');
  if (parts.length === 1) return [parts[0], 'user'];
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw new AdminError(`'${p}' is not a device path (USER/DEVICE)`);
  return [parts[0], parts[1]];
}

async function device(svc: Services, path: string): Promise<{ u: UserRow; d: DeviceRow }> {
  const [un, dn] = splitDevicePath(path);
  const u = await user(svc, un);
  const d = await svc.core.devices.get(u.id, dn);
  if (!d) throw new AdminError(`Device '${un}/${dn}' does not exist`);
  return { u, d };
}

export interface AddUserInput {
  name: string;
  email: string;
  password: string;
  role?: string;
  public?: boolean;
  nickname?: string;
  description?: string;
}

/** Creates a user (with its `user` and `meta` devices); returns the `user` device's API key. */
export async function addUser(svc: Services, input: AddUserInput): Promise<string> {
  const p = svc.core.permissions;
  const role = input.role ?? 'user';
  if (!validName(input.name)) throw new AdminError(`Invalid user name '${input.name}': letters, digits, _ and -, starting with a letter, at most 29 characters`);
  if (!validEmail(input.email)) throw new AdminError(`Invalid Email Address '${input.email}'`);
  if (!p.hasUserRole(role)) throw new AdminError(`The role '${role}' does not exist (roles: ${Object.keys(p.file.user_roles).join(', ')})`);
  if (!input.password) throw new AdminError('The password must not be empty');
  const isPublic = input.public ?? false;
  if (!isPublic && !p.userRole(role).user_can_be_private) throw new AdminError(`Users with role '${role}' can't be private (use --public)`);
  await svc.users.checkUnique(input.name, input.email);
  const hash = await hashPassword(input.password);
  await svc.users.checkUnique(input.name, input.email);
  const u = await svc.users.insertUser(
    { name: input.name, email: input.email, password: input.password, role, public: isPublic, nickname: input.nickname, description: input.description },
    hash,
  );
  return (await svc.core.devices.get(u.id, 'user'))!.apikey;
}

export interface UserListing {
  name: string;
  email: string;
  role: string;
  public: boolean;
  devices: number;
  password_scheme: string;
}

export async function listUsers(svc: Services, opts: { role?: string } = {}): Promise<UserListing[]> {
  const out: UserListing[] = [];
  for (const u of await svc.core.users.list()) {
    if (opts.role && u.role !== opts.role) continue;
    out.push({ name: u.name, email: u.email, role: u.role, public: u.public, devices: await svc.core.devices.countForUser(u.id), password_scheme: u.password_scheme });
  }
  return out;
}

export async function removeUser(svc: Services, name: string): Promise<void> {
  const u = await user(svc, name);
  await svc.core.meta.deleteUser(u.id, []);
}

export async function setPassword(svc: Services, name: string, password: string): Promise<void> {
  if (!password) throw new AdminError('The password must not be empty');
  const u = await user(svc, name);
  await svc.core.meta.updateUser(u.id, await hashPassword(password), []);
}

export async function setRole(svc: Services, name: string, role: string): Promise<void> {
  const p = svc.core.permissions;
  const u = await user(svc, name);
  if (!p.hasUserRole(role)) throw new AdminError(`The role '${role}' does not exist (roles: ${Object.keys(p.file.user_roles).join(', ')})`);
  if (!u.public && !p.userRole(role).user_can_be_private) throw new AdminError(`Users with role '${role}' can't be private; make '${name}' public first`);
  await svc.core.meta.updateUser(u.id, { role }, []);
}

export interface AddDeviceInput {
  role?: string;
  public?: boolean;
  nickname?: string;
  description?: string;
  icon?: string;
  apikey?: string;
}

/** Creates a device with the admin role's device defaults; returns its API key. */
export async function addDevice(svc: Services, path: string, input: AddDeviceInput = {}): Promise<string> {
  const [un, dn] = splitDevicePath(path);
  if (!path.includes('/')) throw new AdminError(`'${path}' is not a device path (USER/DEVICE)`);
  const u = await user(svc, un);
  const p = svc.core.permissions;
  const defs = p.userRole('admin').create_device_defaults;
  if (!validName(dn)) throw new AdminError(`Invalid device name '${dn}'`);
  if (dn === 'user' || dn === 'meta') throw new AdminError(`The '${dn}' device is created with its user`);
  if (await svc.core.devices.get(u.id, dn)) throw new AdminError(`Device '${un}/${dn}' already exists`);
  const role = input.role ?? defs.role;
  if (!p.hasDeviceRole(role)) throw new AdminError(`The device role '${role}' does not exist (roles: ${Object.keys(p.file.device_roles).join(', ')})`);
  const isPublic = input.public ?? defs.public;
  if (isPublic && !u.public) throw new AdminError(`'${un}' is private and cannot have a public device`);
  const icon = input.icon ?? defs.icon;
  checkIcon(icon);
  const apikey = input.apikey || newApiKey();
  if (await svc.core.devices.getByApikey(apikey)) throw new AdminError('Device with this API key already exists');
  const device = {
    name: dn,
    nickname: input.nickname ?? defs.nickname,
    description: input.description ?? defs.description,
    icon,
    apikey,
    enabled: defs.enabled,
    public: isPublic,
    role,
    visible: defs.visible,
    user_editable: defs.user_editable,
  };
  await svc.core.meta.createDevice(u.id, { device, streams: [] }, []);
  return apikey;
}

export interface DeviceListing {
  name: string;
  role: string;
  public: boolean;
  enabled: boolean;
  streams: number;
}

export async function listDevices(svc: Services, userName: string): Promise<DeviceListing[]> {
  const u = await user(svc, userName);
  const out: DeviceListing[] = [];
  for (const d of await svc.core.devices.listForUser(u.id)) {
    out.push({ name: d.name, role: d.role, public: d.public, enabled: d.enabled, streams: await svc.core.streams.countForDevice(d.id) });
  }
  return out;
}

export async function removeDevice(svc: Services, path: string): Promise<void> {
  const { d } = await device(svc, path);
  if (d.name === 'user') throw new AdminError('user device cannot be deleted');
  if (d.name === 'meta') throw new AdminError('meta device cannot be deleted');
  await svc.core.meta.deleteDevice(d.id, []);
}

/** Invalidates a device's API key and gives it a new one (which is returned). */
export async function resetApikey(svc: Services, path: string): Promise<string> {
  const { d } = await device(svc, path);
  if (d.name === 'meta') throw new AdminError('The meta device has no API key');
  const key = newApiKey();
  await svc.core.meta.updateDevice(d.id, { apikey: key }, []);
  return key;
}

export async function dbinfo(svc: Services): Promise<{ users: number; devices: number; streams: number }> {
  return { users: await svc.core.users.count(), devices: await svc.core.devices.count(), streams: await svc.core.streams.count() };
}

/** Datapoints, chunks and bytes on disk, in total and per substream (`connectordb dbinfo`). */
export function storageInfo(svc: Services): Promise<StorageInfo> {
  return svc.data.storageInfo(null);
}
