import { config } from '../config';
import { ParseDetail, runtimeError } from '../errors';
import { constValue } from '../plan';
import { type Mapper, PAUSED_ENTRY, mapperFactory, seqRunner } from '../runtime';
import { PAUSE } from '../datapoint';
import * as V from '../values';
import { type Datapoint, type Def, type In, type Kernel, type Plan, type Src, arg, atParse, checkNoPeek, kernel, pure } from './util';

const O2O_STATELESS = { o2o: true, stateless: true, peek: false };
const O2O_STATEFUL = { o2o: true, stateless: false, peek: false };

function identityDef(name: string): Def {
  return {
    name,
    description:
      name === '$'
        ? 'Represents the current datapoint. It is the identity transform.'
        : 'Gets the data portion of the datapoint (same as $)',
    args: [arg('Optional: the key or index of the sub-element to get', { optional: true, constant: true })],
    ...O2O_STATELESS,
    build({ consts, given }) {
      const key = consts[0];
      if (given === 0 || key === null || key === undefined) return { ...pure((_t, d) => d), identity: true };
      const strKey = V.tryString(key);
      const intKey = V.tryInt(key);
      const notFound = (d: unknown): never => {
        throw runtimeError(`Could not find '${V.goV(key)}' in '${V.goV(d)}'`);
      };
      const index = (len: number, d: unknown): number => {
        if (intKey === undefined) return notFound(d);
        const i = intKey < 0 ? len + intKey : intKey;
        if (i < 0 || i >= len) return notFound(d);
        return i;
      };
      return pure((_t, d) => {
        if (typeof d === 'string') {
          const b = Buffer.from(d, 'utf8');
          return V.mkInt(b[index(b.length, d)]);
        }
        if (Array.isArray(d)) return d[index(d.length, d)];
        if (V.isObject(d)) {
          if (strKey !== undefined && Object.prototype.hasOwnProperty.call(d, strKey)) return d[strKey];
          return notFound(d);
        }
        return notFound(d);
      });
    },
  };
}

/** Stage that filters by a condition that is a Mapper: the `if $ > 50` hot path. */
class IfFast implements Src {
  constructor(
    private readonly src: Src,
    private readonly cond: Mapper,
  ) {}
  next(): Datapoint | null {
    const src = this.src;
    const cond = this.cond;
    for (;;) {
      const x = src.next();
      if (x === null) {
        cond.reset();
        return null;
      }
      if (x === PAUSE) return x;
      const c = cond.f(x.t, x.d);
      if (c === true) return x;
      if (c === false) continue;
      if (ifBool(c)) return x;
    }
  }
}

function ifBool(c: unknown): boolean {
  const b = V.tryBool(c);
  if (b === undefined) throw runtimeError("Argument given to if can't be converted to boolean");
  return b;
}

class IfStage implements Src {
  constructor(private readonly inp: In) {}
  next(): Datapoint | null {
    const inp = this.inp;
    while (inp.next()) {
      if (ifBool(inp.v[0])) return inp.dp;
    }
    return null;
  }
}

/** `if last`, the tail of every script interpolator: only the final datapoint passes. */
class IfLastStage implements Src {
  /** The latest datapoint of the sequence so far: kept across a pause. */
  private last: Datapoint | null = null;
  constructor(private readonly src: Src) {}
  next(): Datapoint | null {
    const src = this.src;
    let last = this.last;
    for (let x = src.next(); x !== null; x = src.next()) {
      if (x === PAUSE) {
        this.last = last;
        return x;
      }
      last = x;
    }
    this.last = null;
    // The input has passed the end marker, so the following call reports the end.
    return last;
  }
}

class LastStage implements Src {
  /** The input moved on and the look-ahead is still to be done (the input paused in it). */
  private moved = false;
  constructor(private readonly inp: In) {}
  next(): Datapoint | null {
    const inp = this.inp;
    if (!this.moved) {
      if (!inp.next()) return inp.paused ? PAUSE : null;
      this.moved = true;
    }
    const e = inp.peek(1);
    if (e === PAUSED_ENTRY) return PAUSE;
    this.moved = false;
    return { t: inp.t, d: e === null };
  }
}

