process.env.TZ = 'UTC';

import { Readable, Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Datapoint,
  PipeScriptError,
  PsFloat32,
  PsInt,
  configurePipeScript,
  datapointToJSON,
  parseScript,
  pipescriptCli,
  toPlain,
  transformListing,
} from '../../src/pipescript';

const dps = (...ds: unknown[]): Datapoint[] => ds.map((d, i) => ({ t: i + 1, d }));
const run = (script: string, input: Datapoint[]): unknown[] => parseScript(script).runArray(input).map((x) => toPlain(x.d));

function errorOf(f: () => unknown): PipeScriptError {
  try {
    f();
  } catch (e) {
    if (e instanceof PipeScriptError) return e;
    throw e;
  }
  throw new Error('no error thrown');
}

afterEach(() => configurePipeScript({ splitMax: 0, stringMax: 0, peekMax: 0, disableTransforms: [] }));

describe('parse errors', () => {
  it.each([
    ['bad transform (((', 'Transform transform not found'],
    ['', 'syntax error'],
    ['$ | | $', 'syntax error'],
    ['null', 'Transform null not found'],
    ['bucket(1,2,3)', "3 arguments were passed to 'bucket', which only accepts 2"],
    ['if', "Argument 1 of transform 'if' is required (got 0 args)."],
    ['map($, if $ > 1)', "Argument 1 of transform 'if' is required (got 0 args)."],
    ['map($, (if $ > 1))', "Argument 2 of transform 'map' must be OneToOne"],
    ['d(count)', "Argument 1 of transform 'd' must be a constant."],
    ['bottom(count)', 'GetConstant was called on a non-constant Script'],
    ['5 | $ + 1', 'GetConstant was called on a non-constant Script'],
    ['{"a": 1, "a": 2}', 'Key a found multiple times in json object'],
    ['{"a": next}', 'All transforms in object must not peek'],
    ['{"a": (if $ > 1)}', 'All transforms in object must be one-to-one'],
    ['tshift("x")', "Could not convert 'x' to Float"],
    ['next(1.5)', "Could not convert '1.5' to Int"],
    ['next(0)', 'next must look at least one datapoint forward'],
    ['next(101)', 'next cannot look more than 100 datapoints forward'],
    ['ifelse($ > 5, next)', 'ifelse cannot be used with transforms that peek.'],
    ['map($, last)', 'Map cannot be used with transforms that peek.'],
    ['imap($, last)', 'Imap cannot be used with transforms that peek.'],
    ['while(true, last)', 'while cannot be used with transforms that peek'],
    ['iwhile(true, next)', 'iwhile cannot be used with transforms that peek'],
    ["day('lol')", 'unknown time zone lol'],
    ["day('utc')", 'unknown time zone utc'],
    ['day(5)', 'unknown time zone 5'],
    ["day('../etc/passwd')", 'time: invalid location name'],
    ["day('/etc/localtime')", 'time: invalid location name'],
  ])('%s', (script, detail) => {
    const e = errorOf(() => parseScript(script));
    expect(e.kind).toBe('parse');
    expect(e.message).toBe(`Script '${script}': ${detail}`);
    expect(e.detail).toBe(detail);
  });

  it('rejects while inside inner scripts instead of hanging', () => {
    expect(errorOf(() => parseScript('map($, while(true, count))')).kind).toBe('parse');
  });

  it('reports a position for syntax errors without changing the message', () => {
    const e = errorOf(() => parseScript('$ + )'));
    expect(e.message).toBe("Script '$ + )': syntax error");
    expect(e.position).toBe(4);
  });

  it('accepts zone names the way Go LoadLocation does', () => {
    for (const z of ['UTC', '', 'Local', 'EST', 'Etc/GMT+5', 'America/New_York']) expect(() => parseScript(`day('${z}')`)).not.toThrow();
  });

  it('reports regexp errors', () => {
    const e = errorOf(() => parseScript('regex("(")'));
    expect(e.message.startsWith(`Script 'regex("(")': error parsing regexp: `)).toBe(true);
    expect(errorOf(() => parseScript('regex("(a)\\\\1")')).kind).toBe('parse');
    expect(errorOf(() => parseScript('regex("a(?=b)")')).kind).toBe('parse');
  });
});

