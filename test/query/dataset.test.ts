import { afterEach, describe, expect, it } from 'vitest';
import type { Datapoint } from '../../src/pipescript/datapoint';
import { BadRequestError, CdbError, ForbiddenError } from '../../src/errors';
import { configureInterpolators, DatasetMessages, runDataset } from '../../src/query';
import type { StreamQuery, StreamReader } from '../../src/query/types';
import { MemoryReader, Msg } from './memoryReader';

const A: Datapoint[] = [1, 2, 3, 3, 3, 4, 5].map((t, i) => ({ t, d: i + 1 }));
const B: Datapoint[] = [
  { t: 1.1, d: 1 },
  { t: 2.1, d: 2 },
  { t: 2.9, d: 3 },
  { t: 3.5, d: 4 },
  { t: 3.9, d: 5 },
];
const LONG: Datapoint[] = Array.from({ length: 15 }, (_, i) => ({ t: i + 1, d: i + 1 }));

function reader(): MemoryReader {
  return new MemoryReader({ 'u/d/a': A, 'u/d/b': B, 'u/d/long': LONG, 'u/d/s': [{ t: 1, d: 'x' }] });
}

function errorOf(fn: () => unknown): CdbError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CdbError) return e;
    throw e;
  }
  throw new Error('expected an error');
}

function expect403(body: unknown, msg: string, r: StreamReader = reader()): void {
  const e = errorOf(() => runDataset(body, r));
  expect(e).toBeInstanceOf(ForbiddenError);
  expect(e.message).toBe(msg);
}

function expect400(body: unknown, msgPart?: string): void {
  const e = errorOf(() => runDataset(body, reader()));
  expect(e).toBeInstanceOf(BadRequestError);
  expect(e.status).toBe(400);
  if (msgPart !== undefined) expect(e.message).toContain(msgPart);
}

const all = (it: Iterator<Datapoint>): Datapoint[] => {
  const out: Datapoint[] = [];
  for (let r = it.next(); !r.done; r = it.next()) out.push(r.value);
  // Through JSON so integer-kind values (PsInt) compare as the numbers they serialise to.
  return JSON.parse(JSON.stringify(out)) as Datapoint[];
};

const col = { stream: 'u/d/a', interpolator: 'closest' };
const T = { t1: 1, t2: 5, dt: 1 };

describe('dataset body shape (400)', () => {
  it('rejects non-object bodies', () => {
    expect400([1, 2], 'cannot unmarshal array into Go value of type query.DatasetQuery');
    expect400('x', 'cannot unmarshal string');
    expect400(5, 'cannot unmarshal number');
    expect400(undefined);
  });
  it('rejects wrong field types with a readable message', () => {
    expect400({ ...T, t1: '1', dataset: { a: col } }, 'Go struct field DatasetQuery.t1 of type float64');
    expect400({ i1: 1.5, dataset: { a: col } }, 'number 1.5 into Go struct field DatasetQuery.i1 of type int64');
    expect400({ limit: true, dataset: { a: col } }, 'bool into Go struct field DatasetQuery.limit of type int64');
    expect400({ stream: 5, dataset: { a: col } }, 'of type string');
    expect400({ ...T, dataset: [col] }, 'DatasetQuery.dataset');
    expect400({ ...T, merge: {}, dataset: { a: col } }, 'DatasetQuery.merge');
    expect400({ ...T, merge: ['u/d/a'], dataset: { a: col } }, 'query.StreamQuery');
    expect400({ ...T, dataset: { a: 5 } }, 'query.DatasetQueryElement');
    expect400({ ...T, dataset: { a: { ...col, interpolator: 1 } } }, 'interpolator of type string');
    expect400({ ...T, dataset: { a: { ...col, allownil: 'yes' } } }, 'allownil of type bool');
    expect400({ ...T, dataset: { a: { ...col, t2: [] } } }, 'array into');
    expect400({ ...T, dataset: { a: { merge: [{ stream: 'u/d/a', i2: 'x' }], interpolator: 'closest' } } }, 'i2');
    expect400({ ...T, posttransform: {}, dataset: { a: col } }, 'posttransform');
  });
  it('reports a type error even when semantic errors come earlier in the body', () => {
    expect400({ posttransform: '$ +', dataset: {}, dt: 'x' }, 'dt');
  });
  it('treats null fields as unset and ignores unknown fields', () => {
    const rows = all(
      runDataset({ ...T, i1: null, stream: null, itransform: 'bogus', extra: [1], dataset: { a: { ...col, allownil: null } } }, reader()),
    );
    expect(rows).toHaveLength(4);
  });
  it('matches field names case-insensitively as Go does', () => {
    const rows = all(runDataset({ T1: 1, T2: 3, Dt: 1, Dataset: { a: { Stream: 'u/d/a', Interpolator: 'closest' } } }, reader()));
    expect(rows.map((r) => r.t)).toEqual([1, 2]);
  });
  it('decodes a null body as an empty query', () => {
    expect403(null, DatasetMessages.noDataset);
  });
});

