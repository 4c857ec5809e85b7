import { ForbiddenError } from '../errors';
import type { RWAccess, RWFlag } from '../permissions';

export type FieldType = 'string' | 'boolean';

/** Updatable fields of each object type with their JSON types (rest-api §5.6, §6.4, §7.4). */
export const USER_FIELDS: Record<string, FieldType> = {
  name: 'string',
  nickname: 'string',
  email: 'string',
  description: 'string',
  icon: 'string',
  role: 'string',
  public: 'boolean',
  password: 'string',
};
export const DEVICE_FIELDS: Record<string, FieldType> = {
  name: 'string',
  nickname: 'string',
  description: 'string',
  icon: 'string',
  apikey: 'string',
  enabled: 'boolean',
  public: 'boolean',
  role: 'string',
  visible: 'boolean',
  user_editable: 'boolean',
};
export const STREAM_FIELDS: Record<string, FieldType> = {
  name: 'string',
  nickname: 'string',
  description: 'string',
  icon: 'string',
  schema: 'string',
  datatype: 'string',
  ephemeral: 'boolean',
  downlink: 'boolean',
};

/**
 * The generic part of every update (rest-api §5.6 table): each key must be a known field, the
 * caller must hold its write flag, and the JSON type must match. Returns the typed changes.
 */
export function checkUpdate(
  prefix: 'user' | 'device' | 'stream',
  fields: Record<string, FieldType>,
  body: Record<string, unknown>,
  write: RWAccess,
): Record<string, string | boolean> {
  const keys = Object.keys(body);
  for (const k of keys) {
    if (!Object.prototype.hasOwnProperty.call(fields, k)) throw new ForbiddenError(`Unrecognized field '${k}'`);
  }
  for (const k of keys) {
    if (!write[`${prefix}_${k}` as RWFlag]) throw new ForbiddenError(`This device does not have permissions to write ${k}`);
  }
  const out: Record<string, string | boolean> = {};
  for (const k of keys) {
    const v = body[k];
    if (fields[k] === 'string') {
      if (typeof v !== 'string') throw new ForbiddenError(`Value of field '${k}' must be a string`);
    } else if (typeof v !== 'boolean') throw new ForbiddenError(`Value of field '${k}' must be a boolean`);
    out[k] = v as string | boolean;
  }
  return out;
}

/** Picks the readable fields of an object, keys sorted (the original's map form). */
export function readableMap(prefix: string, obj: Record<string, unknown>, fields: string[], read: RWAccess): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of [...fields].sort()) {
    if (read[`${prefix}_${f}` as RWFlag]) out[f] = obj[f];
  }
  return out;
}
