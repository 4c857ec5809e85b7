import type { StorageStats } from '../storage/sqlite/chunked';
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

function user(svc: Services, name: string): UserRow {
  const u = svc.core.users.get(name);
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

function device(svc: Services, path: string): { u: UserRow; d: DeviceRow } {
  const [un, dn] = splitDevicePath(path);
  const u = user(svc, un);
  const d = svc.core.devices.get(u.id, dn);
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
  svc.users.checkUnique(input.name, input.email);
  const hash = await hashPassword(input.password);
  return svc.core.tx(() => {
    svc.users.checkUnique(input.name, input.email);
    const u = svc.users.insertUser(
      { name: input.name, email: input.email, password: input.password, role, public: isPublic, nickname: input.nickname, description: input.description },
      hash,
    );
    return svc.core.devices.get(u.id, 'user')!.apikey;
  });
}

export interface UserListing {
  name: string;
  email: string;
  role: string;
  public: boolean;
  devices: number;
  password_scheme: string;
}

export function listUsers(svc: Services, opts: { role?: string } = {}): UserListing[] {
  return svc.core.users
    .list()
    .filter((u) => !opts.role || u.role === opts.role)
    .map((u) => ({ name: u.name, email: u.email, role: u.role, public: u.public, devices: svc.core.devices.countForUser(u.id), password_scheme: u.password_scheme }));
}

export function removeUser(svc: Services, name: string): void {
  const u = user(svc, name);
  svc.core.tx(() => {
    svc.core.data.deleteUser(u.id);
    svc.core.users.delete(u.id);
  });
}

export async function setPassword(svc: Services, name: string, password: string): Promise<void> {
  if (!password) throw new AdminError('The password must not be empty');
  const u = user(svc, name);
  svc.core.users.update(u.id, await hashPassword(password));
}

export function setRole(svc: Services, name: string, role: string): void {
  const p = svc.core.permissions;
  const u = user(svc, name);
  if (!p.hasUserRole(role)) throw new AdminError(`The role '${role}' does not exist (roles: ${Object.keys(p.file.user_roles).join(', ')})`);
  if (!u.public && !p.userRole(role).user_can_be_private) throw new AdminError(`Users with role '${role}' can't be private; make '${name}' public first`);
  svc.core.users.update(u.id, { role });
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
export function addDevice(svc: Services, path: string, input: AddDeviceInput = {}): string {
  const [un, dn] = splitDevicePath(path);
  if (!path.includes('/')) throw new AdminError(`'${path}' is not a device path (USER/DEVICE)`);
  const u = user(svc, un);
  const p = svc.core.permissions;
  const defs = p.userRole('admin').create_device_defaults;
  if (!validName(dn)) throw new AdminError(`Invalid device name '${dn}'`);
  if (dn === 'user' || dn === 'meta') throw new AdminError(`The '${dn}' device is created with its user`);
  if (svc.core.devices.get(u.id, dn)) throw new AdminError(`Device '${un}/${dn}' already exists`);
  const role = input.role ?? defs.role;
  if (!p.hasDeviceRole(role)) throw new AdminError(`The device role '${role}' does not exist (roles: ${Object.keys(p.file.device_roles).join(', ')})`);
  const isPublic = input.public ?? defs.public;
  if (isPublic && !u.public) throw new AdminError(`'${un}' is private and cannot have a public device`);
  const icon = input.icon ?? defs.icon;
  checkIcon(icon);
  const apikey = input.apikey || newApiKey();
  if (svc.core.devices.getByApikey(apikey)) throw new AdminError('Device with this API key already exists');
  svc.core.devices.insert({
    user_id: u.id,
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
  });
  return apikey;
}

export interface DeviceListing {
  name: string;
  role: string;
  public: boolean;
  enabled: boolean;
  streams: number;
}

export function listDevices(svc: Services, userName: string): DeviceListing[] {
  const u = user(svc, userName);
  return svc.core.devices
    .listForUser(u.id)
    .map((d) => ({ name: d.name, role: d.role, public: d.public, enabled: d.enabled, streams: svc.core.streams.countForDevice(d.id) }));
}

export function removeDevice(svc: Services, path: string): void {
  const { d } = device(svc, path);
  if (d.name === 'user') throw new AdminError('user device cannot be deleted');
  if (d.name === 'meta') throw new AdminError('meta device cannot be deleted');
  svc.core.tx(() => {
    svc.core.data.deleteDevice(d.id);
    svc.core.devices.delete(d.id);
  });
}

/** Invalidates a device's API key and gives it a new one (which is returned). */
export function resetApikey(svc: Services, path: string): string {
  const { d } = device(svc, path);
  if (d.name === 'meta') throw new AdminError('The meta device has no API key');
  const key = newApiKey();
  svc.core.devices.update(d.id, { apikey: key });
  return key;
}

export function dbinfo(svc: Services): { users: number; devices: number; streams: number } {
  return { users: svc.core.users.count(), devices: svc.core.devices.count(), streams: svc.core.streams.count() };
}

/** Datapoints, chunks and bytes on disk, in total and per substream (`connectordb dbinfo`). */
export function storageInfo(svc: Services): StorageStats {
  return svc.core.data.stats();
}