describe('dataset validation order and messages (403)', () => {
  it('1. posttransform parse error comes first', () => {
    expect403({ posttransform: '$ +' }, "Script '$ +': syntax error");
    expect403({ posttransform: 'nope', dataset: { a: { interpolator: 'closest' } } }, "Script 'nope': Transform nope not found");
  });
  it('2. dataset must be present and non-empty', () => {
    expect403({ ...T }, DatasetMessages.noDataset);
    expect403({ ...T, dataset: {} }, DatasetMessages.noDataset);
    expect403({ ...T, dataset: null }, DatasetMessages.noDataset);
  });
  it('3. column shape errors', () => {
    expect403({ ...T, dataset: { a: { stream: 'u/d/a', merge: [{ stream: 'u/d/b' }], interpolator: 'closest' } } }, DatasetMessages.elementBoth);
    expect403({ ...T, dataset: { a: { merge: [{ stream: 'u/d/b' }], transform: '$', interpolator: 'closest' } } }, DatasetMessages.elementMergeTransform);
    expect403({ ...T, dataset: { a: { interpolator: 'closest' } } }, DatasetMessages.elementNone);
    expect403({ ...T, dataset: { a: { merge: [], interpolator: 'closest' } } }, DatasetMessages.elementNone);
    expect403({ ...T, dataset: { a: null } }, DatasetMessages.elementNone);
  });
  it('3. column query errors come from the reader', () => {
    expect403({ ...T, dataset: { a: { stream: 'u/d/nope', interpolator: 'closest' } } }, Msg.notFound);
    expect403({ ...T, dataset: { a: { stream: 'u/d/a', i1: 1, t1: 2, interpolator: 'closest' } } }, Msg.twoMethods);
    expect403({ ...T, dataset: { a: { stream: 'u/d/a', i1: 5, i2: 2, interpolator: 'closest' } } }, Msg.indexRange);
    expect403({ ...T, dataset: { a: { stream: 'u/d/a', transform: 'nope', interpolator: 'closest' } } }, "Script 'nope': Transform nope not found");
    expect403({ ...T, dataset: { a: { merge: [{ stream: 'u/d/b' }, { stream: 'u/d/x' }], interpolator: 'closest' } } }, Msg.notFound);
    expect403({ ...T, dataset: { a: { merge: [{ stream: 'u/d/b' }, null], interpolator: 'closest' } } }, 'Dataset merge array element invalid');
  });
  it('3. more than 10 merge elements in a column', () => {
    const merge = Array.from({ length: 11 }, () => ({ stream: 'u/d/a' }));
    expect403({ ...T, dataset: { a: { merge, interpolator: 'closest' } } }, 'Merging more than 10 streams is disabled.');
  });
  it('3. interpolator errors, which mask range errors', () => {
    expect403({ ...T, dataset: { a: { stream: 'u/d/a' } } }, "Script '': syntax error");
    expect403({ ...T, dataset: { a: { stream: 'u/d/a', interpolator: 'closest ' } } }, "Script 'closest ': Transform closest not found");
    expect403({ t1: -1, dt: 0, dataset: { a: { stream: 'u/d/a', interpolator: 'nope' } } }, "Script 'nope': Transform nope not found");
  });
  it('4. T-dataset range rules', () => {
    expect403({ t1: -5, t2: 5, dt: 1, dataset: { a: col } }, DatasetMessages.tRange);
    expect403({ t1: 1, t2: 1.5, dt: 1, dataset: { a: col } }, DatasetMessages.tRange);
    expect403({ t1: 1, t2: 5, dt: 1, i1: 1, dataset: { a: col } }, DatasetMessages.tRange);
    expect403({ t1: 1, t2: 5, dt: 1, i2: -1, dataset: { a: col } }, DatasetMessages.tRange);
    expect403({ t1: 1, t2: 2, dt: 0.0005, dataset: { a: col } }, DatasetMessages.tAbuse);
    expect403({ t1: 0, t2: 5, dt: 0, dataset: { a: col } }, DatasetMessages.tAbuse);
    expect403({ t1: 0, t2: 10_001, dt: 0.001, dataset: { a: col } }, DatasetMessages.tAbuse);
    expect403({ dataset: { a: col } }, DatasetMessages.tAbuse);
    // Exactly 10 000 000 rows is allowed (and must not be built eagerly).
    expect(() => runDataset({ t1: 0, t2: 10_000, dt: 0.001, dataset: { a: col } }, reader())).not.toThrow();
  });
  it('5. X-dataset rules', () => {
    expect403({ stream: 'u/d/a', dt: 1, dataset: { y: { stream: 'u/d/b', interpolator: 'closest' } } }, DatasetMessages.xWithDt);
    expect403({ merge: [{ stream: 'u/d/a' }], dt: 1, dataset: { y: col } }, DatasetMessages.xWithDt);
    expect403({ stream: 'u/d/a', merge: [{ stream: 'u/d/b' }], dataset: { y: col } }, DatasetMessages.xBoth);
    expect403({ stream: 'u/d/nope', dataset: { y: col } }, Msg.notFound);
    expect403({ stream: 'u/d/a', i1: 1, t1: 1, dataset: { y: col } }, Msg.twoMethods);
    expect403({ stream: 'u/d/a', transform: '$ +', dataset: { y: col } }, "Script '$ +': syntax error");
    expect403({ merge: Array.from({ length: 11 }, () => ({ stream: 'u/d/a' })), dataset: { y: col } }, 'Merging more than 10 streams is disabled.');
    // The reference's own errors come before the `x` column check.
    expect403({ stream: 'u/d/nope', dataset: { x: col } }, Msg.notFound);
    expect403({ stream: 'u/d/a', dataset: { x: col } }, DatasetMessages.xColumn);
  });
  it('allows a column named x in a T-dataset', () => {
    expect(all(runDataset({ ...T, dataset: { x: col } }, reader()))).toHaveLength(4);
  });
});

