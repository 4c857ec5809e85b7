import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, createUser, keyAuth, makeApp } from '../helpers';
import { parseTime } from '../../src/http/csv';

let t: TestApp;
let key: string;
let otherKey: string;
const AUTH = () => keyAuth(key);
let n = 0;

async function stream(points: unknown[], schema = '{}'): Promise<string> {
  const p = `/api/v1/crud/csv/user/s${++n}`;
  expect((await t.http.post(p).set('Authorization', AUTH()).send({ schema })).status).toBe(200);
  if (points.length) {
    const r = await t.http.post(`${p}/data`).set('Authorization', AUTH()).send(points);
    expect(r.status, r.text).toBe(200);
  }
  return p;
}
const getCsv = (p: string, q: string) => t.http.get(`${p}/data.csv?${q}`).set('Authorization', AUTH()).buffer(true).parse((res, cb) => {
  let s = '';
  res.setEncoding('utf8');
  res.on('data', (c: string) => (s += c));
  res.on('end', () => cb(null, s));
});
const upload = (p: string, csv: string, auth = AUTH(), method: 'post' | 'put' = 'post') =>
  t.http[method](`${p}/data.csv`).set('Authorization', auth).set('Content-Type', 'text/csv').send(csv);
const json = async (p: string) => (await t.http.get(`${p}/data?i1=0&i2=0`).set('Authorization', AUTH())).body as { t: number; d: unknown }[];

beforeAll(async () => {
  t = await makeApp();
  key = await createUser(t, 'csv');
  otherKey = await createUser(t, 'other');
});
afterAll(() => t.close());

