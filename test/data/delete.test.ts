import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type TestApp, createUser, keyAuth, makeApp } from '../helpers';

let t: TestApp;
let alice: string;
let bob: string;
let n = 0;
let path = '';
let stream = '';

const post = (p: string, body: unknown, q = '', key = alice) => t.http.post(`${p}/data${q}`).set('Authorization', keyAuth(key)).send(body as object);
const get = (p: string, q: string, key = alice) => t.http.get(`${p}/data?${q}`).set('Authorization', keyAuth(key));
const del = (p: string, q: string, key = alice) => t.http.delete(`${p}/data${q ? '?' + q : ''}`).set('Authorization', keyAuth(key));
const wire = (pts: unknown[]) => (pts.length ? '[' + pts.map((p) => JSON.stringify(p)).join(',') + ']' : '[]');

interface P {
  t: number;
  d: unknown;
}
const pts = (count: number, start: number, t0 = 1000): P[] => Array.from({ length: count }, (_, i) => ({ t: t0 + start + i, d: start + i }));

async function expectStream(p: string, all: P[], q = '') {
  const r = await get(p, `i1=0&i2=0${q}`);
  expect(r.text).toBe(wire(all));
  expect((await get(p, `q=length${q}`)).text).toBe(String(all.length));
}

beforeAll(async () => {
  t = await makeApp();
  alice = await createUser(t, 'alice', 'pw', { public: true });
  bob = await createUser(t, 'bob', 'pw', { public: true });
});
afterAll(() => t.close());
beforeEach(async () => {
  stream = `d${++n}`;
  path = `/api/v1/crud/alice/user/${stream}`;
  expect((await t.http.post(path).set('Authorization', keyAuth(alice)).send({ schema: '{}', downlink: true })).status).toBe(200);
});

describe('DELETE of datapoints', () => {
  it('without a range keeps the original answer: 404 This path is not recognized, even unauthenticated', async () => {
    const r = await del(path, '');
    expect(r.status).toBe(404);
    expect(r.body.msg).toBe('This path is not recognized');
    const anon = await t.http.delete(`${path}/data`);
    expect(anon.status).toBe(404);
    expect(anon.body.msg).toBe('This path is not recognized');
  });

  it('deletes an index range across chunks; later indexes shift down', async () => {
    const all = pts(3500, 0);
    await post(path, all);
    const r = await del(path, 'i1=500&i2=2700');
    expect(r.status).toBe(200);
    expect(r.text).toBe('ok');
    const left = [...all.slice(0, 500), ...all.slice(2700)];
    await expectStream(path, left);
    expect((await get(path, 'i1=499&i2=501')).text).toBe(wire([all[499], all[2700]]));
    expect((await get(path, `q=time2index&t=${all[2700].t}`)).text).toBe('501');
    // Appends and seals continue after the shift.
    const more = pts(1200, 3500);
    await post(path, more);
    await expectStream(path, [...left, ...more]);
  });

  it('deletes inside one chunk, from the start and at the end', async () => {
    let all = pts(2500, 0);
    await post(path, all);
    await del(path, 'i1=10&i2=20');
    all = [...all.slice(0, 10), ...all.slice(20)];
    await expectStream(path, all);
    await del(path, 'i1=0&i2=1500');
    all = all.slice(1500);
    await expectStream(path, all);
    expect((await get(path, 'i1=0&i2=2')).text).toBe(wire(all.slice(0, 2)));
    // Python-style negative index: the last five.
    await del(path, 'i1=-5&i2=0');
    all = all.slice(0, -5);
    await expectStream(path, all);
    // The ordering rule now starts from the new last datapoint.
    const last = all[all.length - 1].t;
    expect((await post(path, [{ t: last + 0.5, d: 'x' }])).status).toBe(200);
    all.push({ t: last + 0.5, d: 'x' });
    await expectStream(path, all);
  });

  it('deletes a time range: t1 exclusive, t2 inclusive, t2 absent = to the end', async () => {
    let all = pts(2100, 0);
    await post(path, all);
    await del(path, `t1=${all[100].t}&t2=${all[1200].t}`);
    all = [...all.slice(0, 101), ...all.slice(1201)];
    await expectStream(path, all);
    await del(path, `t1=${all[800].t}`);
    all = all.slice(0, 801);
    await expectStream(path, all);
  });

  it('downlink=true deletes only the downlink', async () => {
    const main = pts(1500, 0);
    const down = pts(1500, 0, 5000);
    await post(path, main);
    await post(path, down, '?downlink=true');
    await del(path, 'i1=0&i2=1000&downlink=true');
    await expectStream(path, main);
    await expectStream(path, down.slice(1000), '&downlink=true');
  });

  it('is refused to those who may not delete the stream, and changes nothing', async () => {
    const all = pts(1200, 0);
    await post(path, all);
    const r = await del(path, 'i1=0&i2=10', bob);
    expect(r.status).toBe(403);
    expect(typeof r.body.ref).toBe('string');
    await expectStream(path, all);
  });

  it('answers bad ranges like reads do', async () => {
    await post(path, pts(10, 0));
    expect((await del(path, 'i1=x&i2=3')).status).toBe(400);
    const r = await del(path, 'i1=5&i2=2');
    expect(r.status).toBe(403);
    expect(r.body.msg).toBe('Invalid index range.');
    expect((await del(path, 'i1=3&i2=3')).status).toBe(200);
    expect((await get(path, 'q=length')).text).toBe('10');
  });

  it('sends subscribers nothing and records the delete in the meta log', async () => {
    await post(path, pts(30, 0));
    const seen: unknown[] = [];
    const off = t.services.core.bus.subscribe(`alice/user/${stream}`, (b) => seen.push(b));
    await del(path, 'i1=0&i2=5');
    off();
    expect(seen).toEqual([]);
    const log = await get('/api/v1/crud/alice/meta/log', 'i1=-1&i2=0');
    expect(log.body[0].d).toEqual({ cmd: 'DeleteDatapoints', arg: `alice/user/${stream}?i1=0&i2=5` });
  });

  it('matches a model under random inserts and deletes', async () => {
    let seed = 7;
    const rnd = (k: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % k;
    };
    let model: P[] = [];
    let tNext = 1;
    for (let step = 0; step < 30; step++) {
      if (model.length === 0 || rnd(3) > 0) {
        const count = 1 + rnd(rnd(2) ? 40 : 1500);
        const batch = Array.from({ length: count }, (_, i) => ({ t: tNext + Math.floor(i / 3), d: rnd(2) ? step * 10000 + i : { s: `${step}/${i}` } }));
        tNext = batch[batch.length - 1].t + 1;
        expect((await post(path, batch)).status).toBe(200);
        model = [...model, ...batch];
      } else {
        const a = rnd(model.length);
        const b = a + rnd(model.length - a) + 1;
        expect((await del(path, `i1=${a}&i2=${b}`)).status).toBe(200);
        model = [...model.slice(0, a), ...model.slice(b)];
        if (model.length) tNext = Math.max(tNext, model[model.length - 1].t);
      }
      await expectStream(path, model);
    }
  });
});