describe('dataset rows', () => {
  it('writes row keys in byte-wise sorted order, x included', () => {
    const rows = all(
      runDataset({ stream: 'u/d/b', dataset: { z: col, B: col, a: col, '10': col, '9': col } }, reader()),
    );
    // Integer-like keys would come first in a plain JS object; the order is only guaranteed by
    // the serialiser, so check what we can: every row has exactly these keys.
    expect(Object.keys(rows[0].d as object).sort()).toEqual(['10', '9', 'B', 'a', 'x', 'z']);
    expect(Object.keys(rows[0].d as object).filter((k) => !/^\d+$/.test(k))).toEqual(['B', 'a', 'x', 'z']);
  });
  it('T-dataset rows at t1, t1+dt... with t2 exclusive, t=0 first row', () => {
    const rows = all(runDataset({ t1: 0, t2: 3, dt: 1, dataset: { a: col } }, reader()));
    expect(rows).toEqual([
      { t: 0, d: { a: 1 } },
      { t: 1, d: { a: 1 } },
      { t: 2, d: { a: 2 } },
    ]);
  });
  it('keeps null rows without a posttransform, drops them (allownil false) with one', () => {
    const q = { t1: 0.5, t2: 2, dt: 0.5, dataset: { a: { stream: 'u/d/a', interpolator: 'before' } } };
    expect(all(runDataset(q, reader())).map((r) => r.d)).toEqual([{ a: null }, { a: 1 }, { a: 1 }]);
    expect(all(runDataset({ ...q, posttransform: '$' }, reader())).map((r) => r.d)).toEqual([{ a: 1 }, { a: 1 }]);
  });
  it('drops a row whose interpolated datapoint has null data', () => {
    const r = new MemoryReader({ 'u/d/n': [{ t: 1, d: null }, { t: 2, d: 3 }] });
    const q = { t1: 1, t2: 3, dt: 1, dataset: { n: { stream: 'u/d/n', interpolator: 'before' } }, posttransform: '$' };
    expect(all(runDataset(q, r))).toEqual([{ t: 2, d: { n: 3 } }]);
  });
  it('backtracks columns without a range from t1 (T) or the reference t1 (X)', () => {
    const r = reader();
    all(runDataset({ t1: 12.5, t2: 14, dt: 1, dataset: { n: { stream: 'u/d/long', transform: '$ * 10', interpolator: 'count' } } }, r));
    expect(r.log).toEqual([{ method: 'queryFrom', args: ['u/d/long', '$ * 10', 12.5, 10] }]);

    const r2 = reader();
    all(runDataset({ stream: 'u/d/a', t1: 2, dataset: { n: { stream: 'u/d/long', interpolator: 'count' } } }, r2));
    expect(r2.log.map((l) => l.args)).toEqual([['u/d/long', undefined, 2, 10], [{ stream: 'u/d/a', t1: 2 }]]);

    const r3 = reader();
    all(runDataset({ stream: 'u/d/a', i1: 2, dataset: { n: { stream: 'u/d/long', interpolator: 'count' } } }, r3));
    expect(r3.log[0].args).toEqual(['u/d/long', undefined, 0, 10]);
  });
  it('reads a column with its own range exactly as given', () => {
    const r = reader();
    all(runDataset({ ...T, dataset: { n: { stream: 'u/d/long', t1: 3, limit: 2, interpolator: 'count' } } }, r));
    expect(r.log).toEqual([{ method: 'query', args: [{ stream: 'u/d/long', t1: 3, limit: 2 }] }]);
  });
  it('merge columns backtrack each element without a range', () => {
    const r = reader();
    const rows = all(
      runDataset({ t1: 12.5, t2: 13.5, dt: 1, dataset: { n: { merge: [{ stream: 'u/d/long' }, { stream: 'u/d/a', i1: -1 }], interpolator: 'count' } } }, r),
    );
    expect(rows).toEqual([{ t: 12.5, d: { n: 11 } }]);
    expect(r.log.map((l) => l.method)).toEqual(['queryFrom', 'query']);
  });
  it('x-dataset merge reference interleaves with the tie rule', () => {
    const rows = all(runDataset({ merge: [{ stream: 'u/d/b' }, { stream: 'u/d/a', t1: 2.5 }], dataset: { c: { stream: 'u/d/a', interpolator: 'count' } } }, reader()));
    expect(rows.map((r) => r.t)).toEqual([1.1, 2.1, 2.9, 3, 3, 3, 3.5, 3.9, 4, 5]);
  });
  it('posttransform sees the filtered rows as one sequence', () => {
    const rows = all(runDataset({ ...T, dataset: { a: col }, posttransform: 'count' }, reader()));
    expect(rows.map((r) => r.d)).toEqual([1, 2, 3, 4]);
  });
});