class NextStage implements Src {
  /** As in LastStage. */
  private moved = false;
  constructor(
    private readonly inp: In,
    private readonly n: number,
  ) {}
  next(): Datapoint | null {
    const inp = this.inp;
    if (!this.moved) {
      if (!inp.next()) return inp.paused ? PAUSE : null;
      this.moved = true;
    }
    const e = inp.peek(this.n);
    if (e === PAUSED_ENTRY) return PAUSE;
    this.moved = false;
    return e === null ? { t: inp.t, d: null } : e.dp;
  }
}

class TTrueStage implements Src {
  /** Inside a run (its start found), kept across a pause of the input. */
  private inRun = false;
  private start = 0;
  private lastT = 0;
  private more = false;
  constructor(
    private readonly inp: In,
    private readonly want: boolean,
  ) {}
  next(): Datapoint | null {
    const inp = this.inp;
    if (!this.inRun) {
      // find the start of a run
      for (;;) {
        if (!inp.next()) return inp.paused ? PAUSE : null;
        if (V.toBool(inp.d) === this.want) break;
      }
      this.inRun = true;
      this.start = this.lastT = inp.t;
      this.more = false;
    }
    while (inp.next()) {
      this.more = true;
      this.lastT = inp.t;
      if (V.toBool(inp.d) !== this.want) {
        this.inRun = false;
        return { t: this.lastT, d: this.lastT - this.start };
      }
    }
    if (inp.paused) return PAUSE;
    this.inRun = false;
    // The sequence ended inside the run; report it only if it covered more than one datapoint.
    // The input has passed the end marker, so the following call reports the end.
    if (this.more) return { t: this.lastT, d: this.lastT - this.start };
    return null;
  }
}

class WhileStage implements Src {
  /** Inside a group, and the current datapoint already run (its value in v, ot): kept across a pause. */
  private inGroup = false;
  private stepped = false;
  private v: unknown = null;
  private ot = 0;
  constructor(
    private readonly inp: In,
    private readonly inner: Mapper,
  ) {}
  next(): Datapoint | null {
    const inp = this.inp;
    const inner = this.inner;
    if (!this.inGroup) {
      if (!inp.next()) {
        if (inp.paused) return PAUSE;
        inner.reset();
        return null;
      }
      inner.reset();
      this.inGroup = true;
      this.stepped = false;
    }
    for (;;) {
      if (!this.stepped) {
        const t = inp.t;
        this.v = inner.f(t, inp.d);
        this.ot = inner.mt ? inner.ot : t;
        this.stepped = true;
      }
      const e = inp.peek(1);
      if (e === PAUSED_ENTRY) return PAUSE;
      this.stepped = false;
      if (e === null) return this.close();
      const c = e.v[0];
      const b = typeof c === 'boolean' ? c : V.toBool(c);
      if (!b) return this.close();
      // The peeked entry is queued: this never pauses.
      inp.next();
    }
  }
  private close(): Datapoint {
    this.inGroup = false;
    return { t: this.ot, d: this.v };
  }
}

class MapStage implements Src {
  /** The sequence being split (null between sequences): kept across a pause of the input. */
  private scripts: Map<string, Mapper> | null = null;
  private out: V.PlainObject = {};
  private lastT = 0;
  constructor(
    private readonly inp: In,
    private readonly make: () => Mapper,
  ) {}
  next(): Datapoint | null {
    const inp = this.inp;
    // A sequence goes on after a pause: its next datapoint is still to be pulled.
    if (this.scripts !== null && !inp.next()) return inp.paused ? PAUSE : this.close();
    if (this.scripts === null) {
      if (!inp.next()) return inp.paused ? PAUSE : null;
      this.scripts = new Map<string, Mapper>();
      this.out = {};
      this.lastT = 0;
    }
    const scripts = this.scripts;
    const out = this.out;
    do {
      const key = V.toStr(inp.v[0]);
      let m = scripts.get(key);
      if (m === undefined) {
        if (scripts.size >= config.splitMax) throw runtimeError(`Reached maximum map amount ${config.splitMax}.`);
        m = this.make();
        scripts.set(key, m);
      }
      this.lastT = inp.t;
      out[key] = m.f(inp.t, inp.d);
    } while (inp.next());
    return inp.paused ? PAUSE : this.close();
  }
  private close(): Datapoint {
    this.scripts = null;
    // The input has passed the end marker, so the following call reports the end.
    return { t: this.lastT, d: this.out };
  }
}

