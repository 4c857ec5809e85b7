import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, makeApp } from '../helpers';

/**
 * The service's insert rule (ordering and restamp, data-model §6) as the engines call it. An
 * engine may call `prepare` more than once for one insert (a group retried one insert at a time,
 * a guessed state the database found stale, storage/types.ts InsertRule), so each call must answer
 * as if it were the first.
 */
let t: TestApp;
beforeAll(async () => {
  t = await makeApp();
});
afterAll(() => t.close());

describe('insert rule', () => {
  it('a second prepare on another stored state restamps from the timestamps as they came, not from the first call', () => {
    const points = [
      { t: 50, d: 1 },
      { t: 60, d: 2 },
      { t: 200, d: 3 },
    ];
    const rule = t.services.data.insertRule({ role: 'user' }, points, '', true);
    const first = rule.prepare({ length: 5, last_t: 100, bytes: 0 });
    expect(first.points.map((p) => p.t)).toEqual([100, 100, 200]);
    const second = rule.prepare({ length: 0, last_t: 0, bytes: 0 });
    expect(second.points.map((p) => p.t)).toEqual([50, 60, 200]);
    expect(second.points.map((p) => p.j)).toEqual(['{"t":50,"d":1}', '{"t":60,"d":2}', '{"t":200,"d":3}']);
    // What subscribers are sent (the points themselves) follows the call that counted, the last.
    expect(points.map((p) => p.t)).toEqual([50, 60, 200]);
    const third = rule.prepare({ length: 2, last_t: 55, bytes: 0 });
    expect(third.points.map((p) => p.t)).toEqual([55, 60, 200]);
    expect(points.map((p) => p.t)).toEqual([55, 60, 200]);
  });

  it('without restamp, a refusal on one state does not stop a later call on another state', () => {
    const rule = t.services.data.insertRule({ role: 'user' }, [{ t: 50, d: 1 }], '', false);
    expect(() => rule.prepare({ length: 1, last_t: 100, bytes: 0 })).toThrow('Greater timestamp already exists for the stream. Insert Failed.');
    expect(rule.prepare({ length: 0, last_t: 0, bytes: 0 }).points.map((p) => p.j)).toEqual(['{"t":50,"d":1}']);
  });
});
