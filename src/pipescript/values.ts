/**
 * The duck rules (spec §5): every conversion, comparison and arithmetic operator goes through here,
 * so operators and transforms cannot drift apart.
 *
 * Value representation: float64 numbers are plain JS numbers (the hot path); the rare sub-kinds of §1
 * are small wrapper classes so they serialise and stringify like the original.
 */
import { runtimeError } from './errors';

/** An integer-kind number (count, i, length, wc, datetime fields, string byte indexing). */
export class PsInt {
  constructor(readonly v: number) {}
  valueOf(): number {
    return this.v;
  }
  toJSON(): number {
    return this.v;
  }
}

/** A float32 number (sentiment). `v` is the widened float64 value used by every operation. */
export class PsFloat32 {
  private s: string | undefined;
  constructor(readonly v: number) {}
  valueOf(): number {
    return this.v;
  }
  /** float32 shortest digits, as Go's encoding/json writes a float32. */
  jsonText(): string {
    if (this.s === undefined) {
      const v = this.v;
      let out = String(v);
      if (Number.isFinite(v) && v !== 0) {
        for (let p = 1; p <= 9; p++) {
          const n = Number(v.toPrecision(p));
          if (Math.fround(n) === v) {
            out = String(n);
            break;
          }
        }
      } else if (Object.is(v, -0)) out = '-0';
      this.s = out;
    }
    return this.s;
  }
  toJSON(): number {
    return Number(this.jsonText());
  }
}

const INT_CACHE: PsInt[] = [];
for (let i = 0; i < 1024; i++) INT_CACHE.push(new PsInt(i));

export function mkInt(n: number): PsInt {
  return n >= 0 && n < 1024 && (n | 0) === n ? INT_CACHE[n] : new PsInt(n);
}

export type PlainObject = Record<string, unknown>;

export function isObject(v: unknown): v is PlainObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof PsInt) && !(v instanceof PsFloat32);
}

// ---------------------------------------------------------------------------------------------
// Float parsing like Go's strconv.ParseFloat(s, 64)

const DEC_RE = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const HEX_RE = /^([+-]?)0[xX]((?:[0-9a-fA-F]+(?:\.[0-9a-fA-F]*)?|\.[0-9a-fA-F]+))[pP]([+-]?[0-9]+)$/;

function underscoreOK(s: string): boolean {
  // Go: underscores only between digits (or after a base prefix).
  let saw = '^';
  let i = 0;
  if (s.length >= 1 && (s[0] === '-' || s[0] === '+')) i++;
  let hex = false;
  if (s.length - i >= 2 && s[i] === '0' && 'bBoOxX'.includes(s[i + 1])) {
    hex = s[i + 1] === 'x' || s[i + 1] === 'X';
    i += 2;
    saw = '0';
  }
  for (; i < s.length; i++) {
    const c = s[i];
    if ((c >= '0' && c <= '9') || (hex && /[a-fA-F]/.test(c))) {
      saw = '0';
      continue;
    }
    if (c === '_') {
      if (saw !== '0') return false;
      saw = '_';
      continue;
    }
    if (saw === '_') return false;
    saw = '!';
  }
  return saw !== '_';
}

function parseSpecial(s: string): number | undefined {
  const l = s.toLowerCase();
  switch (l) {
    case 'inf':
    case '+inf':
    case 'infinity':
    case '+infinity':
      return Infinity;
    case '-inf':
    case '-infinity':
      return -Infinity;
    case 'nan':
      return NaN;
  }
  return undefined;
}

/** strconv.ParseFloat semantics: returns undefined where Go returns an error (including overflow). */
export function parseGoFloat(s: string): number | undefined {
  if (s.length === 0) return undefined;
  if (DEC_RE.test(s)) {
    const n = Number(s);
    if (n === Infinity || n === -Infinity) return undefined;
    return n;
  }
  const sp = parseSpecial(s);
  if (sp !== undefined) return sp;
  let str = s;
  if (str.includes('_')) {
    if (!underscoreOK(str)) return undefined;
    str = str.replace(/_/g, '');
    if (DEC_RE.test(str)) {
      const n = Number(str);
      return Number.isFinite(n) ? n : undefined;
    }
  }
  const m = HEX_RE.exec(str);
  if (m) {
    const [ip, fp = ''] = m[2].split('.');
    let mant = 0;
    for (const c of ip + fp) mant = mant * 16 + parseInt(c, 16);
    const exp = parseInt(m[3], 10) - 4 * fp.length;
    const n = mant * Math.pow(2, exp);
    if (!Number.isFinite(n)) return undefined;
    return m[1] === '-' ? -n : n;
  }
  return undefined;
}