describe('runtime errors', () => {
  it.each([
    ['$ + 1', 'a', "Failed to perform algebraic operation: couldn't convert to float."],
    ['$ < 1', 'a', 'Values given to comparison not numerical!'],
    ['-$', 'x', "Could not convert 'x' to Float"],
    ['not $', 'x', "Could not convert 'x' to Bool"],
    ['if $', 'hi', "Argument given to if can't be converted to boolean"],
    ['$("a")', 3, "Could not find 'a' in '3'"],
    ['$("a")', { b: 1 }, "Could not find 'a' in 'map[b:1]'"],
    ['reduce(sum)', [1], "Datapoint's data can't be reduced"],
    ['filter($)', 5, 'Must have object-valued datapoint'],
    ['set("a", 1)', null, "Can't read object keys"],
    ['percent', { a: 'x' }, 'Could not convert object value to float'],
    ['distance(0,0)', { latitude: 1 }, "Could not find 'longitude' in 'map[latitude:1]'"],
    ['distance(0,0)', { latitude: 'x', longitude: 1 }, 'Could not convert latitude to float'],
    ['sum', [1, 2], "Could not convert '[1 2]' to Float"],
  ])('%s on %j', (script, d, msg) => {
    const e = errorOf(() => parseScript(script).runArray([{ t: 1, d }]));
    expect(e.kind).toBe('runtime');
    expect(e.message).toBe(msg);
  });

  it('stops lazily at the failing datapoint', () => {
    const it = parseScript('if $').run(dps(1, 'hi', 3)[Symbol.iterator]());
    expect(it.next().value).toEqual({ t: 1, d: 1 });
    expect(() => it.next()).toThrow(PipeScriptError);
  });
});

