// The vectors marked tz "UTC" assume the server runs in UTC; set it before the library reads it.
process.env.TZ = 'UTC';

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Datapoint, PipeScriptError, datapointToJSON, parseScript, toPlain } from '../../src/pipescript';
import { same } from '../compare';

interface Vector {
  name: string;
  script: string;
  input: Datapoint[];
  output?: Datapoint[];
  error?: boolean;
  error_kind?: 'parse' | 'runtime' | 'nonfinite';
  partial_output?: Datapoint[];
  approx?: boolean;
  tz?: string;
  note?: string;
}

const vectors = JSON.parse(readFileSync(join(__dirname, '../fixtures/pipescript.json'), 'utf8')) as Vector[];


function plain(out: Datapoint[]): { t: number; d: unknown }[] {
  return out.map((x) => ({ t: x.t, d: toPlain(x.d) }));
}

/** Run to completion like the server: stop at the first runtime error or unserialisable datapoint. */
function runVector(v: Vector): { out: Datapoint[]; err?: PipeScriptError } {
  const s = parseScript(v.script);
  const out: Datapoint[] = [];
  const it = s.run(v.input[Symbol.iterator]());
  try {
    for (let r = it.next(); !r.done; r = it.next()) {
      datapointToJSON(r.value);
      out.push(r.value);
    }
  } catch (e) {
    if (e instanceof PipeScriptError) return { out, err: e };
    throw e;
  }
  return { out };
}

describe('pipescript vectors', () => {
  it('has the expected vector set', () => {
    expect(vectors.length).toBe(513);
  });

  for (const v of vectors) {
    it(v.name, () => {
      if (v.error) {
        if (v.error_kind === 'parse') {
          let err: unknown;
          try {
            parseScript(v.script);
          } catch (e) {
            err = e;
          }
          expect(err).toBeInstanceOf(PipeScriptError);
          expect((err as PipeScriptError).kind).toBe('parse');
          expect((err as PipeScriptError).message.startsWith(`Script '${v.script}': `)).toBe(true);
          return;
        }
        const { out, err } = runVector(v);
        expect(err, `expected a ${v.error_kind} error, got ${JSON.stringify(plain(out))}`).toBeInstanceOf(PipeScriptError);
        expect(err?.kind).toBe(v.error_kind);
        if (v.partial_output) {
          const got = plain(out);
          expect(same(got, v.partial_output, !!v.approx), `partial ${JSON.stringify(got)}`).toBe(true);
        }
        return;
      }
      const { out, err } = runVector(v);
      if (err) throw err;
      const got = plain(out);
      expect(same(got, v.output, !!v.approx), `got ${JSON.stringify(got)} want ${JSON.stringify(v.output)}`).toBe(true);
    });
  }
});