describe('GET …/data.csv', () => {
  it('writes time (ISO 8601), t (seconds) and d, with a header row and CRLF lines', async () => {
    const p = await stream([{ t: 1700000000.5, d: 21.5 }, { t: 1700000001, d: 'a, "quoted"\nline' }, { t: 1700000002, d: null }]);
    const r = await getCsv(p, 'i1=0&i2=0');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(r.headers['content-disposition']).toBe(`attachment; filename="s${n}.csv"`);
    expect(r.body).toBe(
      'time,t,d\r\n' +
        '2023-11-14T22:13:20.500Z,1700000000.5,21.5\r\n' +
        '2023-11-14T22:13:21.000Z,1700000001,"a, ""quoted""\nline"\r\n' +
        '2023-11-14T22:13:22.000Z,1700000002,\r\n',
    );
  });

  it('flattens objects into one d.<field> column per field, found over the whole range', async () => {
    // The field "late" first appears after the 2,000-datapoint sample.
    const pts: { t: number; d: Record<string, unknown> }[] = Array.from({ length: 2500 }, (_, i) => ({ t: i + 1, d: { a: i, b: i % 2 === 0 } }));
    pts[2400].d.late = 'x';
    pts[3].d.nested = { k: [1, 2] };
    const p = await stream([]);
    for (let k = 0; k < pts.length; k += 1000) expect((await t.http.post(`${p}/data`).set('Authorization', AUTH()).send(pts.slice(k, k + 1000))).status).toBe(200);
    const lines = (await getCsv(p, 'i1=0&i2=0')).body.split('\r\n');
    expect(lines[0]).toBe('time,t,d.a,d.b,d.nested,d.late');
    expect(lines[1]).toBe('1970-01-01T00:00:01.000Z,1,0,true,,');
    expect(lines[4]).toBe('1970-01-01T00:00:04.000Z,4,3,false,"{""k"":[1,2]}",');
    expect(lines[2401]).toBe('1970-01-01T00:40:01.000Z,2401,2400,true,,x');
    expect(lines).toHaveLength(2502);
  });

  it('takes the range, transform and downlink parameters of /data', async () => {
    const p = await stream(Array.from({ length: 10 }, (_, i) => ({ t: i + 1, d: i + 1 })));
    const r = await getCsv(p, `t1=3&t2=6&transform=${encodeURIComponent('$ * 10')}`);
    expect(r.body).toBe('time,t,d\r\n1970-01-01T00:00:04.000Z,4,40\r\n1970-01-01T00:00:05.000Z,5,50\r\n1970-01-01T00:00:06.000Z,6,60\r\n');
    expect((await getCsv(p, 'i1=-1&i2=0')).body).toBe('time,t,d\r\n1970-01-01T00:00:10.000Z,10,10\r\n');
    expect((await getCsv(p, 'i1=0&i2=0&downlink=true')).body).toBe('time,t,d\r\n');
  });

  it('with downsample writes one row per bucket', async () => {
    const p = await stream(Array.from({ length: 10 }, (_, i) => ({ t: i + 1, d: i + 1 })));
    const r = await getCsv(p, 't1=0.5&t2=10.5&downsample=2');
    expect(r.body).toBe('time,t,d.min,d.max,d.mean,d.count\r\n1970-01-01T00:00:00.500Z,0.5,1,5,3,5\r\n1970-01-01T00:00:05.500Z,5.5,6,10,8,5\r\n');
  });

  it('answers the errors of /data as error bodies', async () => {
    const p = await stream([{ t: 1, d: 1 }]);
    const noRange = await getCsv(p, '');
    expect(noRange.status).toBe(400);
    expect(JSON.parse(noRange.body).msg).toMatch(/^A range needs/);
    const bad = await getCsv(p, 'i1=0&i2=0&transform=' + encodeURIComponent('((('));
    expect(bad.status).toBe(403);
    const missing = await getCsv('/api/v1/crud/csv/user/nope', 'i1=0&i2=0');
    expect(missing.status).toBe(403);
    expect(JSON.parse(missing.body).msg).toBe('The requested stream was not found.');
  });

  it('streams a large answer', async () => {
    const p = await stream([]);
    const N = 30000;
    for (let k = 0; k < N; k += 5000) {
      const body = Array.from({ length: 5000 }, (_, i) => ({ t: 1 + k + i, d: k + i }));
      expect((await t.http.post(`${p}/data`).set('Authorization', AUTH()).send(body)).status).toBe(200);
    }
    const a = t.app.server.address();
    const port = typeof a === 'object' && a ? a.port : 0;
    const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
      http.get({ host: '127.0.0.1', port, path: `${p}/data.csv?i1=0&i2=0`, headers: { authorization: AUTH() } }, resolve).on('error', reject),
    );
    expect(res.headers['transfer-encoding']).toBe('chunked');
    let text = '';
    for await (const c of res) text += c;
    expect(text.split('\r\n')).toHaveLength(N + 2);
  });
});

