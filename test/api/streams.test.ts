import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, createUser, makeApp } from '../helpers';
import { admin, asKey, asUser, CANT_ACCESS, expectError, expectJSON, expectOk, mkDevice, mkStream } from './util';

let t: TestApp;
let n = 0;
const sname = () => `s${++n}`;
const alice = () => asUser(t, 'alice');
const ORDER = ['name', 'nickname', 'description', 'icon', 'schema', 'datatype', 'ephemeral', 'downlink'];
const base = '/api/v1/crud/alice/user';

beforeAll(async () => {
  t = await makeApp();
  await createUser(t, 'alice', 'pw');
  await createUser(t, 'bob', 'pw');
});
afterAll(() => t.close());

describe('GET /api/v1/crud/{user}/{device}/{stream} — read stream', () => {
  it('answers the struct in its fixed order with default schema "{}"', async () => {
    const s = sname();
    await mkStream(alice(), `alice/user/${s}`, {});
    const r = await alice().get(`${base}/${s}`);
    expectJSON(r);
    expect(r.text).toBe(`{"name":"${s}","nickname":"","description":"","icon":"","schema":"{}","datatype":"","ephemeral":false,"downlink":false}`);
  });

  it('downlink=true is accepted and ignored', async () => {
    const s = sname();
    await mkStream(alice(), `alice/user/${s}`);
    expect((await alice().get(`${base}/${s}?downlink=true`)).body.name).toBe(s);
  });

  it('any non-empty q is 400', async () => {
    const s = sname();
    await mkStream(alice(), `alice/user/${s}`);
    expectError(await alice().get(`${base}/${s}?q=ls`), 400, 'Unrecognized query command.');
  });

  it('a missing user, device and stream are 404 with the observed messages', async () => {
    expectError(await admin(t).get('/api/v1/crud/nosuchuser/user/x'), 404, 'The requested user was not found.');
    expectError(await admin(t).get('/api/v1/crud/alice/nosuchdevice/x'), 404, 'The requested device was not found.');
    expectError(await admin(t).get('/api/v1/crud/alice/user/nosuchstream'), 404, CANT_ACCESS);
  });

  it('an unreadable stream is 404 "Can\'t access this resource."', async () => {
    const s = sname();
    await mkStream(alice(), `alice/user/${s}`);
    expectError(await asUser(t, 'bob').get(`${base}/${s}`), 404, CANT_ACCESS);
  });
});