function isGoSpace(c: number): boolean {
  return (
    c === 0x20 ||
    (c >= 0x09 && c <= 0x0d) ||
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

/** strings.TrimSpace: Go's unicode.IsSpace, which (unlike String.prototype.trim) excludes U+FEFF. */
export function goTrim(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isGoSpace(s.charCodeAt(a))) a++;
  while (b > a && isGoSpace(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

export { isGoSpace };

// ---------------------------------------------------------------------------------------------
// Conversions. The try* forms return undefined on failure so each caller can raise its own message.

export function tryFloat(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return stringToFloat(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v === null || v === undefined) return 0;
  if (v instanceof PsInt || v instanceof PsFloat32) return v.v;
  return undefined;
}

function stringToFloat(s: string): number | undefined {
  const n = parseGoFloat(goTrim(s));
  if (n !== undefined) return n;
  if (s === 'true') return 1;
  if (s === 'false') return 0;
  return undefined;
}

export function toFloat(v: unknown): number {
  const n = tryFloat(v);
  if (n === undefined) throw runtimeError(`Could not convert '${goV(v)}' to Float`);
  return n;
}

export function tryBool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v > 0;
  if (v === null || v === undefined) return false;
  if (typeof v === 'string') {
    const n = parseGoFloat(goTrim(v));
    if (n !== undefined) return n > 0;
    if (v === 'false' || v === '') return false;
    if (v === 'true') return true;
    return undefined;
  }
  if (v instanceof PsInt || v instanceof PsFloat32) return v.v > 0;
  return undefined;
}

export function toBool(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  const b = tryBool(v);
  if (b === undefined) throw runtimeError(`Could not convert '${goV(v)}' to Bool`);
  return b;
}

export function tryString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatG(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v === null || v === undefined) return '';
  if (v instanceof PsInt) return intString(v.v);
  if (v instanceof PsFloat32) return formatG(v.v);
  return undefined;
}

export function toStr(v: unknown): string {
  const s = tryString(v);
  if (s === undefined) throw runtimeError(`Could not convert '${goV(v)}' to String`);
  return s;
}

function intString(n: number): string {
  if (Math.abs(n) < 1e21) return String(n);
  return BigInt(n).toString();
}

/** ToInt: the value must be integral after float conversion. */
export function tryInt(v: unknown): number | undefined {
  if (v instanceof PsInt) return v.v;
  const f = tryFloat(v);
  if (f === undefined || !Number.isInteger(f)) return undefined;
  return f;
}

export function toInt(v: unknown): number {
  const n = tryInt(v);
  if (n === undefined) throw runtimeError(`Could not convert '${goV(v)}' to Int`);
  return n;
}

/** Go strconv.FormatFloat(x, 'g', -1, 64). */
export function formatG(x: number): string {
  if (x !== x) return 'NaN';
  if (x === Infinity) return '+Inf';
  if (x === -Infinity) return '-Inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const ax = x < 0 ? -x : x;
  if (ax >= 1e-4 && ax < 1e6) return String(x);
  const e = x.toExponential();
  const i = e.indexOf('e');
  const mant = e.slice(0, i);
  let ex = e.slice(i + 1);
  const sign = ex[0] === '-' ? '-' : '+';
  if (ex[0] === '-' || ex[0] === '+') ex = ex.slice(1);
  if (ex.length < 2) ex = '0' + ex;
  return mant + 'e' + sign + ex;
}

/** Go's %v rendering, used only inside error messages. */
export function goV(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatG(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof PsInt) return intString(v.v);
  if (v instanceof PsFloat32) return v.jsonText();
  if (Array.isArray(v)) return '[' + v.map(goV).join(' ') + ']';
  if (typeof v === 'object') {
    const o = v as PlainObject;
    return (
      'map[' +
      Object.keys(o)
        .sort()
        .map((k) => k + ':' + goV(o[k]))
        .join(' ') +
      ']'
    );
  }
  return String(v);
}

// ---------------------------------------------------------------------------------------------
// Equality and ordering

const enum Kind {
  Null,
  Bool,
  Float,
  Int,
  F32,
  String,
  Array,
  Object,
}

function kindOf(v: unknown): Kind {
  switch (typeof v) {
    case 'number':
      return Kind.Float;
    case 'string':
      return Kind.String;
    case 'boolean':
      return Kind.Bool;
  }
  if (v === null || v === undefined) return Kind.Null;
  if (v instanceof PsInt) return Kind.Int;
  if (v instanceof PsFloat32) return Kind.F32;
  if (Array.isArray(v)) return Kind.Array;
  return Kind.Object;
}

/** reflect.DeepEqual on decoded JSON: no conversions, different number kinds differ, NaN never equal. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (typeof a === 'number') return typeof b === 'number' && a === b;
  if (typeof a === 'string' || typeof a === 'boolean') return a === b;
  const ka = kindOf(a);
  if (ka !== kindOf(b)) return false;
  switch (ka) {
    case Kind.Null:
      return true;
    case Kind.Int:
    case Kind.F32:
      return (a as PsInt).v === (b as PsInt).v;
    case Kind.Array: {
      const x = a as unknown[];
      const y = b as unknown[];
      if (x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) if (!deepEqual(x[i], y[i])) return false;
      return true;
    }
    default: {
      const x = a as PlainObject;
      const y = b as PlainObject;
      const kx = Object.keys(x);
      if (kx.length !== Object.keys(y).length) return false;
      for (const k of kx) {
        if (!Object.prototype.hasOwnProperty.call(y, k) || !deepEqual(x[k], y[k])) return false;
      }
      return true;
    }
  }
}

/** duck Equal (spec §5.5). Never throws. */
export function duckEqual(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  if (deepEqual(a, b)) return true;
  const ka = kindOf(a);
  const kb = kindOf(b);
  if (ka === kb && ka !== Kind.String) return false;
  if (ka === Kind.Null || kb === Kind.Null) return false;
  const fa = tryFloat(a);
  if (fa === undefined) return false;
  const fb = tryFloat(b);
  if (fb === undefined) return false;
  return fa === fb || (fa !== fa && fb !== fb);
}

const CMP_ERR = 'Values given to comparison not numerical!';

function cmpFloats(a: unknown, b: unknown): [number, number] {
  const fa = tryFloat(a);
  const fb = tryFloat(b);
  if (fa === undefined || fb === undefined) throw runtimeError(CMP_ERR);
  return [fa, fb];
}

export function lt(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a < b;
  const [x, y] = cmpFloats(a, b);
  return x < y;
}
export function le(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a <= b;
  const [x, y] = cmpFloats(a, b);
  return x <= y;
}
// Go evaluates a > b as b < a: the operands are converted in that order, which only matters for which
// error surfaces first, and both raise the same message.
export function gt(a: unknown, b: unknown): boolean {
  return lt(b, a);
}
export function ge(a: unknown, b: unknown): boolean {
  return le(b, a);
}

// ---------------------------------------------------------------------------------------------
// Arithmetic (spec §5.7)

const ALG_ERR = "Failed to perform algebraic operation: couldn't convert to float.";

function algFloats(a: unknown, b: unknown): [number, number] {
  const fa = tryFloat(a);
  const fb = tryFloat(b);
  if (fa === undefined || fb === undefined) throw runtimeError(ALG_ERR);
  return [fa, fb];
}

export function add(a: unknown, b: unknown): unknown {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  const fa = tryFloat(a);
  const fb = tryFloat(b);
  if (fa !== undefined && fb !== undefined) return fa + fb;
  if (typeof a === 'string' && typeof b === 'string') return a + b;
  throw runtimeError(ALG_ERR);
}
export function sub(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const [x, y] = algFloats(a, b);
  return x - y;
}
export function mul(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a * b;
  const [x, y] = algFloats(a, b);
  return x * y;
}
export function div(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a / b;
  const [x, y] = algFloats(a, b);
  return x / y;
}
export function mod(a: unknown, b: unknown): number {
  // JS % is C fmod: the sign follows the dividend, like Go's math.Mod.
  if (typeof a === 'number' && typeof b === 'number') return a % b;
  const [x, y] = algFloats(a, b);
  return x % y;
}
export function pow(a: unknown, b: unknown): number {
  const [x, y] = typeof a === 'number' && typeof b === 'number' ? [a, b] : algFloats(a, b);
  return goPow(x, y);
}

/** Go math.Pow differs from JS ** on a few special cases. */
function goPow(x: number, y: number): number {
  if (y === 0) return 1;
  if (x === 1) return 1; // JS gives NaN for 1 ** ±Inf / NaN; Go gives 1.
  if (x === -1 && (y === Infinity || y === -Infinity)) return 1;
  return x ** y;
}

export function neg(v: unknown): unknown {
  if (typeof v === 'number') return -v;
  if (typeof v === 'boolean') return !v;
  return -toFloat(v);
}

export function not(v: unknown): boolean {
  return !toBool(v);
}

/** UTF-8 byte length without allocating for ASCII. */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const c2 = s.charCodeAt(i + 1);
      if (c2 >= 0xdc00 && c2 <= 0xdfff) {
        n += 2; // 4 bytes for 2 code units
        i++;
        continue;
      }
      n += 2;
    } else n += 2;
  }
  return n;
}

/** Shallow copy of a JSON object (never mutate input data: the server may share it). */
export function copyObject(o: PlainObject): PlainObject {
  const r: PlainObject = {};
  for (const k in o) if (Object.prototype.hasOwnProperty.call(o, k)) r[k] = o[k];
  return r;
}