describe('POST …/data.csv', () => {
  it('inserts rows with seconds or ISO 8601 times and answers ok', async () => {
    const p = await stream([], '{"type":"number"}');
    const r = await upload(p, 't,d\n10,1.5\n2023-11-14T22:13:20Z,2\n2023-11-14T23:13:20.25+01:00,3\n2023-11-15 00:00,4\n');
    expect(r.status, r.text).toBe(200);
    expect(r.text).toBe('ok');
    expect(await json(p)).toEqual([
      { t: 10, d: 1.5 },
      { t: 1700000000, d: 2 },
      { t: 1700000000.25, d: 3 },
      { t: 1700006400, d: 4 },
    ]);
  });

  it('reads back what GET …/data.csv wrote (time column ignored when t is present), objects through d.<field>', async () => {
    const src = await stream([{ t: 1, d: { temp: 20.5, label: 'a,b', ok: true } }, { t: 2, d: { temp: 21 } }]);
    const csv = (await getCsv(src, 'i1=0&i2=0')).body;
    const dst = await stream([], '{"type":"object","properties":{"temp":{"type":"number"},"label":{"type":"string"},"ok":{"type":"boolean"}}}');
    expect((await upload(dst, csv)).status).toBe(200);
    expect(await json(dst)).toEqual([
      { t: 1, d: { temp: 20.5, label: 'a,b', ok: true } },
      { t: 2, d: { temp: 21 } },
    ]);
  });

  it('types cells from the schema: a string stream keeps "42" a string, an untyped stream reads JSON', async () => {
    const s = await stream([], '{"type":"string"}');
    expect((await upload(s, 't,d\n1,42\n2,hello\n')).status).toBe(200);
    expect(await json(s)).toEqual([{ t: 1, d: '42' }, { t: 2, d: 'hello' }]);
    const u = await stream([]);
    expect((await upload(u, 't,d\n1,42\n2,hello\n3,true\n4,"{""a"":1}"\n5,\n')).status).toBe(200);
    expect(await json(u)).toEqual([{ t: 1, d: 42 }, { t: 2, d: 'hello' }, { t: 3, d: true }, { t: 4, d: { a: 1 } }, { t: 5 }]);
  });

  it('is all-or-nothing: a bad line stores nothing and the error names the line', async () => {
    const p = await stream([], '{"type":"number"}');
    const cases: [string, number, RegExp][] = [
      ['t,d\n1,1\n2,2\nnot-a-time,3\n', 400, /^line 4: the time "not-a-time" is neither seconds since 1970 nor ISO 8601$/],
      ['t,d\n1,1\n2,abc\n', 400, /^line 3: column "d" must be a number, not "abc"$/],
      ['t,d\n1,1\n2,2,3\n', 400, /^line 3: /],
      ['t,d\n5,1\n4,2\n', 403, /^line 3: timestamps are not ordered/],
      ['x,d\n1,1\n', 400, /^line 1: the header row needs a time column/],
      ['t,v\n1,1\n', 400, /^line 1: the header row needs a value column/],
      ['t,d\n1,"open quote\n', 400, /^line \d+: /],
      ['', 400, /^The CSV file is empty/],
    ];
    for (const [csv, status, msg] of cases) {
      const r = await upload(p, csv);
      expect(r.status, csv).toBe(status);
      expect(Object.keys(r.body)).toEqual(['code', 'msg', 'ref']);
      expect(r.body.msg, csv).toMatch(msg);
    }
    expect(await json(p)).toEqual([]);
  });

  it('validates every row against the stream schema and names the first failing line', async () => {
    const p = await stream([], '{"type":"object","properties":{"v":{"type":"number","minimum":0}},"required":["v"]}');
    const r = await upload(p, 't,d.v\n1,1\n2,-5\n3,2\n');
    expect(r.status).toBe(403);
    expect(r.body.msg).toBe("line 3: the value does not conform to the stream's schema");
    expect(await json(p)).toEqual([]);
  });

  it('keeps the insert rules: older than stored is refused by POST and restamped by PUT', async () => {
    const p = await stream([{ t: 100, d: 1 }]);
    const r = await upload(p, 't,d\n50,2\n');
    expect(r.status).toBe(403);
    expect(r.body.msg).toBe('Greater timestamp already exists for the stream. Insert Failed.');
    expect((await upload(p, 't,d\n50,2\n', AUTH(), 'put')).status).toBe(200);
    expect(await json(p)).toEqual([{ t: 100, d: 1 }, { t: 100, d: 2 }]);
  });

  it('checks write access before reading the file', async () => {
    const p = await stream([]);
    const r = await upload(p, 't,d\n1,1\n', keyAuth(otherKey));
    expect(r.status).toBe(403);
    expect(r.body.msg).toMatch(/denied|Can't access/);
  });

  it('refuses a file over insert_limit_bytes with 413', async () => {
    const small = await makeApp((c) => {
      c.insert_limit_bytes = 1000;
    });
    try {
      const k = await createUser(small, 'lim');
      expect((await small.http.post('/api/v1/crud/lim/user/s').set('Authorization', keyAuth(k)).send({})).status).toBe(200);
      const body = 't,d\n' + Array.from({ length: 500 }, (_, i) => `${i + 1},${i}`).join('\n');
      const r = await small.http.post('/api/v1/crud/lim/user/s/data.csv').set('Authorization', keyAuth(k)).send(body);
      expect(r.status).toBe(413);
      expect(r.body.msg).toBe('The CSV file is larger than the limit of 1000 bytes');
      expect((await small.http.get('/api/v1/crud/lim/user/s/data?q=length').set('Authorization', keyAuth(k))).text).toBe('0');
    } finally {
      await small.close();
    }
  });

  it('a client that goes away mid-upload stores nothing and stalls nothing', async () => {
    const p = await stream([], '{"type":"number"}');
    const a = t.app.server.address();
    const port = typeof a === 'object' && a ? a.port : 0;
    await new Promise<void>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: `${p}/data.csv`, headers: { authorization: AUTH(), 'transfer-encoding': 'chunked' } });
      req.on('error', () => resolve());
      req.write('t,d\n1,1\n2,2\n');
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 200);
    });
    expect((await t.http.get('/api/v1/meta/version')).status).toBe(200);
    expect((await t.http.get(`${p}/data?q=length`).set('Authorization', AUTH())).text).toBe('0');
    expect((await upload(p, 't,d\n1,1\n')).status).toBe(200);
  });

  it('parses a large upload as a stream', async () => {
    const p = await stream([], '{"type":"number"}');
    const N = 100000;
    let body = 't,d\n';
    for (let i = 0; i < N; i++) body += `${1000 + i},${i % 1000}\n`;
    const r = await upload(p, body);
    expect(r.status, r.text).toBe(200);
    expect((await t.http.get(`${p}/data?q=length`).set('Authorization', AUTH())).text).toBe(String(N));
  });
});