function objectArg(d: unknown): V.PlainObject {
  if (!V.isObject(d)) throw runtimeError('Must have object-valued datapoint');
  return d;
}

function topBottom(name: 'top' | 'bottom'): Def {
  return {
    name,
    description:
      name === 'top'
        ? 'Takes a json object, and returns the topn elements'
        : 'Takes a json object, and returns the bottom n elements',
    args: [
      arg(`The number of elements to retain of the object`, { constant: name === 'top' }),
      arg('The script to run ($ default) to generate weights over which to sort', {
        optional: true,
        scriptDefault: true,
        hijacked: true,
      }),
    ],
    ...O2O_STATELESS,
    build({ args, consts }) {
      const cv = name === 'top' ? consts[0] : constValue(args[0]);
      const n = atParse(() => V.toInt(cv));
      const weight = seqRunner(args[1]);
      const sign = name === 'top' ? -1 : 1;
      return pure((t, d) => {
        const o = objectArg(d);
        const entries: [string, number][] = [];
        for (const k of Object.keys(o)) {
          const r = weight.last([{ t, d: o[k] }]);
          entries.push([k, V.toFloat(r === null ? null : r.d)]);
        }
        entries.sort((a, b) => sign * (a[1] - b[1]));
        const out: V.PlainObject = {};
        for (let i = 0; i < n && i < entries.length; i++) out[entries[i][0]] = o[entries[i][0]];
        return out;
      });
    },
  };
}

