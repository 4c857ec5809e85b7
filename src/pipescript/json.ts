/** Wire serialisation of datapoints exactly like the original's Go encoding/json (spec §6). */
import type { Datapoint } from './datapoint';
import { PipeScriptError } from './errors';
import { PsFloat32, PsInt, formatG } from './values';

function nonfinite(x: number): never {
  throw new PipeScriptError('nonfinite', `json: unsupported value: ${formatG(x)}`);
}

function num(x: number): string {
  if (x !== x || x === Infinity || x === -Infinity) nonfinite(x);
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  // JS shortest round-trip digits with exponent below 1e-6 / from 1e21 is exactly Go's float64 output.
  return '' + x;
}

function needsUtf8Sort(keys: string[]): boolean {
  for (const k of keys) for (let i = 0; i < k.length; i++) if (k.charCodeAt(i) >= 0xd800) return true;
  return false;
}

function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function valueToJSON(v: unknown): string {
  switch (typeof v) {
    case 'number':
      return num(v);
    case 'string':
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'undefined':
      return 'null';
    case 'bigint':
      return v.toString();
  }
  if (v === null) return 'null';
  if (v instanceof PsInt) return num(v.v);
  if (v instanceof PsFloat32) {
    if (!Number.isFinite(v.v)) nonfinite(v.v);
    return v.jsonText();
  }
  if (Array.isArray(v)) {
    let s = '[';
    for (let i = 0; i < v.length; i++) {
      if (i > 0) s += ',';
      s += valueToJSON(v[i]);
    }
    return s + ']';
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  // Go writes map keys sorted byte-wise on UTF-8; UTF-16 order only differs for surrogates.
  if (needsUtf8Sort(keys)) keys.sort(utf8Compare);
  else keys.sort();
  let s = '{';
  for (let i = 0; i < keys.length; i++) {
    if (i > 0) s += ',';
    s += JSON.stringify(keys[i]) + ':' + valueToJSON(o[keys[i]]);
  }
  return s + '}';
}

export function datapointToJSON(dp: Datapoint): string {
  const t = dp.t;
  const d = dp.d;
  let s = '{';
  let sep = false;
  if (t !== 0) {
    s += '"t":' + num(t);
    sep = true;
  }
  if (d !== null && d !== undefined) {
    s += (sep ? ',"d":' : '"d":') + (typeof d === 'number' ? num(d) : valueToJSON(d));
    sep = true;
  }
  if (dp.o !== undefined && dp.o !== '') s += (sep ? ',"o":' : '"o":') + JSON.stringify(dp.o);
  return s + '}';
}

/** `d` with the wrapped number kinds unwrapped to plain JSON values (float32 as its shortest digits). */
export function toPlain(v: unknown): unknown {
  if (v instanceof PsInt) return v.v;
  if (v instanceof PsFloat32) return Number(v.jsonText());
  if (Array.isArray(v)) return v.map(toPlain);
  if (v !== null && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(v)) o[k] = toPlain((v as Record<string, unknown>)[k]);
    return o;
  }
  return v === undefined ? null : v;
}