describe('POST /api/v1/query/dataset.csv', () => {
  it('writes a T-dataset with one column per dataset column', async () => {
    const p = await stream([{ t: 1, d: 73 }, { t: 4, d: 84 }, { t: 7, d: 81 }]);
    const path = p.replace('/api/v1/crud/', '');
    const r = await t.http
      .post('/api/v1/query/dataset.csv')
      .set('Authorization', AUTH())
      .send({ t1: 0, t2: 8.1, dt: 2, dataset: { temperature: { stream: path, interpolator: 'closest' } } });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(r.text).toBe(
      'time,t,d.temperature\r\n' +
        '1970-01-01T00:00:00.000Z,0,73\r\n' +
        '1970-01-01T00:00:02.000Z,2,73\r\n' +
        '1970-01-01T00:00:04.000Z,4,84\r\n' +
        '1970-01-01T00:00:06.000Z,6,81\r\n' +
        '1970-01-01T00:00:08.000Z,8,81\r\n',
    );
  });

  it('answers the dataset errors as error bodies', async () => {
    const r = await t.http.post('/api/v1/query/dataset.csv').set('Authorization', AUTH()).send({ t1: 0, t2: 10, dt: 1 });
    expect(r.status).toBe(403);
    expect(r.body.msg).toBe('The dataset query must have a dataset!');
    const bad = await t.http.post('/api/v1/query/dataset.csv').set('Authorization', AUTH()).send('[1');
    expect(bad.status).toBe(400);
  });
});

describe('parseTime', () => {
  it.each([
    ['1700000000', 1700000000],
    ['1700000000.125', 1700000000.125],
    ['2023-11-14T22:13:20Z', 1700000000],
    ['2023-11-14T22:13:20.125Z', 1700000000.125],
    ['2023-11-14T23:13:20+0100', 1700000000],
    ['2023-11-14 22:13:20', 1700000000],
    ['2023-11-14', 1699920000],
  ])('%s → %d', (s, v) => expect(parseTime(s)).toBeCloseTo(v, 6));
  it.each(['', 'yesterday', '2023-13-45', '14/11/2023'])('%s is not a time', (s) => expect(parseTime(s)).toBeNaN());
});
