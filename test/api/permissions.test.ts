import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Response } from 'supertest';
import { ADMIN, type TestApp, basic, createUser, keyAuth, makeApp } from '../helpers';
import { Actor, CANT_ACCESS, expectError, mkDevice, mkStream } from './util';

/**
 * The permission matrix of permissions.md §3 in the default configuration. Actors:
 * admin (password), alice (password, public user), her devices plain (role ""), reader and writer,
 * bob (another public user, password) and anonymous. Targets: alice's public device pubdev and
 * private device privdev, each with a stream `s`, her user device's stream `user/s`, and the private
 * user carol with a private device cdev and a device cpub made public after creation.
 */

let t: TestApp;
const keys: Record<string, string> = {};
let n = 0;

type ActorName = 'admin' | 'alice' | 'plain' | 'reader' | 'writer' | 'bob' | 'anon';
const auth = (a: ActorName): string | undefined => {
  switch (a) {
    case 'admin':
      return ADMIN;
    case 'alice':
      return basic('alice', 'pw');
    case 'bob':
      return basic('bob', 'pw');
    case 'anon':
      return undefined;
    default:
      return keyAuth(keys[a]);
  }
};

interface Row {
  name: string;
  actor: ActorName;
  method: 'get' | 'post' | 'put' | 'delete';
  /** Path under /api/v1/crud/ (or a function creating a fresh target first). */
  path: string | (() => Promise<string>);
  body?: unknown;
  status: number;
  msg?: string;
  check?: (r: Response) => void;
}

async function run(row: Row): Promise<Response> {
  const p = typeof row.path === 'string' ? row.path : await row.path();
  const url = p.startsWith('/') ? p : `/api/v1/crud/${p}`;
  let req = t.http[row.method](url);
  const a = auth(row.actor);
  if (a) req = req.set('Authorization', a);
  if (row.body !== undefined) req = req.send(row.body as object);
  else if (row.method === 'post' || row.method === 'put') req = req.send({});
  return req;
}

/** A fresh object to modify or delete, so rows stay independent. */
const freshDevice = (owner: 'alice' | 'carol', body: Record<string, unknown> = {}) => async () => {
  const name = `tmp${++n}`;
  await mkDevice(owner === 'alice' ? actorOf('alice') : actorOf('admin'), `${owner}/${name}`, body);
  return `${owner}/${name}`;
};
const freshStream = (device: string) => async () => {
  const name = `tmp${++n}`;
  await mkStream(actorOf('admin'), `${device}/${name}`);
  return `${device}/${name}`;
};
const freshUser = () => async () => {
  const name = `tmpuser${++n}`;
  await createUser(t, name);
  return name;
};
const actorOf = (a: ActorName) => new Actor(t, auth(a));

const keysOf = (r: Response) => Object.keys(r.body as object);
const USER_PUBLIC_VIEW = ['description', 'icon', 'name', 'nickname', 'public'];
const USER_FULL_VIEW = ['description', 'email', 'icon', 'name', 'nickname', 'public', 'role'];
const DEVICE_FULL_VIEW = ['apikey', 'description', 'enabled', 'icon', 'name', 'nickname', 'public', 'role', 'user_editable', 'visible'];
const DEVICE_PUBLIC_VIEW = ['description', 'enabled', 'icon', 'name', 'nickname', 'public', 'visible'];
const DEVICE_NOKEY_VIEW = DEVICE_FULL_VIEW.filter((k) => k !== 'apikey');
const writeDenied = (f: string) => `This device does not have permissions to write ${f}`;

