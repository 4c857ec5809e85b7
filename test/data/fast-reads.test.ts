import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHUNK_POINTS } from '../../src/storage/sqlite/chunked';
import { type TestApp, createUser, keyAuth, makeApp } from '../helpers';

// The read paths that skip work (reductions from typed arrays, range reads written as bytes)
// must answer exactly what the general paths answer, on chunks of every kind side by side.

let t: TestApp;
let key: string;
const AUTH = () => keyAuth(key);
let n = 0;

const get = (p: string, q: string) => t.http.get(`${p}/data?${q}`).set('Authorization', AUTH());
/** An answer's body with the error reference (a fresh UUID per answer) blanked. */
const text = (r: { text: string }) => r.text.replace(/"ref":"[^"]*"/, '"ref":""');

async function stream(): Promise<string> {
  const p = `/api/v1/crud/dora/user/f${++n}`;
  expect((await t.http.post(p).set('Authorization', AUTH()).send({ schema: '{}' })).status).toBe(200);
  return p;
}

async function post(p: string, points: { t: number; d: unknown }[]): Promise<void> {
  for (let i = 0; i < points.length; i += 5000) {
    const r = await t.http.post(`${p}/data`).set('Authorization', AUTH()).send(points.slice(i, i + 5000));
    expect(r.status, r.text).toBe(200);
  }
}

/** A deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Numbers of many shapes: 2-decimal walks, ints, -0, huge and tiny magnitudes, arbitrary doubles. */
function value(r: () => number, i: number): number {
  switch (i % 7) {
    case 0:
      return Math.round(r() * 10000 - 5000) / 100;
    case 1:
      return Math.round(r() * 1e6);
    case 2:
      return r() < 0.5 ? -0 : 0;
    case 3:
      return (r() - 0.5) * 1e300;
    case 4:
      return r() * 1e-300;
    case 5:
      return r() - 0.5;
    default:
      return -Math.round(r() * 1e15);
  }
}

/**
 * A stream whose chunks are numeric, numeric with arbitrary doubles, strings that convert to
 * numbers, objects and booleans (text chunks), and a tail of rows; timestamps in ms with jitter,
 * some equal.
 */
async function mixed(seed: number, numericOnly = false): Promise<{ p: string; times: number[] }> {
  const r = rng(seed);
  const p = await stream();
  const points: { t: number; d: unknown }[] = [];
  let tm = 1_600_000_000_000;
  const kinds = numericOnly ? ['walk', 'doubles', 'walk', 'doubles'] : ['walk', 'strings', 'doubles', 'objects', 'walk', 'bools', 'walk'];
  for (const kind of kinds) {
    for (let i = 0; i < CHUNK_POINTS; i++) {
      tm += r() < 0.05 ? 0 : 1000 + Math.round((r() - 0.5) * 100);
      let d: unknown;
      if (kind === 'walk') d = Math.round((r() - 0.5) * 4000) / 100;
      else if (kind === 'doubles') d = value(r, i);
      else if (kind === 'strings') d = String(Math.round(r() * 1000) / 10);
      else if (kind === 'objects') d = { x: Math.round(r() * 100) / 10, s: 'é' };
      else d = r() < 0.5;
      points.push({ t: tm / 1000, d });
    }
  }
  for (let i = 0; i < 321; i++) {
    tm += 997;
    points.push({ t: tm / 1000, d: value(r, i) });
  }
  await post(p, points);
  return { p, times: points.map((x) => x.t) };
}

beforeAll(async () => {
  t = await makeApp();
  key = await createUser(t, 'dora', 'pw', { public: false });
});
afterAll(() => t.close());

describe('reductions read from typed arrays', () => {
  const ranges = (len: number, times: number[]) => [
    'i1=0&i2=0',
    `i1=17&i2=${CHUNK_POINTS + 3}`,
    `i1=${CHUNK_POINTS}&i2=${2 * CHUNK_POINTS}`,
    `i1=${len - 400}&i2=0`,
    `i1=${len - 5}&i2=${len - 5}`,
    `t1=${times[1500]}&t2=${times[2800]}`,
    `t1=${times[len - 1200]}&t2=${times[len - 3]}`,
    `t1=${times[10]}&limit=3`,
  ];

  it('answer byte for byte what the general pipeline answers, numeric chunks beside text chunks and tail rows', async () => {
    const { p, times } = await mixed(7);
    for (const q of ranges(times.length, times)) {
      for (const kind of ['sum', 'mean', 'count', 'min', 'max']) {
        // `$ | X | if last` is the same script with one more stage: it never takes the fast path.
        const fast = await get(p, `${q}&transform=${encodeURIComponent(`${kind} | if last`)}`);
        const slow = await get(p, `${q}&transform=${encodeURIComponent(`$ | ${kind} | if last`)}`);
        expect(fast.status, `${kind} ${q}`).toBe(slow.status);
        expect(text(fast), `${kind} ${q}`).toBe(text(slow));
        expect(fast.headers['content-type']).toBe(slow.headers['content-type']);
      }
    }
  });

  it('answer the general pipeline answer on numeric-only data with extreme magnitudes, -0 and ints', async () => {
    const { p, times } = await mixed(11, true);
    for (const q of ranges(times.length, times)) {
      for (const kind of ['sum', 'mean', 'count', 'min', 'max']) {
        const fast = await get(p, `${q}&transform=${encodeURIComponent(`${kind}|if last`)}`);
        const slow = await get(p, `${q}&transform=${encodeURIComponent(`$ | ${kind} | if last`)}`);
        expect(fast.status, `${kind} ${q}`).toBe(200);
        expect(fast.text, `${kind} ${q}`).toBe(slow.text);
      }
    }
  });

  it('fail like the general pipeline on a value that is no number', async () => {
    const p = await stream();
    await post(p, [
      ...Array.from({ length: CHUNK_POINTS }, (_, i) => ({ t: 1 + i, d: i })),
      { t: 5000, d: 'not a number' },
      { t: 5001, d: 3 },
    ]);
    for (const kind of ['sum', 'mean', 'min', 'max']) {
      const fast = await get(p, `i1=0&i2=0&transform=${encodeURIComponent(`${kind} | if last`)}`);
      const slow = await get(p, `i1=0&i2=0&transform=${encodeURIComponent(`$ | ${kind} | if last`)}`);
      expect(fast.status).toBe(500);
      expect(text(fast)).toBe(text(slow));
      expect(fast.body.msg).toBe("Could not convert 'not a number' to Float");
    }
    expect((await get(p, `i1=0&i2=0&transform=${encodeURIComponent('count | if last')}`)).text).toBe(`[{"t":5001,"d":${CHUNK_POINTS + 2}}]`);
  });

  it('answer [] on an empty range and an empty stream', async () => {
    const p = await stream();
    expect((await get(p, 'i1=0&i2=0&transform=sum%20%7C%20if%20last')).text).toBe('[]');
    await post(p, [{ t: 1, d: 2 }]);
    expect((await get(p, 't1=5&t2=6&transform=sum%20%7C%20if%20last')).text).toBe('[]');
  });
});
