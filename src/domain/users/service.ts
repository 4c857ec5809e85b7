import { timingSafeEqual } from 'node:crypto';
import { ForbiddenError, NotFoundError, UnauthorizedError } from '../../errors';
import type { RWAccess } from '../../permissions';
import type { Core } from '../core';
import { type DeviceService, nestedMap, newApiKey } from '../devices/service';
import { USER_FIELDS, checkUpdate, readableMap } from '../fields';
import { type LogPlan, type MetaLog, type NewUserTarget, logStreamRow } from '../metalog';
import { StorageConflict } from '../../storage/errors';
import { NEW_USER, type NewDeviceTree } from '../../storage/types';
import { CANT_ACCESS, USER_NOT_FOUND, findUser } from '../resolve';
import { createBody } from '../streams/service';
import type { DeviceRow, Operator, UserRow } from '../types';
import { checkIcon, validEmail, validName } from '../validation';
import { hashPassword, isLegacy, verifyPassword, type PasswordHash } from './passwords';

const USER_KEYS = ['name', 'nickname', 'email', 'description', 'icon', 'role', 'public'];

export function userMap(u: UserRow, read: RWAccess): Record<string, unknown> {
  return readableMap('user', u as unknown as Record<string, unknown>, USER_KEYS, read);
}

export interface NewUserInput {
  name: string;
  email: string;
  password: string;
  role: string;
  public: boolean;
  nickname?: string;
  description?: string;
  icon?: string;
}

export class UserService {
  constructor(
    private readonly core: Core,
    private readonly devices: DeviceService,
    private readonly log: MetaLog,
  ) {}

  operatorFor(user: UserRow, device: DeviceRow): Operator {
    return { name: `${user.name}/${device.name}`, user, device, nobody: false };
  }

  /** Basic auth with a user name (or email) and password: acts as the user's `user` device. */
  async loginPassword(nameOrEmail: string, password: string): Promise<Operator> {
    const u = await this.core.users.findLogin(nameOrEmail);
    if (!u) throw new UnauthorizedError('Login Failed. Check your username or password');
    if (!this.core.verified.has(u, password)) {
      if (password === '' || !(await verifyPassword(u, password))) throw new UnauthorizedError('Incorrect Password');
      if (isLegacy(u)) {
        // Upgrade an imported bcrypt/SHA512 hash now that we know the password (data-model §3.4).
        const h = await hashPassword(password);
        await this.core.meta.updateUser(u.id, h, []);
        Object.assign(u, h);
      }
      this.core.verified.add(u, password);
    }
    const d = await this.core.devices.get(u.id, 'user');
    if (!d) throw new UnauthorizedError('The requested device was not found.');
    return this.operatorFor(u, d);
  }

  async loginApikey(key: string): Promise<Operator> {
    if (key === '') throw new UnauthorizedError('Must have non-empty api key');
    // Keyed on the key itself: a SHA-256 per request was most of the cost of a cached login, and
    // the operator in the cache holds the key anyway.
    const hit = this.core.apikeyOps.get(key);
    if (hit && constEq(hit.device.apikey, key)) return hit;
    const gen = this.core.generation;
    const d = await this.core.devices.getByApikey(key);
    if (!d || !constEq(d.apikey, key)) throw new UnauthorizedError('The requested device was not found.');
    const u = (await this.core.users.getById(d.user_id))!;
    const op = this.operatorFor(u, d);
    this.core.apikeyOps.set(key, op, gen);
    return op;
  }

  async read(op: Operator, name: string): Promise<Record<string, unknown>> {
    const u = await this.core.users.get(name);
    if (!u) throw new NotFoundError(CANT_ACCESS);
    const acc = this.core.accessUser(op, u);
    if (!acc.read.can_access_user) throw new NotFoundError(CANT_ACCESS);
    return userMap(u, acc.read);
  }

