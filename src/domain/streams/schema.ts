import Ajv04 from 'ajv-draft-04';
import Ajv, { _, type KeywordCxt, type Options, type ValidateFunction } from 'ajv';
import type { RegExpEngine } from 'ajv/dist/types';
import addFormats from 'ajv-formats';
import { ForbiddenError } from '../../errors';
import { type GoRegexp, compileGoRegexp } from '../../pipescript/transforms/regexp';
import { INT64_KEYWORD, SchemaLoopError, markInt64, selfReferenceLoop } from './schema-walk';

const INVALID = 'The provided schema is not a valid JSONSchema';

/** Compiled `pattern`s, shared by every schema (patterns repeat across streams). */
const patterns = new Map<string, GoRegexp>();
function goPattern(src: string): GoRegexp {
  let re = patterns.get(src);
  if (re === undefined) {
    re = compileGoRegexp(src);
    if (patterns.size > 10000) patterns.clear();
    patterns.set(src, re);
  }
  return re;
}

/** Called from the generated validators: one shared function, the pattern passed as a literal. */
function matchPattern(src: string, data: string): boolean {
  return goPattern(src).test(data);
}

/**
 * The original's gojsonschema matched `pattern` with Go's regexp: RE2 syntax and linear-time
 * matching. Ajv's own keyword keeps one scope constant per distinct pattern and builds the
 * constants' code by re-copying all earlier ones each time, which made a schema with thousands
 * of patterns quadratic to compile (and overflowed the stack): here every pattern shares one
 * function and the pattern text is a literal in the generated code.
 */
const patternKeyword = {
  keyword: 'pattern',
  type: 'string' as const,
  schemaType: 'string' as const,
  code(cxt: KeywordCxt) {
    const src = cxt.schema as string;
    goPattern(src); // an invalid pattern makes the schema invalid, now rather than at the first insert
    const fn = cxt.gen.scopeValue('func', { ref: matchPattern, code: _`matchPattern` });
    cxt.fail(_`!${fn}(${src}, ${cxt.data})`);
  },
};

/** `patternProperties` keys run on the same engine. */
const re2Engine: RegExpEngine = Object.assign(
  (src: string): { test(s: string): boolean; toString(): string } => {
    const re = goPattern(src);
    // Ajv dedupes patterns by toString().
    return { test: (s: string) => re.test(s), toString: () => src };
  },
  { code: 'matchPattern' },
);

/**
 * The original refused integers outside the 64-bit range under an "integer" schema (they are
 * doubles here, so the bound is ±2^63: 9223372036854775807 arrives as 2^63 and stays accepted).
 */
const int64Keyword = {
  keyword: INT64_KEYWORD,
  type: 'number' as const,
  schemaType: 'boolean' as const,
  errors: false,
  validate: (_on: boolean, d: number) => d >= -9223372036854775808 && d <= 9223372036854775808,
};

/**
 * allErrors: with it off, Ajv nests every following check inside the previous one's `if`, and
 * both its optimiser (names recounted at each level) and the JS parser are quadratic in that
 * depth: a 350 KB schema took 3.6 s and a bigger one overflowed the stack. The answer to a
 * failed insert never lists the errors, so collecting them all costs nothing on success.
 */
const OPTIONS: Options = {
  strict: false,
  allErrors: true,
  validateFormats: true,
  messages: false,
  code: { optimize: false, regExp: re2Engine },
  // Ajv prints the whole generated function on a compile failure: megabytes for a big schema.
  logger: false,
};

function setUp<T extends Ajv>(ajv: T): T {
  addFormats(ajv);
  ajv.removeKeyword('pattern');
  ajv.addKeyword(patternKeyword);
  ajv.addKeyword(int64Keyword);
  // gojsonschema's "regex" format is a Go regexp.
  ajv.addFormat('regex', (s: string) => {
    try {
      goPattern(s);
      return true;
    } catch {
      return false;
    }
  });
  return ajv;
}

/**
 * Stream schemas are JSON Schema draft-04 (the original used gojsonschema); a schema that names a
 * newer draft in `$schema` is compiled by a draft-07 validator instead.
 */
const ajv04 = setUp(new Ajv04(OPTIONS) as unknown as Ajv);
const ajv07 = setUp(new Ajv(OPTIONS));

/** Removes whitespace outside strings, keeping key order, number spelling and escapes. */
export function minifyJSON(text: string): string {
  let out = '';
  let inStr = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inStr) {
      out += c;
      if (c === '\\') {
        out += text[++i];
      } else if (c === '"') inStr = false;
    } else if (c === '"') {
      inStr = true;
      out += c;
    } else if (c !== ' ' && c !== '\n' && c !== '\r' && c !== '\t') out += c;
  }
  return out;
}

/** Validates one datapoint's `d` against a stream's schema. */
export type Validate = (d: unknown) => boolean;

const cache = new Map<string, Validate | null>();

function compile(text: string): Validate | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ForbiddenError(INVALID);
  }
  if (typeof parsed === 'boolean') return parsed ? null : guarded(compileWith(ajv07, parsed));
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ForbiddenError(INVALID);
  }
  // `{}` accepts everything: skip validation entirely on the insert path.
  if (Object.keys(parsed).length === 0) return null;
  const loop = selfReferenceLoop(parsed);
  if (loop !== null) throw new ForbiddenError(`The provided schema is not a valid JSONSchema: it refers to itself (${loop}) without descending into the data, so no value could ever be checked against it`);
  markInt64(parsed);
  const s = (parsed as { $schema?: unknown }).$schema;
  const engine = typeof s === 'string' && !s.includes('draft-04') ? ajv07 : ajv04;
  return guarded(compileWith(engine, parsed));
}

function compileWith(engine: Ajv, schema: unknown): ValidateFunction {
  try {
    const v = engine.compile(schema as object);
    // Ajv keeps every compiled schema keyed by its object; ours are cached here by text instead.
    engine.removeSchema(schema as object);
    return v;
  } catch {
    throw new ForbiddenError(INVALID);
  }
}

/**
 * The static check above follows JSON-pointer references; one it cannot see (through an `id`)
 * would recurse until the stack overflows. That is a refusal of the datapoint, not a 500.
 */
function guarded(v: ValidateFunction): Validate {
  return (d) => {
    try {
      return v(d);
    } catch (e) {
      if (e instanceof RangeError) throw new SchemaLoopError();
      throw e;
    }
  };
}

/**
 * Validates and normalises a schema as sent by a client; returns the text to store.
 * `""` means `{}` (data-model §3.3).
 */
export function normalizeSchema(text: string): string {
  if (text === '') return '{}';
  const min = minifyJSON(text);
  validator(min);
  return min;
}

/** The compiled validator for a stored schema (null = accepts everything), cached by its text. */
export function validator(schemaText: string): Validate | null {
  let v = cache.get(schemaText);
  if (v === undefined) {
    v = compile(schemaText);
    if (cache.size > 10000) cache.clear();
    cache.set(schemaText, v);
  }
  return v;
}
