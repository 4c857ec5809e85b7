import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Datapoint, PipeScriptError, Reducer, datapointToJSON, parseScript } from '../../src/pipescript';

const KINDS = ['sum', 'mean', 'count', 'min', 'max'] as const;

/** The general pipeline's answer as the wire would carry it: the output texts, or the error. */
function general(script: string, input: Datapoint[]): string {
  try {
    const it = parseScript(script).run(input[Symbol.iterator]());
    const out: string[] = [];
    for (let r = it.next(); !r.done; r = it.next()) out.push(datapointToJSON(r.value));
    return out.join(',');
  } catch (e) {
    if (e instanceof PipeScriptError) return `error: ${e.message}`;
    throw e;
  }
}

/**
 * The reducer's answer, fed the way the service feeds it: runs of plain numbers as typed arrays
 * (a numeric chunk), everything else one datapoint at a time (a text chunk or tail rows).
 */
function reduced(script: string, input: Datapoint[], blocks: number[]): string {
  const r = parseScript(script).reducer();
  if (r === null) throw new Error(`${script} has no reducer`);
  try {
    let i = 0;
    for (let b = 0; i < input.length; b++) {
      const end = Math.min(input.length, i + Math.max(1, blocks[b % blocks.length] ?? 1));
      const part = input.slice(i, end);
      if (part.every((p) => typeof p.d === 'number')) {
        // Typed arrays with a margin on both sides, as a chunk's [from, to) leaves them.
        const times = new Float64Array(part.length + 2);
        const values = new Float64Array(part.length + 2);
        times[0] = values[0] = 123;
        for (let k = 0; k < part.length; k++) {
          times[k + 1] = part[k].t;
          values[k + 1] = part[k].d as number;
        }
        times[part.length + 1] = values[part.length + 1] = 1e300;
        r.numbers(times, values, 1, part.length + 1);
      } else for (const p of part) r.point(p.t, p.d);
      i = end;
    }
    const out = r.result();
    return out === null ? '' : datapointToJSON(out);
  } catch (e) {
    if (e instanceof PipeScriptError) return `error: ${e.message}`;
    throw e;
  }
}

const number = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: -1e6, max: 1e6 }),
  fc.constantFrom(0, -0, 5e-324, -5e-324, 1e-300, 1.7976931348623157e308, -1.7976931348623157e308, 2 ** 53, 0.1, 0.2, 0.3, 1e21, 1e-7),
  fc.integer({ min: -1e8, max: 1e8 }).map((k) => k / 100),
);
const other = fc.oneof(fc.constantFrom('12.5', ' 7 ', 'true', 'false', '', '-0', '1e3', true, false, null), fc.string({ maxLength: 4 }), fc.constant({ a: 1 }), fc.constant([1]));
const point = (values: fc.Arbitrary<unknown>) =>
  fc.tuple(fc.double({ min: 0, max: 2e9, noNaN: true }), values).map(([t, d]) => ({ t, d }) as Datapoint);
/** Ordered timestamps, some equal, as stored. */
const sequence = (values: fc.Arbitrary<unknown>) =>
  fc.array(point(values), { maxLength: 60 }).map((ps) => {
    ps.sort((a, b) => a.t - b.t);
    return ps;
  });
const blocks = fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 5 });

describe('reductions from typed arrays', () => {
  it.each([
    ['sum | if last', 'sum'],
    ['mean|if last', 'mean'],
    ['count | if last', 'count'],
    ['min | if last', 'min'],
    ['max($) | if last', 'max'],
    ['sum | if (last)', 'sum'],
  ])('%s is recognised at compile time', (script, kind) => {
    expect(parseScript(script).reducer()?.kind).toBe(kind);
  });

  it.each(['sum', 'if last', '$ | sum | if last', 'sum | if last | if last', 'max($["a"]) | if last', 'sum | if $ > 1', 'sum | last', 'mean | if last == true'])(
    '%s takes the general path',
    (script) => expect(parseScript(script).reducer()).toBeNull(),
  );

  for (const kind of KINDS) {
    const script = `${kind} | if last`;
    it(`${script} answers byte for byte what the general pipeline answers, on numbers`, () => {
      fc.assert(
        fc.property(sequence(number), blocks, (input, b) => {
          expect(reduced(script, input, b)).toBe(general(script, input));
        }),
        { numRuns: 300 },
      );
    });
    it(`${script} answers what the general pipeline answers on numbers mixed with other values, errors included`, () => {
      fc.assert(
        fc.property(sequence(fc.oneof({ weight: 4, arbitrary: number }, { weight: 1, arbitrary: other })), blocks, (input, b) => {
          expect(reduced(script, input, b)).toBe(general(script, input));
        }),
        { numRuns: 300 },
      );
    });
  }

  it('sums in the general pipeline order, so rounding is the same', () => {
    const input = [1e16, 1, 1, 1, 1, -1e16, 0.1, 0.2].map((d, i) => ({ t: i + 1, d }));
    for (const kind of ['sum', 'mean']) {
      const script = `${kind} | if last`;
      expect(reduced(script, input, [3])).toBe(general(script, input));
      expect(reduced(script, input, [1])).toBe(general(script, input));
    }
    expect(general('sum | if last', input)).toBe('{"t":8,"d":0.30000000000000004}');
  });

  it('an empty sequence outputs nothing; -0 and ties keep the first datapoint', () => {
    for (const kind of KINDS) expect(reduced(`${kind} | if last`, [], [1])).toBe('');
    const ties = [
      { t: 1, d: 0 },
      { t: 2, d: -0 },
      { t: 3, d: 0 },
    ];
    for (const kind of KINDS) {
      const script = `${kind} | if last`;
      expect(reduced(script, ties, [2])).toBe(general(script, ties));
    }
    expect(reduced('min | if last', ties, [3])).toBe('{"t":1,"d":0}');
    const negZero = [{ t: 5, d: -0 }];
    expect(reduced('max | if last', negZero, [1])).toBe('{"t":5,"d":-0}');
    expect(reduced('sum | if last', negZero, [1])).toBe(general('sum | if last', negZero));
  });

  it('a value that is no number fails with the general pipeline message', () => {
    const input: Datapoint[] = [
      { t: 1, d: 1 },
      { t: 2, d: 'abc' },
      { t: 3, d: 2 },
    ];
    for (const kind of ['sum', 'mean', 'min', 'max']) {
      const script = `${kind} | if last`;
      expect(reduced(script, input, [1])).toBe("error: Could not convert 'abc' to Float");
      expect(general(script, input)).toBe("error: Could not convert 'abc' to Float");
    }
    expect(reduced('count | if last', input, [1])).toBe('{"t":3,"d":3}');
  });

  it('a fresh reducer per run: no state carries over', () => {
    const s = parseScript('sum | if last');
    const a = s.reducer() as Reducer;
    a.point(1, 5);
    const b = s.reducer() as Reducer;
    b.point(2, 7);
    expect(a.result()).toEqual({ t: 1, d: 5 });
    expect(b.result()).toEqual({ t: 2, d: 7 });
  });
});
