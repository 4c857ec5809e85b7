import { RW_FLAGS } from './defaults';
import type { AccessLevel, EffectiveAccess, PermissionsFile, Relationship, RWAccess, UserRole, RoleLevels } from './types';

type LevelKey = 'self_access_level' | 'user_access_level' | 'public_access_level' | 'private_access_level';

export * from './types';
export { defaultPermissions, RW_FLAGS } from './defaults';

const FULL_RW = Object.fromEntries(RW_FLAGS.map((f) => [f, true])) as RWAccess;
const NONE_RW = Object.fromEntries(RW_FLAGS.map((f) => [f, false])) as RWAccess;
const levelOf = (all: boolean, rw: string): AccessLevel => ({
  can_create_user: all,
  can_create_device: all,
  can_create_stream: all,
  can_delete_user: all,
  can_delete_device: all,
  can_delete_stream: all,
  can_list_users: all,
  can_list_devices: all,
  can_list_streams: all,
  can_subscribe_to_stream: all,
  read_access: rw,
  write_access: rw,
});

const LEVEL_KEY: Record<Relationship, LevelKey> = {
  self: 'self_access_level',
  user: 'user_access_level',
  public: 'public_access_level',
  private: 'private_access_level',
};

/**
 * Roles → access levels, table-driven (permissions.md §1). Effective access is the AND of the
 * user role's and the device role's level for the relationship; results are memoised because
 * every request asks the same few questions.
 */
export class Permissions {
  private readonly cache = new Map<string, EffectiveAccess>();

  constructor(readonly file: PermissionsFile) {
    validatePermissions(file);
  }

  userRole(name: string): UserRole {
    // An unknown user role behaves as nobody (permissions.md §1.2).
    return this.file.user_roles[name] ?? this.file.user_roles.nobody;
  }

  hasUserRole(name: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.file.user_roles, name);
  }

  hasDeviceRole(name: string): boolean {
    return name === '' || Object.prototype.hasOwnProperty.call(this.file.device_roles, name);
  }

  deviceRole(name: string): RoleLevels {
    return this.file.device_roles[name] ?? this.file.device_roles.none;
  }

  private level(name: string): AccessLevel {
    if (name === 'full') return levelOf(true, 'full');
    if (name === 'none') return levelOf(false, 'none');
    return this.file.access_levels[name] ?? levelOf(false, 'none');
  }

  private rw(name: string): RWAccess {
    if (name === 'full') return FULL_RW;
    if (name === 'none') return NONE_RW;
    return this.file.rw_access[name] ?? NONE_RW;
  }

  access(userRole: string, deviceRole: string, rel: Relationship): EffectiveAccess {
    const key = `${userRole}\0${deviceRole}\0${rel}`;
    let eff = this.cache.get(key);
    if (eff) return eff;
    const u = this.level(this.userRole(userRole)[LEVEL_KEY[rel]]);
    const d = this.level(this.deviceRole(deviceRole)[LEVEL_KEY[rel]]);
    const ur = this.rw(u.read_access);
    const dr = this.rw(d.read_access);
    const uw = this.rw(u.write_access);
    const dw = this.rw(d.write_access);
    const and = (a: RWAccess, b: RWAccess) => Object.fromEntries(RW_FLAGS.map((f) => [f, a[f] && b[f]])) as RWAccess;
    eff = {
      can_create_user: u.can_create_user && d.can_create_user,
      can_create_device: u.can_create_device && d.can_create_device,
      can_create_stream: u.can_create_stream && d.can_create_stream,
      can_delete_user: u.can_delete_user && d.can_delete_user,
      can_delete_device: u.can_delete_device && d.can_delete_device,
      can_delete_stream: u.can_delete_stream && d.can_delete_stream,
      can_list_users: u.can_list_users && d.can_list_users,
      can_list_devices: u.can_list_devices && d.can_list_devices,
      can_list_streams: u.can_list_streams && d.can_list_streams,
      read: and(ur, dr),
      write: and(uw, dw),
    };
    this.cache.set(key, eff);
    return eff;
  }

  canCount(userRole: string, deviceRole: string, what: 'CanCountUsers' | 'CanCountDevices' | 'CanCountStreams'): boolean {
    return this.userRole(userRole)[what] && this.deviceRole(deviceRole)[what];
  }
}

/** Load-time checks of the original (permissions.md §7); throws with a readable message. */
export function validatePermissions(p: PermissionsFile): void {
  if (p.version !== 1) throw new Error('Permissions file version must be 1');
  const levels = new Set([...Object.keys(p.access_levels), 'full', 'none']);
  const rws = new Set([...Object.keys(p.rw_access), 'full', 'none']);
  for (const [name, l] of Object.entries(p.access_levels)) {
    if (!rws.has(l.read_access)) throw new Error(`Access level '${name}' references unknown read_access '${l.read_access}'`);
    if (!rws.has(l.write_access)) throw new Error(`Access level '${name}' references unknown write_access '${l.write_access}'`);
  }
  const checkRole = (kind: string, name: string, r: RoleLevels) => {
    for (const k of Object.values(LEVEL_KEY)) {
      const v = r[k] as string;
      if (!levels.has(v)) throw new Error(`${kind} role '${name}' references unknown access level '${v}'`);
    }
  };
  for (const [n, r] of Object.entries(p.user_roles)) {
    checkRole('User', n, r);
    if (!p.user_roles[r.join_role]) throw new Error(`User role '${n}' has unknown join_role '${r.join_role}'`);
  }
  for (const [n, r] of Object.entries(p.device_roles)) checkRole('Device', n, r);
  if (!p.user_roles.nobody) throw new Error("Permissions must define the user role 'nobody'");
  if (!p.device_roles.none || !p.device_roles.user) throw new Error("Permissions must define the device roles 'none' and 'user'");
}
