import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, basic, createUser, keyAuth, makeApp } from '../helpers';
import { admin, anon, asKey, asUser, CANT_ACCESS, expectError, expectJSON, expectOk, mkDevice, mkStream } from './util';

let t: TestApp;
let aliceKey: string;
let n = 0;
const fresh = () => `u${++n}`;

beforeAll(async () => {
  t = await makeApp();
  aliceKey = await createUser(t, 'alice', 'pw');
});
afterAll(() => t.close());

const count = async (what: 'users' | 'devices' | 'streams'): Promise<number> => {
  const r = await admin(t).get(`/api/v1/?q=count${what}`);
  expect(r.status).toBe(200);
  expect(r.text).toMatch(/^\d+$/);
  return Number(r.text);
};

describe('GET /api/v1/crud/{user} — read user', () => {
  it('the owner reads its user as an alphabetical map, compact JSON', async () => {
    const r = await asUser(t, 'alice').get('/api/v1/crud/alice');
    expectJSON(r);
    expect(r.text).toBe('{"description":"","email":"alice@localhost","icon":"","name":"alice","nickname":"","public":true,"role":"user"}');
    expect(r.headers['cache-control']).toBe('no-store, must-revalidate');
  });

  it('never returns the password or its hash', async () => {
    const r = await admin(t).get('/api/v1/crud/alice');
    expect(Object.keys(r.body)).toEqual(['description', 'email', 'icon', 'name', 'nickname', 'public', 'role']);
  });

  it('an empty q is a plain read', async () => {
    expect((await admin(t).get('/api/v1/crud/alice?q=')).body.name).toBe('alice');
  });

  it('an unknown q is 400 "Unrecognized query command."', async () => {
    expectError(await admin(t).get('/api/v1/crud/alice?q=bogus'), 400, 'Unrecognized query command.');
  });

  it('a missing user is 404 "Can\'t access this resource."', async () => {
    expectError(await admin(t).get('/api/v1/crud/nosuchuser'), 404, CANT_ACCESS);
  });

  it('a name failing URL sanitation is 400', async () => {
    expectError(await admin(t).get('/api/v1/crud/bad%20name'), 400, 'The given name did not pass sanitation.');
  });
});

describe('GET /api/v1/crud/?q=ls — list users', () => {
  it('the admin lists every user in creation order with the read shape', async () => {
    const r = await admin(t).get('/api/v1/crud/?q=ls');
    expectJSON(r);
    expect(r.body[0].name).toBe('test');
    expect(r.body[1]).toEqual({ description: '', email: 'alice@localhost', icon: '', name: 'alice', nickname: '', public: true, role: 'user' });
    expect(r.text.startsWith('[{"description":')).toBe(true);
  });

  it('the slash-less form /api/v1/crud?q=ls lists too', async () => {
    const r = await admin(t).get('/api/v1/crud?q=ls');
    expectJSON(r);
    expect(r.body.length).toBeGreaterThan(1);
  });

  it('an ordinary user cannot list users (404)', async () => {
    expectError(await asUser(t, 'alice').get('/api/v1/crud/?q=ls'), 404, 'You do not have permissions necessary to list users.');
  });

  it('nobody cannot list users (404)', async () => {
    expectError(await anon(t).get('/api/v1/crud/?q=ls'), 404, 'You do not have permissions necessary to list users.');
  });

  it('another q on the users root is 400', async () => {
    expectError(await admin(t).get('/api/v1/crud/?q=other'), 400, 'Unrecognized query command.');
  });

  it('only GET lists users (rest-api §12); POST is a JSON 404', async () => {
    expectError(await admin(t).post('/api/v1/crud/?q=ls', {}), 404, 'This path is not recognized');
  });
});

