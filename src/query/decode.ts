/**
 * Body decoding with Go `encoding/json` semantics, because the original's 400-vs-403 split comes
 * from it: a wrong JSON type anywhere is a 400 before any semantic check runs, unknown fields are
 * ignored, `null` leaves a scalar field at its zero value, keys match field names exactly or else
 * case-insensitively, and a later duplicate key overwrites an earlier one.
 */
import { BadRequestError } from '../errors';

/** A stream query with every field at its Go zero value when absent. */
export interface DecodedStreamQuery {
  stream: string;
  transform: string;
  i1: number;
  i2: number;
  t1: number;
  t2: number;
  limit: number;
}

/** A dataset column. `merge` elements are null where the body had `null` (Go nil pointers). */
export interface DecodedElement extends DecodedStreamQuery {
  merge: (DecodedStreamQuery | null)[];
  interpolator: string;
  allownil: boolean;
}

export interface DecodedDataset extends DecodedStreamQuery {
  merge: (DecodedStreamQuery | null)[];
  dt: number;
  /** Insertion-ordered columns; null columns stand for `"name": null`. Undefined when absent. */
  dataset: Map<string, DecodedElement | null> | undefined;
  posttransform: string;
}

type FieldKind = 'string' | 'int64' | 'float64' | 'bool' | 'merge' | 'dataset';

const STREAM_QUERY_FIELDS: Record<string, FieldKind> = {
  stream: 'string',
  transform: 'string',
  i1: 'int64',
  i2: 'int64',
  t1: 'float64',
  t2: 'float64',
  limit: 'int64',
};
const ELEMENT_FIELDS: Record<string, FieldKind> = {
  ...STREAM_QUERY_FIELDS,
  merge: 'merge',
  interpolator: 'string',
  allownil: 'bool',
};
const DATASET_FIELDS: Record<string, FieldKind> = {
  ...STREAM_QUERY_FIELDS,
  merge: 'merge',
  dt: 'float64',
  dataset: 'dataset',
  posttransform: 'string',
};

const GO_TYPE: Record<FieldKind, string> = {
  string: 'string',
  int64: 'int64',
  float64: 'float64',
  bool: 'bool',
  merge: '[]*query.StreamQuery',
  dataset: 'map[string]*query.DatasetQueryElement',
};

/** The JSON kind word Go puts in its unmarshal errors. */
function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'number':
      return 'number';
    case 'boolean':
      return 'bool';
    default:
      return 'object';
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeError(v: unknown, structName: string, path: string, goType: string): BadRequestError {
  const what = typeof v === 'number' ? `number ${String(v)}` : jsonKind(v);
  return new BadRequestError(`json: cannot unmarshal ${what} into Go struct field ${structName}.${path} of type ${goType}`);
}

function valueError(v: unknown, goType: string): BadRequestError {
  return new BadRequestError(`json: cannot unmarshal ${jsonKind(v)} into Go value of type ${goType}`);
}

function findField(fields: Record<string, FieldKind>, key: string): string | undefined {
  if (Object.prototype.hasOwnProperty.call(fields, key)) return key;
  const lower = key.toLowerCase();
  return Object.keys(fields).find((f) => f === lower);
}

function newStreamQuery(): DecodedStreamQuery {
  return { stream: '', transform: '', i1: 0, i2: 0, t1: 0, t2: 0, limit: 0 };
}

/**
 * Decodes `obj` into `target` field by field. `prefix` is the dotted path of `obj` from the body
 * root, used in messages; `structName` is the Go struct the original decoded into.
 */
function decodeFields(
  obj: Record<string, unknown>,
  fields: Record<string, FieldKind>,
  target: Record<string, unknown>,
  structName: string,
  prefix: string,
): void {
  for (const key of Object.keys(obj)) {
    const field = findField(fields, key);
    if (field === undefined) continue;
    const kind = fields[field];
    const v = obj[key];
    const path = prefix + field;
    switch (kind) {
      case 'string':
        if (v === null) break;
        if (typeof v !== 'string') throw typeError(v, structName, path, GO_TYPE[kind]);
        target[field] = v;
        break;
      case 'bool':
        if (v === null) break;
        if (typeof v !== 'boolean') throw typeError(v, structName, path, GO_TYPE[kind]);
        target[field] = v;
        break;
      case 'float64':
        if (v === null) break;
        if (typeof v !== 'number') throw typeError(v, structName, path, GO_TYPE[kind]);
        target[field] = v;
        break;
      case 'int64':
        if (v === null) break;
        if (typeof v !== 'number' || !Number.isInteger(v) || Math.abs(v) > 2 ** 63) {
          throw typeError(v, structName, path, GO_TYPE[kind]);
        }
        target[field] = v;
        break;
      case 'merge':
        target[field] = v === null ? [] : decodeMergeArray(v, structName, path);
        break;
      case 'dataset':
        target[field] = v === null ? undefined : decodeColumns(v, structName, path);
        break;
    }
  }
}

function decodeMergeArray(v: unknown, structName: string, path: string): (DecodedStreamQuery | null)[] {
  if (!Array.isArray(v)) throw typeError(v, structName, path, GO_TYPE.merge);
  return v.map((el, i) => {
    if (el === null) return null;
    if (!isObject(el)) throw typeError(el, structName, path, 'query.StreamQuery');
    const q = newStreamQuery();
    decodeFields(el, STREAM_QUERY_FIELDS, q as unknown as Record<string, unknown>, 'StreamQuery', `${path}[${i}].`);
    return q;
  });
}

function decodeColumns(v: unknown, structName: string, path: string): Map<string, DecodedElement | null> {
  if (!isObject(v)) throw typeError(v, structName, path, GO_TYPE.dataset);
  const out = new Map<string, DecodedElement | null>();
  for (const [name, el] of Object.entries(v)) {
    if (el === null) {
      out.set(name, null);
      continue;
    }
    if (!isObject(el)) throw typeError(el, structName, path, 'query.DatasetQueryElement');
    const e: DecodedElement = { ...newStreamQuery(), merge: [], interpolator: '', allownil: false };
    decodeFields(el, ELEMENT_FIELDS, e as unknown as Record<string, unknown>, 'DatasetQueryElement', `${path}.${name}.`);
    out.set(name, e);
  }
  return out;
}

/** The body of `POST /api/v1/query/merge`. `null` decodes to an empty merge, as in Go. */
export function decodeMergeBody(body: unknown): (DecodedStreamQuery | null)[] {
  if (body === undefined) throw new BadRequestError('unexpected end of JSON input');
  if (body === null) return [];
  if (!Array.isArray(body)) throw valueError(body, '[]*query.StreamQuery');
  return body.map((el) => {
    if (el === null) return null;
    if (!isObject(el)) throw valueError(el, 'query.StreamQuery');
    const q = newStreamQuery();
    decodeFields(el, STREAM_QUERY_FIELDS, q as unknown as Record<string, unknown>, 'StreamQuery', '');
    return q;
  });
}

/** The body of `POST /api/v1/query/dataset`. `null` decodes to an empty query, as in Go. */
export function decodeDatasetBody(body: unknown): DecodedDataset {
  if (body === undefined) throw new BadRequestError('unexpected end of JSON input');
  const q: DecodedDataset = { ...newStreamQuery(), merge: [], dt: 0, dataset: undefined, posttransform: '' };
  if (body === null) return q;
  if (!isObject(body)) throw valueError(body, 'query.DatasetQuery');
  decodeFields(body, DATASET_FIELDS, q as unknown as Record<string, unknown>, 'DatasetQuery', '');
  return q;
}