describe('POST /api/v1/crud/{user}/{device}/{stream} — create stream', () => {
  it('stores every body field and answers the struct as GET would', async () => {
    const s = sname();
    const r = await alice().post(`${base}/${s}`, {
      schema: '{"type":"number"}',
      nickname: 'N',
      description: 'D',
      icon: 'material:star',
      datatype: 'rating.stars',
      ephemeral: true,
      downlink: true,
    });
    expectJSON(r);
    expect(Object.keys(r.body)).toEqual(ORDER);
    expect(r.body).toEqual({ name: s, nickname: 'N', description: 'D', icon: 'material:star', schema: '{"type":"number"}', datatype: 'rating.stars', ephemeral: true, downlink: true });
    expect((await alice().get(`${base}/${s}`)).text).toBe(r.text);
  });

  it('the schema is stored minified, keeping key order and number spelling', async () => {
    const s = sname();
    const r = await alice().post(`${base}/${s}`, { schema: '{ "type" : "number" ,\n "maximum": 1.50, "description": "a  b" }' });
    expect(r.body.schema).toBe('{"type":"number","maximum":1.50,"description":"a  b"}');
  });

  it('draft-04 schemas keep working (boolean exclusiveMinimum)', async () => {
    const s = sname();
    const r = await alice().post(`${base}/${s}`, { schema: '{"type":"number","minimum":0,"exclusiveMinimum":true}' });
    expect(r.status, r.text).toBe(200);
    expect((await alice().post(`${base}/${s}/data`, [{ t: 1, d: 0 }])).status).toBe(403);
    expect((await alice().post(`${base}/${s}/data`, [{ t: 1, d: 0.5 }])).status).toBe(200);
  });

  it('an empty schema string means "{}"', async () => {
    const s = sname();
    expect((await alice().post(`${base}/${s}`, { schema: '' })).body.schema).toBe('{}');
  });

  it('unknown keys are ignored', async () => {
    expect((await alice().post(`${base}/${sname()}`, { schema: '{}', bogus: true })).status).toBe(200);
  });

  it('a device may create streams in itself', async () => {
    const key = await mkDevice(alice(), 'alice/selfdev');
    const s = sname();
    expect((await asKey(t, key).post(`/api/v1/crud/alice/selfdev/${s}`, { schema: '{}' })).status).toBe(200);
  });

  describe('create errors (rest-api §7.3)', () => {
    it('a name failing sanitation is 400', async () => {
      expectError(await alice().post(`${base}/a%20b`, {}), 400, 'The given name did not pass sanitation.');
    });
    it('an empty body is 400', async () => {
      expectError(await alice().post(`${base}/${sname()}`).set('Content-Type', 'application/json'), 400);
    });
    it('malformed JSON is 400', async () => {
      expectError(await alice().post(`${base}/${sname()}`).set('Content-Type', 'application/json').send('{"schema"'), 400);
    });
    it('a schema given as an object instead of a string is 400', async () => {
      expectError(await alice().post(`${base}/${sname()}`, { schema: { type: 'string' } }), 400, /cannot unmarshal object/);
    });
    it('a missing user or device is 403 with its not-found message', async () => {
      expectError(await admin(t).post(`/api/v1/crud/nosuchuser/user/${sname()}`, {}), 403, 'The requested user was not found.');
      expectError(await admin(t).post(`/api/v1/crud/alice/nosuchdevice/${sname()}`, {}), 403, 'The requested device was not found.');
    });
    it('another user may not create streams in alice\'s devices', async () => {
      expectError(await asUser(t, 'bob').post(`${base}/${sname()}`, {}), 403, CANT_ACCESS);
    });
    it('an invalid JSON Schema or non-JSON schema is 403', async () => {
      expectError(await alice().post(`${base}/${sname()}`, { schema: '{"type":"blah"}' }), 403, 'The provided schema is not a valid JSONSchema');
      expectError(await alice().post(`${base}/${sname()}`, { schema: 'notjson' }), 403, 'The provided schema is not a valid JSONSchema');
    });
    it('a name not matching the rule is 403 with the (reused) user message', async () => {
      expectError(await alice().post(`${base}/9lives`, {}), 403, 'Invalid Username, usernames may not contain / \\ ? or spaces');
      expectError(await alice().post(`${base}/${'s'.repeat(30)}`, {}), 403, 'Invalid Username, usernames may not contain / \\ ? or spaces');
    });
    it('an invalid icon is 403', async () => {
      expectError(await alice().post(`${base}/${sname()}`, { icon: 'material:' + 'z'.repeat(30) }), 403, "icon name can't be more than 30 characters.");
    });
    it('a duplicate name is 403', async () => {
      const s = sname();
      await mkStream(alice(), `alice/user/${s}`);
      expectError(await alice().post(`${base}/${s}`, {}), 403, 'Stream with this name already exists');
    });
    it('a field of the wrong type is 400', async () => {
      expectError(await alice().post(`${base}/${sname()}`, { ephemeral: 'yes' }), 400);
    });
  });
});

