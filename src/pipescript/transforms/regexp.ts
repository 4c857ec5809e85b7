/**
 * Go regexp (RE2) patterns, run by RE2JS, a pure-JS port of RE2: the original's syntax and
 * semantics, and matching in time linear in the input. V8's backtracking engine took 5 s for
 * `(a+)+$` on 26 `a`s and a `b`, doubling per character, while holding every other request.
 * Constructs RE2 rejects (backreferences, look-around) fail with Go's messages.
 */
import { RE2JS, RE2JSException } from 're2js';
import { ParseDetail } from '../errors';

/** A compiled pattern: true when it matches anywhere in the input, like Go's MatchString. */
export interface GoRegexp {
  test(input: string): boolean;
}

const PREFIX = 'error parsing regexp: ';

/** Go's wording for the few messages RE2JS words differently. */
function goMessage(msg: string): string {
  const m = msg.startsWith(PREFIX) ? msg.slice(PREFIX.length) : msg;
  if (m === 'trailing backslash at end of expression') return `${m}: \`\``;
  return m;
}

/** Compiles a Go regexp or throws the original's `error parsing regexp: …` (a parse error). */
export function compileGoRegexp(src: string): GoRegexp {
  try {
    return RE2JS.compile(src);
  } catch (e) {
    if (e instanceof RE2JSException) throw new ParseDetail(PREFIX + goMessage(e.message));
    throw e;
  }
}
