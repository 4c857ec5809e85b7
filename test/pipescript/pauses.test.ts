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

  it('says which scripts pass pauses: one-to-one scripts, if with a plain condition, if last', () => {
    for (const s of ['$ * 2', 't', 'if $ > 5', 'if last', 'sum | if last', 'if $ > 5 | sum | if last', '$ + 1 | $ * 2 | if $ < 10']) expect(parseScript(s).pausable, s).toBe(true);
  });

  it('says that look-ahead and aggregating stages do not pass pauses', () => {
    for (const s of ['next', 'last', 'while($ > 2, count)', 'ttrue', 'if next > 3', 'map($ > 2, count)', '$ * 2 | next']) expect(parseScript(s).pausable, s).toBe(false);
  });
});