describe('evaluation', () => {
  it('pulls input only as output is pulled', () => {
    let pulled = 0;
    function* gen(): Generator<Datapoint> {
      for (let i = 1; i <= 100; i++) {
        pulled++;
        yield { t: i, d: i };
      }
    }
    const it = parseScript('$ * 2 | next').run(gen());
    expect(it.next().value).toEqual({ t: 2, d: 4 });
    expect(pulled).toBe(2);
  });

  it('does not mutate input data', () => {
    const obj = { a: 1, b: { c: 2 } };
    const input = [{ t: 1, d: obj }];
    run('set("a", 5) | del("b") | apply($)', input);
    run('percent', [{ t: 1, d: { x: 1, y: 3 } }]);
    expect(obj).toEqual({ a: 1, b: { c: 2 } });
  });

  it('marks integer kinds and float32', () => {
    const out = parseScript('count').runArray(dps('a', 'b'));
    expect(out[1].d).toBeInstanceOf(PsInt);
    expect(datapointToJSON(out[1])).toBe('{"t":2,"d":2}');
    const s = parseScript('sentiment').runArray(dps('I love cats but hate dogs and this is fine ok'));
    expect(s[0].d).toBeInstanceOf(PsFloat32);
    expect(datapointToJSON(s[0])).toBe('{"t":1,"d":0.036363635}');
    expect(run('1000000 | append', dps(1))).toEqual(['1e+06']);
    expect(run('count * 1000000 | append', dps(1))).toEqual(['1e+06']);
    expect(run('wc | append', dps('a b'))).toEqual(['2']);
  });

  it('resets between sequences of an instance, with the anytrue quirk', () => {
    const inst = parseScript('anytrue').instance();
    expect(inst.runSequence(dps(false)).map((x) => x.d)).toEqual([false]);
    expect(inst.runSequence(dps(false)).map((x) => x.d)).toEqual([true]);
    const c = parseScript('count | if last').instance();
    expect(c.runSequence(dps(1, 2, 3)).map((x) => toPlain(x.d))).toEqual([3]);
    expect(c.runSequence([])).toEqual([]);
    expect(c.runSequence(dps(1, 2)).map((x) => toPlain(x.d))).toEqual([2]);
    const n = parseScript('next').instance();
    expect(n.runSequence(dps(1, 2))).toEqual([{ t: 2, d: 2 }, { t: 2, d: null }]);
    expect(n.runSequence(dps(5))).toEqual([{ t: 1, d: null }]);
    const m = parseScript('max | if last').instance();
    expect(m.runSequence(dps(1, 5, 3))).toEqual([{ t: 2, d: 5 }]);
    expect(m.runSequence(dps(2))).toEqual([{ t: 1, d: 2 }]);
  });

  it('recovers an instance after a runtime error', () => {
    const inst = parseScript('sum').instance();
    expect(() => inst.runSequence(dps('x'))).toThrow(PipeScriptError);
    expect(inst.runSequence(dps(1, 2)).map((x) => x.d)).toEqual([1, 3]);
  });

  it('handles look-ahead inside arguments', () => {
    expect(run('if $ == next', dps(1, 1, 2, 2, 3))).toEqual([1, 2]);
    expect(run('$ + next(2)', dps(1, 2, 3, 4))).toEqual([4, 6, 3, 4]);
    expect(run('{"a": $, "n": count} | if last', dps(1, 2))).toEqual([{ a: 2, n: 2 }]);
    expect(run('remember(last, $)', dps(1, 2, 3))).toEqual([1, 1, 3]);
  });

  it('implements the transforms listed in the spec', () => {
    expect(run('top(2)', dps({ a: 1, b: 2, c: 3, d: 4 }))).toEqual([{ c: 3, d: 4 }]);
    expect(run('bottom(0)', dps({ a: 1 }))).toEqual([{}]);
    expect(run('reduce(count)', dps({}))).toEqual([null]);
    expect(run('apply(next)', dps({ a: 1 }))).toEqual([{ a: null }]);
    expect(run('imap($ > 5, count)', dps(4, 6, 8))).toEqual([{ false: 1 }, { false: 1, true: 1 }, { false: 1, true: 2 }]);
    expect(run('bucket(0)', dps(1))).toEqual(['[NaN,NaN)']);
    expect(run('bucket(-5)', dps(1))).toEqual(['[5,0)']);
    expect(run('length', dps('héllo', [1], { a: 1 }, 5, null))).toEqual([6, 1, 1, 0, 0]);
    expect(run('$(1)', dps('abc'))).toEqual([98]);
    expect(run('ttrue', dps(true, true, true))).toEqual([2]);
    expect(run('tfalse', dps(true))).toEqual([]);
    expect(run("regex('(?i)^ab\\z')", dps('AB', 'abc'))).toEqual([true, false]);
    expect(run("regex('a.b')", dps('a\nb', 'a\rb'))).toEqual([false, true]);
    expect(run('contains("")', dps(null))).toEqual([true]);
    expect(run('changed', dps(null, 4, '4', 4, true, 1))).toEqual([false, true, false, false, true, false]);
    expect(run('new', dps(1, '1', true, 'true', null, ''))).toEqual([true, false, true, false, true, false]);
    expect(run('$ == $', dps({ a: [1] }))).toEqual([true]);
    expect(run('"1e400" == "1e400"', dps(1))).toEqual([true]);
    expect(run('$ + 1', dps('0x1p-2', '1_000', ' 5 '))).toEqual([1.25, 1001, 6]);
  });

  it('implements domain like net/url', () => {
    const cases: [string, string][] = [
      ['https://golang.org/pkg/net/url/#x', 'golang.org'],
      ['http://www.google.com:8080/x', 'google.com:8080'],
      ['http://WWW.Example.COM', 'WWW.Example.COM'],
      ['http://www.www.x.com', 'www.x.com'],
      ['http://a b.com/', ''],
      ['google.com', ''],
      ['mailto:a@b.com', ''],
      ['//host/path', 'host'],
      ['http://user:pw@host.com/', 'host.com'],
      ['http://[::1]:80/', '[::1]:80'],
      ['http://c.net:/', 'c.net:'],
      ['http://c.net:abc/', ''],
      [' http://x.com', ''],
      ['1http://x', ''],
      ['http://x.com?a=b', 'x.com'],
    ];
    expect(run('domain', dps(...cases.map((c) => c[0])))).toEqual(cases.map((c) => c[1]));
  });

  it('computes datetime fields across zones', () => {
    const t = [{ t: 1454907600, d: null }];
    const all =
      "{'day': day('UTC'), 'hour': hour('UTC'), 'week': week('UTC'), 'month': month('UTC'), 'year': year('UTC'), " +
      "'dayhour': dayhour, 'weekday': weekday, 'monthday': monthday, 'yearday': yearday, 'yearmonth': yearmonth}";
    expect(run(all, t)).toEqual([
      {
        day: 16839,
        hour: 404141,
        week: 2405,
        month: 554,
        year: 2016,
        dayhour: 5,
        weekday: 'Monday',
        monthday: 8,
        yearday: 39,
        yearmonth: 'February',
      },
    ]);
    expect(run("day('America/New_York')", [{ t: 0.5, d: null }])).toEqual([0]);
    expect(run("day('UTC')", t)).toEqual([16839]);
    expect(run("week('UTC')", t)).toEqual([2405]);
    expect(run("weekday('Europe/Berlin')", [{ t: 1454972400, d: null }])).toEqual(['Tuesday']);
    expect(run("day('Europe/London')", [{ t: -3600, d: null }])).toEqual([0]);
    expect(run("day('UTC')", [{ t: -86401, d: null }])).toEqual([-1]);
    expect(run("month('UTC')", [{ t: -1, d: null }])).toEqual([0]);
    expect(run('yearday', [{ t: 1483142400, d: null }])).toEqual([366]);
  });
});

