import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Datapoint, datapointToJSON, parseScript } from '../../src/pipescript';
import { type TestApp, createUser, keyAuth, makeApp, onPostgres } from '../helpers';

// "No request may stall the others": a long read whose output stays empty (a filter that drops
// everything, a reduction, a dataset whose posttransform drops every row) gives the event loop a
// turn on a time budget, not only when it has output to write. Each test starts the long request,
// waits until the server is reading it, then sends a short one, which must be answered while the
// long one is still running; the long one still answers exactly what it answered before.
// Nothing is timed: only the order in which the two finish is compared.

/** Big enough that each long request below runs for a good while on a loaded 2-core machine. */
const N = onPostgres ? 600_000 : 1_000_000;
const BATCH = 10_000;

let t: TestApp;
let key: string;
const AUTH = () => keyAuth(key);
const BIG = '/api/v1/crud/lena/user/big';
const SMALL = '/api/v1/crud/lena/user/small';
const OTHER = '/api/v1/crud/lena/user/other';
const value = (i: number) => i % 100;
const bigPoints = (): Datapoint[] => Array.from({ length: N }, (_, i) => ({ t: 1 + i, d: value(i) }));
const SMALL_POINTS: Datapoint[] = [
  { t: 0.5, d: 'a' },
  { t: N / 2 + 0.5, d: 'b' },
  { t: N + 5, d: 'c' },
];

async function create(path: string): Promise<void> {
  const r = await t.http.post(path).set('Authorization', AUTH()).send({ schema: '{}' });
  expect(r.status, r.text).toBe(200);
}

async function insert(path: string, points: Datapoint[]): Promise<void> {
  const r = await t.http.post(`${path}/data`).set('Authorization', AUTH()).send(points);
  expect(r.status, r.text).toBe(200);
}

/** What the pipeline answers for `script` over `input`, computed by the library in one go. */
function expected(script: string, input: Datapoint[]): string {
  const out = parseScript(script).runArray(input);
  return out.length === 0 ? '[]' : '[' + out.map((dp) => datapointToJSON({ t: dp.t, d: dp.d })).join(',') + ']';
}

interface Long {
  done: () => boolean;
  answer: Promise<{ status: number; text: string }>;
}

/** Starts `send` and resolves once the server has begun reading datapoints for it. */
async function startLong(send: () => PromiseLike<{ status: number; text: string }>): Promise<Long> {
  const counters = t.services.core.counters;
  const before = counters.datapointsRead;
  let finished = false;
  const answer = Promise.resolve(send()).then((r) => {
    finished = true;
    return { status: r.status, text: r.text };
  });
  // Polled with timers: while a read held the event loop, this would only see it once it ended.
  while (counters.datapointsRead === before && !finished) await new Promise((r) => setTimeout(r, 1));
  return { done: () => finished, answer };
}

const getData = (path: string, q: string) => () => t.http.get(`${path}/data?${q}`).set('Authorization', AUTH());
const post = (path: string, body: unknown) => () => t.http.post(path).set('Authorization', AUTH()).send(body as object);
const ping = () => t.http.get('/api/v1/meta/version');

beforeAll(async () => {
  t = await makeApp();
  key = await createUser(t, 'lena');
  await create(BIG);
  await create(SMALL);
  await create(OTHER);
  const pts = bigPoints();
  for (let i = 0; i < N; i += BATCH) await insert(BIG, pts.slice(i, i + BATCH));
  await insert(SMALL, SMALL_POINTS);
}, 120_000);
afterAll(async () => {
  await t?.close();
});

/** A ping sent while `long` runs is answered before it ends; then `long` answers `text`. */
async function pingAnsweredFirst(long: Long, text: string): Promise<void> {
  const r = await ping();
  expect(r.status).toBe(200);
  expect(long.done()).toBe(false);
  const a = await long.answer;
  expect(a.status).toBe(200);
  expect(a.text).toBe(text);
}

