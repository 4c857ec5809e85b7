import { describe, expect, it } from 'vitest';
import type { Datapoint } from '../../src/pipescript/datapoint';
import { BadRequestError, CdbError, ForbiddenError } from '../../src/errors';
import { runMerge } from '../../src/query';
import { MergeIterator } from '../../src/query/merge';
import { MemoryReader, Msg } from './memoryReader';

const S1: Datapoint[] = [1, 2, 3, 3, 3, 4, 5].map((t) => ({ t, d: 1 }));
const S2: Datapoint[] = [1.1, 1.2, 3, 3, 3.2, 5.1, 5.2].map((t) => ({ t, d: 2, o: 'u/other' }));

const reader = () => new MemoryReader({ 'u/d/s1': S1, 'u/d/s2': S2 });
const all = (it: Iterator<Datapoint>): Datapoint[] => {
  const out: Datapoint[] = [];
  for (let r = it.next(); !r.done; r = it.next()) out.push(r.value);
  return out;
};
function errorOf(fn: () => unknown): CdbError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CdbError) return e;
    throw e;
  }
  throw new Error('expected an error');
}

describe('merge body shape (400)', () => {
  it('rejects a non-array body', () => {
    const e = errorOf(() => runMerge({ stream: 'u/d/s1' }, reader()));
    expect(e).toBeInstanceOf(BadRequestError);
    expect(e.message).toBe('json: cannot unmarshal object into Go value of type []*query.StreamQuery');
    expect(errorOf(() => runMerge('x', reader())).status).toBe(400);
    expect(errorOf(() => runMerge(undefined, reader())).status).toBe(400);
  });
  it('rejects elements and fields of the wrong type', () => {
    expect(errorOf(() => runMerge(['u/d/s1'], reader())).message).toBe(
      'json: cannot unmarshal string into Go value of type query.StreamQuery',
    );
    expect(errorOf(() => runMerge([{ stream: 'u/d/s1', t1: '1' }], reader())).message).toBe(
      'json: cannot unmarshal string into Go struct field StreamQuery.t1 of type float64',
    );
    expect(errorOf(() => runMerge([{ stream: 'u/d/s1', i1: 0.5 }], reader())).message).toBe(
      'json: cannot unmarshal number 0.5 into Go struct field StreamQuery.i1 of type int64',
    );
    expect(errorOf(() => runMerge([{ stream: 1 }], reader())).status).toBe(400);
    expect(errorOf(() => runMerge([{ stream: 'u/d/s1', transform: false }], reader())).status).toBe(400);
    expect(errorOf(() => runMerge([{ stream: 'u/d/s1', limit: 'x' }], reader())).status).toBe(400);
  });
  it('checks shape before the element count', () => {
    const body: unknown[] = Array.from({ length: 11 }, () => ({ stream: 'u/d/s1' }));
    body.push({ stream: 'u/d/s1', t2: 'x' });
    expect(errorOf(() => runMerge(body, reader())).status).toBe(400);
  });
});

describe('merge validation (403)', () => {
  it('allows 10 elements, rejects 11', () => {
    expect(() => runMerge(Array.from({ length: 10 }, () => ({ stream: 'u/d/s1' })), reader())).not.toThrow();
    const e = errorOf(() => runMerge(Array.from({ length: 11 }, () => ({ stream: 'u/d/s1' })), reader()));
    expect(e).toBeInstanceOf(ForbiddenError);
    expect(e.message).toBe('Merging more than 10 streams is disabled.');
  });
  it('reports element errors eagerly', () => {
    expect(errorOf(() => runMerge([{ stream: 'u/d/s1' }, { stream: 'u/d/nope' }], reader())).message).toBe(Msg.notFound);
    expect(errorOf(() => runMerge([{ stream: 'u/d/s1', i1: 1, limit: 3 }], reader())).message).toBe(Msg.twoMethods);
    expect(errorOf(() => runMerge([{ stream: 'u/d/s1', transform: '$ +' }], reader())).message).toBe("Script '$ +': syntax error");
    expect(errorOf(() => runMerge([{ stream: 'u/d/s1/bad' }], reader())).message).toBe(Msg.substream);
    expect(errorOf(() => runMerge([null], reader())).status).toBe(403);
  });
});

describe('merge output', () => {
  it('empty array and null give []', () => {
    expect(all(runMerge([], reader()))).toEqual([]);
    expect(all(runMerge(null, reader()))).toEqual([]);
  });
  it('interleaves by t, earlier element wins ties, drops o', () => {
    const out = all(runMerge([{ stream: 'u/d/s2' }, { stream: 'u/d/s1' }], reader()));
    expect(out.map((d) => `${d.t}:${String(d.d)}`)).toEqual(
      ['1:1', '1.1:2', '1.2:2', '2:1', '3:2', '3:2', '3:1', '3:1', '3:1', '3.2:2', '4:1', '5:1', '5.1:2', '5.2:2'],
    );
    expect(out.every((d) => !('o' in d))).toBe(true);
  });
  it('is lazy and releases its sources on return()', () => {
    let pulled = 0;
    let closed = 0;
    const src = (): Iterator<Datapoint> => {
      let i = 0;
      return {
        next: () => (pulled++, i < 1e9 ? { done: false, value: { t: i++, d: i } } : { done: true, value: undefined }),
        return: () => (closed++, { done: true, value: undefined }),
      };
    };
    const m = new MergeIterator([src(), src(), src()]);
    expect(pulled).toBe(0);
    for (let k = 0; k < 5; k++) m.next();
    expect(pulled).toBe(8);
    m.return();
    expect(closed).toBe(3);
    expect(m.next().done).toBe(true);
  });
});