describe('datapointToJSON', () => {
  it('follows the wire rules', () => {
    expect(datapointToJSON({ t: 0, d: 4 })).toBe('{"d":4}');
    expect(datapointToJSON({ t: 4, d: null })).toBe('{"t":4}');
    expect(datapointToJSON({ t: 1, d: -0 })).toBe('{"t":1,"d":-0}');
    expect(datapointToJSON({ t: 1, d: { b: 1, a: [true, 'x', null, 1e21, 1e-7] }, o: 'u/d' })).toBe(
      '{"t":1,"d":{"a":[true,"x",null,1e+21,1e-7],"b":1},"o":"u/d"}',
    );
    expect(datapointToJSON({ t: 1, d: false, o: '' })).toBe('{"t":1,"d":false}');
    expect(datapointToJSON({ t: 1, d: { '\u{1F600}': 1, '\uFFFD': 2 } })).toBe('{"t":1,"d":{"\uFFFD":2,"\u{1F600}":1}}');
    expect(datapointToJSON({ t: 1, d: new PsFloat32(Math.fround(0.2)) })).toBe('{"t":1,"d":0.2}');
  });

  it.each([
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
    [NaN, 'NaN'],
  ])('rejects %s', (x, text) => {
    for (const dp of [{ t: 1, d: x }, { t: 1, d: { a: [x] } }, { t: x, d: 1 }]) {
      const e = errorOf(() => datapointToJSON(dp));
      expect(e.kind).toBe('nonfinite');
      expect(e.message).toBe(`json: unsupported value: ${text}`);
    }
  });
});