const reads: Row[] = [
  // users
  { name: 'the admin can read a public user, email and role included', actor: 'admin', method: 'get', path: 'alice', status: 200, check: (r) => expect(keysOf(r)).toEqual(USER_FULL_VIEW) },
  { name: 'the admin can read a private user', actor: 'admin', method: 'get', path: 'carol', status: 200, check: (r) => expect(keysOf(r)).toEqual(USER_FULL_VIEW) },
  { name: 'a user can read itself fully', actor: 'alice', method: 'get', path: 'alice', status: 200, check: (r) => expect(keysOf(r)).toEqual(USER_FULL_VIEW) },
  { name: 'another user reads a public user without email and role', actor: 'bob', method: 'get', path: 'alice', status: 200, check: (r) => expect(keysOf(r)).toEqual(USER_PUBLIC_VIEW) },
  { name: 'another user cannot read a private user', actor: 'bob', method: 'get', path: 'carol', status: 404, msg: CANT_ACCESS },
  { name: 'anonymous cannot read a public user', actor: 'anon', method: 'get', path: 'alice', status: 404, msg: CANT_ACCESS },
  { name: 'a plain device cannot read its own user', actor: 'plain', method: 'get', path: 'alice', status: 404, msg: CANT_ACCESS },
  { name: 'a reader device can read its own user, email and role included', actor: 'reader', method: 'get', path: 'alice', status: 200, check: (r) => expect(keysOf(r)).toEqual(USER_FULL_VIEW) },
  { name: 'a writer device can read its own user', actor: 'writer', method: 'get', path: 'alice', status: 200, check: (r) => expect(keysOf(r)).toEqual(USER_FULL_VIEW) },
  { name: 'a reader device reads another public user without email and role', actor: 'reader', method: 'get', path: 'bob', status: 200, check: (r) => expect(keysOf(r)).toEqual(USER_PUBLIC_VIEW) },
  { name: 'a reader device cannot read a private user', actor: 'reader', method: 'get', path: 'carol', status: 404 },
  { name: 'a plain device cannot read another public user', actor: 'plain', method: 'get', path: 'bob', status: 404 },
  // devices
  { name: 'the admin reads a private user\'s private device, apikey included', actor: 'admin', method: 'get', path: 'carol/cdev', status: 200, check: (r) => expect(keysOf(r)).toEqual(DEVICE_FULL_VIEW) },
  { name: 'a user reads its own devices fully', actor: 'alice', method: 'get', path: 'alice/plain', status: 200, check: (r) => expect(r.body.apikey).toBe(keys.plain) },
  { name: 'a plain device reads itself fully, its own apikey included', actor: 'plain', method: 'get', path: 'alice/plain', status: 200, check: (r) => expect(r.body.apikey).toBe(keys.plain) },
  { name: 'a plain device cannot read a sibling device', actor: 'plain', method: 'get', path: 'alice/pubdev', status: 404, msg: CANT_ACCESS },
  { name: 'a reader device reads a sibling device without its apikey', actor: 'reader', method: 'get', path: 'alice/privdev', status: 200, check: (r) => expect(keysOf(r)).toEqual(DEVICE_NOKEY_VIEW) },
  { name: 'a writer device reads a sibling device without its apikey', actor: 'writer', method: 'get', path: 'alice/privdev', status: 200, check: (r) => expect(keysOf(r)).toEqual(DEVICE_NOKEY_VIEW) },
  { name: 'another user reads a public device without apikey, role and user_editable', actor: 'bob', method: 'get', path: 'alice/pubdev', status: 200, check: (r) => expect(keysOf(r)).toEqual(DEVICE_PUBLIC_VIEW) },
  { name: 'another user cannot read a private device of a public user', actor: 'bob', method: 'get', path: 'alice/privdev', status: 404, msg: CANT_ACCESS },
  { name: 'another user cannot read a public user\'s user device (private)', actor: 'bob', method: 'get', path: 'alice/user', status: 404 },
  { name: 'another user can read a public device of a private user (the device flag decides)', actor: 'bob', method: 'get', path: 'carol/cpub', status: 200, check: (r) => expect(keysOf(r)).toEqual(DEVICE_PUBLIC_VIEW) },
  { name: 'anonymous cannot read a public device', actor: 'anon', method: 'get', path: 'alice/pubdev', status: 404, msg: CANT_ACCESS },
  // streams
  { name: 'another user can read a stream of a public device', actor: 'bob', method: 'get', path: 'alice/pubdev/s', status: 200, check: (r) => expect(r.body.name).toBe('s') },
  { name: 'another user cannot read a stream of a private device', actor: 'bob', method: 'get', path: 'alice/privdev/s', status: 404, msg: CANT_ACCESS },
  { name: 'a plain device cannot read a sibling\'s stream', actor: 'plain', method: 'get', path: 'alice/user/s', status: 404, msg: CANT_ACCESS },
  { name: 'a plain device can read its own stream', actor: 'plain', method: 'get', path: 'alice/plain/s', status: 200 },
  { name: 'a reader device can read a sibling\'s stream', actor: 'reader', method: 'get', path: 'alice/user/s', status: 200 },
  { name: 'anonymous cannot read a stream of a public device', actor: 'anon', method: 'get', path: 'alice/pubdev/s', status: 404 },
];

