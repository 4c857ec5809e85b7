import { describe, expect, it } from 'vitest';
import { parseStored, wireJSON } from '../../src/domain/datapoints/service';

describe('stored wire-form datapoints', () => {
  const cases: [number, unknown, string | undefined][] = [
    [1, 42, undefined],
    [1.5e9, -3.25, undefined],
    [1.5e9, 1e21, undefined],
    [1.5e9, 1e-7, undefined],
    [2, 'a,"o":"x"', undefined],
    [3, { a: [1, 2] }, undefined],
    [4, null, undefined],
    [5, 7, 'alice/phone'],
    [0, 8, undefined],
    [6, true, undefined],
  ];
  for (const [t, d, o] of cases) {
    it(`round-trips t=${t} d=${JSON.stringify(d)}${o ? ` o=${o}` : ''} through the fast and the JSON path alike`, () => {
      const j = wireJSON(t, d === null ? null : JSON.stringify(d), o === undefined ? null : JSON.stringify(o));
      const back = parseStored(j);
      expect(back).toEqual(o === undefined ? { t, d } : { t, d, o });
    });
  }

  it('writes the omit-empty wire form', () => {
    expect(wireJSON(0, null, null)).toBe('{}');
    expect(wireJSON(1, null, '"a/b"')).toBe('{"t":1,"o":"a/b"}');
    expect(wireJSON(0, '5', null)).toBe('{"d":5}');
  });
});