describe('a long read that outputs nothing for a long while does not hold up other requests', () => {
  it('answers meta/version while a filter that drops every datapoint of the stream runs, and the filter still answers []', async () => {
    const long = await startLong(getData(BIG, `i1=0&i2=0&transform=${encodeURIComponent('if $ > 1000')}`));
    await pingAnsweredFirst(long, '[]');
  });

  it('answers a single insert into another stream while a filtered reduction of the stream runs, and the reduction answers what the library computes', async () => {
    const script = 'if $ >= 99 | sum | if last';
    const long = await startLong(getData(BIG, `i1=0&i2=0&transform=${encodeURIComponent(script)}`));
    await insert(OTHER, [{ t: Date.now() / 1000, d: 1 }]);
    expect(long.done()).toBe(false);
    const a = await long.answer;
    expect(a.status).toBe(200);
    expect(a.text).toBe(expected(script, bigPoints()));
  });

  it('answers meta/version while a map that splits the stream into two counts runs, and the map answers what the library computes', async () => {
    const script = 'map($ > 50, count)';
    const long = await startLong(getData(BIG, `i1=0&i2=${N}&transform=${encodeURIComponent(script)}`));
    await pingAnsweredFirst(long, expected(script, bigPoints()));
  });

  it('reads the range it planned exactly while the same stream is written during its pauses', async () => {
    const script = 'if $ >= 98 | count | if last';
    const long = await startLong(getData(BIG, `i1=0&i2=${N}&transform=${encodeURIComponent(script)}`));
    // Enough datapoints to seal a chunk of the tail while the read is between two of its slices.
    const extra = Array.from({ length: 2500 }, (_, i) => ({ t: N + 10 + i, d: 99 }));
    await insert(BIG, extra);
    expect(long.done()).toBe(false);
    const a = await long.answer;
    expect(a.status).toBe(200);
    expect(a.text).toBe(expected(script, bigPoints()));
    const len = await t.http.get(`${BIG}/data?q=length`).set('Authorization', AUTH());
    expect(len.text).toBe(String(N + extra.length));
  });

  it('answers meta/version while a CSV download whose transform drops everything runs, and the CSV is the header alone, as for a stream whose transform drops its few datapoints', async () => {
    const q = `i1=0&i2=${N}&transform=${encodeURIComponent('if $ > 1000')}`;
    const long = await startLong(() => t.http.get(`${BIG}/data.csv?${q}`).set('Authorization', AUTH()));
    const r = await ping();
    expect(r.status).toBe(200);
    expect(long.done()).toBe(false);
    const a = await long.answer;
    expect(a.status).toBe(200);
    const empty = await t.http.get(`${OTHER}/data.csv?i1=0&i2=0&transform=${encodeURIComponent('if $ > 1000')}`).set('Authorization', AUTH());
    expect(a.text).toBe(empty.text);
  });

  it('answers meta/version while a merge whose big element drops everything runs, and the merge answers the small element', async () => {
    const long = await startLong(post('/api/v1/query/merge', [{ stream: 'lena/user/big', i1: 0, i2: N, transform: 'if $ > 1000' }, { stream: 'lena/user/small' }]));
    await pingAnsweredFirst(long, JSON.stringify(SMALL_POINTS));
  });

  it('answers meta/version while an X-dataset whose reference drops everything runs, and the dataset answers []', async () => {
    const long = await startLong(
      post('/api/v1/query/dataset', { stream: 'lena/user/big', i1: 0, i2: N, transform: 'if $ > 1000', dataset: { s: { stream: 'lena/user/small', interpolator: 'closest' } } }),
    );
    await pingAnsweredFirst(long, '[]');
  });

  it('answers meta/version while a T-dataset column whose transform drops everything is read, and the dataset answers its rows of nulls', async () => {
    const long = await startLong(
      post('/api/v1/query/dataset', { t1: 1, t2: 101, dt: 1, dataset: { a: { stream: 'lena/user/big', i1: 0, i2: N, transform: 'if $ > 1000', interpolator: 'closest' } } }),
    );
    await pingAnsweredFirst(long, JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ t: 1 + i, d: { a: null } }))));
  });

  it('answers meta/version while a T-dataset whose posttransform drops every row runs, and the dataset answers []', async () => {
    const long = await startLong(
      post('/api/v1/query/dataset', { t1: 1, t2: N, dt: 1, dataset: { a: { stream: 'lena/user/big', interpolator: 'closest' } }, posttransform: 'if $("a") > 1000' }),
    );
    await pingAnsweredFirst(long, '[]');
  });

  it('stops reading once the client of a long read that output nothing yet went away, and keeps serving others', async () => {
    const counters = t.services.core.counters;
    const before = counters.datapointsRead;
    const { port } = t.app.server.address() as AddressInfo;
    const req = http.get({ host: '127.0.0.1', port, path: `${BIG}/data?i1=0&i2=${N}&transform=${encodeURIComponent('if $ > 1000')}`, headers: { Authorization: AUTH() } });
    req.on('error', () => {});
    while (counters.datapointsRead === before) await new Promise((r) => setTimeout(r, 1));
    req.destroy();
    // Long enough for the whole read to finish had it gone on; the server notices at its next pause.
    let last = -1;
    while (counters.datapointsRead !== last) {
      last = counters.datapointsRead;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(counters.datapointsRead - before).toBeLessThan(N);
    expect((await ping()).status).toBe(200);
  });
});
