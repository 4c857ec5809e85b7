import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, createUser, keyAuth, makeApp } from '../helpers';

/*
 * The README's Grafana recipe, request by request, as the Infinity data source sends it: its
 * "Basic authentication" (empty user, the API key as password), its "API key" form (a header or
 * the apikey query parameter), and URLs after Grafana interpolated ${__from:date:seconds} etc.
 */

let t: TestApp;
let key: string;
const FROM = 1700000000; // ${__from:date:seconds}
const TO = FROM + 3600; // ${__to:date:seconds}

beforeAll(async () => {
  t = await makeApp();
  key = await createUser(t, 'graf');
  const s = '/api/v1/crud/graf/user';
  expect((await t.http.post(`${s}/temp`).set('Authorization', keyAuth(key)).send({ schema: '{"type":"number"}' })).status).toBe(200);
  expect((await t.http.post(`${s}/env`).set('Authorization', keyAuth(key)).send({ schema: '{}' })).status).toBe(200);
  expect((await t.http.post(`${s}/door`).set('Authorization', keyAuth(key)).send({ schema: '{"type":"boolean"}' })).status).toBe(200);
  const temp = Array.from({ length: 3600 }, (_, i) => ({ t: FROM + i, d: 20 + Math.sin(i / 600) }));
  temp[1800].d = 99; // a spike the chart must show
  expect((await t.http.post(`${s}/temp/data`).set('Authorization', keyAuth(key)).send(temp)).status).toBe(200);
  const env = Array.from({ length: 60 }, (_, i) => ({ t: FROM + i * 60, d: { temperature: 20 + i / 10, humidity: 40 + (i % 5) } }));
  expect((await t.http.post(`${s}/env/data`).set('Authorization', keyAuth(key)).send(env)).status).toBe(200);
  const door = Array.from({ length: 10 }, (_, i) => ({ t: FROM + i * 300, d: i % 2 === 0 }));
  expect((await t.http.post(`${s}/door/data`).set('Authorization', keyAuth(key)).send(door)).status).toBe(200);
});
afterAll(() => t.close());

const auths = () => ({
  'Basic authentication (user empty, password = API key)': (r: ReturnType<TestApp['http']['get']>) => r.set('Authorization', 'Basic ' + Buffer.from(':' + key).toString('base64')),
  'API key in header Authorization: Basic <base64(:key)>': (r: ReturnType<TestApp['http']['get']>) => r.set('Authorization', `Basic ${Buffer.from(`:${key}`).toString('base64')}`),
  'API key in query apikey=<key>': (r: ReturnType<TestApp['http']['get']>) => r.query({ apikey: key }),
});

describe('Grafana Infinity recipe', () => {
  it.each(Object.keys(auths()))('the data source health check (GET /api/v1/?q=this) passes with %s', async (name) => {
    const r = await auths()[name as keyof ReturnType<typeof auths>](t.http.get('/api/v1/?q=this'));
    expect(r.status).toBe(200);
    expect(r.text).toBe('graf/user');
  });

  it('time series: the downsampled read over the dashboard range keeps the spike and the time in seconds', async () => {
    const r = await t.http.get(`/api/v1/crud/graf/user/temp/data?t1=${FROM}&t2=${TO}&downsample=1000`).set('Authorization', keyAuth(key));
    expect(r.status).toBe(200);
    const rows = r.body as { t: number; d: { min: number; max: number; mean: number; count: number } }[];
    expect(rows.length).toBeLessThanOrEqual(1000);
    expect(rows.length).toBeGreaterThan(900);
    expect(rows[0].t).toBe(FROM);
    expect(Math.max(...rows.map((x) => x.d.max))).toBe(99);
    expect(rows.every((x) => typeof x.d.mean === 'number')).toBe(true);
  });

  it('several series: an object field through transform, as CSV with an ISO time column', async () => {
    const r = await t.http.get(`/api/v1/crud/graf/user/env/data.csv?t1=${FROM}&t2=${TO}`).set('Authorization', keyAuth(key));
    expect(r.status).toBe(200);
    const lines = r.text.trim().split('\r\n');
    expect(lines[0]).toBe('time,t,d.temperature,d.humidity');
    expect(lines[1]).toBe('2023-11-14T22:14:20.000Z,1700000060,20.1,41');
    const one = await t.http
      .get(`/api/v1/crud/graf/user/env/data?t1=${FROM}&t2=${TO}&downsample=10&transform=${encodeURIComponent('$["humidity"]')}`)
      .set('Authorization', keyAuth(key));
    expect(one.body[0].d).toEqual({ min: 40, max: 44, mean: 42, count: 5 });
  });

  it('stat: the latest value', async () => {
    const r = await t.http.get('/api/v1/crud/graf/user/temp/data?i1=-1&i2=0').set('Authorization', keyAuth(key));
    expect(r.body).toEqual([{ t: FROM + 3599, d: 20 + Math.sin(3599 / 600) }]);
  });

  it('state timeline: booleans as raw datapoints', async () => {
    const r = await t.http.get(`/api/v1/crud/graf/user/door/data.csv?t1=${FROM - 1}&t2=${TO}`).set('Authorization', keyAuth(key));
    expect(r.text.split('\r\n').slice(0, 3)).toEqual(['time,t,d', '2023-11-14T22:13:20.000Z,1700000000,true', '2023-11-14T22:18:20.000Z,1700000300,false']);
  });

  it('table of a T-dataset: POST /api/v1/query/dataset.csv with the range in the body', async () => {
    const r = await t.http
      .post('/api/v1/query/dataset.csv')
      .set('Authorization', keyAuth(key))
      .set('Content-Type', 'application/json')
      .send(`{"t1":${FROM},"t2":${TO},"dt":600,"dataset":{"temp":{"stream":"graf/user/temp","interpolator":"mean"},"humidity":{"stream":"graf/user/env","transform":"$[\\"humidity\\"]","interpolator":"closest"}}}`);
    expect(r.status, r.text).toBe(200);
    const lines = r.text.trim().split('\r\n');
    expect(lines[0]).toBe('time,t,d.humidity,d.temp');
    expect(lines).toHaveLength(7);
  });
});
