import { afterEach, describe, expect, it } from 'vitest';
import { type Datapoint, PipeScriptError, configurePipeScript, parseScript, toPlain } from '../../src/pipescript';

/** Issue 13: PipeScript that used to overflow the stack, take seconds, or backtrack exponentially. */
const dps = (...ds: unknown[]): Datapoint[] => ds.map((d, i) => ({ t: i + 1, d }));
const run = (script: string, input: Datapoint[]): unknown[] => parseScript(script).runArray(input).map((x) => toPlain(x.d));

function parseError(script: string): PipeScriptError {
  try {
    parseScript(script);
  } catch (e) {
    if (e instanceof PipeScriptError) return e;
    throw e;
  }
  throw new Error('no error thrown');
}

describe('nesting limit (pipescript.max_nesting)', () => {
  afterEach(() => configurePipeScript({ maxNesting: 0, maxStages: 0 }));

  it.each([
    ['parentheses', (n: number) => '('.repeat(n) + '$' + ')'.repeat(n)],
    ['brackets', (n: number) => '['.repeat(n) + '$' + ']'.repeat(n)],
    ['unary minus', (n: number) => '-'.repeat(n) + '$'],
    ['not', (n: number) => 'not '.repeat(n) + '$'],
    ['objects', (n: number) => '{"a":'.repeat(n) + '$' + '}'.repeat(n)],
    ['call arguments', (n: number) => 'if('.repeat(n) + '$' + ')'.repeat(n)],
  ])('%s nested 5,000 deep is a parse error naming the limit, not a stack overflow', (_kind, make) => {
    const e = parseError(make(5000));
    expect(e.kind).toBe('parse');
    expect(e.detail).toMatch(/nested more than 100 levels deep.*pipescript\.max_nesting/);
  });

  it('nesting up to the limit still works', () => {
    expect(run('('.repeat(90) + '$ + 1' + ')'.repeat(90), dps(1))).toEqual([2]);
    expect(run('-'.repeat(90) + '$', dps(1))).toEqual([1]);
  });

  it('the nesting limit is configurable', () => {
    configurePipeScript({ maxNesting: 5 });
    expect(parseError('((((($)))))').detail).toMatch(/more than 5 levels/);
    expect(run('(((($))))', dps(3))).toEqual([3]);
  });
});

describe('long pipelines (pipescript.max_stages)', () => {
  afterEach(() => configurePipeScript({ maxNesting: 0, maxStages: 0 }));

  it('a 10,000-stage pipeline is built without recursion and runs', () => {
    configurePipeScript({ maxStages: 10000 });
    expect(run(Array(10000).fill('$ + 1').join(' | '), dps(0, 1))).toEqual([10000, 10001]);
    expect(run(Array(10000).fill('$').join(':'), dps(7))).toEqual([7]);
    expect(run(Array(5000).fill('sum').join(' | '), dps(1, 1))).toEqual([1, 5001]);
  });

  it('a pipeline over the stage limit (25,000 stages; default limit 2,000) is a parse error naming the limit', () => {
    const e = parseError(Array(25000).fill('$ + 1').join(' | '));
    expect(e.kind).toBe('parse');
    expect(e.detail).toBe('the script has more than 2000 stages; the limit is pipescript.max_stages');
    expect(parseError(Array(2001).fill('$').join(':')).detail).toMatch(/more than 2000 stages/);
  });

  it('the stage limit is configurable', () => {
    configurePipeScript({ maxStages: 3 });
    expect(run('$ | $ | $', dps(1))).toEqual([1]);
    expect(parseError('$ | $ | $ | $').detail).toMatch(/more than 3 stages/);
    configurePipeScript({ maxStages: 30000 });
    expect(run(Array(25000).fill('$ + 1').join(' | '), dps(0))).toEqual([25000]);
  });
});

describe('regex runs on RE2 (linear time, Go syntax)', () => {
  it('regex("(a+)+$") over 100,000 a\'s and a b answers false at once instead of backtracking', () => {
    expect(run('regex("(a+)+$")', dps('a'.repeat(100000) + 'b', 'aab'.repeat(3) + 'a'))).toEqual([false, true]);
  });

  it('keeps Go regexp syntax: (?P<name>), \\A, \\z, POSIX classes, (?U)', () => {
    expect(run("regex('(?P<x>ab)+')", dps('xabab', 'b'))).toEqual([true, false]);
    expect(run("regex('\\\\Aab\\\\z')", dps('ab', 'ab\n'))).toEqual([true, false]);
    expect(run("regex('^[[:digit:]]+$')", dps('123', '12a'))).toEqual([true, false]);
    expect(run("regex('(?U)a+')", dps('a'))).toEqual([true]);
  });

  it('rejects what Go rejects with Go\'s messages', () => {
    expect(parseError('regex("(")').detail).toBe('error parsing regexp: missing closing ): `(`');
    expect(parseError('regex("(a)\\\\1")').detail).toBe('error parsing regexp: invalid escape sequence: `\\1`');
    expect(parseError('regex("a(?=b)")').detail).toBe('error parsing regexp: invalid or unsupported Perl syntax: `(?=`');
    expect(parseError('regex("a\\\\")').detail).toBe('error parsing regexp: trailing backslash at end of expression: ``');
  });
});