const updates: Row[] = [
  // users
  { name: 'a user can update its own nickname', actor: 'alice', method: 'put', path: 'alice', body: { nickname: 'A' }, status: 200, check: (r) => expect(r.body.nickname).toBe('A') },
  { name: 'a user cannot change its own role', actor: 'alice', method: 'put', path: 'alice', body: { role: 'admin' }, status: 403, msg: writeDenied('role') },
  { name: 'a writer device can update its user\'s nickname', actor: 'writer', method: 'put', path: 'alice', body: { nickname: 'W' }, status: 200 },
  { name: 'a writer device cannot change its user\'s role', actor: 'writer', method: 'put', path: 'alice', body: { role: 'user' }, status: 403, msg: writeDenied('role') },
  { name: 'a writer device cannot change its user\'s password', actor: 'writer', method: 'put', path: 'alice', body: { password: 'x' }, status: 403, msg: writeDenied('password') },
  { name: 'a reader device can read but not update its user', actor: 'reader', method: 'put', path: 'alice', body: { nickname: 'R' }, status: 403, msg: CANT_ACCESS },
  { name: 'a plain device cannot update its user', actor: 'plain', method: 'put', path: 'alice', body: { nickname: 'P' }, status: 403, msg: CANT_ACCESS },
  { name: 'another user can read but not update a public user', actor: 'bob', method: 'put', path: 'alice', body: { nickname: 'B' }, status: 403, msg: CANT_ACCESS },
  { name: 'anonymous cannot update a user', actor: 'anon', method: 'put', path: 'alice', body: { nickname: 'X' }, status: 403, msg: CANT_ACCESS },
  { name: 'the admin can update a private user\'s role', actor: 'admin', method: 'put', path: 'carol', body: { role: 'user' }, status: 200 },
  // devices
  { name: 'a reader device can read but not update a sibling device', actor: 'reader', method: 'put', path: 'alice/privdev', body: { nickname: 'r' }, status: 403, msg: CANT_ACCESS },
  {
    name: 'a writer device can update a sibling device\'s nickname; the answer blanks the apikey',
    actor: 'writer',
    method: 'put',
    path: 'alice/privdev',
    body: { nickname: 'w' },
    status: 200,
    check: (r) => {
      expect(r.body.nickname).toBe('w');
      expect(r.body.apikey).toBe('');
      expect(keysOf(r)).toEqual(['name', 'nickname', 'description', 'icon', 'apikey', 'enabled', 'public', 'role', 'visible', 'user_editable']);
    },
  },
  { name: 'a writer device cannot write a sibling\'s apikey', actor: 'writer', method: 'put', path: 'alice/privdev', body: { apikey: '' }, status: 403, msg: writeDenied('apikey') },
  { name: 'a writer device cannot write a sibling\'s role', actor: 'writer', method: 'put', path: 'alice/privdev', body: { role: 'user' }, status: 403, msg: writeDenied('role') },
  {
    name: 'a plain device can update its own nickname, description, icon, enabled, visible and public',
    actor: 'plain',
    method: 'put',
    path: 'alice/plain',
    body: { nickname: 'p', description: 'd', icon: 'material:x', enabled: true, visible: true, public: false },
    status: 200,
    check: (r) => expect(r.body.apikey).toBe(keys.plain),
  },
  { name: 'a plain device cannot change its own role', actor: 'plain', method: 'put', path: 'alice/plain', body: { role: 'user' }, status: 403, msg: writeDenied('role') },
  { name: 'a plain device cannot change its own user_editable', actor: 'plain', method: 'put', path: 'alice/plain', body: { user_editable: false }, status: 403, msg: writeDenied('user_editable') },
  { name: 'a plain device cannot update a sibling device', actor: 'plain', method: 'put', path: 'alice/privdev', body: { nickname: 'x' }, status: 403, msg: CANT_ACCESS },
  { name: 'the user device can set another device\'s role to reader', actor: 'alice', method: 'put', path: freshDevice('alice'), body: { role: 'reader' }, status: 200, check: (r) => expect(r.body.role).toBe('reader') },
  { name: 'a user cannot write user_editable of its devices', actor: 'alice', method: 'put', path: 'alice/privdev', body: { user_editable: false }, status: 403, msg: writeDenied('user_editable') },
  { name: 'the admin can write user_editable of any device', actor: 'admin', method: 'put', path: freshDevice('alice'), body: { user_editable: false }, status: 200 },
  { name: 'another user can read but not update a public device', actor: 'bob', method: 'put', path: 'alice/pubdev', body: { nickname: 'b' }, status: 403, msg: CANT_ACCESS },
  { name: 'anonymous cannot update a public device', actor: 'anon', method: 'put', path: 'alice/pubdev', body: { nickname: 'b' }, status: 403, msg: CANT_ACCESS },
  // streams
  { name: 'a reader device cannot update a sibling\'s stream', actor: 'reader', method: 'put', path: 'alice/user/s', body: { nickname: 'r' }, status: 403, msg: CANT_ACCESS },
  { name: 'a writer device can update a sibling\'s stream', actor: 'writer', method: 'put', path: 'alice/user/s', body: { nickname: 'w' }, status: 200 },
  { name: 'a writer device cannot write a stream name', actor: 'writer', method: 'put', path: 'alice/user/s', body: { name: 's' }, status: 403, msg: writeDenied('name') },
  { name: 'a plain device can update its own stream', actor: 'plain', method: 'put', path: 'alice/plain/s', body: { nickname: 'p', datatype: 'x' }, status: 200 },
  { name: 'another user cannot update a public device\'s stream', actor: 'bob', method: 'put', path: 'alice/pubdev/s', body: { nickname: 'b' }, status: 403, msg: CANT_ACCESS },
];

