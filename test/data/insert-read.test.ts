import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN, type TestApp, basic, createUser, keyAuth, makeApp } from '../helpers';

let t: TestApp;
let aliceKey: string;
const ALICE = () => keyAuth(aliceKey);
let n = 0;
let path = '';

async function mkstream(body: Record<string, unknown> = { schema: '{}' }, auth = ALICE(), dev = 'alice/user'): Promise<string> {
  const p = `/api/v1/crud/${dev}/s${++n}`;
  const r = await t.http.post(p).set('Authorization', auth).send(body);
  expect(r.status, r.text).toBe(200);
  return p;
}
const post = (p: string, body: unknown, auth = ALICE()) => t.http.post(`${p}/data`).set('Authorization', auth).send(body as object);
const put = (p: string, body: unknown, auth = ALICE()) => t.http.put(`${p}/data`).set('Authorization', auth).send(body as object);
const get = (p: string, q: string, auth = ALICE()) => t.http.get(`${p}/data?${q}`).set('Authorization', auth);

beforeAll(async () => {
  t = await makeApp();
  aliceKey = await createUser(t, 'alice', 'pw', { public: false });
});
afterAll(() => t.close());
beforeEach(async () => {
  path = await mkstream();
});

describe('insert', () => {
  it('POST stores datapoints and answers the two bytes ok', async () => {
    const r = await post(path, [{ t: 10, d: 1 }, { t: 11, d: 2.5 }, { t: 11, d: 3 }]);
    expect(r.status).toBe(200);
    expect(r.text).toBe('ok');
    expect(r.headers['content-type']).toMatch(/^text\/plain/);
    const all = await get(path, 'i1=0&i2=0');
    expect(all.body).toEqual([{ t: 10, d: 1 }, { t: 11, d: 2.5 }, { t: 11, d: 3 }]);
  });

  it('POST of an older timestamp than stored fails with 403, equal is allowed', async () => {
    await post(path, [{ t: 10, d: 1 }, { t: 11, d: 3 }]);
    const older = await post(path, [{ t: 10.5, d: 4 }]);
    expect(older.status).toBe(403);
    expect(older.body.msg).toBe('Greater timestamp already exists for the stream. Insert Failed.');
    expect((await post(path, [{ t: 11, d: 4 }])).status).toBe(200);
    expect((await get(path, 'q=length')).text).toBe('3');
  });

  it('timestamps within a request must not decrease', async () => {
    const r = await post(path, [{ t: 13, d: 5 }, { t: 12.5, d: 6 }]);
    expect(r.status).toBe(403);
    expect(r.body.msg).toBe('Timestamps are not ordered!');
    expect((await get(path, 'q=length')).text).toBe('0');
  });

  it('PUT restamps too-old datapoints to the last stored timestamp', async () => {
    await post(path, [{ t: 5, d: 1 }]);
    expect((await put(path, [{ t: 1, d: 8 }, { t: 2, d: 9 }, { t: 7, d: 10 }])).status).toBe(200);
    const all = await get(path, 'i1=0&i2=0');
    expect(all.body.map((x: { t: number }) => x.t)).toEqual([5, 5, 5, 7]);
  });

  it('PUT of a negative timestamp into an empty stream restamps it to 0 and POST refuses it', async () => {
    expect((await post(path, [{ t: -5, d: 1 }])).status).toBe(403);
    expect((await put(path, [{ t: -5, d: 1 }])).status).toBe(200);
    const all = await get(path, 'i1=0&i2=0');
    expect(all.body).toEqual([{ d: 1 }]);
  });

  it('missing or zero timestamps get one shared server time', async () => {
    const before = Date.now() / 1000;
    expect((await post(path, [{ d: 1 }, { t: 0, d: 2 }])).status).toBe(200);
    const all = (await get(path, 'i1=0&i2=0')).body as { t: number; d: number }[];
    expect(all).toHaveLength(2);
    expect(all[0].t).toBe(all[1].t);
    expect(all[0].t).toBeGreaterThanOrEqual(before - 1);
    expect(all[0].t).toBeLessThanOrEqual(Date.now() / 1000 + 1);
  });

  it('an empty array is ok and stores nothing', async () => {
    expect((await post(path, [])).text).toBe('ok');
    expect((await get(path, 'q=length')).text).toBe('0');
  });

  it('null data is stored and read back without a d key; o is omitted for the owner', async () => {
    await post(path, [{ t: 1, d: null }, { t: 2 }, { t: 3, d: false }, { t: 4, d: 0 }, { t: 5, d: '' }, { t: 6, d: {} }, { t: 7, d: [] }]);
    const r = await get(path, 'i1=0&i2=0');
    expect(r.text).toBe('[{"t":1},{"t":2},{"t":3,"d":false},{"t":4,"d":0},{"t":5,"d":""},{"t":6,"d":{}},{"t":7,"d":[]}]');
  });

  it('objects round-trip and a client-supplied o is ignored', async () => {
    await post(path, [{ t: 1, d: { test: 'hi!', t2: -1337.1 }, o: 'evil/device', x: 5 }]);
    expect((await get(path, 'i1=0&i2=0')).text).toBe('[{"t":1,"d":{"test":"hi!","t2":-1337.1}}]');
  });

  it('rejects a whole request when one datapoint violates the schema', async () => {
    const p = await mkstream({ schema: '{"type":"number"}' });
    const r = await post(p, [{ t: 1, d: 1 }, { t: 2, d: 'x' }]);
    expect(r.status).toBe(403);
    expect(r.body.msg).toBe("At least one datapoint did not conform to the stream's schema");
    expect((await get(p, 'q=length')).text).toBe('0');
  });

  it('validates draft-04 schemas such as boolean exclusiveMinimum', async () => {
    const p = await mkstream({ schema: '{"type":"number","minimum":5,"exclusiveMinimum":true}' });
    expect((await post(p, [{ t: 1, d: 5 }])).status).toBe(403);
    expect((await post(p, [{ t: 1, d: 5.5 }])).status).toBe(200);
  });

  it('answers 400 for a non-array body, a non-number t, malformed JSON and an empty body', async () => {
    const a = await post(path, { t: 1, d: 1 });
    expect(a.status).toBe(400);
    expect(a.body.msg).toMatch(/cannot unmarshal object/);
    const b = await post(path, [{ t: '1', d: 1 }]);
    expect(b.status).toBe(400);
    expect(b.body.msg).toMatch(/Datapoint\.t/);
    const c = await t.http.post(`${path}/data`).set('Authorization', ALICE()).set('Content-Type', 'application/json').send('[{"t":1,');
    expect(c.status).toBe(400);
    expect(Object.keys(c.body)).toEqual(['code', 'msg', 'ref']);
    const d = await t.http.post(`${path}/data`).set('Authorization', ALICE()).set('Content-Type', 'application/json').send('');
    expect(d.status).toBe(400);
    expect(d.body.msg).toBe('unexpected end of JSON input');
  });

  it('answers 403 with the not-found messages for missing objects', async () => {
    expect((await post('/api/v1/crud/nouser/x/y', [])).body.msg).toBe('The requested user was not found.');
    expect((await post('/api/v1/crud/alice/nodev/y', [])).body.msg).toBe('The requested device was not found.');
    const r = await post('/api/v1/crud/alice/user/nostream', []);
    expect(r.status).toBe(403);
    expect(r.body.msg).toBe('The requested stream was not found.');
  });

  it('ephemeral streams accept and check datapoints but store nothing', async () => {
    const p = await mkstream({ schema: '{"type":"number"}', ephemeral: true });
    expect((await post(p, [{ t: 1, d: 1 }])).status).toBe(200);
    expect((await post(p, [{ t: 1, d: 'x' }])).status).toBe(403);
    expect((await get(p, 'q=length')).text).toBe('0');
    await t.http.put(p).set('Authorization', ALICE()).send({ ephemeral: false });
    expect((await post(p, [{ t: 2, d: 2 }])).status).toBe(200);
    expect((await get(p, 'q=length')).text).toBe('1');
  });
});