describe('GET /api/v1/crud/{user}?q=ls|devices — list devices', () => {
  it('a fresh user has exactly the user and meta devices, in that order, with their fixed fields', async () => {
    const name = fresh();
    const key = await createUser(t, name, 'pw');
    const r = await asUser(t, name).get(`/api/v1/crud/${name}?q=ls`);
    expectJSON(r);
    expect(r.body).toEqual([
      {
        apikey: key,
        description: 'Holds manually inserted data for the user',
        enabled: true,
        icon: 'material:person',
        name: 'user',
        nickname: '',
        public: false,
        role: 'user',
        user_editable: true,
        visible: true,
      },
      {
        apikey: '',
        description: 'The meta device holds automatically generated streams',
        enabled: true,
        icon: 'material:bug_report',
        name: 'meta',
        nickname: '',
        public: false,
        role: '',
        user_editable: false,
        visible: false,
      },
    ]);
    expect(r.text.startsWith('[{"apikey":')).toBe(true);
  });

  it('q=devices is an alias of q=ls', async () => {
    const a = await admin(t).get('/api/v1/crud/alice?q=ls');
    const b = await admin(t).get('/api/v1/crud/alice?q=devices');
    expect(b.body).toEqual(a.body);
  });

  it('listing devices of a missing user is 404', async () => {
    expectError(await admin(t).get('/api/v1/crud/nosuchuser?q=ls'), 404, CANT_ACCESS);
  });

  it('devices appear after user and meta in creation order', async () => {
    const name = fresh();
    await createUser(t, name);
    await mkDevice(admin(t), `${name}/zeta`);
    await mkDevice(admin(t), `${name}/alpha`);
    const r = await admin(t).get(`/api/v1/crud/${name}?q=ls`);
    expect(r.body.map((d: { name: string }) => d.name)).toEqual(['user', 'meta', 'zeta', 'alpha']);
  });
});

describe('GET /api/v1/crud/{user}?q=streams — list a user\'s streams', () => {
  let name: string;
  beforeAll(async () => {
    name = fresh();
    await createUser(t, name);
    const a = admin(t);
    await mkDevice(a, `${name}/pub`, { public: true });
    await mkDevice(a, `${name}/hidden`, { visible: false });
    await mkStream(a, `${name}/pub/temp`, { schema: '{"type":"number"}', datatype: 'x.y' });
    await mkStream(a, `${name}/hidden/cmd`, { downlink: true });
    await mkStream(a, `${name}/user/mine`);
  });
  const names = (r: { body: { device: string; name: string }[] }) => r.body.map((s) => `${s.device}/${s.name}`).sort();

  it('lists every stream with its device name, keys alphabetical', async () => {
    const r = await admin(t).get(`/api/v1/crud/${name}?q=streams`);
    expectJSON(r);
    expect(names(r)).toEqual(['hidden/cmd', 'meta/log', 'pub/temp', 'user/mine']);
    const temp = r.body.find((s: { name: string }) => s.name === 'temp');
    expect(Object.keys(temp)).toEqual(['datatype', 'description', 'device', 'downlink', 'ephemeral', 'icon', 'name', 'nickname', 'schema']);
    expect(temp).toEqual({ datatype: 'x.y', description: '', device: 'pub', downlink: false, ephemeral: false, icon: '', name: 'temp', nickname: '', schema: '{"type":"number"}' });
  });

  it('public=true keeps only streams of public devices', async () => {
    expect(names(await admin(t).get(`/api/v1/crud/${name}?q=streams&public=true`))).toEqual(['pub/temp']);
  });

  it('downlink=true keeps only downlink streams', async () => {
    expect(names(await admin(t).get(`/api/v1/crud/${name}?q=streams&downlink=true`))).toEqual(['hidden/cmd']);
  });

  it('visible=true hides streams of invisible devices, including meta/log', async () => {
    expect(names(await admin(t).get(`/api/v1/crud/${name}?q=streams&visible=true`))).toEqual(['pub/temp', 'user/mine']);
  });

  it('filters activate only on the exact string "true"', async () => {
    const all = names(await admin(t).get(`/api/v1/crud/${name}?q=streams`));
    expect(names(await admin(t).get(`/api/v1/crud/${name}?q=streams&public=True&downlink=1&visible=TRUE`))).toEqual(all);
    expect(names(await admin(t).get(`/api/v1/crud/${name}?q=streams&public=false&downlink=false&visible=false`))).toEqual(all);
  });

  it('unknown parameters such as datatype are ignored', async () => {
    expect(names(await admin(t).get(`/api/v1/crud/${name}?q=streams&datatype=zzz`)).length).toBe(4);
  });

  it('a missing user is 404', async () => {
    expectError(await admin(t).get('/api/v1/crud/nosuchuser?q=streams'), 404, CANT_ACCESS);
  });
});