  async list(op: Operator): Promise<Record<string, unknown>[]> {
    if (!this.core.access(op, 'private').can_list_users) throw new NotFoundError('You do not have permissions necessary to list users.');
    const out: Record<string, unknown>[] = [];
    for (const u of await this.core.users.list()) {
      const acc = this.core.accessUser(op, u);
      if (acc.read.can_access_user) out.push(userMap(u, acc.read));
    }
    return out;
  }

  count(op: Operator, what: 'users' | 'devices' | 'streams'): Promise<number> {
    const flag = what === 'users' ? 'CanCountUsers' : what === 'devices' ? 'CanCountDevices' : 'CanCountStreams';
    if (!this.core.permissions.canCount(op.user.role, op.device.role, flag)) {
      throw new ForbiddenError(`Don't have permissions necessary to count ${what}`);
    }
    return what === 'users' ? this.core.users.count() : what === 'devices' ? this.core.devices.count() : this.core.streams.count();
  }

  async listStreams(op: Operator, name: string, q: { public?: boolean; downlink?: boolean; visible?: boolean }): Promise<Record<string, unknown>[]> {
    const u = await this.core.users.get(name);
    if (!u) throw new NotFoundError(CANT_ACCESS);
    if (!this.core.accessUser(op, u).can_list_streams) throw new NotFoundError(CANT_ACCESS);
    const out: Record<string, unknown>[] = [];
    const devs = new Map((await this.core.devices.listForUser(u.id)).map((d) => [d.id, d]));
    for (const s of await this.core.streams.listForUser(u.id)) {
      if (q.public && !s.device_public) continue;
      if (q.downlink && !s.downlink) continue;
      if (q.visible && !s.device_visible) continue;
      const acc = this.core.accessDevice(op, devs.get(s.device_id)!);
      if (!acc.read.can_access_stream) continue;
      const m = readableMap('stream', s as unknown as Record<string, unknown>, ['name', 'nickname', 'description', 'icon', 'schema', 'datatype', 'ephemeral', 'downlink'], acc.read);
      m.device = s.device_name;
      out.push(Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : 1))));
    }
    return out;
  }

  /**
   * The user row with its automatic `user` and `meta` devices and the meta log (data-model §4),
   * as the trees to store; no permission checks: the API path and the admin CLI share it.
   */
  userTrees(input: NewUserInput, hash: PasswordHash, userApikey = newApiKey()): { user: Omit<UserRow, 'id'>; devices: NewDeviceTree[] } {
    const { device_id: _, ...log } = logStreamRow(0);
    void _;
    return {
      user: {
        name: input.name,
        nickname: input.nickname ?? '',
        email: input.email,
        description: input.description ?? '',
        icon: input.icon ?? '',
        public: input.public,
        role: input.role,
        ...hash,
      },
      devices: [
        {
          device: {
            name: 'user',
            nickname: '',
            description: 'Holds manually inserted data for the user',
            icon: 'material:person',
            apikey: userApikey,
            enabled: true,
            public: false,
            role: 'user',
            visible: true,
            user_editable: true,
          },
          streams: [],
        },
        {
          device: {
            name: 'meta',
            nickname: '',
            description: 'The meta device holds automatically generated streams',
            icon: 'material:bug_report',
            apikey: '',
            enabled: true,
            public: false,
            role: '',
            visible: false,
            user_editable: false,
          },
          streams: [log],
        },
      ],
    };
  }

  /** Creates a user with its automatic devices and log, in one write, without a log entry. */
  async insertUser(input: NewUserInput, hash: PasswordHash, userApikey = newApiKey()): Promise<UserRow> {
    const t = this.userTrees(input, hash, userApikey);
    return this.storeUser(t.user, t.devices, this.log.plan());
  }

  private async storeUser(user: Omit<UserRow, 'id'>, devices: NewDeviceTree[], log: LogPlan): Promise<UserRow> {
    let u: UserRow;
    try {
      u = await this.core.meta.createUser(user, devices, log.entries);
    } catch (e) {
      if (e instanceof StorageConflict) {
        throw new ForbiddenError(e.what === 'user' ? 'User with this email or username already exists' : 'Device with this API key already exists');
      }
      throw e;
    }
    log.publish();
    return u;
  }

  /** Name and email uniqueness without regard to case (rest-api §12). */
  async checkUnique(name: string, email: string, selfId = -1): Promise<void> {
    if (name && (await this.core.users.nameTaken(name))) throw new ForbiddenError('User with this email or username already exists');
    const other = email ? await this.core.users.emailTakenBy(email) : undefined;
    if (other && other.id !== selfId) throw new ForbiddenError('User with this email or username already exists');
  }

  /**
   * `joinRole` is set for the website's join form (rest-api §10.3): the caller's role allowed
   * joining, so the create permission checks are skipped and the new user gets that role.
   */
  async create(op: Operator, name: string, rawBody: unknown, joinRole?: string): Promise<Record<string, unknown>> {
    const body = createBody(rawBody, { ...USER_FIELDS }, 'UserMaker');
    const p = this.core.permissions;
    const creatorRole = p.userRole(op.user.role);
    const defs = creatorRole.create_user_defaults;
    const isPublic = typeof body.public === 'boolean' ? body.public : defs.public;
    const role = joinRole ?? (typeof body.role === 'string' && body.role !== '' ? body.role : defs.role);
    const acc = this.core.access(op, isPublic ? 'public' : 'private');
    if (joinRole === undefined) {
      if (!acc.can_create_user) throw new ForbiddenError('You do not have permissions necessary to create a user.');
      if (role !== op.user.role && !acc.write.user_role) throw new ForbiddenError("Don't have permission to create user with different role than creator");
    }
    if (p.file.disallow_names.includes(name)) throw new ForbiddenError(`Username '${name}' not allowed`);
    const email = typeof body.email === 'string' ? body.email : '';
    if (!emailAllowed(p.file.allowed_email_suffixes, email)) throw new ForbiddenError(`Email '${email}' not allowed`);
    if (role === '') throw new ForbiddenError('Role not set for user');
    if (!p.hasUserRole(role)) throw new ForbiddenError(`The given role '${role}' does not exist`);
    const newRole = p.userRole(role);
    if (!isPublic && !newRole.user_can_be_private) throw new ForbiddenError(`Users with role '${role}' can't be private.`);
    if (!validName(name)) throw new ForbiddenError('Invalid Username, usernames may not contain / \\ ? or spaces');
    if (!validEmail(email)) throw new ForbiddenError('Invalid Email Address');
    const password = typeof body.password === 'string' ? body.password : '';
    if (password === '') throw new ForbiddenError('Incorrect Password');
    const icon = typeof body.icon === 'string' ? body.icon : defs.icon;
    checkIcon(icon);
    const devices = nestedMap(body.devices);
    const streams = nestedMap(body.streams);
    if (newRole.max_devices > 0 && devices.length + 2 > newRole.max_devices) throw new ForbiddenError('Exceeded device limit');
    if (newRole.max_streams > 0 && streams.length > newRole.max_streams) throw new ForbiddenError('Exceeded stream limit for user');
    for (const [dn] of devices) {
      if (dn === 'user') throw new ForbiddenError('user device is created by default. Set its streams in "streams" property');
      if (dn === 'meta') throw new ForbiddenError('meta device is created by default');
    }
    if (p.file.max_users > 0 && (await this.core.users.count()) >= p.file.max_users) throw new ForbiddenError('Maximum user limit was reached');
    await this.checkUnique(name, email);
    const hash = await hashPassword(password);
    // Re-checked after hashing: another request may have taken the name meanwhile (and the
    // storage's unique indexes refuse a name taken after this check).
    await this.checkUnique(name, email);
    const t = this.userTrees(
      {
        name,
        email,
        password,
        role,
        public: isPublic,
        nickname: typeof body.nickname === 'string' ? body.nickname : defs.nickname,
        description: typeof body.description === 'string' ? body.description : defs.description,
        icon,
      },
      hash,
    );
    // Nested devices and streams are validated against the user as it will be.
    const nu: UserRow = { ...t.user, id: NEW_USER };
    const target: NewUserTarget = { newUser: nu };
    const log = this.log.plan();
    await this.log.write(log, op, 'CreateUser', name, target);
    t.devices[0].streams = await this.devices.planStreams(op, nu, streams);
    const planned = t.devices.map((d) => d.device);
    for (const [dn, db] of devices) {
      if (!dn || /[/\\ ?]/.test(dn)) throw new ForbiddenError('The provided name is not valid, it may not contain /, \\, space, ? or be blank');
      const tree = await this.devices.plan(op, nu, await this.devices.prepare(op, nu, dn, db, true, planned), log, target, true);
      planned.push(tree.device);
      t.devices.push(tree);
    }
    const u = await this.storeUser(t.user, t.devices, log);
    return userMap(u, this.core.accessUser(op, u).read);
  }

  async update(op: Operator, name: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const u = await findUser(this.core, name, ForbiddenError);
    const acc = this.core.accessUser(op, u);
    if (!acc.write.can_access_user) throw new ForbiddenError(CANT_ACCESS);
    const ch = checkUpdate('user', USER_FIELDS, body, acc.write);
    if ('name' in ch && ch.name !== u.name) throw new ForbiddenError('ConnectorDB does not support modification of user names');
    delete ch.name;
    const p = this.core.permissions;
    if (typeof ch.email === 'string' && !emailAllowed(p.file.allowed_email_suffixes, ch.email)) throw new ForbiddenError(`Email '${ch.email}' not allowed`);
    const role = typeof ch.role === 'string' ? ch.role : u.role;
    if (typeof ch.role === 'string') {
      if (ch.role === '') throw new ForbiddenError('Role not set for user');
      if (!p.hasUserRole(ch.role)) throw new ForbiddenError(`The given role '${ch.role}' does not exist`);
    }
    const pub = typeof ch.public === 'boolean' ? ch.public : u.public;
    if (!pub && !p.userRole(role).user_can_be_private && (ch.public === false || typeof ch.role === 'string')) throw new ForbiddenError("User can't be private.");
    if (typeof ch.email === 'string' && !validEmail(ch.email)) throw new ForbiddenError('Invalid Email Address');
    if (ch.password === '') throw new ForbiddenError('Incorrect Password');
    if (typeof ch.icon === 'string') checkIcon(ch.icon);
    if (typeof ch.email === 'string') await this.checkUnique('', ch.email, u.id);
    const changes: Partial<UserRow> = { ...(ch as Partial<UserRow>) };
    delete changes.password;
    if (typeof ch.password === 'string') Object.assign(changes, await hashPassword(ch.password));
    if (typeof ch.email === 'string' && typeof ch.password === 'string') await this.checkUnique('', ch.email, u.id);
    const log = await this.log.write(this.log.plan(), op, 'UpdateUser', u.name, u);
    try {
      await this.core.meta.updateUser(u.id, changes, log.entries);
    } catch (e) {
      if (e instanceof StorageConflict) throw new ForbiddenError('User with this email or username already exists');
      throw e;
    }
    log.publish();
    const nu = (await this.core.users.getById(u.id))!;
    return userMap(nu, this.core.accessUser(op, nu).read);
  }

  async delete(op: Operator, name: string): Promise<void> {
    const u = await this.core.users.get(name);
    if (!u) throw new ForbiddenError(USER_NOT_FOUND);
    if (!this.core.accessUser(op, u).can_delete_user) throw new ForbiddenError('You do not have permissions necessary to delete this user.');
    const log = await this.log.write(this.log.plan(), op, 'DeleteUser', u.name, u);
    await this.core.meta.deleteUser(u.id, log.entries);
    log.publish();
  }
}

function emailAllowed(suffixes: string[], email: string): boolean {
  return suffixes.length === 0 || suffixes.some((s) => email.endsWith(s));
}

function constEq(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
