import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, basic, keyAuth, makeApp } from '../helpers';

/**
 * The connectordb-python 0.3.5 flows of rest-api §13.2/§13.3 replayed over HTTP the way that client
 * sends them: Basic auth only, `Content-Type: application/json` on every request (also bodiless
 * GET/DELETE), trailing-slash `BASE`, and its `handleresult` rules (any 4xx must carry
 * `{code,msg,ref}` and becomes AuthenticationError; other statuses > 300 become ServerError).
 */

class AuthenticationError extends Error {}
class ServerError extends Error {}

let t: TestApp;

class PyClient {
  auth: string | undefined;
  path = '';
  private constructor() {}

  /** `ConnectorDB(user, password)`, `ConnectorDB(apikey)` or `ConnectorDB()`. */
  static async connect(user?: string, password?: string): Promise<PyClient> {
    const c = new PyClient();
    if (user !== undefined && password !== undefined) {
      c.auth = basic(user, password);
      c.path = `${user}/user`;
      const dev = await c.read(c.path);
      c.auth = keyAuth(dev.apikey as string);
    } else {
      if (user !== undefined) c.auth = keyAuth(user);
      c.path = await c.ping();
    }
    return c;
  }

  get name(): string {
    return this.path.split('/').pop()!;
  }

  async call(method: 'get' | 'post' | 'put' | 'delete', url: string, body?: unknown): Promise<import('supertest').Response> {
    let req = t.http[method](`/api/v1/${url}`).set('Content-Type', 'application/json');
    if (this.auth) req = req.set('Authorization', this.auth);
    const r = body === undefined ? await req : await req.send(JSON.stringify(body));
    if (r.status >= 400 && r.status < 500) {
      const m = JSON.parse(r.text) as { code: number; msg: string; ref: string };
      // The client indexes all three keys unconditionally.
      for (const k of ['code', 'msg', 'ref'] as const) if (!(k in m)) throw new Error(`KeyError: ${k}`);
      throw new AuthenticationError(`${m.code}: ${m.msg} (${m.ref})`);
    }
    if (r.status > 300) throw new ServerError(r.text);
    return r;
  }

  ping = async (): Promise<string> => (await this.call('get', '?q=this')).text;
  info = async () => ({
    version: (await this.call('get', 'meta/version')).text,
    transforms: (await this.call('get', 'meta/transforms')).body as Record<string, unknown>,
    interpolators: (await this.call('get', 'meta/interpolators')).body as Record<string, unknown>,
  });
  count = async (what: 'users' | 'devices' | 'streams'): Promise<number> => {
    const text = (await this.call('get', `?q=count${what}`)).text;
    expect(text).toMatch(/^\d+$/);
    return parseInt(text, 10);
  };
  users = async (): Promise<{ name: string }[]> => (await this.call('get', 'crud/?q=ls')).body;
  read = async (p: string): Promise<Record<string, unknown>> => (await this.call('get', `crud/${p}`)).body;
  exists = async (p: string): Promise<boolean> => {
    try {
      await this.read(p);
      return true;
    } catch {
      return false;
    }
  };
  create = async (p: string, body: Record<string, unknown>): Promise<Record<string, unknown>> => (await this.call('post', `crud/${p}`, body)).body;
  set = async (p: string, body: Record<string, unknown>): Promise<Record<string, unknown>> => (await this.call('put', `crud/${p}`, body)).body;
  del = async (p: string): Promise<void> => {
    await this.call('delete', `crud/${p}`);
  };
  ls = async (p: string): Promise<{ name: string }[]> => (await this.call('get', `crud/${p}?q=ls`)).body;

  /** `User.create(email, password, role="user", public=True, **kw)`. */
  createUser = (name: string, email: string, password: string, kw: Record<string, unknown> = {}) =>
    this.create(name, { email, password, role: 'user', public: true, ...kw });
  /** `Device.create(public=False, **kw)`. */
  createDevice = (p: string, kw: Record<string, unknown> = {}) => this.create(p, { public: false, ...kw });
  /** `Stream.create(schema="{}", **kw)` — the schema is sent as a string. */
  createStream = (p: string, schema: unknown = {}, kw: Record<string, unknown> = {}) =>
    this.create(p, { schema: typeof schema === 'string' ? schema : JSON.stringify(schema), ...kw });
  resetApikey = async (p: string): Promise<string> => (await this.set(p, { apikey: '' })).apikey as string;
}

const rejects = async (p: Promise<unknown>) => {
  await expect(p).rejects.toBeInstanceOf(AuthenticationError);
};

let cdb: PyClient;

beforeAll(async () => {
  t = await makeApp();
  cdb = await PyClient.connect('test', 'test');
});
afterAll(() => t.close());