describe('POST /api/v1/crud/{user} — create user', () => {
  it('creates with the documented example body and answers the user as GET would', async () => {
    const r = await admin(t).post('/api/v1/crud/python_test', { email: 'pythontest@localhost', password: 'mypass', role: 'user', public: true });
    expectJSON(r);
    expect(r.text).toBe('{"description":"","email":"pythontest@localhost","icon":"","name":"python_test","nickname":"","public":true,"role":"user"}');
    expect((await admin(t).get('/api/v1/crud/python_test')).text).toBe(r.text);
  });

  it('the new user can log in, and owns user and meta devices and the meta/log stream', async () => {
    const name = fresh();
    await admin(t).post(`/api/v1/crud/${name}`, { email: `${name}@x`, password: 'secret' });
    expect((await asUser(t, name, 'secret').get('/api/v1/?q=this')).text).toBe(`${name}/user`);
    const s = await admin(t).get(`/api/v1/crud/${name}/meta/log`);
    expect(s.status).toBe(200);
    expect(s.body.schema).toBe('{"type":"object","properties":{"cmd":{"type":"string"},"arg":{"type":"string"}},"required":["cmd","arg"]}');
    expect(s.body.description).toBe('A log of all create update and delete operations done on this user');
    expect(s.body.icon).toBe('material:assignment');
  });

  it('an admin creating a user gets role "user" and public true by default', async () => {
    const name = fresh();
    const r = await admin(t).post(`/api/v1/crud/${name}`, { email: `${name}@x`, password: 'p' });
    expect(r.body.role).toBe('user');
    expect(r.body.public).toBe(true);
  });

  it('stores nickname, description and icon from the body; ignores name and unknown keys', async () => {
    const name = fresh();
    const r = await admin(t).post(`/api/v1/crud/${name}`, {
      email: `${name}@x`,
      password: 'p',
      nickname: 'Nick',
      description: 'Desc',
      icon: 'material:star',
      public: false,
      name: 'othername',
      password_salt: 'zzz',
      bogus: 1,
    });
    expectJSON(r);
    expect(r.body).toEqual({ description: 'Desc', email: `${name}@x`, icon: 'material:star', name, nickname: 'Nick', public: false, role: 'user' });
    expectError(await admin(t).get('/api/v1/crud/othername'), 404);
  });

  it('an admin may create another admin', async () => {
    const name = fresh();
    const r = await admin(t).post(`/api/v1/crud/${name}`, { email: `${name}@x`, password: 'p', role: 'admin' });
    expect(r.body.role).toBe('admin');
    expect((await asUser(t, name, 'p').get('/api/v1/?q=countusers')).status).toBe(200);
  });

  it('accepts the email forms Go\'s mail parser accepts', async () => {
    for (const email of ['a@b', 'testemail@change', '"a b"@c', 'Alice <alice9@x>', '<z@y>']) {
      const name = fresh();
      const r = await admin(t).post(`/api/v1/crud/${name}`, { email, password: 'p' });
      expect(r.status, `${email}: ${r.text}`).toBe(200);
      expect(r.body.email).toBe(email);
    }
  });

  it('accepts a 29-character name and refuses a 30-character one', async () => {
    const n29 = 'a'.repeat(29);
    expect((await admin(t).post(`/api/v1/crud/${n29}`, { email: 'n29@x', password: 'p' })).status).toBe(200);
    expectError(await admin(t).post(`/api/v1/crud/${'b'.repeat(30)}`, { email: 'n30@x', password: 'p' }), 403, 'Invalid Username, usernames may not contain / \\ ? or spaces');
  });

  it('a user create counts exactly +1 user, +2 devices and +1 stream (meta/log)', async () => {
    const [u, d, s] = [await count('users'), await count('devices'), await count('streams')];
    await createUser(t, fresh());
    expect(await count('users')).toBe(u + 1);
    expect(await count('devices')).toBe(d + 2);
    expect(await count('streams')).toBe(s + 1);
  });

  describe('nested creation (test_multicreate)', () => {
    it('creates streams in the user device and devices with their own streams', async () => {
      const name = fresh();
      const r = await admin(t).post(`/api/v1/crud/${name}`, {
        email: `${name}@x`,
        password: 'p',
        streams: { s1: { schema: '{"type":"string"}', nickname: 'S1' }, s2: {} },
        devices: { d1: { nickname: 'D1', streams: { ds: { schema: '{"type":"number"}', datatype: 'dt' } } }, d2: {} },
      });
      expectJSON(r);
      const s1 = await admin(t).get(`/api/v1/crud/${name}/user/s1`);
      expect(s1.body).toEqual({ name: 's1', nickname: 'S1', description: '', icon: '', schema: '{"type":"string"}', datatype: '', ephemeral: false, downlink: false });
      expect((await admin(t).get(`/api/v1/crud/${name}/user/s2`)).body.schema).toBe('{}');
      expect((await admin(t).get(`/api/v1/crud/${name}/d1`)).body.nickname).toBe('D1');
      expect((await admin(t).get(`/api/v1/crud/${name}/d1/ds`)).body.datatype).toBe('dt');
      const devs = await admin(t).get(`/api/v1/crud/${name}?q=ls`);
      expect(devs.body.map((d: { name: string }) => d.name).sort()).toEqual(['d1', 'd2', 'meta', 'user']);
    });

    it('nested devices get zero-valued booleans, not the creator\'s defaults (observed original)', async () => {
      const name = fresh();
      await admin(t).post(`/api/v1/crud/${name}`, { email: `${name}@x`, password: 'p', devices: { d: {} } });
      const d = await admin(t).get(`/api/v1/crud/${name}/d`);
      expect(d.body).toMatchObject({ enabled: false, visible: false, user_editable: false, public: false, role: '' });
      expect(d.body.apikey).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('"devices" may not contain user', async () => {
      const name = fresh();
      const r = await admin(t).post(`/api/v1/crud/${name}`, { email: `${name}@x`, password: 'p', devices: { user: {} } });
      expectError(r, 403, 'user device is created by default. Set its streams in "streams" property');
    });

    it('"devices" may not contain meta', async () => {
      const name = fresh();
      expectError(await admin(t).post(`/api/v1/crud/${name}`, { email: `${name}@x`, password: 'p', devices: { meta: {} } }), 403, 'meta device is created by default');
    });

    it('an invalid nested stream fails the whole create and leaves no user behind', async () => {
      const name = fresh();
      const r = await admin(t).post(`/api/v1/crud/${name}`, {
        email: `${name}@x`,
        password: 'p',
        devices: { d: { streams: { bad: { schema: '{"type":"blah"}' } } } },
      });
      expectError(r, 403, 'The provided schema is not a valid JSONSchema');
      expectError(await admin(t).get(`/api/v1/crud/${name}`), 404);
      // The name is free again.
      expect((await admin(t).post(`/api/v1/crud/${name}`, { email: `${name}@x`, password: 'p' })).status).toBe(200);
    });

    it('an invalid nested device name fails the whole create', async () => {
      const name = fresh();
      expectError(await admin(t).post(`/api/v1/crud/${name}`, { email: `${name}@x`, password: 'p', devices: { '1bad': {} } }), 403);
      expectError(await admin(t).get(`/api/v1/crud/${name}`), 404);
    });
  });

  describe('create errors (rest-api §5.5)', () => {
    const body = (name: string, extra: Record<string, unknown> = {}) => ({ email: `${name}@x`, password: 'p', ...extra });

    it('a name with a space, backslash or encoded slash is 400 sanitation', async () => {
      for (const p of ['bad%20name', 'bad%5Cname', 'bad%3Fname']) {
        expectError(await admin(t).post(`/api/v1/crud/${p}`, body('z')), 400, 'The given name did not pass sanitation.');
      }
    });

    it('an empty body is 400', async () => {
      const r = await admin(t).post(`/api/v1/crud/${fresh()}`).set('Content-Type', 'application/json');
      expectError(r, 400, 'unexpected end of JSON input');
    });

    it('malformed JSON is 400', async () => {
      const r = await admin(t).post(`/api/v1/crud/${fresh()}`).set('Content-Type', 'application/json').send('{"email": nope}');
      expectError(r, 400);
    });

    it('a field of the wrong JSON type is 400', async () => {
      const name = fresh();
      expectError(await admin(t).post(`/api/v1/crud/${name}`, body(name, { public: 'yes' })), 400);
    });

    it('an ordinary user cannot create users', async () => {
      const name = fresh();
      expectError(await asUser(t, 'alice').post(`/api/v1/crud/${name}`, body(name)), 403, 'You do not have permissions necessary to create a user.');
    });

    it('nobody cannot create users', async () => {
      const name = fresh();
      expectError(await anon(t).post(`/api/v1/crud/${name}`, body(name)), 403, 'You do not have permissions necessary to create a user.');
    });

    it('names in disallow_names are refused', async () => {
      expectError(await admin(t).post('/api/v1/crud/admin', body('adm')), 403, "Username 'admin' not allowed");
      expectError(await admin(t).post('/api/v1/crud/root', body('root')), 403, "Username 'root' not allowed");
    });

    it('an unknown role is refused', async () => {
      const name = fresh();
      expectError(await admin(t).post(`/api/v1/crud/${name}`, body(name, { role: 'superhero' })), 403, "The given role 'superhero' does not exist");
    });

    it('a private user of a role that cannot be private is refused', async () => {
      const name = fresh();
      expectError(await admin(t).post(`/api/v1/crud/${name}`, body(name, { role: 'nobody', public: false })), 403, "Users with role 'nobody' can't be private.");
    });

    it('a name not matching the name rule is refused with 403', async () => {
      for (const bad of ['1abc', '_abc', 'a.b', 'ab%2Bc']) {
        expectError(await admin(t).post(`/api/v1/crud/${bad}`, body('x' + n++)), 403, 'Invalid Username, usernames may not contain / \\ ? or spaces');
      }
    });

    it('invalid or missing emails are refused', async () => {
      for (const email of ['a@', '@b', 'a b@c', 'a@b, c@d', '', undefined]) {
        const name = fresh();
        const r = await admin(t).post(`/api/v1/crud/${name}`, { email, password: 'p' });
        expectError(r, 403, 'Invalid Email Address');
      }
    });

    it('a missing or empty password is refused', async () => {
      const name = fresh();
      expectError(await admin(t).post(`/api/v1/crud/${name}`, { email: `${name}@x` }), 403, 'Incorrect Password');
      expectError(await admin(t).post(`/api/v1/crud/${name}`, { email: `${name}@x`, password: '' }), 403, 'Incorrect Password');
    });

    it('an over-long material icon is refused', async () => {
      const name = fresh();
      expectError(await admin(t).post(`/api/v1/crud/${name}`, body(name, { icon: 'material:' + 'x'.repeat(22) })), 403, "icon name can't be more than 30 characters.");
    });

    it('an icon that is not URL-safe base64 is refused with the decoder message', async () => {
      const name = fresh();
      expectError(await admin(t).post(`/api/v1/crud/${name}`, body(name, { icon: 'not base64!' })), 403, 'illegal base64 data at input byte 3');
    });

    it('valid icons: material:/fa: names up to 30 characters, URL-safe base64, and (our leniency) data:image URIs', async () => {
      for (const icon of ['material:' + 'x'.repeat(21), 'fa:star', 'aGk_', 'aGk=', 'data:image/png;base64,iVBORw0KGgo=']) {
        const name = fresh();
        expect((await admin(t).post(`/api/v1/crud/${name}`, body(name, { icon }))).status, icon).toBe(200);
      }
    });

    it('a duplicate name is refused', async () => {
      expectError(await admin(t).post('/api/v1/crud/alice', body('alice2')), 403, 'User with this email or username already exists');
    });

    it('a name differing only in case is refused (rest-api §12)', async () => {
      expectError(await admin(t).post('/api/v1/crud/ALICE', body('alice3')), 403, 'User with this email or username already exists');
    });

    it('a duplicate email is refused, also differing only in case', async () => {
      expectError(await admin(t).post(`/api/v1/crud/${fresh()}`, { email: 'alice@localhost', password: 'p' }), 403, 'User with this email or username already exists');
      expectError(await admin(t).post(`/api/v1/crud/${fresh()}`, { email: 'ALICE@LocalHost', password: 'p' }), 403, 'User with this email or username already exists');
    });

    it('null as the body means no fields (and so fails the email check)', async () => {
      const r = await admin(t).post(`/api/v1/crud/${fresh()}`).set('Content-Type', 'application/json').send('null');
      expectError(r, 403, 'Invalid Email Address');
    });
  });
});

describe('PUT /api/v1/crud/{user} — update user', () => {
  it('updates every self-writable field and answers the user as GET would', async () => {
    const name = fresh();
    await createUser(t, name);
    const me = asUser(t, name);
    const r = await me.put(`/api/v1/crud/${name}`, { nickname: 'N', description: 'D', icon: 'material:person', email: `${name}@change`, public: false });
    expectJSON(r);
    expect(r.text).toBe(`{"description":"D","email":"${name}@change","icon":"material:person","name":"${name}","nickname":"N","public":false,"role":"user"}`);
    expect((await me.get(`/api/v1/crud/${name}`)).text).toBe(r.text);
  });

  it('a password change works immediately and the old password fails', async () => {
    const name = fresh();
    await createUser(t, name, 'old');
    expect((await asUser(t, name, 'old').put(`/api/v1/crud/${name}`, { password: 'new' })).status).toBe(200);
    expect((await asUser(t, name, 'new').get('/api/v1/?q=this')).text).toBe(`${name}/user`);
    expectError(await asUser(t, name, 'old').get('/api/v1/?q=this'), 401, 'Incorrect Password');
  });

  it('a password change keeps the user device API key', async () => {
    const name = fresh();
    const key = await createUser(t, name, 'old');
    await asUser(t, name, 'old').put(`/api/v1/crud/${name}`, { password: 'new' });
    expect((await asKey(t, key).get('/api/v1/?q=this')).text).toBe(`${name}/user`);
  });

  it('an admin changes the role and it is visible to the user', async () => {
    const name = fresh();
    await createUser(t, name);
    const r = await admin(t).put(`/api/v1/crud/${name}`, { role: 'admin' });
    expect(r.body.role).toBe('admin');
    expect((await asUser(t, name).get(`/api/v1/crud/${name}`)).body.role).toBe('admin');
  });

  it('an admin changes another user\'s password', async () => {
    const name = fresh();
    await createUser(t, name, 'one');
    expect((await admin(t).put(`/api/v1/crud/${name}`, { password: 'two' })).status).toBe(200);
    expect((await asUser(t, name, 'two').get('/api/v1/?q=this')).status).toBe(200);
  });

  it('setting name to the same value is accepted; changing it is refused', async () => {
    expect((await admin(t).put('/api/v1/crud/alice', { name: 'alice' })).status).toBe(200);
    expectError(await admin(t).put('/api/v1/crud/alice', { name: 'alicia' }), 403, 'ConnectorDB does not support modification of user names');
  });

  it('an unknown field is refused with 403 "Unrecognized field"', async () => {
    expectError(await asUser(t, 'alice').put('/api/v1/crud/alice', { admin: 'Hello' }), 403, "Unrecognized field 'admin'");
    expectError(await admin(t).put('/api/v1/crud/alice', { password_salt: 'x' }), 403, "Unrecognized field 'password_salt'");
  });

  it('a user may not change its own role', async () => {
    expectError(await asUser(t, 'alice').put('/api/v1/crud/alice', { role: 'admin' }), 403, 'This device does not have permissions to write role');
  });

  it('a wrong JSON type is refused per field type; null fails too', async () => {
    const me = asUser(t, 'alice');
    expectError(await me.put('/api/v1/crud/alice', { nickname: 5 }), 403, "Value of field 'nickname' must be a string");
    expectError(await me.put('/api/v1/crud/alice', { public: 'yes' }), 403, "Value of field 'public' must be a boolean");
    expectError(await me.put('/api/v1/crud/alice', { description: null }), 403, "Value of field 'description' must be a string");
  });

  it('an invalid email is refused', async () => {
    expectError(await asUser(t, 'alice').put('/api/v1/crud/alice', { email: 'a b@c' }), 403, 'Invalid Email Address');
  });

  it('an email taken by another user (any case) is refused; one\'s own email is fine', async () => {
    const name = fresh();
    await createUser(t, name);
    expectError(await asUser(t, name).put(`/api/v1/crud/${name}`, { email: 'ALICE@localhost' }), 403, 'User with this email or username already exists');
    expect((await asUser(t, name).put(`/api/v1/crud/${name}`, { email: `${name}@localhost` })).status).toBe(200);
  });

  it('an empty password is refused', async () => {
    expectError(await asUser(t, 'alice').put('/api/v1/crud/alice', { password: '' }), 403, 'Incorrect Password');
  });

  it('an invalid icon is refused', async () => {
    expectError(await asUser(t, 'alice').put('/api/v1/crud/alice', { icon: 'fa:' + 'x'.repeat(40) }), 403, "icon name can't be more than 30 characters.");
  });

  it('an unknown role is refused', async () => {
    expectError(await admin(t).put('/api/v1/crud/alice', { role: 'bogus' }), 403, "The given role 'bogus' does not exist");
  });

  it('giving a private user a role that cannot be private is refused', async () => {
    const name = fresh();
    await createUser(t, name, 'pw', { public: false });
    expectError(await admin(t).put(`/api/v1/crud/${name}`, { role: 'nobody' }), 403, "User can't be private.");
  });

  it('a missing user is 403 "The requested user was not found."', async () => {
    expectError(await admin(t).put('/api/v1/crud/nosuchuser', { nickname: 'x' }), 403, 'The requested user was not found.');
  });

  it('another user cannot update (403 Can\'t access this resource.)', async () => {
    const name = fresh();
    await createUser(t, name);
    expectError(await asUser(t, name).put('/api/v1/crud/alice', { nickname: 'x' }), 403, CANT_ACCESS);
  });

  it('malformed JSON is 400 (recommended deviation) and changes nothing', async () => {
    const before = (await admin(t).get('/api/v1/crud/alice')).text;
    const r = await admin(t).put('/api/v1/crud/alice').set('Content-Type', 'application/json').send('{"nickname": ');
    expectError(r, 400);
    expect((await admin(t).get('/api/v1/crud/alice')).text).toBe(before);
  });

  it('a JSON array body is 400', async () => {
    expectError(await admin(t).put('/api/v1/crud/alice').set('Content-Type', 'application/json').send('[1,2]'), 400);
  });

  it('an empty JSON object changes nothing and answers the user', async () => {
    const before = (await admin(t).get('/api/v1/crud/alice')).text;
    const r = await admin(t).put('/api/v1/crud/alice', {});
    expectJSON(r);
    expect(r.text).toBe(before);
  });
});

describe('DELETE /api/v1/crud/{user}', () => {
  it('answers ok and removes the user, its devices, streams and data', async () => {
    const name = fresh();
    await createUser(t, name);
    const a = admin(t);
    await mkDevice(a, `${name}/dev`);
    await mkStream(a, `${name}/dev/s`);
    await mkStream(asUser(t, name), `${name}/user/mine`);
    expect((await asUser(t, name).post(`/api/v1/crud/${name}/user/mine/data`, [{ t: 1, d: 1 }])).status).toBe(200);
    const [u, d, s] = [await count('users'), await count('devices'), await count('streams')];
    expectOk(await a.del(`/api/v1/crud/${name}`));
    expect(await count('users')).toBe(u - 1);
    expect(await count('devices')).toBe(d - 3);
    expect(await count('streams')).toBe(s - 3);
    expectError(await a.get(`/api/v1/crud/${name}`), 404);
    expectError(await a.get(`/api/v1/crud/${name}/dev`), 404);
    expectError(await a.get(`/api/v1/crud/${name}/dev/s`), 404);
  });

  it('re-creating a deleted user yields empty objects', async () => {
    const name = fresh();
    await createUser(t, name);
    const a = admin(t);
    await mkDevice(a, `${name}/dev`);
    await mkStream(asUser(t, name), `${name}/user/mine`);
    await asUser(t, name).post(`/api/v1/crud/${name}/user/mine/data`, [{ t: 1, d: 1 }]);
    await a.del(`/api/v1/crud/${name}`);
    await createUser(t, name);
    const devs = await a.get(`/api/v1/crud/${name}?q=ls`);
    expect(devs.body.map((x: { name: string }) => x.name)).toEqual(['user', 'meta']);
    expectError(await a.get(`/api/v1/crud/${name}/user/mine`), 404);
    await mkStream(asUser(t, name), `${name}/user/mine`);
    expect((await asUser(t, name).get(`/api/v1/crud/${name}/user/mine/data?q=length`)).text).toBe('0');
  });

  it('a missing user is 403 "The requested user was not found."', async () => {
    expectError(await admin(t).del('/api/v1/crud/nosuchuser'), 403, 'The requested user was not found.');
  });

  it('an ordinary user cannot delete itself or others', async () => {
    const name = fresh();
    await createUser(t, name);
    expectError(await asUser(t, name).del(`/api/v1/crud/${name}`), 403, 'You do not have permissions necessary to delete this user.');
    expectError(await asUser(t, name).del('/api/v1/crud/alice'), 403, 'You do not have permissions necessary to delete this user.');
  });

  it('an admin may delete its own account', async () => {
    const name = fresh();
    await admin(t).post(`/api/v1/crud/${name}`, { email: `${name}@x`, password: 'p', role: 'admin' });
    expectOk(await asUser(t, name, 'p').del(`/api/v1/crud/${name}`));
    expectError(await admin(t).get(`/api/v1/crud/${name}`), 404);
  });

  it('a DELETE with Content-Type application/json and no body is accepted', async () => {
    const name = fresh();
    await createUser(t, name);
    expectOk(await admin(t).del(`/api/v1/crud/${name}`).set('Content-Type', 'application/json'));
  });
});

describe('counting (q=countusers|countdevices|countstreams)', () => {
  it('the admin gets plain-text integers with Cache-Control', async () => {
    const r = await admin(t).get('/api/v1/?q=countusers');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(r.headers['cache-control']).toBe('no-store, must-revalidate');
    expect(r.text).toMatch(/^\d+$/);
  });

  it('a stream create adds exactly one stream; a device create exactly one device', async () => {
    const [d, s] = [await count('devices'), await count('streams')];
    await mkDevice(admin(t), `alice/c${++n}`);
    expect(await count('devices')).toBe(d + 1);
    expect(await count('streams')).toBe(s);
    await mkStream(asKey(t, aliceKey), `alice/user/c${++n}`);
    expect(await count('streams')).toBe(s + 1);
    expect(await count('devices')).toBe(d + 1);
  });

  it('the admin logged in through its user device key may count', async () => {
    const k = (await admin(t).get('/api/v1/crud/test/user')).body.apikey as string;
    expect((await t.http.get('/api/v1/?q=countstreams').set('Authorization', keyAuth(k))).status).toBe(200);
  });

  for (const what of ['users', 'devices', 'streams']) {
    it(`an ordinary user cannot count ${what} (403)`, async () => {
      expectError(await asUser(t, 'alice').get(`/api/v1/?q=count${what}`), 403, `Don't have permissions necessary to count ${what}`);
    });
    it(`nobody cannot count ${what} (403)`, async () => {
      expectError(await anon(t).get(`/api/v1/?q=count${what}`), 403, `Don't have permissions necessary to count ${what}`);
    });
  }

  it('an admin acting through a device of role none cannot count', async () => {
    const key = await mkDevice(admin(t), `test/counter${++n}`);
    expectError(await asKey(t, key).get('/api/v1/?q=countusers'), 403, "Don't have permissions necessary to count users");
  });

  it('/api/v1?q=countusers without the slash works too', async () => {
    expect((await admin(t).get('/api/v1?q=countusers')).text).toMatch(/^\d+$/);
  });

  it('basic login for an admin by email counts as well', async () => {
    expect((await t.http.get('/api/v1/?q=countdevices').set('Authorization', basic('test@localhost', 'test'))).status).toBe(200);
  });
});

describe('metadata changes take effect on the next request', () => {
  it('promoting a user to admin lets its cached API key count at once; demoting revokes it', async () => {
    const name = fresh();
    const key = await createUser(t, name);
    expectError(await asKey(t, key).get('/api/v1/?q=countusers'), 403);
    await admin(t).put(`/api/v1/crud/${name}`, { role: 'admin' });
    expect((await asKey(t, key).get('/api/v1/?q=countusers')).status).toBe(200);
    await admin(t).put(`/api/v1/crud/${name}`, { role: 'user' });
    expectError(await asKey(t, key).get('/api/v1/?q=countusers'), 403);
  });

  it('two concurrent creates of the same user name: exactly one succeeds', async () => {
    const name = fresh();
    const rs = await Promise.all([
      admin(t).post(`/api/v1/crud/${name}`, { email: `${name}a@x`, password: 'p' }),
      admin(t).post(`/api/v1/crud/${name}`, { email: `${name}b@x`, password: 'p' }),
    ]);
    expect(rs.map((r) => r.status).sort()).toEqual([200, 403]);
  });

  it('two concurrent creates with the same email: exactly one succeeds', async () => {
    const a = fresh();
    const b = fresh();
    const rs = await Promise.all([
      admin(t).post(`/api/v1/crud/${a}`, { email: `same${a}@x`, password: 'p' }),
      admin(t).post(`/api/v1/crud/${b}`, { email: `SAME${a}@x`, password: 'p' }),
    ]);
    expect(rs.map((r) => r.status).sort()).toEqual([200, 403]);
  });
});

describe('meta log side effects (data-model §4.3)', () => {
  const log = async (user: string) => {
    const r = await admin(t).get(`/api/v1/crud/${user}/meta/log/data?i1=0&i2=0`);
    expect(r.status, r.text).toBe(200);
    return (r.body as { d: { cmd: string; arg: string }; o?: string }[]).map((x) => ({ ...x.d, o: x.o }));
  };

  it('create, update and delete of a user\'s objects are logged to the actor\'s and the owner\'s log', async () => {
    const name = fresh();
    await createUser(t, name);
    const a = admin(t);
    await mkDevice(a, `${name}/dev`);
    await mkStream(a, `${name}/dev/s`);
    await a.put(`/api/v1/crud/${name}/dev/s`, { nickname: 'x' });
    await a.put(`/api/v1/crud/${name}/dev`, { nickname: 'x' });
    await a.put(`/api/v1/crud/${name}`, { nickname: 'x' });
    await a.del(`/api/v1/crud/${name}/dev/s`);
    await a.del(`/api/v1/crud/${name}/dev`);
    const entries = (await log(name)).map((e) => `${e.cmd} ${e.arg}`);
    expect(entries).toEqual([
      `CreateUser ${name}`,
      `CreateDevice ${name}/dev`,
      `CreateStream ${name}/dev/s`,
      `UpdateStream ${name}/dev/s`,
      `UpdateDevice ${name}/dev`,
      `UpdateUser ${name}`,
      `DeleteStream ${name}/dev/s`,
      `DeleteDevice ${name}/dev`,
    ]);
    for (const e of await log(name)) expect(e.o).toBe('ConnectorDB');
    const mine = (await log('test')).map((e) => `${e.cmd} ${e.arg}`);
    expect(mine).toEqual(expect.arrayContaining([`CreateUser ${name}`, `UpdateUser ${name}`, `DeleteDevice ${name}/dev`]));
  });

  it('DeleteUser is logged in the deleter\'s log', async () => {
    const name = fresh();
    await createUser(t, name);
    await admin(t).del(`/api/v1/crud/${name}`);
    expect((await log('test')).map((e) => `${e.cmd} ${e.arg}`)).toContain(`DeleteUser ${name}`);
  });
});