const creates: Row[] = [
  { name: 'a user can create devices for itself', actor: 'alice', method: 'post', path: () => Promise.resolve(`alice/new${++n}`), status: 200 },
  { name: 'a plain device cannot create devices for its user', actor: 'plain', method: 'post', path: () => Promise.resolve(`alice/new${++n}`), status: 403, msg: CANT_ACCESS },
  { name: 'a reader device cannot create devices', actor: 'reader', method: 'post', path: () => Promise.resolve(`alice/new${++n}`), status: 403, msg: CANT_ACCESS },
  { name: 'a writer device cannot create devices', actor: 'writer', method: 'post', path: () => Promise.resolve(`alice/new${++n}`), status: 403, msg: CANT_ACCESS },
  { name: 'another user cannot create devices for a public user', actor: 'bob', method: 'post', path: () => Promise.resolve(`alice/new${++n}`), status: 403, msg: CANT_ACCESS },
  { name: 'anonymous cannot create devices', actor: 'anon', method: 'post', path: () => Promise.resolve(`alice/new${++n}`), status: 403, msg: CANT_ACCESS },
  { name: 'the admin can create devices for a private user', actor: 'admin', method: 'post', path: () => Promise.resolve(`carol/new${++n}`), status: 200 },
  { name: 'a plain device can create streams in itself', actor: 'plain', method: 'post', path: () => Promise.resolve(`alice/plain/new${++n}`), status: 200 },
  { name: 'a reader device can create streams in itself', actor: 'reader', method: 'post', path: () => Promise.resolve(`alice/reader/new${++n}`), status: 200 },
  { name: 'a plain device cannot create streams in a sibling', actor: 'plain', method: 'post', path: () => Promise.resolve(`alice/privdev/new${++n}`), status: 403, msg: CANT_ACCESS },
  { name: 'a writer device cannot create streams in a sibling', actor: 'writer', method: 'post', path: () => Promise.resolve(`alice/privdev/new${++n}`), status: 403, msg: CANT_ACCESS },
  { name: 'a user can create streams in its other devices', actor: 'alice', method: 'post', path: () => Promise.resolve(`alice/privdev/new${++n}`), status: 200 },
  { name: 'another user cannot create streams in a public device', actor: 'bob', method: 'post', path: () => Promise.resolve(`alice/pubdev/new${++n}`), status: 403, msg: CANT_ACCESS },
  { name: 'the admin can create streams in a private user\'s device', actor: 'admin', method: 'post', path: () => Promise.resolve(`carol/cdev/new${++n}`), status: 200 },
  { name: 'a user cannot create users', actor: 'alice', method: 'post', path: () => Promise.resolve(`newuser${++n}`), body: { email: `nu${n}@x`, password: 'p' }, status: 403, msg: 'You do not have permissions necessary to create a user.' },
  { name: 'a plain device cannot create users', actor: 'plain', method: 'post', path: () => Promise.resolve(`newuser${++n}`), body: { email: `nu${n}@x`, password: 'p' }, status: 403 },
  { name: 'anonymous cannot create users', actor: 'anon', method: 'post', path: () => Promise.resolve(`newuser${++n}`), body: { email: `nu${n}@x`, password: 'p' }, status: 403 },
  {
    name: 'the admin can create users',
    actor: 'admin',
    method: 'post',
    path: () => Promise.resolve(`newuser${++n}`),
    body: { get email() { return `adm${n}@x`; }, password: 'p' },
    status: 200,
  },
];

