import { describe, expect, it } from 'vitest';
import { type Datapoint, PAUSE } from '../../src/pipescript/datapoint';
import { runDataset, runMerge } from '../../src/query';
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

  it('an X-dataset pauses with its reference and gives the same rows; its columns are read without pauses', () => {
    const body = { stream: 'u/d/s1', dataset: { a: { stream: 'u/d/s2', interpolator: 'closest' }, b: { stream: 'u/d/s2', interpolator: 'count' } } };
    const plain = drain(runDataset(body, new PausingReader()));
    const r = new PausingReader();
    const paused = drain(runDataset(body, r, true));
    expect(r.asked).toEqual([false, false, true]);
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

  it('an X-dataset whose posttransform cannot pass pauses reads its reference without them', () => {
    const body = { stream: 'u/d/s1', dataset: { a: { stream: 'u/d/s2', interpolator: 'closest' } }, posttransform: 'next' };
    const r = new PausingReader();
    const paused = drain(runDataset(body, r, true));
    expect(r.asked).toEqual([false, false]);
    expect(paused.pauses).toBe(0);
    expect(paused.out).toEqual(drain(runDataset(body, new PausingReader())).out);
  });
});