describe('downlinks and writers', () => {
  it("another device's write to a downlink stream lands in the downlink substream with o set", async () => {
    const dev = await t.http.post('/api/v1/crud/alice/light').set('Authorization', ALICE()).send({});
    const lightKey = dev.body.apikey as string;
    const p = await mkstream({ schema: '{}', downlink: true }, keyAuth(lightKey), 'alice/light');
    expect((await post(p, [{ t: 1, d: 'on' }], ALICE())).status).toBe(200);
    expect((await get(p, 'q=length', ALICE())).text).toBe('0');
    expect((await get(p, 'q=length&downlink=true', ALICE())).text).toBe('1');
    const dl = await get(p, 'i1=0&i2=0&downlink=True', keyAuth(lightKey));
    expect(dl.text).toBe('[{"t":1,"d":"on","o":"alice/user"}]');
    // The owner acknowledges by writing the plain stream.
    expect((await post(p, [{ t: 2, d: 'on' }], keyAuth(lightKey))).status).toBe(200);
    expect((await get(p, 'i1=0&i2=0', ALICE())).text).toBe('[{"t":2,"d":"on"}]');
    // DELETE ?downlink=true removes only the downlink data.
    expect((await t.http.delete(`${p}?downlink=true`).set('Authorization', ALICE())).text).toBe('ok');
    expect((await get(p, 'q=length&downlink=true', ALICE())).text).toBe('0');
    expect((await get(p, 'q=length', ALICE())).text).toBe('1');
  });

  it('switching downlink off deletes the downlink data', async () => {
    const p = await mkstream({ schema: '{}', downlink: true });
    await post(p, [{ t: 1, d: 1 }], ADMIN);
    expect((await get(p, 'q=length&downlink=1')).text).toBe('1');
    await t.http.put(p).set('Authorization', ALICE()).send({ downlink: false });
    expect((await get(p, 'q=length&downlink=1')).text).toBe('0');
  });

  it("the user device cannot append to a sibling device's plain stream", async () => {
    const dev = await t.http.post('/api/v1/crud/alice/sensor').set('Authorization', ALICE()).send({});
    const p = await mkstream({ schema: '{}' }, keyAuth(dev.body.apikey), 'alice/sensor');
    const r = await post(p, [{ t: 1, d: 1 }], ALICE());
    expect(r.status).toBe(403);
    // The original's sentence, then what to do instead (issue 13).
    expect(r.body.msg).toBe(
      'Write access to stream data denied. Only the device that owns a stream writes its data: use the API key of alice/sensor (or make the stream a downlink to send it commands).',
    );
  });

  it("an admin cannot append to another user's stream, nor anyone read a private one", async () => {
    const r = await post(path, [{ t: 1, d: 1 }], ADMIN);
    expect(r.status).toBe(403);
    expect(r.body.msg).toBe('Write access to stream data denied.');
    await createUser(t, 'mallory', 'pw');
    const m = await get(path, 'i1=0&i2=0', basic('mallory', 'pw'));
    expect(m.status).toBe(403);
    expect(m.body.msg).toBe("Can't access this resource.");
    expect((await get(path, 'i1=0&i2=0', ADMIN)).status).toBe(200);
  });
});