const deletes: Row[] = [
  { name: 'a plain device cannot delete a sibling device', actor: 'plain', method: 'delete', path: 'alice/privdev', status: 403, msg: CANT_ACCESS },
  { name: 'a user can delete its other devices', actor: 'alice', method: 'delete', path: freshDevice('alice'), status: 200 },
  { name: 'a user cannot delete itself', actor: 'alice', method: 'delete', path: 'alice', status: 403, msg: 'You do not have permissions necessary to delete this user.' },
  { name: 'a writer device cannot delete its user', actor: 'writer', method: 'delete', path: 'alice', status: 403, msg: 'You do not have permissions necessary to delete this user.' },
  { name: 'a reader device cannot delete a sibling device', actor: 'reader', method: 'delete', path: 'alice/privdev', status: 403, msg: CANT_ACCESS },
  { name: 'a writer device cannot delete a sibling\'s stream', actor: 'writer', method: 'delete', path: 'alice/user/s', status: 403, msg: CANT_ACCESS },
  { name: 'another user cannot delete a public device', actor: 'bob', method: 'delete', path: 'alice/pubdev', status: 403, msg: CANT_ACCESS },
  { name: 'anonymous cannot delete a stream', actor: 'anon', method: 'delete', path: 'alice/pubdev/s', status: 403, msg: CANT_ACCESS },
  { name: 'the admin can delete a private user\'s device', actor: 'admin', method: 'delete', path: freshDevice('carol'), status: 200 },
  { name: 'a plain device can delete its own streams', actor: 'plain', method: 'delete', path: freshStream('alice/plain'), status: 200 },
  { name: 'a user can delete streams of its devices', actor: 'alice', method: 'delete', path: freshStream('alice/privdev'), status: 200 },
  { name: 'the admin can delete users', actor: 'admin', method: 'delete', path: freshUser(), status: 200 },
];