describe('PUT /api/v1/crud/{user}/{device}/{stream} — update stream', () => {
  it('updates every writable field and answers the struct', async () => {
    const s = sname();
    await mkStream(alice(), `alice/user/${s}`);
    const changes = { nickname: 'n', description: 'd', icon: 'fa:q', schema: '{"type": "string"}', datatype: 'log.diary', ephemeral: true, downlink: true };
    const r = await alice().put(`${base}/${s}`, changes);
    expectJSON(r);
    expect(Object.keys(r.body)).toEqual(ORDER);
    expect(r.body).toEqual({ name: s, ...changes, schema: '{"type":"string"}' });
    expect((await alice().get(`${base}/${s}`)).text).toBe(r.text);
  });

  it('schema "" is stored as "{}"', async () => {
    const s = sname();
    await mkStream(alice(), `alice/user/${s}`, { schema: '{"type":"number"}' });
    expect((await alice().put(`${base}/${s}`, { schema: '' })).body.schema).toBe('{}');
  });

  it('an invalid schema is 403', async () => {
    const s = sname();
    await mkStream(alice(), `alice/user/${s}`);
    expect((await alice().put(`${base}/${s}`, { schema: '{"type":"blah"}' })).status).toBe(403);
    expect((await alice().put(`${base}/${s}`, { schema: 'notjson' })).status).toBe(403);
    expect((await alice().get(`${base}/${s}`)).body.schema).toBe('{}');
  });

  it('changing the schema does not re-validate stored data', async () => {
    const s = sname();
    await mkStream(alice(), `alice/user/${s}`);
    expect((await alice().post(`${base}/${s}/data`, [{ t: 1, d: 'text' }])).status).toBe(200);
    expect((await alice().put(`${base}/${s}`, { schema: '{"type":"number"}' })).status).toBe(200);
    expect((await alice().get(`${base}/${s}/data?q=length`)).text).toBe('1');
  });

  it('renaming is refused (a user may not even write name; an admin may write the same name)', async () => {
    const s = sname();
    await mkStream(alice(), `alice/user/${s}`);
    expectError(await alice().put(`${base}/${s}`, { name: s }), 403, 'This device does not have permissions to write name');
    expect((await admin(t).put(`${base}/${s}`, { name: s })).status).toBe(200);
    expectError(await admin(t).put(`${base}/${s}`, { name: 'other' }), 403, 'ConnectorDB does not support modification of stream names');
  });

  it('an unknown field is refused', async () => {
    const s = sname();
    await mkStream(alice(), `alice/user/${s}`);
    expectError(await alice().put(`${base}/${s}`, { sschema: '{}' }), 403, "Unrecognized field 'sschema'");
  });

  it('wrong JSON types are refused', async () => {
    const s = sname();
    await mkStream(alice(), `alice/user/${s}`);
    expectError(await alice().put(`${base}/${s}`, { downlink: 'true' }), 403, "Value of field 'downlink' must be a boolean");
    expectError(await alice().put(`${base}/${s}`, { schema: {} }), 403, "Value of field 'schema' must be a string");
  });

  it('missing user, device and stream are 403 with their not-found messages', async () => {
    expectError(await admin(t).put('/api/v1/crud/nosuchuser/user/x', { nickname: 'x' }), 403, 'The requested user was not found.');
    expectError(await admin(t).put('/api/v1/crud/alice/nosuchdevice/x', { nickname: 'x' }), 403, 'The requested device was not found.');
    expectError(await admin(t).put('/api/v1/crud/alice/user/nosuchstream', { nickname: 'x' }), 403, 'The requested stream was not found.');
  });

  it('another user may not update', async () => {
    const s = sname();
    await mkStream(alice(), `alice/user/${s}`);
    expectError(await asUser(t, 'bob').put(`${base}/${s}`, { nickname: 'x' }), 403, CANT_ACCESS);
  });

  it('malformed JSON is 400 and changes nothing', async () => {
    const s = sname();
    await mkStream(alice(), `alice/user/${s}`);
    expectError(await alice().put(`${base}/${s}`).set('Content-Type', 'application/json').send('nope'), 400);
  });

  it('turning downlink off deletes the downlink data', async () => {
    const s = sname();
    await mkStream(alice(), `alice/user/${s}`, { downlink: true });
    expect((await alice().post(`${base}/${s}/data?downlink=true`, [{ t: 1, d: 1 }])).status).toBe(200);
    expect((await alice().get(`${base}/${s}/data?q=length&downlink=true`)).text).toBe('1');
    await alice().put(`${base}/${s}`, { downlink: false });
    expect((await alice().get(`${base}/${s}/data?q=length&downlink=true`)).text).toBe('0');
  });
});

describe('DELETE /api/v1/crud/{user}/{device}/{stream}', () => {
  it('answers ok and removes the stream and its data; re-creating gives an empty stream', async () => {
    const s = sname();
    await mkStream(alice(), `alice/user/${s}`);
    await alice().post(`${base}/${s}/data`, [{ t: 1, d: 1 }]);
    expectOk(await alice().del(`${base}/${s}`));
    expectError(await alice().get(`${base}/${s}`), 404);
    await mkStream(alice(), `alice/user/${s}`);
    expect((await alice().get(`${base}/${s}/data?q=length`)).text).toBe('0');
  });

  it('downlink=true deletes only the downlink data and keeps the stream', async () => {
    const s = sname();
    await mkStream(alice(), `alice/user/${s}`, { downlink: true });
    await alice().post(`${base}/${s}/data`, [{ t: 1, d: 1 }]);
    await alice().post(`${base}/${s}/data?downlink=true`, [{ t: 1, d: 2 }]);
    expectOk(await alice().del(`${base}/${s}?downlink=true`));
    expect((await alice().get(`${base}/${s}`)).status).toBe(200);
    expect((await alice().get(`${base}/${s}/data?q=length`)).text).toBe('1');
    expect((await alice().get(`${base}/${s}/data?q=length&downlink=true`)).text).toBe('0');
  });

  it('missing user, device and stream are 403 with their not-found messages', async () => {
    expectError(await admin(t).del('/api/v1/crud/nosuchuser/user/x'), 403, 'The requested user was not found.');
    expectError(await admin(t).del('/api/v1/crud/alice/nosuchdevice/x'), 403, 'The requested device was not found.');
    expectError(await admin(t).del('/api/v1/crud/alice/user/nosuchstream'), 403, 'The requested stream was not found.');
  });

  it('another user may not delete', async () => {
    const s = sname();
    await mkStream(alice(), `alice/user/${s}`);
    expectError(await asUser(t, 'bob').del(`${base}/${s}`), 403, CANT_ACCESS);
  });
});
