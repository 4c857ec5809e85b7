/**
 * Deep equality for vector outputs: object key order ignored, -0 distinguished only where the
 * vector expects -0, and a relative tolerance of 1e-9 where the vector says `approx`.
 */
export function same(actual: unknown, expected: unknown, approx = false): boolean {
  if (typeof expected === 'number') {
    if (typeof actual !== 'number') return false;
    if (Object.is(expected, -0)) return Object.is(actual, -0);
    if (approx && expected !== 0) return Math.abs(actual - expected) <= 1e-9 * Math.abs(expected);
    return actual === expected;
  }
  if (expected === null || typeof expected !== 'object') return actual === expected;
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => same(actual[i], e, approx));
  }
  if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
  const a = actual as Record<string, unknown>;
  const e = expected as Record<string, unknown>;
  const ka = Object.keys(a).sort();
  const ke = Object.keys(e).sort();
  return ka.length === ke.length && ke.every((k, i) => ka[i] === k && same(a[k], e[k], approx));
}