export const coreTransforms: Def[] = [
  identityDef('$'),
  identityDef('d'),
  {
    name: 't',
    description: 'Gets the timestamp of the datapoint',
    args: [],
    ...O2O_STATELESS,
    build: () => pure((t) => t),
  },
  {
    name: 'tshift',
    description: 'Shifts the datapoint timestamp by the given number of seconds',
    args: [arg('The number of seconds to shift the timestamp by', { constant: true })],
    ...O2O_STATELESS,
    build({ consts }) {
      const s = atParse(() => V.toFloat(consts[0]));
      const k: Kernel = {
        mt: true,
        ot: 0,
        step(t, d) {
          this.ot = t + s;
          return d;
        },
        reset() {},
      };
      return kernel([], () => k);
    },
  },
  {
    name: 'if',
    description: 'Filters the datapoints, only passing through the ones whose argument is true',
    args: [arg('The condition: datapoints are passed through when it is true')],
    o2o: false,
    stateless: false,
    peek: false,
    build({ args }) {
      const cond = args[0];
      if (cond.node.k === 'call' && cond.node.name === 'last') {
        return {
          kind: 'stage',
          fed: [],
          make: (inp) => new IfLastStage({ next: () => (inp.next() ? inp.dp : null) }),
          fast: (src) => new IfLastStage(src),
          ifLast: true,
          pausable: true,
        };
      }
      return {
        kind: 'stage',
        fed: [cond],
        make: (inp) => new IfStage(inp),
        fast: cond.mappable ? (src) => new IfFast(src, mapperFactory(cond)()) : undefined,
        pausable: true,
      };
    },
  },
  {
    name: 'ifelse',
    description: 'Runs the second argument on datapoints where the condition is true, the third where false',
    args: [
      arg('The condition'),
      arg('The script to run when the condition is true', { hijacked: true }),
      arg('The script to run when the condition is false ($ default)', {
        optional: true,
        scriptDefault: true,
        hijacked: true,
      }),
    ],
    ...O2O_STATEFUL,
    build({ args }) {
      checkNoPeek(args[1], 'ifelse cannot be used with transforms that peek.');
      checkNoPeek(args[2], 'ifelse cannot be used with transforms that peek.');
      const mkThen = mapperFactory(args[1]);
      const mkElse = mapperFactory(args[2]);
      return kernel([args[0]], () => {
        const a = mkThen();
        const b = mkElse();
        return {
          mt: true,
          ot: 0,
          step(t, d, box) {
            const m = V.toBool(box.v[0]) ? a : b;
            const v = m.f(t, d);
            this.ot = m.mt ? m.ot : t;
            return v;
          },
          reset() {
            a.reset();
            b.reset();
          },
        };
      });
    },
  },
  {
    name: 'count',
    description: 'Counts the number of datapoints that have been seen',
    args: [],
    ...O2O_STATEFUL,
    build: () =>
      kernel([], () => {
        let n = 0;
        return {
          mt: false,
          ot: 0,
          step: () => V.mkInt(++n),
          reset() {
            n = 0;
          },
        };
      }),
  },
  {
    name: 'i',
    description: 'Gives the index of the datapoint in the sequence (starting at 0)',
    args: [],
    ...O2O_STATEFUL,
    build: () =>
      kernel([], () => {
        let n = 0;
        return {
          mt: false,
          ot: 0,
          step: () => V.mkInt(n++),
          reset() {
            n = 0;
          },
        };
      }),
  },
  {
    name: 'sum',
    description: 'Sums the data of all datapoints seen so far',
    args: [],
    ...O2O_STATEFUL,
    build: () =>
      kernel([], () => {
        let s = 0;
        return {
          mt: false,
          ot: 0,
          step(_t, d) {
            s += typeof d === 'number' ? d : V.toFloat(d);
            return s;
          },
          reset() {
            s = 0;
          },
        };
      }),
  },
  {
    name: 'mean',
    description: 'Finds the running mean of the data',
    args: [],
    ...O2O_STATEFUL,
    build: () =>
      kernel([], () => {
        let s = 0;
        let n = 0;
        return {
          mt: false,
          ot: 0,
          step(_t, d) {
            s += typeof d === 'number' ? d : V.toFloat(d);
            n++;
            return s / n;
          },
          reset() {
            s = 0;
            n = 0;
          },
        };
      }),
  },
  extremum('max'),
  extremum('min'),
  {
    name: 'first',
    description: 'Returns true if this is the first datapoint of the sequence',
    args: [],
    ...O2O_STATEFUL,
    build: () =>
      kernel([], () => {
        let f = true;
        return {
          mt: false,
          ot: 0,
          step() {
            const r = f;
            f = false;
            return r;
          },
          reset() {
            f = true;
          },
        };
      }),
  },
  {
    name: 'last',
    description: 'Returns true if this is the last datapoint of the sequence',
    args: [],
    o2o: true,
    stateless: false,
    peek: true,
    build: () => ({ kind: 'stage', fed: [], make: (inp) => new LastStage(inp), pausable: true }),
  },
  {
    name: 'next',
    description: 'Returns the datapoint that is the given number of places ahead',
    args: [arg('The number of datapoints to look ahead', { optional: true, default: 1, constant: true })],
    o2o: true,
    stateless: false,
    peek: true,
    build({ consts }) {
      const n = atParse(() => V.toInt(consts[0]));
      if (n < 1) throw new ParseDetail('next must look at least one datapoint forward');
      if (n > config.peekMax) throw new ParseDetail(`next cannot look more than ${config.peekMax} datapoints forward`);
      return { kind: 'stage', fed: [], make: (inp) => new NextStage(inp, n), pausable: true };
    },
  },
  {
    name: 'changed',
    description: 'Returns true if the data is different from the previous datapoint',
    args: [],
    ...O2O_STATEFUL,
    build: () =>
      kernel([], () => {
        let prev: unknown = null;
        return {
          mt: false,
          ot: 0,
          step(_t, d) {
            const r = !V.duckEqual(d, prev);
            prev = d;
            return r;
          },
          reset() {
            prev = null;
          },
        };
      }),
  },
  {
    name: 'new',
    description: 'Returns true if the data (as a string) has not been seen before',
    args: [],
    ...O2O_STATEFUL,
    build: () =>
      kernel([], () => {
        let seen = new Set<string>();
        return {
          mt: false,
          ot: 0,
          step(_t, d) {
            const s = V.toStr(d);
            if (seen.has(s)) return false;
            if (seen.size >= config.splitMax) throw runtimeError(`Reached maximum split amount ${config.splitMax}.`);
            seen.add(s);
            return true;
          },
          reset() {
            seen = new Set();
          },
        };
      }),
  },
  {
    name: 'dt',
    description: 'Gives the time difference between the current and previous datapoint',
    args: [],
    ...O2O_STATEFUL,
    build: () =>
      kernel([], () => {
        // 0 doubles as "no previous timestamp", as in the original.
        let prev = 0;
        return {
          mt: false,
          ot: 0,
          step(t) {
            const r = prev === 0 ? 0 : t - prev;
            prev = t;
            return r;
          },
          reset() {
            prev = 0;
          },
        };
      }),
  },
  ttrueDef('ttrue', true),
  ttrueDef('tfalse', false),
  {
    name: 'alltrue',
    description: 'Returns true if all datapoints seen so far were true',
    args: [],
    ...O2O_STATEFUL,
    build: () =>
      kernel([], () => {
        let s = true;
        return {
          mt: false,
          ot: 0,
          step(_t, d) {
            if (!V.toBool(d)) s = false;
            return s;
          },
          reset() {
            s = true;
          },
        };
      }),
  },
  {
    name: 'anytrue',
    description: 'Returns true if any datapoint seen so far was true',
    args: [],
    ...O2O_STATEFUL,
    build: () =>
      kernel([], () => {
        let s = false;
        return {
          mt: false,
          ot: 0,
          step(_t, d) {
            if (V.toBool(d)) s = true;
            return s;
          },
          reset() {
            // Quirk of the original (§4.4): a reset anytrue reports true from then on.
            s = true;
          },
        };
      }),
  },
  {
    name: 'remember',
    description: 'Remembers the value of its second argument whenever the condition is true',
    args: [
      arg('The condition on which to remember the datapoint'),
      arg('The value to remember ($ default)', { optional: true, scriptDefault: true }),
    ],
    ...O2O_STATEFUL,
    build({ args }) {
      return kernel([args[0], args[1]], () => {
        let has = false;
        let sv: unknown = null;
        let st = 0;
        return {
          mt: true,
          ot: 0,
          step(_t, _d, a) {
            const c = V.toBool(a.v[0]);
            if (!has || c) {
              has = true;
              sv = a.v[1];
              st = a.ts[1];
            }
            this.ot = st;
            return sv;
          },
          reset() {
            has = false;
            sv = null;
            st = 0;
          },
        };
      });
    },
  },
  {
    name: 'length',
    description: 'Returns the length of an array or string, or the number of keys of an object',
    args: [],
    ...O2O_STATELESS,
    build: () =>
      pure((_t, d) => {
        if (typeof d === 'string') return V.mkInt(V.utf8Length(d));
        if (Array.isArray(d)) return V.mkInt(d.length);
        if (V.isObject(d)) return V.mkInt(Object.keys(d).length);
        return V.mkInt(0);
      }),
  },
  {
    name: 'rand',
    description: 'Returns a uniform random number in [0,1)',
    args: [],
    ...O2O_STATEFUL,
    build: () => kernel([], () => ({ mt: false, ot: 0, step: () => Math.random(), reset() {} })),
  },
  {
    name: 'bucket',
    description: 'Puts numbers into buckets of the given size, returning the bucket as a string',
    args: [
      arg('The size of the buckets', { optional: true, default: 10, constant: true }),
      arg('The starting point of the buckets', { optional: true, default: 0, constant: true }),
    ],
    ...O2O_STATELESS,
    build({ consts }) {
      const size = atParse(() => V.toFloat(consts[0]));
      const start = atParse(() => V.toFloat(consts[1]));
      return pure((_t, d) => {
        const x = V.toFloat(d);
        const n = Math.floor((x - start) / size);
        return '[' + V.formatG(start + n * size) + ',' + V.formatG(start + (n + 1) * size) + ')';
      });
    },
  },
  {
    name: 'map',
    description: 'Splits the datapoints by the key and runs a separate copy of the script on each',
    args: [arg('The key to split by'), arg('The script to run for each key', { hijacked: true })],
    o2o: false,
    stateless: false,
    peek: false,
    build({ args }) {
      checkNoPeek(args[1], 'Map cannot be used with transforms that peek.');
      const make = mapperFactory(args[1]);
      return { kind: 'stage', fed: [args[0]], make: (inp) => new MapStage(inp, make), pausable: true };
    },
  },
  {
    name: 'imap',
    description: 'Like map, but returns the current object for every datapoint',
    args: [arg('The key to split by'), arg('The script to run for each key', { hijacked: true })],
    ...O2O_STATEFUL,
    build({ args }) {
      checkNoPeek(args[1], 'Imap cannot be used with transforms that peek.');
      const make = mapperFactory(args[1]);
      return kernel([args[0]], () => {
        let scripts = new Map<string, Mapper>();
        let cur: V.PlainObject = {};
        return {
          mt: false,
          ot: 0,
          step(t, d, a) {
            const key = V.toStr(a.v[0]);
            let m = scripts.get(key);
            if (m === undefined) {
              if (scripts.size >= config.splitMax) throw runtimeError(`Reached maximum map amount ${config.splitMax}.`);
              m = make();
              scripts.set(key, m);
            }
            cur[key] = m.f(t, d);
            return V.copyObject(cur);
          },
          reset() {
            scripts = new Map();
            cur = {};
          },
        };
      });
    },
  },
  {
    name: 'reduce',
    description: "Runs the script over the values of the datapoint's object, returning its last result",
    args: [arg('The script to run over the object values', { hijacked: true })],
    ...O2O_STATEFUL,
    build({ args }) {
      const r = seqRunner(args[0]);
      return kernel([], () => ({
        mt: true,
        ot: 0,
        step(t, d) {
          if (!V.isObject(d)) throw runtimeError("Datapoint's data can't be reduced");
          const vals = Object.keys(d).map((k) => ({ t, d: d[k] }));
          const res = r.last(vals);
          this.ot = res === null ? t : res.t;
          return res === null ? null : res.d;
        },
        reset() {},
      }));
    },
  },
  {
    name: 'filter',
    description: 'Removes the object values for which the script returns true',
    args: [arg('The script to run on each value; the value is removed when it is true', { hijacked: true })],
    ...O2O_STATEFUL,
    build({ args }) {
      const r = seqRunner(args[0]);
      return kernel([], () => ({
        mt: false,
        ot: 0,
        step(t, d) {
          const o = objectArg(d);
          const out: V.PlainObject = {};
          for (const k of Object.keys(o)) {
            const res = r.last([{ t, d: o[k] }]);
            if (!V.toBool(res === null ? null : res.d)) out[k] = o[k];
          }
          return out;
        },
        reset() {},
      }));
    },
  },
  {
    name: 'apply',
    description: 'Runs the script on each value of the object, replacing the value with the result',
    args: [arg('The script to apply to each value', { hijacked: true })],
    ...O2O_STATELESS,
    build({ args }) {
      const r = seqRunner(args[0]);
      return pure((t, d) => {
        const o = objectArg(d);
        const out: V.PlainObject = {};
        for (const k of Object.keys(o)) {
          const res = r.first(t, o[k]);
          out[k] = res === null ? null : res.d;
        }
        return out;
      });
    },
  },
  topBottom('top'),
  topBottom('bottom'),
  {
    name: 'percent',
    description: 'Converts the values of an object to fractions of their sum',
    args: [],
    ...O2O_STATELESS,
    build: () =>
      pure((_t, d) => {
        const o = objectArg(d);
        const out: V.PlainObject = {};
        let sum = 0;
        for (const k of Object.keys(o)) {
          let x = V.tryFloat(o[k]);
          if (x === undefined) throw runtimeError('Could not convert object value to float');
          if (x < 0) x = 0;
          out[k] = x;
          sum += x;
        }
        if (sum > 0) for (const k of Object.keys(out)) out[k] = (out[k] as number) / sum;
        return out;
      }),
  },
  {
    name: 'set',
    description: 'Sets the given field of an object to the value',
    args: [arg('The field name', { constant: true }), arg('The value to set')],
    ...O2O_STATELESS,
    build({ consts, args }) {
      const key = atParse(() => V.toStr(consts[0]));
      return pure(
        (_t, d, a) => {
          if (!V.isObject(d)) throw runtimeError("Can't read object keys");
          const o = V.copyObject(d);
          o[key] = a.v[0];
          return o;
        },
        [args[1]],
      );
    },
  },
  {
    name: 'del',
    description: 'Deletes the given field of an object',
    args: [arg('The field name', { constant: true })],
    ...O2O_STATELESS,
    build({ consts }) {
      const key = atParse(() => V.toStr(consts[0]));
      return pure((_t, d) => {
        if (!V.isObject(d)) throw runtimeError("Can't read object keys");
        const o = V.copyObject(d);
        delete o[key];
        return o;
      });
    },
  },
  {
    name: 'while',
    description: 'Runs the script over groups of datapoints, returning its result when the condition turns false',
    args: [arg('The condition that keeps the group going'), arg('The script to run on each group', { hijacked: true })],
    // Flagged one-to-one like the original although it aggregates.
    ...O2O_STATEFUL,
    build({ args }) {
      checkNoPeek(args[1], 'while cannot be used with transforms that peek');
      const make = mapperFactory(args[1]);
      return { kind: 'stage', fed: [args[0]], make: (inp) => new WhileStage(inp, make()), pausable: true };
    },
  },
  {
    name: 'iwhile',
    description: 'Like while, but returns the current result for every datapoint',
    args: [arg('The condition that keeps the group going'), arg('The script to run on each group', { hijacked: true })],
    ...O2O_STATEFUL,
    build({ args }) {
      checkNoPeek(args[1], 'iwhile cannot be used with transforms that peek');
      const make = mapperFactory(args[1]);
      return kernel([args[0]], () => {
        const inner = make();
        return {
          mt: true,
          ot: 0,
          step(t, d, a) {
            if (!V.toBool(a.v[0])) inner.reset();
            const v = inner.f(t, d);
            this.ot = inner.mt ? inner.ot : t;
            return v;
          },
          reset() {
            inner.reset();
          },
        };
      });
    },
  },
];