const names = (r: Response) => (r.body as { name: string }[]).map((x) => x.name);
const lists: Row[] = [
  { name: 'the admin can list users', actor: 'admin', method: 'get', path: '/api/v1/crud/?q=ls', status: 200, check: (r) => expect(names(r)).toEqual(expect.arrayContaining(['test', 'alice', 'bob', 'carol'])) },
  { name: 'a user cannot list users', actor: 'alice', method: 'get', path: '/api/v1/crud/?q=ls', status: 404, msg: 'You do not have permissions necessary to list users.' },
  { name: 'a reader device cannot list users', actor: 'reader', method: 'get', path: '/api/v1/crud/?q=ls', status: 404 },
  { name: 'anonymous cannot list users', actor: 'anon', method: 'get', path: '/api/v1/crud/?q=ls', status: 404 },
  {
    name: 'a user lists all its devices with their apikeys',
    actor: 'alice',
    method: 'get',
    path: 'alice?q=ls',
    status: 200,
    check: (r) => {
      expect(names(r)).toEqual(expect.arrayContaining(['user', 'meta', 'plain', 'reader', 'writer', 'pubdev', 'privdev']));
      for (const d of r.body) expect(d).toHaveProperty('apikey');
    },
  },
  { name: 'a plain device cannot list its user\'s devices', actor: 'plain', method: 'get', path: 'alice?q=ls', status: 404, msg: CANT_ACCESS },
  {
    name: 'a reader device lists its user\'s devices without other devices\' apikeys',
    actor: 'reader',
    method: 'get',
    path: 'alice?q=ls',
    status: 200,
    check: (r) => {
      for (const d of r.body) {
        if (d.name === 'reader') expect(d.apikey).toBe(keys.reader);
        else expect(d).not.toHaveProperty('apikey');
      }
    },
  },
  {
    name: 'another user lists only the public devices of a public user',
    actor: 'bob',
    method: 'get',
    path: 'alice?q=ls',
    status: 200,
    check: (r) => {
      expect(names(r)).toContain('pubdev');
      for (const d of r.body) expect(d.public).toBe(true);
    },
  },
  { name: 'another user cannot list a private user\'s devices', actor: 'bob', method: 'get', path: 'carol?q=ls', status: 404, msg: CANT_ACCESS },
  { name: 'anonymous cannot list devices', actor: 'anon', method: 'get', path: 'alice?q=ls', status: 404, msg: CANT_ACCESS },
  {
    name: 'another user\'s q=streams of a public user shows only streams of public devices',
    actor: 'bob',
    method: 'get',
    path: 'alice?q=streams',
    status: 200,
    check: (r) => {
      expect(r.body.length).toBeGreaterThan(0);
      for (const s of r.body) expect(s.device).toBe('pubdev');
    },
  },
  { name: 'another user cannot list a private user\'s streams', actor: 'bob', method: 'get', path: 'carol?q=streams', status: 404, msg: CANT_ACCESS },
  { name: 'a plain device can list its own streams', actor: 'plain', method: 'get', path: 'alice/plain?q=ls', status: 200, check: (r) => expect(names(r)).toContain('s') },
  { name: 'a plain device cannot list a sibling\'s streams', actor: 'plain', method: 'get', path: 'alice/privdev?q=ls', status: 404, msg: CANT_ACCESS },
  { name: 'a reader device can list a sibling\'s streams', actor: 'reader', method: 'get', path: 'alice/privdev?q=ls', status: 200, check: (r) => expect(names(r)).toContain('s') },
  { name: 'another user can list a public device\'s streams', actor: 'bob', method: 'get', path: 'alice/pubdev?q=ls', status: 200, check: (r) => expect(names(r)).toEqual(['s']) },
  { name: 'another user cannot list a private device\'s streams', actor: 'bob', method: 'get', path: 'alice/privdev?q=ls', status: 404, msg: CANT_ACCESS },
];

const data: Row[] = [
  { name: 'a user device cannot write a sibling\'s non-downlink stream data', actor: 'alice', method: 'post', path: 'alice/privdev/s/data', body: [{ t: 1, d: 1 }], status: 403, msg: 'Write access to stream data denied. Only the device that owns a stream writes its data: use the API key of alice/privdev (or make the stream a downlink to send it commands).' },
  { name: 'the admin cannot append to another user\'s stream data', actor: 'admin', method: 'post', path: 'alice/user/s/data', body: [{ t: 1, d: 1 }], status: 403, msg: 'Write access to stream data denied.' },
  { name: 'a plain device can write its own stream data', actor: 'plain', method: 'post', path: 'alice/plain/s/data', body: [{ t: 1, d: 1 }], status: 200 },
  { name: 'a writer device cannot write a sibling\'s main data', actor: 'writer', method: 'post', path: 'alice/privdev/s/data', body: [{ t: 1, d: 1 }], status: 403, msg: 'Write access to stream data denied.' },
  { name: 'a writer device can write a sibling\'s downlink', actor: 'writer', method: 'post', path: 'alice/privdev/dl/data', body: [{ t: 1, d: 1 }], status: 200 },
  { name: 'a reader device cannot write a sibling\'s downlink', actor: 'reader', method: 'post', path: 'alice/privdev/dl/data', body: [{ t: 1, d: 1 }], status: 403, msg: 'Write access to stream downlink denied.' },
  { name: 'a reader device can read a sibling\'s data', actor: 'reader', method: 'get', path: 'alice/privdev/s/data?q=length', status: 200 },
  { name: 'another user can read data of a public device', actor: 'bob', method: 'get', path: 'alice/pubdev/s/data?i1=0&i2=0', status: 200 },
  { name: 'another user cannot read data of a private device', actor: 'bob', method: 'get', path: 'alice/privdev/s/data?i1=0&i2=0', status: 403, msg: CANT_ACCESS },
];

