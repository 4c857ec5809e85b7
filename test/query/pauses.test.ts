import { describe, expect, it } from 'vitest';
import { type Datapoint, PAUSE } from '../../src/pipescript/datapoint';
import { runDataset, runMerge } from '../../src/query';
import { createInterpolator } from '../../src/query/interpolators';
import type { StreamQuery, StreamReader } from '../../src/query/types';
import { MemoryReader } from './memoryReader';

// Merges and datasets over queries that pause (StreamReader.query with `pauses`) hand the pauses up
// and otherwise answer exactly what they answer without them.

const S1: Datapoint[] = [1, 2, 3, 3, 3, 4, 5].map((t) => ({ t, d: t * 10 }));
const S2: Datapoint[] = [1.1, 1.2, 3, 3, 3.2, 5.1, 5.2].map((t) => ({ t, d: 2 }));

function* interleaved(it: Iterator<Datapoint>): Generator<Datapoint> {
  yield PAUSE;
  for (let r = it.next(); !r.done; r = it.next()) {
    yield r.value;
    yield PAUSE;
    yield PAUSE;
  }
}

/** A MemoryReader whose queries asked to pause pause before and twice after every datapoint. */
class PausingReader implements StreamReader {
  readonly asked: boolean[] = [];
  private readonly base = new MemoryReader({ 'u/d/s1': S1, 'u/d/s2': S2 });
  query(q: StreamQuery, pauses = false): Iterator<Datapoint> {
    this.asked.push(pauses);
    const it = this.base.query(q);
    return pauses ? interleaved(it) : it;
  }
  queryFrom(stream: string, transform: string | undefined, tstart: number, backtrack: number, pauses = false): Iterator<Datapoint> {
    this.asked.push(pauses);
    const it = this.base.queryFrom(stream, transform, tstart, backtrack);
    return pauses ? interleaved(it) : it;
  }
}

function drain(it: Iterator<Datapoint>): { out: Datapoint[]; pauses: number } {
  const out: Datapoint[] = [];
  let pauses = 0;
  for (let r = it.next(); !r.done; r = it.next()) {
    if (r.value === PAUSE) pauses++;
    else out.push(r.value);
  }
  return { out, pauses };
}

describe('merges and datasets over queries that pause', () => {
  it('a merge hands its sources pauses up and merges the same datapoints in the same order', () => {
    const body = [{ stream: 'u/d/s1' }, { stream: 'u/d/s2' }];
    const plain = drain(runMerge(body, new PausingReader()));
    const r = new PausingReader();
    const paused = drain(runMerge(body, r, true));
    expect(r.asked).toEqual([true, true]);
    expect(plain.pauses).toBe(0);
    expect(paused.pauses).toBeGreaterThan(0);
    expect(paused.out).toEqual(plain.out);
  });

  it('an X-dataset pauses with its reference and its columns and gives the same rows', () => {
    const body = { stream: 'u/d/s1', dataset: { a: { stream: 'u/d/s2', interpolator: 'closest' }, b: { stream: 'u/d/s2', interpolator: 'count' } } };
    const plain = drain(runDataset(body, new PausingReader()));
    const r = new PausingReader();
    const paused = drain(runDataset(body, r, true));
    expect(r.asked).toEqual([true, true, true]);
    expect(paused.pauses).toBeGreaterThan(0);
    expect(paused.out).toEqual(plain.out);
  });

  it('an X-dataset with a posttransform that passes pauses pauses with its reference and gives the same rows', () => {
    const body = { stream: 'u/d/s1', dataset: { a: { stream: 'u/d/s2', interpolator: 'closest' } }, posttransform: 'if $("x") > 20' };
    const plain = drain(runDataset(body, new PausingReader()));
    const paused = drain(runDataset(body, new PausingReader(), true));
    expect(plain.out.length).toBeGreaterThan(0);
    expect(paused.pauses).toBeGreaterThan(0);
    expect(paused.out).toEqual(plain.out);
  });

  it('a T-dataset whose columns pause gives the same rows, with and without a posttransform that drops rows', () => {
    for (const extra of [{}, { posttransform: 'if $("a") > 20' }]) {
      const body = { t1: 0, t2: 7, dt: 0.25, dataset: { a: { stream: 'u/d/s1', interpolator: 'before' }, m: { merge: [{ stream: 'u/d/s1' }, { stream: 'u/d/s2' }], interpolator: 'sum' }, c: { stream: 'u/d/s2', interpolator: 'count' } }, ...extra };
      const plain = drain(runDataset(body, new PausingReader()));
      const paused = drain(runDataset(body, new PausingReader(), true));
      expect(plain.out.length).toBeGreaterThan(5);
      expect(paused.pauses).toBeGreaterThan(0);
      expect(paused.out).toEqual(plain.out);
    }
  });

  it('an X-dataset whose posttransform cannot pass pauses reads its reference without them', () => {
    const body = { stream: 'u/d/s1', dataset: { a: { stream: 'u/d/s2', interpolator: 'closest' } }, posttransform: 'if next == next' };
    const r = new PausingReader();
    const paused = drain(runDataset(body, r, true));
    expect(r.asked).toEqual([false, false]);
    expect(r.asked.length).toBe(2);
    expect(paused.pauses).toBe(0);
    expect(paused.out).toEqual(drain(runDataset(body, new PausingReader())).out);
  });
});

describe('interpolators over an input that pauses', () => {
  const input: Datapoint[] = [0.5, 1, 1, 2.5, 3, 4.75, 6, 6, 8].map((t, i) => ({ t, d: i * 3 - 7 }));
  const stamps = [0, 0.25, 1, 1, 2, 2.6, 3, 5, 5.5, 6, 7, 9, 10];
  // Registered ones, and scripts (window-aggregating, stateful across windows, with the reset quirk).
  for (const name of ['closest', 'before', 'after', 'count', 'sum', 'mean', 'count | $ * 2', '$ > 5 | anytrue', 'last']) {
    it(`${name} answers the same, asked again after each PAUSE with the same timestamp`, () => {
      const plain = createInterpolator(name, input[Symbol.iterator]());
      const paused = createInterpolator(name, interleaved(input[Symbol.iterator]()));
      let pauses = 0;
      for (const ts of stamps) {
        const want = plain.interpolate(ts);
        let got = paused.interpolate(ts);
        while (got === PAUSE) {
          pauses++;
          got = paused.interpolate(ts);
        }
        expect(got, `at ${ts}`).toEqual(want);
      }
      expect(pauses).toBeGreaterThan(0);
    });
  }
});