describe('transformListing', () => {
  it('lists the 55 transforms with their metadata', () => {
    const l = transformListing();
    const names =
      '$ alltrue anytrue append apply bottom bucket changed contains count d day dayhour del distance domain dt filter first hour i if ifelse imap iwhile last length map max mean min month monthday new next percent rand reduce regex remember sentiment set sum t tfalse top tshift ttrue wc week weekday while year yearday yearmonth'.split(
        ' ',
      );
    expect(Object.keys(l).sort()).toEqual([...names].sort());
    for (const [k, v] of Object.entries(l)) {
      expect(v.name).toBe(k);
      expect(typeof v.description).toBe('string');
      expect(v.documentation.length).toBeGreaterThan(0);
      expect(typeof v.one_to_one).toBe('boolean');
    }
    expect(JSON.stringify(l.top.args)).toBe(
      JSON.stringify([
        { description: 'The number of elements to retain of the object', optional: false, constant: true, hijacked: false },
        {
          description: 'The script to run ($ default) to generate weights over which to sort',
          optional: true,
          default: null,
          constant: false,
          hijacked: true,
        },
      ]),
    );
    expect(l.count.args).toBeNull();
    expect(l.bucket.args?.[0].default).toBe(10);
    expect(l.while.one_to_one).toBe(true);
    expect(l.last.peek).toBe(true);
    expect(l.if.one_to_one).toBe(false);
  });
});

describe('configurePipeScript', () => {
  it('applies limits and disabled transforms', () => {
    configurePipeScript({ splitMax: 2, stringMax: 5, peekMax: 3 });
    expect(errorOf(() => run('map($, count)', dps(1, 2, 3))).message).toBe('Reached maximum map amount 2.');
    expect(errorOf(() => run('new', dps(1, 2, 3))).message).toBe('Reached maximum split amount 2.');
    expect(errorOf(() => run('append', dps('abc', 'def'))).message).toBe('Reached maximum string length 5.');
    expect(errorOf(() => parseScript('next(4)')).message).toBe("Script 'next(4)': next cannot look more than 3 datapoints forward");
    configurePipeScript({ disableTransforms: ['sum'] });
    expect(errorOf(() => parseScript('sum')).message).toBe("Script 'sum': Transform sum not found");
    expect(transformListing().sum).toBeUndefined();
    expect(Object.keys(transformListing())).toHaveLength(54);
    expect(() => configurePipeScript({ splitMax: -1 })).toThrow();
  });
});

describe('pipescriptCli', () => {
  async function cli(args: string[], stdin: string): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const sink = (f: (s: string) => void): Writable =>
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          f(chunk.toString());
          cb();
        },
      });
    const code = await pipescriptCli(args, {
      stdin: Readable.from([stdin]),
      stdout: sink((s) => (out += s)),
      stderr: sink((s) => (err += s)),
    });
    return { code, out, err };
  }

  it('runs a script over stdin', async () => {
    const r = await cli(['if $ > 1 | count'], '[{"t":1,"d":1},{"t":2,"d":5},{"t":3,"d":7}]');
    expect(r).toEqual({ code: 0, out: '[{"t":2,"d":1},{"t":3,"d":2}]\n', err: '' });
  });

  it('reports a bad script', async () => {
    const r = await cli(['bad transform ((('], '[]');
    expect(r.code).toBe(1);
    expect(r.err).toBe("Script 'bad transform (((': Transform transform not found\n");
  });

  it('reports runtime and non-finite errors', async () => {
    expect((await cli(['sum'], '[{"t":1,"d":"x"}]')).err).toBe("Could not convert 'x' to Float\n");
    expect((await cli(['1/$'], '[{"t":1,"d":0}]')).err).toBe('json: unsupported value: +Inf\n');
  });

  it('reads --input FILE', async () => {
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const f = join(mkdtempSync(join(tmpdir(), 'ps-')), 'in.json');
    writeFileSync(f, '[{"t":1,"d":2}]');
    expect(await cli(['$ * 2', '--input', f], '')).toEqual({ code: 0, out: '[{"t":1,"d":4}]\n', err: '' });
  });
});
