process.env.TZ = 'UTC';

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Datapoint, PipeScriptError, datapointToJSON, parseScript } from '../../src/pipescript';
import { PAUSE } from '../../src/pipescript/datapoint';

// A pipeline that says it passes pauses (Script.pausable) must answer, with PAUSEs anywhere in its
// input, exactly what it answers without them, plus the pauses: every recorded vector is run both
// ways, with a PAUSE before every input datapoint and one before the end.

interface Vector {
  name: string;
  script: string;
  input: Datapoint[];
  error?: boolean;
  error_kind?: string;
}
const vectors = JSON.parse(readFileSync(join(__dirname, '../fixtures/pipescript.json'), 'utf8')) as Vector[];

function* paused(input: Datapoint[]): Generator<Datapoint> {
  for (const dp of input) {
    yield PAUSE;
    yield dp;
  }
  yield PAUSE;
}

/** The outputs as JSON until the first error (its message last), and how many pauses came out. */
function run(script: string, input: Iterator<Datapoint>): { out: string[]; pauses: number } {
  const it = parseScript(script).run(input);
  const out: string[] = [];
  let pauses = 0;
  try {
    for (let r = it.next(); !r.done; r = it.next()) {
      if (r.value === PAUSE) pauses++;
      else out.push(datapointToJSON(r.value));
    }
  } catch (e) {
    if (!(e instanceof PipeScriptError)) throw e;
    out.push(`error: ${e.message}`);
  }
  return { out, pauses };
}

const runnable = vectors.filter((v) => !(v.error && v.error_kind === 'parse'));
const pausable = runnable.filter((v) => {
  try {
    return parseScript(v.script).pausable;
  } catch {
    return false;
  }
});

describe('PipeScript pipelines fed an input that pauses', () => {
  it('covers a good part of the recorded vectors', () => {
    expect(pausable.length).toBeGreaterThan(200);
  });

  for (const v of pausable) {
    it(`answers the same with pauses in the input: ${v.name}`, () => {
      const plain = run(v.script, v.input[Symbol.iterator]());
      const withPauses = run(v.script, paused(v.input));
      expect(withPauses.out).toEqual(plain.out);
      expect(plain.pauses).toBe(0);
      // Every pause reaches the consumer, unless an error stopped the pipeline first.
      if (plain.out.length === 0 || !plain.out[plain.out.length - 1].startsWith('error:')) expect(withPauses.pauses).toBe(v.input.length + 1);
    });
  }

  it('answers the same for long inputs with pauses at random places, runs of them included', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const input: Datapoint[] = Array.from({ length: 400 }, (_, i) => ({ t: 1 + i * 0.5, d: Math.floor(rand() * 10) }));
    const scripts = ['if $ > 6', 'if $ > 6 | sum | if last', 'next(3)', 'last', 'while($ > 2, count)', 'ttrue', 'map($ % 3, sum)', 'while($ > 4, mean) | if $ > 3', '$ > 5 | tfalse'];
    for (const script of scripts) {
      expect(parseScript(script).pausable, script).toBe(true);
      function* randomPauses(): Generator<Datapoint> {
        for (const dp of input) {
          while (rand() < 0.4) yield PAUSE;
          yield dp;
        }
        while (rand() < 0.5) yield PAUSE;
      }
      const plain = run(script, input[Symbol.iterator]());
      expect(plain.out.length, script).toBeGreaterThan(0);
      expect(run(script, randomPauses()).out, script).toEqual(plain.out);
    }
  });

  it('says which scripts pass pauses: stages whose arguments are plain one-to-one scripts', () => {
    const yes = ['$ * 2', 't', 'if $ > 5', 'if last', 'sum | if last', 'if $ > 5 | sum | if last', '$ + 1 | $ * 2 | if $ < 10'];
    for (const s of [...yes, 'next', 'next(3)', 'last', 'while($ > 2, count)', 'ttrue', 'tfalse', 'map($ > 2, count)', '$ * 2 | next | if $ > 3']) expect(parseScript(s).pausable, s).toBe(true);
  });

  it('says that a stage with an argument read through a look-ahead buffer does not pass pauses', () => {
    for (const s of ['if next > 3', '$ + next', 'if last | $ + next(2)', 'map(next, count)']) expect(parseScript(s).pausable, s).toBe(false);
  });
});
