import { describe, expect, it } from 'vitest';
import vectorsJson from '../fixtures/interpolators.json';
import type { Datapoint } from '../../src/pipescript/datapoint';
import { datapointToJSON, PipeScriptError } from '../../src/pipescript';
import { CdbError } from '../../src/errors';
import { compileInterpolator, runDataset, runMerge } from '../../src/query';
import { MemoryReader } from './memoryReader';

interface InterpolatorVector {
  name: string;
  interpolator: string;
  stream: Datapoint[];
  timestamps: number[];
  output?: (Datapoint | null)[];
  partial_output?: (Datapoint | null)[];
  error?: boolean;
  error_kind?: 'parse' | 'runtime';
}

interface QueryVector {
  name: string;
  kind: 'tdataset' | 'xdataset' | 'merge';
  streams: Record<string, Datapoint[]>;
  query: unknown;
  output?: Datapoint[];
  error?: boolean;
  http_status?: number;
  error_kind?: 'query' | 'runtime';
  server_msg?: string;
}

const vectors = vectorsJson as unknown as (InterpolatorVector | QueryVector)[];

/** The engine-level form of a datapoint as the wire shows it: through the real serialiser, t and d filled back in. */
function engineForm(dp: Datapoint | null): Datapoint | null {
  if (dp === null) return null;
  const j = JSON.parse(datapointToJSON(dp)) as { t?: number; d?: unknown };
  return { t: j.t ?? 0, d: j.d ?? null };
}

function isInterpolatorVector(v: InterpolatorVector | QueryVector): v is InterpolatorVector {
  return 'interpolator' in v;
}

function runInterpolatorVector(v: InterpolatorVector): void {
  if (v.error && v.error_kind === 'parse') {
    let err: unknown;
    try {
      compileInterpolator(v.interpolator);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PipeScriptError);
    expect((err as PipeScriptError).kind).toBe('parse');
    return;
  }
  const interp = compileInterpolator(v.interpolator).create(v.stream[Symbol.iterator]());
  const got: (Datapoint | null)[] = [];
  let err: unknown;
  for (const ts of v.timestamps) {
    try {
      got.push(engineForm(interp.interpolate(ts)));
    } catch (e) {
      err = e;
      break;
    }
  }
  if (v.error) {
    expect(err, 'expected a runtime error').toBeDefined();
    expect(err instanceof PipeScriptError || err instanceof CdbError).toBe(true);
    expect(got).toEqual(v.partial_output ?? []);
  } else {
    if (err !== undefined) throw err;
    expect(got).toEqual(v.output);
  }
}

function runQueryVector(v: QueryVector): void {
  const reader = new MemoryReader(v.streams);
  const run = () => (v.kind === 'merge' ? runMerge(v.query, reader) : runDataset(v.query, reader));
  if (v.error && v.error_kind === 'query') {
    let err: unknown;
    try {
      run();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CdbError);
    expect((err as CdbError).status).toBe(v.http_status);
    expect((err as CdbError).message).toBe(v.server_msg);
    return;
  }
  const it = run();
  const got: (Datapoint | null)[] = [];
  let err: unknown;
  try {
    for (let r = it.next(); !r.done; r = it.next()) got.push(engineForm(r.value));
  } catch (e) {
    err = e;
  }
  if (v.error) {
    expect(err, 'expected a runtime error').toBeDefined();
    expect((err as Error).message).toBe(v.server_msg);
    // 500 means the error came with the first row; 200 means a truncated body after some rows.
    if (v.http_status === 500) expect(got).toEqual([]);
    else expect(got.length).toBeGreaterThan(0);
  } else {
    if (err !== undefined) throw err;
    expect(got).toEqual(v.output);
  }
}

describe('interpolators.json vectors', () => {
  it('has 88 vectors', () => {
    expect(vectors).toHaveLength(88);
  });
  for (const v of vectors) {
    it(v.name, () => {
      if (isInterpolatorVector(v)) runInterpolatorVector(v);
      else runQueryVector(v);
    });
  }
});
