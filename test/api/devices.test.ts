import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, createUser, makeApp } from '../helpers';
import { admin, anon, asKey, asUser, CANT_ACCESS, expectError, expectJSON, expectOk, mkDevice, mkStream } from './util';

let t: TestApp;
let n = 0;
const dev = () => `d${++n}`;
const alice = () => asUser(t, 'alice');
const STRUCT_ORDER = ['name', 'nickname', 'description', 'icon', 'apikey', 'enabled', 'public', 'role', 'visible', 'user_editable'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

beforeAll(async () => {
  t = await makeApp();
  await createUser(t, 'alice', 'pw');
  await createUser(t, 'priv', 'pw', { public: false });
});
afterAll(() => t.close());

describe('GET /api/v1/crud/{user}/{device} — read device', () => {
  it('the owner reads the device as an alphabetical map including the API key', async () => {
    const name = dev();
    const key = await mkDevice(alice(), `alice/${name}`);
    const r = await alice().get(`/api/v1/crud/alice/${name}`);
    expectJSON(r);
    expect(r.text).toBe(
      `{"apikey":"${key}","description":"","enabled":true,"icon":"","name":"${name}","nickname":"","public":false,"role":"","user_editable":true,"visible":true}`,
    );
    expect(key).toMatch(UUID);
  });

  it('an unknown q is 400', async () => {
    expectError(await alice().get('/api/v1/crud/alice/user?q=bogus'), 400, 'Unrecognized query command.');
  });

  it('a missing device or user is 404 "Can\'t access this resource."', async () => {
    expectError(await alice().get('/api/v1/crud/alice/nosuchdevice'), 404, CANT_ACCESS);
    expectError(await admin(t).get('/api/v1/crud/nosuchuser/user'), 404, CANT_ACCESS);
  });

  it('a device name failing sanitation is 400', async () => {
    expectError(await alice().get('/api/v1/crud/alice/a%20b'), 400, 'The given name did not pass sanitation.');
  });
});

describe('POST /api/v1/crud/{user}/{device} — create device', () => {
  it('a user\'s device gets the user role\'s defaults (role "")', async () => {
    const name = dev();
    const r = await alice().post(`/api/v1/crud/alice/${name}`, {});
    expectJSON(r);
    expect(r.body).toMatchObject({ description: '', enabled: true, icon: '', name, nickname: '', public: false, role: '', user_editable: true, visible: true });
    expect(Object.keys(r.body)).toEqual(['apikey', 'description', 'enabled', 'icon', 'name', 'nickname', 'public', 'role', 'user_editable', 'visible']);
    expect(r.body.apikey).toMatch(UUID);
  });

  it('an admin\'s device gets role "none" by default', async () => {
    const name = dev();
    const r = await admin(t).post(`/api/v1/crud/alice/${name}`, {});
    expect(r.body.role).toBe('none');
  });

  it('stores every given field and answers the device as GET would', async () => {
    const name = dev();
    const body = {
      nickname: 'Nick',
      description: 'Desc',
      icon: 'material:phone',
      apikey: `my-own-key-${name}`,
      enabled: false,
      public: true,
      role: 'reader',
      visible: false,
      user_editable: false,
    };
    const r = await alice().post(`/api/v1/crud/alice/${name}`, body);
    expectJSON(r);
    expect(r.body).toEqual({ ...body, name });
    expect((await alice().get(`/api/v1/crud/alice/${name}`)).text).toBe(r.text);
  });

  it('a supplied API key authenticates as the new device', async () => {
    const name = dev();
    await alice().post(`/api/v1/crud/alice/${name}`, { apikey: `imported-${name}` });
    expect((await asKey(t, `imported-${name}`).get('/api/v1/?q=this')).text).toBe(`alice/${name}`);
  });

  it('an empty apikey in the body generates a random key', async () => {
    const r = await alice().post(`/api/v1/crud/alice/${dev()}`, { apikey: '' });
    expect(r.body.apikey).toMatch(UUID);
  });

  it('unknown keys are ignored and null means no fields', async () => {
    expect((await alice().post(`/api/v1/crud/alice/${dev()}`, { bogus: 1, name: 'other' })).status).toBe(200);
    const name = dev();
    const r = await alice().post(`/api/v1/crud/alice/${name}`).set('Content-Type', 'application/json').send('null');
    expect(r.status).toBe(200);
    expect(r.body.name).toBe(name);
  });

  it('creates nested streams from a "streams" map', async () => {
    const name = dev();
    const r = await alice().post(`/api/v1/crud/alice/${name}`, { streams: { a: { schema: '{"type":"number"}' }, b: { datatype: 'x' } } });
    expectJSON(r);
    expect((await alice().get(`/api/v1/crud/alice/${name}/a`)).body.schema).toBe('{"type":"number"}');
    expect((await alice().get(`/api/v1/crud/alice/${name}/b`)).body.datatype).toBe('x');
  });

  it('an invalid nested stream fails the whole create', async () => {
    const name = dev();
    expectError(await alice().post(`/api/v1/crud/alice/${name}`, { streams: { a: { schema: 'notjson' } } }), 403, 'The provided schema is not a valid JSONSchema');
    expectError(await alice().get(`/api/v1/crud/alice/${name}`), 404);
  });

  describe('create errors (rest-api §6.3)', () => {
    it('a name failing sanitation is 400', async () => {
      expectError(await alice().post('/api/v1/crud/alice/a%20b', {}), 400, 'The given name did not pass sanitation.');
    });
    it('an empty body is 400', async () => {
      expectError(await alice().post(`/api/v1/crud/alice/${dev()}`).set('Content-Type', 'application/json'), 400);
    });
    it('malformed JSON is 400', async () => {
      expectError(await alice().post(`/api/v1/crud/alice/${dev()}`).set('Content-Type', 'application/json').send('{bad'), 400);
    });
    it('a field of the wrong JSON type is 400', async () => {
      expectError(await alice().post(`/api/v1/crud/alice/${dev()}`, { enabled: 'yes' }), 400);
    });
    it('a missing user is 403 "The requested user was not found."', async () => {
      expectError(await admin(t).post(`/api/v1/crud/nosuchuser/${dev()}`, {}), 403, 'The requested user was not found.');
    });
    it('another user may not create devices for alice', async () => {
      expectError(await asUser(t, 'priv').post(`/api/v1/crud/alice/${dev()}`, {}), 403, CANT_ACCESS);
    });
    it('a public device cannot be created for a private user', async () => {
      expectError(await admin(t).post(`/api/v1/crud/priv/${dev()}`, { public: true }), 403, "Can't make private user have public device");
    });
    it('a name not matching the rule is 403', async () => {
      for (const bad of ['1dev', 'a.b', 'x'.repeat(30)]) {
        expectError(await alice().post(`/api/v1/crud/alice/${bad}`, {}), 403, 'The provided name is not valid, it may not contain /, \\, space, ? or be blank');
      }
    });
    it('an invalid icon is 403', async () => {
      expectError(await alice().post(`/api/v1/crud/alice/${dev()}`, { icon: 'a b' }), 403, 'illegal base64 data at input byte 1');
    });
    it('a duplicate name is 403, including user and meta', async () => {
      const name = dev();
      await mkDevice(alice(), `alice/${name}`);
      expectError(await alice().post(`/api/v1/crud/alice/${name}`, {}), 403, 'Device with this name already exists');
      expectError(await alice().post('/api/v1/crud/alice/user', {}), 403, 'Device with this name already exists');
      expectError(await alice().post('/api/v1/crud/alice/meta', {}), 403, 'Device with this name already exists');
    });
    it('a duplicate API key is 403', async () => {
      const key = await mkDevice(alice(), `alice/${dev()}`);
      expectError(await alice().post(`/api/v1/crud/alice/${dev()}`, { apikey: key }), 403);
    });
    it('an unknown device role is 403 (validated on create, rest-api §12)', async () => {
      expectError(await alice().post(`/api/v1/crud/alice/${dev()}`, { role: 'badrole' }), 403, "Could not find device role 'badrole'");
    });
  });
});

describe('PUT /api/v1/crud/{user}/{device} — update device', () => {
  it('answers the struct form in its fixed field order', async () => {
    const name = dev();
    const key = await mkDevice(alice(), `alice/${name}`);
    const r = await alice().put(`/api/v1/crud/alice/${name}`, { nickname: 'N' });
    expectJSON(r);
    expect(Object.keys(r.body)).toEqual(STRUCT_ORDER);
    expect(r.text).toBe(
      `{"name":"${name}","nickname":"N","description":"","icon":"","apikey":"${key}","enabled":true,"public":false,"role":"","visible":true,"user_editable":true}`,
    );
  });

  it('the owner updates every field it may write; a GET reads them back', async () => {
    const name = dev();
    await mkDevice(alice(), `alice/${name}`);
    const changes = { nickname: 'n', description: 'd', icon: 'fa:x', apikey: `set-${name}`, enabled: false, public: true, role: 'writer', visible: false };
    const r = await alice().put(`/api/v1/crud/alice/${name}`, changes);
    expectJSON(r);
    expect(r.body).toEqual({ name, ...changes, user_editable: true });
    expect((await alice().get(`/api/v1/crud/alice/${name}`)).body).toEqual({ name, ...changes, user_editable: true });
    expect((await asKey(t, `set-${name}`).get('/api/v1/?q=this')).text).toBe(`alice/${name}`);
  });

  it('an admin may write user_editable', async () => {
    const name = dev();
    await mkDevice(alice(), `alice/${name}`);
    expect((await admin(t).put(`/api/v1/crud/alice/${name}`, { user_editable: false })).body.user_editable).toBe(false);
  });

  it('a user may not write user_editable', async () => {
    const name = dev();
    await mkDevice(alice(), `alice/${name}`);
    expectError(await alice().put(`/api/v1/crud/alice/${name}`, { user_editable: false }), 403, 'This device does not have permissions to write user_editable');
  });

  it('{"apikey":""} resets the key: the response has a new key, the old one stops working', async () => {
    const name = dev();
    const old = await mkDevice(alice(), `alice/${name}`);
    const r = await asKey(t, old).put(`/api/v1/crud/alice/${name}`, { apikey: '' });
    expectJSON(r);
    expect(r.body.apikey).toMatch(UUID);
    expect(r.body.apikey).not.toBe(old);
    expectError(await asKey(t, old).get('/api/v1/?q=this'), 401, 'The requested device was not found.');
    expect((await asKey(t, r.body.apikey).get('/api/v1/?q=this')).text).toBe(`alice/${name}`);
  });

  it('role "" is accepted (means none)', async () => {
    const name = dev();
    await mkDevice(alice(), `alice/${name}`, { role: 'reader' });
    expect((await alice().put(`/api/v1/crud/alice/${name}`, { role: '' })).body.role).toBe('');
  });

  it('an unknown role is refused', async () => {
    const name = dev();
    await mkDevice(alice(), `alice/${name}`);
    expectError(await alice().put(`/api/v1/crud/alice/${name}`, { role: 'king' }), 403, "Could not find device role 'king'");
  });

  it('a user cannot demote its own user device (permissions §8); an admin can', async () => {
    const name = 'demote';
    await createUser(t, name);
    expectError(await asUser(t, name).put(`/api/v1/crud/${name}/user`, { role: 'none' }), 403);
    expect((await asUser(t, name).get(`/api/v1/crud/${name}`)).status).toBe(200);
    expect((await admin(t).put(`/api/v1/crud/${name}/user`, { role: 'writer' })).body.role).toBe('writer');
  });

  it('a public device on a private user is not refused on update (original quirk)', async () => {
    const name = dev();
    await mkDevice(admin(t), `priv/${name}`);
    expect((await admin(t).put(`/api/v1/crud/priv/${name}`, { public: true })).body.public).toBe(true);
  });

  it('updating the meta device succeeds', async () => {
    const r = await alice().put('/api/v1/crud/alice/meta', { nickname: 'M' });
    expectJSON(r);
    expect(r.body.nickname).toBe('M');
  });

  it('a user may not write the name field at all', async () => {
    const name = dev();
    await mkDevice(alice(), `alice/${name}`);
    expectError(await alice().put(`/api/v1/crud/alice/${name}`, { name }), 403, 'This device does not have permissions to write name');
  });

  it('an admin renaming is refused; the same name is accepted', async () => {
    const name = dev();
    await mkDevice(alice(), `alice/${name}`);
    expect((await admin(t).put(`/api/v1/crud/alice/${name}`, { name })).status).toBe(200);
    expectError(await admin(t).put(`/api/v1/crud/alice/${name}`, { name: 'other' }), 403, 'ConnectorDB does not support modification of device names');
  });

  it('an unknown field is refused', async () => {
    expectError(await alice().put('/api/v1/crud/alice/user', { streams: {} }), 403, "Unrecognized field 'streams'");
  });

  it('wrong JSON types are refused', async () => {
    expectError(await alice().put('/api/v1/crud/alice/user', { enabled: 'no' }), 403, "Value of field 'enabled' must be a boolean");
    expectError(await alice().put('/api/v1/crud/alice/user', { nickname: false }), 403, "Value of field 'nickname' must be a string");
  });

  it('an invalid icon is refused', async () => {
    expectError(await alice().put('/api/v1/crud/alice/user', { icon: 'material:' + 'y'.repeat(30) }), 403, "icon name can't be more than 30 characters.");
  });

  it('an API key already used by another device is refused', async () => {
    const a = await mkDevice(alice(), `alice/${dev()}`);
    const name = dev();
    await mkDevice(alice(), `alice/${name}`);
    expectError(await alice().put(`/api/v1/crud/alice/${name}`, { apikey: a }), 403);
  });

  it('missing user and missing device are 403 with their not-found messages', async () => {
    expectError(await admin(t).put('/api/v1/crud/nosuchuser/user', { nickname: 'x' }), 403, 'The requested user was not found.');
    expectError(await admin(t).put('/api/v1/crud/alice/nosuchdevice', { nickname: 'x' }), 403, 'The requested device was not found.');
  });

  it('malformed JSON is 400 and changes nothing', async () => {
    const before = (await alice().get('/api/v1/crud/alice/user')).text;
    expectError(await alice().put('/api/v1/crud/alice/user').set('Content-Type', 'application/json').send('{"nickname":'), 400);
    expect((await alice().get('/api/v1/crud/alice/user')).text).toBe(before);
  });
});

describe('DELETE /api/v1/crud/{user}/{device}', () => {
  it('answers ok and removes the device with its streams', async () => {
    const name = dev();
    const key = await mkDevice(alice(), `alice/${name}`);
    await mkStream(alice(), `alice/${name}/s`);
    expectOk(await alice().del(`/api/v1/crud/alice/${name}`));
    expectError(await alice().get(`/api/v1/crud/alice/${name}`), 404);
    expectError(await alice().get(`/api/v1/crud/alice/${name}/s`), 404);
    expectError(await asKey(t, key).get('/api/v1/?q=this'), 401);
  });

  it('re-creating a deleted device gives an empty device with a new key', async () => {
    const name = dev();
    const key = await mkDevice(alice(), `alice/${name}`);
    await mkStream(alice(), `alice/${name}/s`);
    await alice().del(`/api/v1/crud/alice/${name}`);
    const key2 = await mkDevice(alice(), `alice/${name}`);
    expect(key2).not.toBe(key);
    expect((await alice().get(`/api/v1/crud/alice/${name}?q=ls`)).body).toEqual([]);
  });

  it('the user and meta devices cannot be deleted', async () => {
    expectError(await alice().del('/api/v1/crud/alice/user'), 403, 'user device cannot be deleted');
    expectError(await admin(t).del('/api/v1/crud/alice/meta'), 403, 'meta device cannot be deleted');
  });

  it('missing user and device are 403 with their not-found messages', async () => {
    expectError(await admin(t).del('/api/v1/crud/nosuchuser/x'), 403, 'The requested user was not found.');
    expectError(await admin(t).del('/api/v1/crud/alice/nosuchdevice'), 403, 'The requested device was not found.');
  });

  it('another user cannot delete the device', async () => {
    const name = dev();
    await mkDevice(alice(), `alice/${name}`, { public: true });
    expectError(await asUser(t, 'priv').del(`/api/v1/crud/alice/${name}`), 403, CANT_ACCESS);
    expectError(await anon(t).del(`/api/v1/crud/alice/${name}`), 403, CANT_ACCESS);
  });
});

describe('GET /api/v1/crud/{user}/{device}?q=ls|streams — list a device\'s streams', () => {
  it('lists stream maps (alphabetical keys, no device key), observed alphabetical order', async () => {
    const name = dev();
    await mkDevice(alice(), `alice/${name}`);
    await mkStream(alice(), `alice/${name}/zz`, { schema: '{"type":"string"}' });
    await mkStream(alice(), `alice/${name}/aa`);
    const r = await alice().get(`/api/v1/crud/alice/${name}?q=ls`);
    expectJSON(r);
    expect(r.body.map((s: { name: string }) => s.name).sort()).toEqual(['aa', 'zz']);
    const zz = r.body.find((s: { name: string }) => s.name === 'zz');
    expect(Object.keys(zz)).toEqual(['datatype', 'description', 'downlink', 'ephemeral', 'icon', 'name', 'nickname', 'schema']);
    expect(zz.schema).toBe('{"type":"string"}');
    expect((await alice().get(`/api/v1/crud/alice/${name}?q=streams`)).body).toEqual(r.body);
  });

  it('a device without streams lists []', async () => {
    const name = dev();
    await mkDevice(alice(), `alice/${name}`);
    const r = await alice().get(`/api/v1/crud/alice/${name}?q=ls`);
    expectJSON(r);
    expect(r.text).toBe('[]');
  });

  it('a missing device is 404', async () => {
    expectError(await alice().get('/api/v1/crud/alice/nosuchdevice?q=ls'), 404, CANT_ACCESS);
  });
});
