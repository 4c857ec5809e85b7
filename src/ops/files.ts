/** The export directory format (export-import.md §1–§6). */
export const INFO_FILE = 'connectordb.json';
export const USER_FILE = 'user.json';
export const DEVICE_FILE = 'device.json';
export const STREAM_FILE = 'stream.json';
export const DATA_FILE = 'data.json';
export const DOWNLINK_FILE = 'downlink.json';

export const USER_KEYS = ['name', 'nickname', 'email', 'description', 'icon', 'role', 'public', 'password', 'password_salt', 'password_scheme'] as const;
export const DEVICE_KEYS = ['name', 'nickname', 'description', 'icon', 'apikey', 'enabled', 'public', 'role', 'visible', 'user_editable'] as const;
export const STREAM_KEYS = ['name', 'nickname', 'description', 'icon', 'schema', 'datatype', 'ephemeral', 'downlink'] as const;

/** Picks keys in the given order (the original's struct order). */
export function ordered(o: object, keys: readonly string[]): Record<string, unknown> {
  const src = o as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = src[k];
  return out;
}