beforeAll(async () => {
  t = await makeApp();
  await createUser(t, 'alice', 'pw', { public: true });
  await createUser(t, 'bob', 'pw', { public: true });
  await createUser(t, 'carol', 'pw', { public: false });
  const alice = actorOf('alice');
  keys.plain = await mkDevice(alice, 'alice/plain');
  keys.reader = await mkDevice(alice, 'alice/reader', { role: 'reader' });
  keys.writer = await mkDevice(alice, 'alice/writer', { role: 'writer' });
  await mkDevice(alice, 'alice/pubdev', { public: true });
  await mkDevice(alice, 'alice/privdev');
  for (const s of ['alice/pubdev/s', 'alice/privdev/s', 'alice/user/s', 'alice/plain/s']) await mkStream(alice, s);
  await mkStream(alice, 'alice/privdev/dl', { downlink: true });
  const adm = actorOf('admin');
  await mkDevice(adm, 'carol/cdev');
  await mkDevice(adm, 'carol/cpub');
  const r = await t.http.put('/api/v1/crud/carol/cpub').set('Authorization', ADMIN).send({ public: true });
  expect(r.status).toBe(200);
});
afterAll(() => t.close());

function table(title: string, rows: Row[]): void {
  describe(title, () => {
    for (const row of rows) {
      it(row.name, async () => {
        const r = await run(row);
        if (row.status >= 400) expectError(r, row.status, row.msg);
        else expect(r.status, r.text).toBe(row.status);
        row.check?.(r);
      });
    }
  });
}

table('read (permissions §3)', reads);
table('update (permissions §3)', updates);
table('create (permissions §3)', creates);
table('delete (permissions §3)', deletes);
table('list (permissions §3)', lists);
table('stream data (permissions §3.6)', data);

describe('observed confirmations (permissions §3.6)', () => {
  it('a user device writing a sibling\'s downlink stream lands in the downlink with o set', async () => {
    const a = basic('alice', 'pw');
    await t.http.post('/api/v1/crud/alice/privdev/dl2').set('Authorization', a).send({ downlink: true });
    expect((await t.http.post('/api/v1/crud/alice/privdev/dl2/data').set('Authorization', a).send([{ t: 5, d: 'cmd' }])).status).toBe(200);
    expect((await t.http.get('/api/v1/crud/alice/privdev/dl2/data?q=length').set('Authorization', a)).text).toBe('0');
    const dl = await t.http.get('/api/v1/crud/alice/privdev/dl2/data?i1=0&i2=0&downlink=true').set('Authorization', a);
    expect(dl.body).toEqual([{ t: 5, d: 'cmd', o: 'alice/user' }]);
  });

  it('a device deleting itself is allowed (self access)', async () => {
    const key = await mkDevice(actorOf('alice'), 'alice/selfdel');
    const r = await t.http.delete('/api/v1/crud/alice/selfdel').set('Authorization', keyAuth(key));
    expect(r.status).toBe(200);
    expect(r.text).toBe('ok');
  });

  it('an admin device of role none has no rights outside itself', async () => {
    const key = await mkDevice(actorOf('admin'), 'test/weak');
    expectError(await t.http.get('/api/v1/crud/alice').set('Authorization', keyAuth(key)), 404, CANT_ACCESS);
    expectError(await t.http.post('/api/v1/crud/alice/fromweak').set('Authorization', keyAuth(key)).send({}), 403, CANT_ACCESS);
    expect((await t.http.get('/api/v1/crud/test/weak').set('Authorization', keyAuth(key))).status).toBe(200);
  });

  it('an admin reader device reads private users too', async () => {
    const key = await mkDevice(actorOf('admin'), 'test/areader', { role: 'reader' });
    expect((await t.http.get('/api/v1/crud/carol').set('Authorization', keyAuth(key))).status).toBe(200);
    expectError(await t.http.put('/api/v1/crud/carol').set('Authorization', keyAuth(key)).send({ nickname: 'x' }), 403, CANT_ACCESS);
  });
});
