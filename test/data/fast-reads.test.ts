import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHUNK_POINTS } from '../../src/storage/sqlite/chunked';
import { type TestApp, createUser, keyAuth, makeApp } from '../helpers';
import { rng } from '../rng';

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

describe('range reads written as bytes', () => {
  /** The wire text of posted points, as the server stores it (t and d as JSON writes them). */
  const wire = (pts: { t: number; d: unknown }[]) => '[' + pts.map((p) => JSON.stringify(p)).join(',') + ']';

  async function filled(seed: number, count: number): Promise<{ p: string; pts: { t: number; d: unknown }[] }> {
    const r = rng(seed);
    const p = await stream();
    const pts: { t: number; d: unknown }[] = [];
    let tm = 1_600_000_000_000;
    for (let i = 0; i < count; i++) {
      tm += r() < 0.05 ? 0 : 1000 + Math.round((r() - 0.5) * 100);
      const block = Math.floor(i / CHUNK_POINTS) % 5;
      const d =
        block === 0 || block === 3
          ? value(r, i)
          : block === 1
            ? { x: Math.round(r() * 100) / 10, 'ключ': 'значение ✓' }
            : block === 2
              ? `s${Math.round(r() * 1e6)} é`
              : r() < 0.5;
      pts.push({ t: tm / 1000, d });
    }
    await post(p, pts);
    return { p, pts };
  }

  it('answer the stored texts byte for byte across numeric, record, text chunks and the tail', async () => {
    const { p, pts } = await filled(3, 5 * CHUNK_POINTS + 77);
    const len = pts.length;
    for (const [a, b] of [
      [0, 0],
      [0, 1],
      [5, 17],
      [CHUNK_POINTS - 3, CHUNK_POINTS + 3],
      [CHUNK_POINTS, 3 * CHUNK_POINTS],
      [2 * CHUNK_POINTS + 1, len - 1],
      [len - 80, 0],
      [-10, 0],
    ]) {
      const r = await get(p, `i1=${a}&i2=${b}`);
      const lo = a < 0 ? len + a : a;
      const hi = b <= 0 ? len + b : b;
      expect(r.status).toBe(200);
      expect(r.text, `i1=${a}&i2=${b}`).toBe(wire(pts.slice(lo, hi)));
      expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
      // Small answers carry a length, big ones stream, as before.
      if (Buffer.byteLength(r.text) < 64 * 1024) expect(r.headers['content-length']).toBe(String(Buffer.byteLength(r.text)));
      else expect(r.headers['transfer-encoding']).toBe('chunked');
    }
    const tr = await get(p, `t1=${pts[1500].t}&t2=${pts[3700].t}`);
    const first = pts.findIndex((x) => x.t > pts[1500].t);
    let last = first;
    while (last < len && pts[last].t <= pts[3700].t) last++;
    expect(tr.text).toBe(wire(pts.slice(first, last)));
    expect((await get(p, `t1=${pts[10].t}&limit=7`)).text).toBe(wire(pts.slice(pts.findIndex((x) => x.t > pts[10].t)).slice(0, 7)));
  });

  it('answer many concurrent reads each with its own bytes (answer buffers are reused only once sent)', async () => {
    const { p, pts } = await filled(5, 12 * CHUNK_POINTS + 5);
    const ranges = Array.from({ length: 24 }, (_, i) => [(i * 997) % (pts.length - 9000), 0] as [number, number]).map(([a], i) => [a, a + 100 + ((i * 1931) % 8900)]);
    for (let round = 0; round < 2; round++) {
      const got = await Promise.all(ranges.map(([a, b]) => get(p, `i1=${a}&i2=${b}`)));
      got.forEach((r, k) => expect(r.text, `${ranges[k]}`).toBe(wire(pts.slice(ranges[k][0], ranges[k][1]))));
    }
  });

  it('stream answers bigger than one write whole and in order', async () => {
    const { p, pts } = await filled(9, 40 * CHUNK_POINTS + 11);
    const r = await get(p, 'i1=0&i2=0');
    expect(Buffer.byteLength(r.text)).toBeGreaterThan(1024 * 1024);
    expect(r.headers['transfer-encoding']).toBe('chunked');
    expect(r.text).toBe(wire(pts));
    expect((await get(p, 'i1=0&i2=0&q=length')).text).toBe(String(pts.length));
  });

  it('answer [] for an empty range', async () => {
    const p = await stream();
    const r = await get(p, 'i1=0&i2=0');
    expect(r.text).toBe('[]');
    expect(r.headers['content-length']).toBe('2');
    await post(p, [{ t: 1, d: 1 }]);
    expect((await get(p, 't1=2&t2=3')).text).toBe('[]');
  });
});