function extremum(name: 'max' | 'min'): Def {
  const isMax = name === 'max';
  return {
    name,
    description: `Returns the datapoint with the ${isMax ? 'largest' : 'smallest'} value so far`,
    args: [arg('The value to rank datapoints by ($ default)', { optional: true, scriptDefault: true })],
    ...O2O_STATEFUL,
    build({ args }) {
      return kernel([args[0]], () => {
        let has = false;
        let best = 0;
        let bt = 0;
        let bd: unknown = null;
        return {
          mt: true,
          ot: 0,
          step(t, d, a) {
            const x = V.toFloat(a.v[0]);
            if (!has || (isMax ? x > best : x < best)) {
              has = true;
              best = x;
              bt = t;
              bd = d;
            }
            this.ot = bt;
            return bd;
          },
          reset() {
            has = false;
            bd = null;
          },
        };
      });
    },
  };
}

function ttrueDef(name: string, want: boolean): Def {
  return {
    name,
    description: `Returns the time spent ${want ? 'true' : 'false'} for each run of ${want ? 'true' : 'false'} datapoints`,
    args: [],
    o2o: false,
    stateless: false,
    peek: false,
    build: () => ({ kind: 'stage', fed: [], make: (inp) => new TTrueStage(inp, want), pausable: true }),
  };
}

export type { Plan };
