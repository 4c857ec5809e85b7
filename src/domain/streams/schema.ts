import Ajv04 from 'ajv-draft-04';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { ForbiddenError } from '../../errors';

/**
 * Stream schemas are JSON Schema draft-04 (the original used gojsonschema); a schema that names a
 * newer draft in `$schema` is compiled by a draft-07 validator instead.
 */
const ajv04 = new Ajv04({ strict: false, allErrors: false, validateFormats: true });
const ajv07 = new Ajv({ strict: false, allErrors: false, validateFormats: true });
addFormats(ajv04 as unknown as Ajv);
addFormats(ajv07);

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

const cache = new Map<string, ValidateFunction | null>();

function compile(text: string): ValidateFunction | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ForbiddenError('The provided schema is not a valid JSONSchema');
  }
  if (typeof parsed === 'boolean') return parsed ? null : compileWith(ajv07, parsed);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ForbiddenError('The provided schema is not a valid JSONSchema');
  }
  // `{}` accepts everything: skip validation entirely on the insert path.
  if (Object.keys(parsed).length === 0) return null;
  const s = (parsed as { $schema?: unknown }).$schema;
  const engine = typeof s === 'string' && !s.includes('draft-04') ? ajv07 : ajv04;
  return compileWith(engine as Ajv, parsed);
}

function compileWith(engine: Ajv, schema: unknown): ValidateFunction {
  try {
    return engine.compile(schema as object);
  } catch {
    throw new ForbiddenError('The provided schema is not a valid JSONSchema');
  }
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
export function validator(schemaText: string): ValidateFunction | null {
  let v = cache.get(schemaText);
  if (v === undefined) {
    v = compile(schemaText);
    if (cache.size > 10000) cache.clear();
    cache.set(schemaText, v);
  }
  return v;
}