describe('reads', () => {
  beforeEach(async () => {
    await post(path, Array.from({ length: 10 }, (_, i) => ({ t: i + 1, d: i })));
  });
  const idx = async (q: string) => {
    const r = await get(path, q);
    return r.status === 200 ? (r.body as { d: number }[]).map((x) => x.d) : r.status;
  };
  const times = async (q: string) => {
    const r = await get(path, q);
    return r.status === 200 ? (r.body as { t: number }[]).map((x) => x.t) : r.status;
  };

  it('index ranges follow Python slice rules', async () => {
    expect(await idx('i1=2&i2=5')).toEqual([2, 3, 4]);
    expect(await idx('i1=-3&i2=0')).toEqual([7, 8, 9]);
    expect(await idx('i1=-3&i2=-1')).toEqual([7, 8]);
    expect(await idx('i1=-30&i2=2')).toEqual([0, 1]);
    expect(await idx('i1=5&i2=3')).toBe(403);
    expect(await idx('i1=10&i2=0')).toEqual([]);
    expect(await idx('i1=11&i2=0')).toBe(403);
    expect(await idx('i1=0&i2=100')).toHaveLength(10);
    expect(await idx('i2=3')).toEqual([0, 1, 2]);
    expect(await idx('i1=3')).toEqual([3, 4, 5, 6, 7, 8, 9]);
    expect(await idx('i1=-2&i2=-5')).toBe(403);
    expect(await idx('i1=-1&i2=0')).toEqual([9]);
  });

  it('index parameters use Go integer syntax with automatic base', async () => {
    expect(await idx('i1=0x2&i2=010')).toEqual([2, 3, 4, 5, 6, 7]);
    const r = await get(path, 'i1=abc');
    expect(r.status).toBe(400);
    expect(r.body.msg).toBe('Could not parse i1 parameter');
    expect((await get(path, 'i1=1&i2=1.5')).body.msg).toBe('Could not parse i2 parameter');
  });

  it('time ranges exclude t1, include t2, and apply limit', async () => {
    expect(await times('t1=3')).toEqual([4, 5, 6, 7, 8, 9, 10]);
    expect(await times('t1=3&t2=6')).toEqual([4, 5, 6]);
    expect(await times('t1=3&t2=6&limit=2')).toEqual([4, 5]);
    expect(await times('t2=5')).toEqual([1, 2, 3, 4, 5]);
    expect(await times('t1=3.5&t2=3.7')).toEqual([]);
    expect(await times('t1=100')).toEqual([]);
    expect(await times('t1=0')).toHaveLength(10);
  });

  it('a read without a range, or with limit alone, is a 400', async () => {
    const msg = 'A range needs [both "i1" and "i2" int] or ["t1" and ["t2" decimal and/or "limit" int]]';
    expect((await get(path, '')).body.msg).toBe(msg);
    const r = await get(path, 'limit=3');
    expect(r.status).toBe(400);
    expect(r.body.msg).toBe(msg);
    expect((await get(path, 't1=abc')).status).toBe(400);
  });

  it('an empty result is exactly [] with a content length', async () => {
    const r = await get(path, 'i1=10&i2=0');
    expect(r.text).toBe('[]');
    expect(r.headers['content-length']).toBe('2');
  });

  it('an empty stream reads as [] from index 0 and refuses a positive start', async () => {
    const p = await mkstream();
    expect((await get(p, 'i1=0&i2=0')).text).toBe('[]');
    expect((await get(p, 'i1=-1&i2=0')).text).toBe('[]');
    const r = await get(p, 'i1=1&i2=0');
    expect(r.status).toBe(403);
    expect(r.body.msg).toBe('Invalid index range.');
  });

  it('q=length answers plain text and ignores other parameters', async () => {
    const r = await get(path, 'q=length&i1=x');
    expect(r.status).toBe(200);
    expect(r.text).toBe('10');
    expect(r.headers['content-type']).toMatch(/^text\/plain/);
  });

  it('q=time2index gives the first index newer than t, the length past the end', async () => {
    const r = await get(path, 'q=time2index&t=3');
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.text).toBe('3');
    expect((await get(path, 'q=time2index&t=0')).text).toBe('0');
    expect((await get(path, 'q=time2index&t=3.5')).text).toBe('3');
    expect((await get(path, 'q=time2index&t=100')).text).toBe('10');
    const bad = await get(path, 'q=time2index');
    expect(bad.status).toBe(403);
    expect(bad.body.msg).toBe('time2index requires an argument of "t" which is a decimal timestamp');
    await createUser(t, `eve${n}`, 'pw');
    expect((await get(path, 'q=time2index&t=1', basic(`eve${n}`, 'pw'))).status).toBe(404);
  });

  it('streams large reads across storage chunks in order', async () => {
    const p = await mkstream();
    const N = 5500;
    await post(p, Array.from({ length: N }, (_, i) => ({ t: i + 1, d: i })));
    const r = await get(p, 'i1=0&i2=0');
    expect(r.headers['content-length']).toBeUndefined();
    const body = r.body as { t: number; d: number }[];
    expect(body).toHaveLength(N);
    expect(body.every((x, i) => x.d === i)).toBe(true);
    const tr = await get(p, 't1=1999.5&t2=4000');
    expect((tr.body as unknown[]).length).toBe(2001);
  });

  it('deleting and re-creating a stream leaves it empty', async () => {
    await t.http.delete(path).set('Authorization', ALICE()).expect(200);
    await t.http.post(path).set('Authorization', ALICE()).send({}).expect(200);
    expect((await get(path, 'q=length')).text).toBe('0');
    expect((await get(path, 'i1=0&i2=0')).text).toBe('[]');
  });
});