describe('dataset laziness and runtime errors', () => {
  /** A reader over a virtual stream that counts how far it has been pulled. */
  class CountingReader implements StreamReader {
    pulled = 0;
    constructor(private readonly n: number) {}
    private gen(from: number): Iterator<Datapoint> {
      let i = from;
      const n = this.n;
      return {
        next: () => {
          if (i >= n) return { done: true, value: undefined };
          this.pulled++;
          i++;
          return { done: false, value: { t: i * 60, d: i } };
        },
      };
    }
    query(_q: StreamQuery): Iterator<Datapoint> {
      return this.gen(0);
    }
    queryFrom(): Iterator<Datapoint> {
      return this.gen(0);
    }
  }

  it('validates without pulling a datapoint, then pulls only as far as the rows need', () => {
    const r = new CountingReader(525_600);
    const it = runDataset({ t1: 0, t2: 525_600 * 60, dt: 60, dataset: { a: { stream: 'u/d/a', interpolator: 'closest' } } }, r);
    expect(r.pulled).toBe(0);
    for (let k = 0; k < 10; k++) it.next();
    expect(r.pulled).toBeLessThan(20);
    const x = runDataset({ stream: 'u/d/a', dataset: { a: { stream: 'u/d/a', interpolator: 'after' } } }, r);
    expect(r.pulled).toBeLessThan(20);
    x.next();
    expect(r.pulled).toBeLessThan(25);
  });
  it('throws interpolator runtime errors from next(), not from runDataset', () => {
    const it = runDataset({ t1: 1, t2: 3, dt: 1, dataset: { a: { stream: 'u/d/s', interpolator: 'sum' } } }, reader());
    expect(() => it.next()).toThrow("Could not convert 'x' to Float");
  });
  it('closes the opened readers when a later check fails', () => {
    let closed = 0;
    const base = reader();
    const r: StreamReader = {
      query: (q) => base.query(q),
      queryFrom: (...a) => {
        const it = base.queryFrom(...a);
        return { next: () => it.next(), return: () => (closed++, { done: true, value: undefined }) };
      },
    };
    expect(() => runDataset({ t1: -1, t2: 3, dt: 1, dataset: { a: col, b: col } }, r)).toThrow(DatasetMessages.tRange);
    expect(closed).toBe(2);
  });
});

describe('disabled interpolators in datasets', () => {
  afterEach(() => configureInterpolators({ disable: [] }));
  it('parses a disabled name as PipeScript', () => {
    configureInterpolators({ disable: ['closest'] });
    expect403({ ...T, dataset: { a: col } }, "Script 'closest': Transform closest not found");
  });
});
