import { describe, expect, it } from 'vitest';
import { buildQuery, defaultSpec, parseSpec, pythonCode } from '../../src/web/analysis/query';
import { initialValue, widgetFor } from '../../src/web/entry/widgets';
import { compose, detectShape, viewsFor } from '../../src/web/views/choose';
import { columnsOf, toCSV } from '../../src/web/views/format';
import { parseRange, resolveDefault, windowOf, writeRange } from '../../src/web/views/range';
import { niceStep, pearson, timeTrue } from '../../src/web/views/stats';

describe('stream page time range in the URL', () => {
  it('round-trips presets, absolute ranges and last-N through the query string', () => {
    for (const r of [{ kind: 'preset', preset: '1w' }, { kind: 'abs', t1: 10, t2: 20.5 }, { kind: 'last', n: 250 }, { kind: 'default' }] as const) {
      expect(parseRange(writeRange(new URLSearchParams('transform=x'), r))).toEqual(r);
    }
  });
  it('ignores malformed ranges and falls back to the default', () => {
    expect(parseRange(new URLSearchParams('t1=5&t2=3'))).toEqual({ kind: 'default' });
    expect(parseRange(new URLSearchParams('last=-4'))).toEqual({ kind: 'default' });
    expect(parseRange(new URLSearchParams('range=5y'))).toEqual({ kind: 'default' });
  });
  it('defaults to two weeks, or the last 1,000 datapoints when dense or idle', () => {
    expect(resolveDefault(1e6, 300)).toEqual({ kind: 'time', t1: 1e6 - 14 * 86400, t2: 1e6 });
    expect(resolveDefault(1e6, 5000)).toEqual({ kind: 'index', i1: -1000, i2: 0 });
    expect(resolveDefault(1e6, 0)).toEqual({ kind: 'index', i1: -1000, i2: 0 });
  });
  it('turns presets into time windows ending now and "everything" into the whole index range', () => {
    expect(windowOf({ kind: 'preset', preset: '1h' }, 7200)).toEqual({ kind: 'time', t1: 3600, t2: 7200 });
    expect(windowOf({ kind: 'preset', preset: 'all' }, 7200)).toEqual({ kind: 'index', i1: 0, i2: 0 });
  });
});

describe('views chosen from the schema first and the data second', () => {
  const pts = (ds: unknown[]) => ds.map((d, i) => ({ t: i + 1, d }));
  it('numbers by schema get the line chart first, and a histogram with enough points', () => {
    const v = viewsFor(detectShape({ type: 'number' }, pts([1, 2, 3, 4, 5, 6, 7]), false), pts([1, 2, 3, 4, 5, 6, 7])).map((x) => x.id);
    expect(v[0]).toBe('line');
    expect(v).toContain('histogram');
    expect(v[v.length - 1]).toBe('table');
  });
  it('a transform makes the data speak instead of the schema', () => {
    expect(detectShape({ type: 'number' }, pts([true, false]), true).kind).toBe('boolean');
  });
  it('repetitive strings are categories, rarely repeating strings are free text', () => {
    expect(detectShape({}, pts(['a', 'b', 'a', 'b', 'a', 'a', 'b']), false).kind).toBe('category');
    expect(detectShape({}, pts(['I went for a walk', 'Rainy day', 'Met Anna']), false).kind).toBe('text');
  });
  it('objects with numeric fields get one series per field, and two fields a correlation', () => {
    const data = pts([{ a: 1, b: 2 }, { a: 2, b: 4 }, { a: 3, b: 5 }, { a: 4, b: 9 }]);
    const shape = detectShape({}, data, false);
    expect(shape).toEqual({ kind: 'numobject', fields: ['a', 'b'] });
    expect(viewsFor(shape, data).map((v) => v.id)).toContain('correlation');
  });
  it('a view script runs after the page transform', () => {
    expect(compose('', 'map(day, mean)')).toBe('map(day, mean)');
    expect(compose(' $ * 2 ', 'map(day, mean)')).toBe('$ * 2 | map(day, mean)');
  });
});

describe('downloads and statistics', () => {
  it('CSV has one column per object key and quotes what needs quoting', () => {
    expect(toCSV([{ t: 1, d: { a: 1, b: 'x,y' } }, { t: 2, d: { a: 2 } }])).toBe('t,a,b\n1,1,"x,y"\n2,2,\n');
    expect(toCSV([{ t: 1, d: 'say "hi"' }])).toBe('t,d\n1,"say ""hi"""\n');
    expect(columnsOf([{ t: 1, d: 5 }])).toBeNull();
  });
  it('time true adds up each true datapoint until the next one', () => {
    expect(timeTrue([{ t: 0, d: true }, { t: 10, d: false }, { t: 15, d: true }, { t: 20, d: false }])).toEqual({ trueS: 15, totalS: 20 });
  });
  it('pearson and bucket steps', () => {
    expect(pearson([1, 2, 3], [2, 4, 6])).toBeCloseTo(1);
    expect(niceStep(0, 100)).toBe(5);
  });
});

describe('entry widgets and datasets', () => {
  it('looks widgets up by datatype with the dotted-prefix fallback', () => {
    expect(widgetFor('rating.stars')).toBe('stars');
    expect(widgetFor('rating.stars.mood')).toBe('stars');
    expect(widgetFor('log.diary')).toBe('diary');
    expect(widgetFor('string.text')).toBe('form');
    expect(initialValue({ type: 'object', properties: { on: { type: 'boolean' }, n: { type: 'number' } } })).toEqual({ on: false, n: undefined });
  });
  it('builds T- and X-dataset queries and the matching Python code', () => {
    const s = { ...defaultSpec(1000000), t1: 0, t2: 8.1, dt: 2, columns: [{ name: 'temperature', stream: 'u/d/temperature', interpolator: 'closest', transform: '' }] };
    expect(buildQuery(s)).toEqual({ t1: 0, t2: 8.1, dt: 2, dataset: { temperature: { stream: 'u/d/temperature', interpolator: 'closest' } } });
    const x = { ...s, kind: 'X' as const, x: 'u/d/mood', xtransform: '$ > 3' };
    expect(buildQuery(x)).toEqual({ t1: 0, t2: 8.1, stream: 'u/d/mood', transform: '$ > 3', dataset: { temperature: { stream: 'u/d/temperature', interpolator: 'closest' } } });
    const code = pythonCode(x, 'http://localhost:3124', 'u');
    expect(code).toContain('d = Dataset(cdb, x="u/d/mood", t1=0, t2=8.1, transform="$ > 3")');
    expect(code).toContain('d.addStream("u/d/temperature", "closest", colname="temperature")');
    expect(parseSpec(JSON.stringify(x))).toEqual(x);
    expect(parseSpec('{nope')).toBeNull();
  });
});
