import { afterEach, describe, expect, it } from 'vitest';
import type { Datapoint } from '../../src/pipescript/datapoint';
import { PipeScriptError } from '../../src/pipescript';
import { compileInterpolator, configureInterpolators, createInterpolator, interpolatorListing } from '../../src/query';
import { PsInt } from '../../src/pipescript/values';

const NAMES = ['after', 'before', 'closest', 'count', 'mean', 'sum'];

afterEach(() => configureInterpolators({ disable: [] }));

describe('interpolatorListing', () => {
  it('lists the six registered interpolators with string fields only', () => {
    const l = interpolatorListing();
    expect(Object.keys(l)).toEqual(NAMES);
    for (const [name, info] of Object.entries(l)) {
      expect(Object.keys(info).sort()).toEqual(['description', 'documentation', 'ischema', 'name', 'oschema']);
      expect(info.name).toBe(name);
      for (const v of Object.values(info)) expect(typeof v).toBe('string');
      expect(info.description.length).toBeGreaterThan(0);
    }
    expect(l.closest.description).toBe('Uses the datapoint closest to the interpolation timestamp (both before and after)');
    expect(JSON.parse(JSON.stringify(l))).toEqual(l);
  });
  it('honours the disabled list', () => {
    configureInterpolators({ disable: ['closest', 'sum', 'unknown'] });
    expect(Object.keys(interpolatorListing())).toEqual(['after', 'before', 'count', 'mean']);
    configureInterpolators({ disable: [] });
    expect(Object.keys(interpolatorListing())).toEqual(NAMES);
  });
  it('returns copies that callers cannot use to change the registry', () => {
    interpolatorListing().after.description = 'x';
    expect(interpolatorListing().after.description).not.toBe('x');
  });
});

describe('lookup', () => {
  it('registered names win, exactly', () => {
    for (const n of NAMES) expect(compileInterpolator(n).registered).toBe(true);
    expect(compileInterpolator('count | $').registered).toBe(false);
    expect(() => compileInterpolator('closest ')).toThrow(PipeScriptError);
    expect(() => compileInterpolator('Closest')).toThrow(PipeScriptError);
  });
  it('a disabled name is parsed as PipeScript', () => {
    configureInterpolators({ disable: ['count'] });
    const c = compileInterpolator('count');
    expect(c.registered).toBe(false);
  });
  it('empty interpolator is a syntax error', () => {
    expect(() => compileInterpolator('')).toThrow("Script '': syntax error");
  });
});

describe('built-in behaviour', () => {
  const S: Datapoint[] = [1, 2, 3, 3, 3, 4, 5].map((t, i) => ({ t, d: i + 1 }));
  const run = (name: string, ts: number[], s: Datapoint[] = S) => {
    const it = createInterpolator(name, s[Symbol.iterator]());
    return ts.map((t) => it.interpolate(t));
  };
  it('count/sum/mean consume windows', () => {
    const ts = [0, 0.5, 1, 2.5, 3, 3, 3.2, 5, 6, 10];
    expect(run('count', ts).map((d) => Number(d?.d))).toEqual([0, 0, 1, 1, 3, 0, 0, 2, 0, 0]);
    expect(run('sum', ts).map((d) => d?.d)).toEqual([0, 0, 1, 2, 12, 0, 0, 13, 0, 0]);
    expect(run('mean', ts).map((d) => d?.d)).toEqual([0, 0, 1, 2, 4, 0, 0, 6.5, 0, 0]);
    expect(run('count', ts).map((d) => d?.t)).toEqual(ts);
    // count is integer-kind (pipescript.md §1): it stringifies in plain decimal, e.g. in a posttransform.
    expect(run('count', [5])[0]?.d).toBeInstanceOf(PsInt);
  });
  it('sum converts with the duck rules', () => {
    const s: Datapoint[] = [
      { t: 1, d: '2' },
      { t: 2, d: true },
      { t: 3, d: null },
      { t: 4, d: ' 1e1 ' },
      { t: 5, d: 'false' },
    ];
    expect(run('sum', [10], s)[0]?.d).toBe(13);
    expect(run('sum', [10], [{ t: 1, d: new PsInt(3) }])[0]?.d).toBe(3);
  });
  it('sum errors with the original message, as a runtime PipeScriptError', () => {
    expect(() => run('sum', [2], [{ t: 1, d: 'x' }])).toThrow(PipeScriptError);
    expect(() => run('sum', [2], [{ t: 1, d: { a: 1 } }])).toThrow("Could not convert 'map[a:1]' to Float");
    expect(() => run('mean', [2], [{ t: 1, d: 'x' }])).toThrow("Could not convert 'x' to Float");
  });
  it('closest/before/after on an empty stream give null', () => {
    for (const n of ['closest', 'before', 'after']) expect(run(n, [1, 2], [])).toEqual([null, null]);
  });
  it('a script interpolator fails on datapoints at t <= 0, as the original did', () => {
    const it = createInterpolator('$', [{ t: 0, d: 1 }, { t: 1, d: 2 }][Symbol.iterator]());
    expect(() => it.interpolate(1)).toThrow('Failed to clear PipeScript used in interpolator');
    const ok = createInterpolator('$', [{ t: 1, d: 2 }][Symbol.iterator]());
    expect(ok.interpolate(1)).toEqual({ t: 1, d: 2 });
  });
  it('pulls its input lazily', () => {
    let pulled = 0;
    const src: Iterator<Datapoint> = {
      next: () => (pulled++, { done: false, value: { t: pulled, d: pulled } }),
    };
    const c = createInterpolator('closest', src);
    expect(pulled).toBe(0);
    c.interpolate(10);
    expect(pulled).toBe(11);
  });
});