describe('connectordb-python flows (rest-api §13.3)', () => {
  it('test_authfail: bad credentials raise AuthenticationError', async () => {
    await rejects(PyClient.connect('test', 'wrong'));
    await rejects(PyClient.connect('nosuchuser', 'x'));
  });

  it('test_basics: path, name, info, admin lists users, non-admin may not', async () => {
    expect(cdb.path).toBe('test/user');
    expect(cdb.name).toBe('user');
    expect(await cdb.ping()).toBe('test/user');
    const info = await cdb.info();
    expect(info.version.length).toBeGreaterThan(1);
    expect(Object.keys(info.transforms).length).toBeGreaterThan(1);
    expect(Object.keys(info.interpolators).length).toBeGreaterThan(1);

    await cdb.createUser('python_basics', 'py_basics@localhost', 'mypass');
    expect((await cdb.users()).length).toBeGreaterThan(1);
    const usr = await PyClient.connect('python_basics', 'mypass');
    expect(usr.path).toBe('python_basics/user');
    await rejects(usr.users());
  });

  it('the client connected by API key learns its path from q=this; anonymous is nobody', async () => {
    const key = (await cdb.read('test/user')).apikey as string;
    expect((await PyClient.connect(key)).path).toBe('test/user');
    expect((await PyClient.connect()).path).toBe('nobody');
  });

  it('test_counting: exact deltas for user, device and stream creation; non-admins may not count', async () => {
    const users = await cdb.count('users');
    const devices = await cdb.count('devices');
    const streams = await cdb.count('streams');
    await cdb.createUser('python_count', 'py_count@localhost', 'mypass');
    expect(await cdb.count('users')).toBe(users + 1);
    const s = await cdb.count('streams');
    const d = await cdb.count('devices');
    expect(d).toBe(devices + 2);
    expect(s).toBe(streams + 1);

    const usr = await PyClient.connect('python_count', 'mypass');
    await usr.createStream('python_count/user/mystream');
    expect(await cdb.count('streams')).toBe(s + 1);
    await usr.createDevice('python_count/mydevice');
    expect(await cdb.count('devices')).toBe(d + 1);
    expect(await cdb.count('streams')).toBe(s + 1);

    await rejects(usr.count('users'));
    await rejects(usr.count('devices'));
    await rejects(usr.count('streams'));
  });

  it('test_user: privacy, email, icon, password, role and unknown-field behaviour', async () => {
    const created = await cdb.createUser('python_user', 'py_user@localhost', 'mypass');
    expect(created).toEqual({ description: '', email: 'py_user@localhost', icon: '', name: 'python_user', nickname: '', public: true, role: 'user' });
    const usr = await PyClient.connect('python_user', 'mypass');
    // the admin `test` is private: a non-admin cannot see it
    expect(await usr.exists('test')).toBe(false);
    expect(await usr.exists('python_user')).toBe(true);

    expect((await usr.set('python_user', { email: 'testemail@change' })).email).toBe('testemail@change');
    expect((await usr.read('python_user')).email).toBe('testemail@change');
    expect((await usr.set('python_user', { icon: 'material:person' })).icon).toBe('material:person');
    expect((await usr.set('python_user', { nickname: 'pyn', description: 'pyd', public: false })).nickname).toBe('pyn');

    await usr.set('python_user', { password: 'newpass' });
    const again = await PyClient.connect('python_user', 'newpass');
    expect(again.path).toBe('python_user/user');
    await rejects(PyClient.connect('python_user', 'mypass'));

    expect((await cdb.set('python_user', { role: 'admin' })).role).toBe('admin');
    expect((await again.read('python_user')).role).toBe('admin');

    await rejects(usr.set('python_user', { admin: 'Hello' }));
  });

  it('test_device: two default devices, device-level limits, nickname/enabled, apikey reset, role change', async () => {
    await cdb.createUser('python_device', 'py_device@localhost', 'mypass');
    const usr = await PyClient.connect('python_device', 'mypass');
    expect((await usr.ls('python_device')).map((d) => d.name)).toEqual(['user', 'meta']);

    const created = await usr.createDevice('python_device/mydevice');
    expect(created.public).toBe(false);
    expect(created.role).toBe('');
    const dev = await PyClient.connect(created.apikey as string);
    expect(dev.path).toBe('python_device/mydevice');
    expect(dev.name).toBe('mydevice');

    // a device with role "" cannot list its user's devices
    await rejects(dev.ls('python_device'));

    expect((await dev.set('python_device/mydevice', { nickname: 'test nickname' })).nickname).toBe('test nickname');
    expect((await dev.read('python_device/mydevice')).nickname).toBe('test nickname');
    expect((await dev.set('python_device/mydevice', { enabled: false })).enabled).toBe(false);
    expect((await dev.read('python_device/mydevice')).enabled).toBe(false);

    const oldKey = created.apikey as string;
    const newKey = await dev.resetApikey('python_device/mydevice');
    expect(newKey).not.toBe(oldKey);
    expect(newKey.length).toBeGreaterThan(0);
    dev.auth = keyAuth(newKey);
    expect(await dev.ping()).toBe('python_device/mydevice');
    await expect(PyClient.connect(oldKey)).rejects.toBeInstanceOf(AuthenticationError);

    expect((await usr.set('python_device/mydevice', { role: 'reader' })).role).toBe('reader');
    expect((await usr.read('python_device/mydevice')).role).toBe('reader');
    // now a reader, the device may list its user's devices
    expect((await dev.ls('python_device')).length).toBe(3);
  });

  it('test_stream: defaults, datatype, ephemeral/downlink/schema updates, schema minified, listed', async () => {
    await cdb.createUser('python_stream', 'py_stream@localhost', 'mypass');
    const usr = await PyClient.connect('python_stream', 'mypass');
    const p = 'python_stream/user/mystream';
    expect(await usr.exists(p)).toBe(false);
    const s = await usr.createStream(p, {}, { datatype: 'string.text' });
    expect(await usr.exists(p)).toBe(true);
    expect(s.ephemeral).toBe(false);
    expect(s.downlink).toBe(false);
    expect(s.datatype).toBe('string.text');
    expect(s.schema).toBe('{}');
    expect(JSON.parse(s.schema as string)).toEqual({});

    expect((await usr.set(p, { ephemeral: true })).ephemeral).toBe(true);
    expect((await usr.set(p, { downlink: true })).downlink).toBe(true);
    expect((await usr.set(p, { datatype: 'lol' })).datatype).toBe('lol');
    expect((await usr.set(p, { schema: '{"type": "string"}' })).schema).toBe('{"type":"string"}');
    const back = await usr.read(p);
    expect(back).toEqual({ name: 'mystream', nickname: '', description: '', icon: '', schema: '{"type":"string"}', datatype: 'lol', ephemeral: true, downlink: true });
    expect(JSON.parse(back.schema as string)).toEqual({ type: 'string' });

    const listed = await usr.ls('python_stream/user');
    expect(listed.map((x) => x.name)).toEqual(['mystream']);
    // User.streams() with its default arguments hides the invisible meta device's log
    const all = (await usr.call('get', 'crud/python_stream?q=streams&public=false&downlink=false&visible=true')).body as { device: string; name: string }[];
    expect(all.map((x) => `${x.device}/${x.name}`)).toEqual(['user/mystream']);

    await usr.del(p);
    expect(await usr.exists(p)).toBe(false);
  });

  it('test_multicreate: nested streams and devices in create bodies', async () => {
    await cdb.createUser('python_multi', 'py_multi@localhost', 'mypass', {
      nickname: 'multi',
      streams: { stream1: { nickname: 'My nickname', schema: '{"type":"number"}' } },
      devices: { device1: { nickname: 'hiya', streams: { stream2: { schema: '{"type": "string"}', datatype: 'dt' } } } },
    });
    expect((await cdb.read('python_multi')).nickname).toBe('multi');
    expect((await cdb.read('python_multi/user/stream1')).nickname).toBe('My nickname');
    expect((await cdb.read('python_multi/user/stream1')).schema).toBe('{"type":"number"}');
    expect((await cdb.read('python_multi/device1')).nickname).toBe('hiya');
    expect((await cdb.read('python_multi/device1/stream2')).schema).toBe('{"type":"string"}');

    const usr = await PyClient.connect('python_multi', 'mypass');
    await usr.createDevice('python_multi/device2', { streams: { s3: { schema: '{}' }, s4: { schema: '{}', ephemeral: true } } });
    expect((await usr.ls('python_multi/device2')).map((x) => x.name).sort()).toEqual(['s3', 's4']);
    expect((await usr.read('python_multi/device2/s4')).ephemeral).toBe(true);
  });

  it('delete: a deleted user is gone for the client, and re-creating it starts empty', async () => {
    await cdb.createUser('python_del', 'py_del@localhost', 'mypass');
    const usr = await PyClient.connect('python_del', 'mypass');
    await usr.createDevice('python_del/d');
    await cdb.del('python_del');
    expect(await cdb.exists('python_del')).toBe(false);
    await cdb.createUser('python_del', 'py_del@localhost', 'mypass');
    expect((await cdb.ls('python_del')).map((d) => d.name)).toEqual(['user', 'meta']);
  });

  it('every 4xx the client can meet carries code, msg and ref', async () => {
    const usr = await PyClient.connect('python_user', 'newpass');
    // One call at a time: a call started before the previous one's rejection was awaited would
    // settle with no handler attached yet (an unhandled rejection, seen on the PostgreSQL run).
    const calls = [() => usr.read('nosuch'), () => usr.set('nosuch', {}), () => usr.del('nosuch'), () => usr.create('x y', {}), () => usr.call('get', 'nonexistent')];
    for (const call of calls) {
      await expect(call()).rejects.toBeInstanceOf(AuthenticationError);
    }
  });
});
