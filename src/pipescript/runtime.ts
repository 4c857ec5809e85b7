/**
 * Execution model. A parsed script is a tree of Plans; compiling a Plan gives either
 *  - a Mapper: a closure-like object for one-to-one, non-peeking scripts, evaluated once per datapoint
 *    with no buffering and no per-datapoint tree walking (the hot path), or
 *  - a stage (Src): a pull iterator, used for filters, aggregators, look-ahead and anything whose
 *    arguments need look-ahead. Arguments that are not Mappers read the stage input through a Tee.
 *
 * A Src returns null as the end marker; after that the next call starts the next sequence, and every
 * stateful part has been reset on the way (spec §4.4). In a pipeline that passes pauses
 * (passesPauses), a Src may also return PAUSE (datapoint.ts): its input had nothing yet; calling
 * it again continues where it stood.
 */
import { type Datapoint, PAUSE } from './datapoint';

export interface Src {
  next(): Datapoint | null;
}

/** Per-datapoint argument values handed to kernels: `v[i]` the value, `ts[i]` the argument's output timestamp. */
export interface ArgBox {
  v: unknown[];
  ts: number[];
}

/** A one-to-one transform's per-datapoint logic, given its fed (non-constant, non-hijacked) argument values. */
export interface Kernel {
  /** true when the output timestamp is not the input's; the kernel then sets `ot` in every step. */
  mt: boolean;
  ot: number;
  step(t: number, d: unknown, a: ArgBox): unknown;
  reset(): void;
}

export interface Mapper {
  mt: boolean;
  ot: number;
  f(t: number, d: unknown): unknown;
  reset(): void;
}

export const EMPTY_BOX: ArgBox = { v: [], ts: [] };

export type Impl =
  | {
      kind: 'kernel';
      fed: Plan[];
      make: () => Kernel;
      /** Optional specialised mapper builder (operators, identity) for speed. */
      mapper?: (fed: Mapper[]) => Mapper;
      /** the build resolved to the plain identity (e.g. `$(null)`) */
      identity?: boolean;
    }
  | {
      kind: 'stage';
      fed: Plan[];
      make: (inp: In) => Src;
      /** Used instead of `make` when every fed argument is a Mapper: no In, no buffers. */
      fast?: (src: Src) => Src;
      /** This is `if last` (only the final datapoint passes): lets `sum | if last` and the like reduce typed arrays (reduce.ts). */
      ifLast?: true;
      /**
       * The stage built when every fed argument is a Mapper (`fast` if there is one, else `make`,
       * over an In without a Tee) hands a PAUSE from its input on and continues after it
       * (passesPauses).
       */
      pausable?: true;
    };

export type PlanNode =
  | { k: 'const'; value: unknown }
  | { k: 'pipe'; stages: Plan[] }
  | { k: 'call'; name: string; impl: Impl; identity?: boolean };

export interface Plan {
  node: PlanNode;
  o2o: boolean;
  stateless: boolean;
  peek: boolean;
  /** contains a `while` (aggregating though flagged one-to-one) outside hijacked scripts */
  hasWhile: boolean;
  constant: boolean;
  /** compilable to a Mapper */
  mappable: boolean;
}

// ---------------------------------------------------------------------------------------------
// Mappers

class ConstMapper implements Mapper {
  mt = false;
  ot = 0;
  /** lets operators specialise on a constant operand */
  readonly constValue: { v: unknown };
  constructor(private readonly value: unknown) {
    this.constValue = { v: value };
  }
  f(): unknown {
    return this.value;
  }
  reset(): void {}
}

class IdentityMapper implements Mapper {
  mt = false;
  ot = 0;
  f(_t: number, d: unknown): unknown {
    return d;
  }
  reset(): void {}
}

class Pipe2Mapper implements Mapper {
  mt: boolean;
  ot = 0;
  constructor(
    private readonly a: Mapper,
    private readonly b: Mapper,
  ) {
    this.mt = a.mt || b.mt;
  }
  f(t: number, d: unknown): unknown {
    const a = this.a;
    const b = this.b;
    const v = a.f(t, d);
    const t2 = a.mt ? a.ot : t;
    const r = b.f(t2, v);
    this.ot = b.mt ? b.ot : t2;
    return r;
  }
  reset(): void {
    this.a.reset();
    this.b.reset();
  }
}

/** A long pipeline of mappers as a loop: nested Pipe2Mappers recursed once per stage. */
class PipeNMapper implements Mapper {
  mt: boolean;
  ot = 0;
  constructor(private readonly ms: Mapper[]) {
    this.mt = ms.some((m) => m.mt);
  }
  f(t: number, d: unknown): unknown {
    const ms = this.ms;
    let v = d;
    for (let i = 0; i < ms.length; i++) {
      const m = ms[i];
      v = m.f(t, v);
      if (m.mt) t = m.ot;
    }
    this.ot = t;
    return v;
  }
  reset(): void {
    for (const m of this.ms) m.reset();
  }
}

class Kernel0Mapper implements Mapper {
  mt: boolean;
  ot = 0;
  constructor(private readonly k: Kernel) {
    this.mt = k.mt;
  }
  f(t: number, d: unknown): unknown {
    const k = this.k;
    const v = k.step(t, d, EMPTY_BOX);
    this.ot = k.ot;
    return v;
  }
  reset(): void {
    this.k.reset();
  }
}

class KernelMapper implements Mapper {
  mt: boolean;
  ot = 0;
  private readonly box: ArgBox;
  constructor(
    private readonly k: Kernel,
    private readonly fed: Mapper[],
  ) {
    this.mt = k.mt;
    this.box = { v: new Array<unknown>(fed.length).fill(null), ts: new Array<number>(fed.length).fill(0) };
  }
  f(t: number, d: unknown): unknown {
    const fed = this.fed;
    const box = this.box;
    for (let i = 0; i < fed.length; i++) {
      const m = fed[i];
      box.v[i] = m.f(t, d);
      box.ts[i] = m.mt ? m.ot : t;
    }
    const k = this.k;
    const v = k.step(t, d, box);
    this.ot = k.ot;
    return v;
  }
  reset(): void {
    for (const m of this.fed) m.reset();
    this.k.reset();
  }
}

export function mapperFactory(plan: Plan): () => Mapper {
  if (!plan.mappable) throw new Error('internal: plan is not mappable');
  const n = plan.node;
  switch (n.k) {
    case 'const': {
      const value = n.value;
      return () => new ConstMapper(value);
    }
    case 'pipe': {
      const fs = n.stages.map(mapperFactory);
      if (fs.length > 2) return () => new PipeNMapper(fs.map((f) => f()));
      return () => {
        let m = fs[0]();
        for (let i = 1; i < fs.length; i++) m = new Pipe2Mapper(m, fs[i]());
        return m;
      };
    }
    case 'call': {
      if (n.identity) return () => new IdentityMapper();
      const impl = n.impl;
      if (impl.kind !== 'kernel') throw new Error('internal: stage impl in mapper');
      const fedF = impl.fed.map(mapperFactory);
      const special = impl.mapper;
      if (special) return () => special(fedF.map((f) => f()));
      const make = impl.make;
      if (fedF.length === 0) return () => new Kernel0Mapper(make());
      return () =>
        new KernelMapper(
          make(),
          fedF.map((f) => f()),
        );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Sources and stages

export class ArraySrc implements Src {
  private i = 0;
  constructor(private arr: readonly Datapoint[]) {}
  next(): Datapoint | null {
    if (this.i < this.arr.length) return this.arr[this.i++];
    return null;
  }
  /** Start the next sequence. */
  load(arr: readonly Datapoint[]): void {
    this.arr = arr;
    this.i = 0;
  }
}

export class IterSrc implements Src {
  private done = false;
  constructor(private readonly it: Iterator<Datapoint>) {}
  next(): Datapoint | null {
    if (this.done) return null;
    const r = this.it.next();
    if (r.done) {
      this.done = true;
      return null;
    }
    return r.value;
  }
}

class MapperStage implements Src {
  constructor(
    private readonly src: Src,
    private readonly m: Mapper,
  ) {}
  next(): Datapoint | null {
    const x = this.src.next();
    const m = this.m;
    if (x === null) {
      m.reset();
      return null;
    }
    if (x === PAUSE) return x;
    const t = x.t;
    const d = m.f(t, x.d);
    return { t: m.mt ? m.ot : t, d };
  }
}

class Kernel0Stage implements Src {
  constructor(
    private readonly src: Src,
    private readonly k: Kernel,
  ) {}
  next(): Datapoint | null {
    const x = this.src.next();
    const k = this.k;
    if (x === null) {
      k.reset();
      return null;
    }
    if (x === PAUSE) return x;
    const t = x.t;
    const d = k.step(t, x.d, EMPTY_BOX);
    return { t: k.mt ? k.ot : t, d };
  }
}

class KernelStage implements Src {
  constructor(
    private readonly inp: In,
    private readonly k: Kernel,
  ) {}
  next(): Datapoint | null {
    const inp = this.inp;
    const k = this.k;
    if (!inp.next()) {
      k.reset();
      return null;
    }
    const t = inp.t;
    const d = k.step(t, inp.d, inp);
    return { t: k.mt ? k.ot : t, d };
  }
}

/** A buffer that lets several readers (the stage and its non-mapper arguments) read one input. */
class Tee {
  private buf: Datapoint[] = [];
  private base = 0;
  private ended = false;
  readonly cursors: TeeCursor[] = [];
  constructor(private readonly src: Src) {}
  cursor(): TeeCursor {
    const c = new TeeCursor(this);
    this.cursors.push(c);
    return c;
  }
  get(i: number): Datapoint | null {
    while (i >= this.base + this.buf.length) {
      if (this.ended) return null;
      const x = this.src.next();
      if (x === null) {
        this.ended = true;
        return null;
      }
      this.buf.push(x);
    }
    return this.buf[i - this.base];
  }
  trim(): void {
    let min = Infinity;
    for (const c of this.cursors) if (c.pos < min) min = c.pos;
    const drop = min - this.base;
    if (drop > 256 && drop * 2 > this.buf.length) {
      this.buf.splice(0, drop);
      this.base = min;
    }
  }
  resetSequence(): void {
    this.buf = [];
    this.base = 0;
    this.ended = false;
    for (const c of this.cursors) c.pos = 0;
  }
}

class TeeCursor implements Src {
  pos = 0;
  constructor(private readonly tee: Tee) {}
  next(): Datapoint | null {
    const x = this.tee.get(this.pos);
    if (x === null) return null;
    this.pos++;
    if ((this.pos & 1023) === 0) this.tee.trim();
    return x;
  }
}

export interface Entry {
  dp: Datapoint;
  v: unknown[];
  ts: number[];
}

/** What In.peek answers when its input paused before the entry asked for (see In.paused). */
export const PAUSED_ENTRY: Entry = Object.freeze({ dp: PAUSE, v: [], ts: [] });

/**
 * The input of a stage together with its argument values (spec §4.2): every argument is moved forward
 * by exactly one datapoint per input datapoint, in sequence order, including peeked ones.
 */
export class In implements ArgBox {
  t = 0;
  d: unknown = null;
  dp: Datapoint | null = null;
  v: unknown[];
  ts: number[];
  private readonly n: number;
  private readonly main: Src;
  private readonly mappers: (Mapper | null)[];
  private readonly streams: (Src | null)[];
  private readonly tee: Tee | null = null;
  private q: Entry[] = [];
  private qh = 0;
  private srcDone = false;
  /**
   * Set when the last next() answered false, or peek() PAUSED_ENTRY, because the input paused
   * rather than ended: the stage hands PAUSE on and calls the same method again later. Only an
   * In without a Tee (every argument a Mapper) is ever fed pauses (passesPauses).
   */
  paused = false;

  constructor(src: Src, fed: Plan[]) {
    this.n = fed.length;
    this.v = new Array<unknown>(this.n).fill(null);
    this.ts = new Array<number>(this.n).fill(0);
    this.mappers = fed.map((p) => (p.mappable ? mapperFactory(p)() : null));
    if (fed.some((p) => !p.mappable)) {
      this.tee = new Tee(src);
      this.main = this.tee.cursor();
      const tee = this.tee;
      this.streams = fed.map((p) => (p.mappable ? null : stageFactory(p)(tee.cursor())));
    } else {
      this.main = src;
      this.streams = fed.map(() => null);
    }
  }

  private evalArgs(dp: Datapoint, v: unknown[], ts: number[]): void {
    for (let i = 0; i < this.n; i++) {
      const m = this.mappers[i];
      if (m !== null) {
        v[i] = m.f(dp.t, dp.d);
        ts[i] = m.mt ? m.ot : dp.t;
      } else {
        const o = (this.streams[i] as Src).next();
        v[i] = o === null ? null : o.d;
        ts[i] = o === null ? dp.t : o.t;
      }
    }
  }

  next(): boolean {
    if (this.qh < this.q.length) {
      const e = this.q[this.qh++];
      if (this.qh === this.q.length) {
        this.q = [];
        this.qh = 0;
      }
      this.dp = e.dp;
      this.t = e.dp.t;
      this.d = e.dp.d;
      for (let i = 0; i < this.n; i++) {
        this.v[i] = e.v[i];
        this.ts[i] = e.ts[i];
      }
      return true;
    }
    if (this.srcDone) return this.finish();
    const dp = this.main.next();
    if (dp === null) return this.finish();
    if (dp === PAUSE) {
      this.paused = true;
      return false;
    }
    this.paused = false;
    this.dp = dp;
    this.t = dp.t;
    this.d = dp.d;
    if (this.n > 0) this.evalArgs(dp, this.v, this.ts);
    return true;
  }

  /** The entry k places ahead of the current one (k >= 1), or null if the sequence ends first. */
  peek(k: number): Entry | null {
    while (this.q.length - this.qh < k) {
      if (this.srcDone) return null;
      const dp = this.main.next();
      if (dp === null) {
        this.srcDone = true;
        return null;
      }
      if (dp === PAUSE) {
        this.paused = true;
        return PAUSED_ENTRY;
      }
      const e: Entry = { dp, v: new Array<unknown>(this.n), ts: new Array<number>(this.n) };
      if (this.n > 0) this.evalArgs(dp, e.v, e.ts);
      this.q.push(e);
    }
    return this.q[this.qh + k - 1];
  }

  private finish(): false {
    this.paused = false;
    this.srcDone = false;
    this.q = [];
    this.qh = 0;
    this.dp = null;
    for (const m of this.mappers) if (m !== null) m.reset();
    for (const s of this.streams) {
      if (s === null) continue;
      // Pass the end marker on so the argument resets; an argument that produced fewer outputs
      // than inputs (a `while`) may already have.
      for (let guard = 0; guard < 1e6 && s.next() !== null; guard++);
    }
    if (this.tee) this.tee.resetSequence();
    return false;
  }
}

/**
 * Whether the stages stageFactory builds for `plan` all hand PAUSE on (one-to-one stages, and
 * stages marked `pausable` whose arguments are all Mappers), so a source may pause in the middle
 * of a sequence. A stage with an argument read through a Tee (`if next > 3`, `$ + next`) is fed
 * without pauses: the Tee and the argument's own stages would have to stop half-way.
 */
export function passesPauses(plan: Plan): boolean {
  if (plan.mappable) return true;
  const n = plan.node;
  switch (n.k) {
    case 'const':
      return false;
    case 'pipe':
      return n.stages.every(passesPauses);
    case 'call':
      if (n.identity) return true;
      return n.impl.kind === 'stage' && n.impl.pausable === true && n.impl.fed.every((p) => p.mappable);
  }
}

class IdentityStage implements Src {
  constructor(private readonly src: Src) {}
  next(): Datapoint | null {
    return this.src.next();
  }
}

export function stageFactory(plan: Plan): (src: Src) => Src {
  const n = plan.node;
  if (n.k === 'call' && n.identity) return (src) => new IdentityStage(src);
  if (plan.mappable) {
    if (n.k === 'call' && n.impl.kind === 'kernel' && n.impl.fed.length === 0 && !n.impl.mapper) {
      const make = n.impl.make;
      return (src) => new Kernel0Stage(src, make());
    }
    const mf = mapperFactory(plan);
    return (src) => new MapperStage(src, mf());
  }
  switch (n.k) {
    case 'const':
      throw new Error('internal: constant not mappable');
    case 'pipe': {
      const fs = n.stages.map(stageFactory);
      return (src) => {
        let s = src;
        for (const f of fs) s = f(s);
        return s;
      };
    }
    case 'call': {
      const impl = n.impl;
      const fed = impl.fed;
      if (impl.kind === 'kernel') {
        const make = impl.make;
        return (src) => new KernelStage(new In(src, fed), make());
      }
      const fast = impl.fast;
      if (fast && fed.every((p) => p.mappable)) return fast;
      const make = impl.make;
      return (src) => make(new In(src, fed));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Hijacked scripts run over private sequences (reduce, filter, apply, top, bottom)

export interface SeqRunner {
  /** Fresh copy of the script fed `input` as one complete sequence; every output. */
  all(input: readonly Datapoint[]): Datapoint[];
  /** Fresh copy fed `input`; the last output (the `| if last` the original appends), or null. */
  last(input: readonly Datapoint[]): Datapoint | null;
  /** Fresh copy fed the one-datapoint sequence; its first output, or null. */
  first(t: number, d: unknown): Datapoint | null;
}

export function seqRunner(plan: Plan): SeqRunner {
  if (plan.mappable) {
    const mf = mapperFactory(plan);
    // A stateless mapper behaves the same fresh or reused, so skip re-instantiating it.
    const shared = plan.stateless ? mf() : null;
    const get = (): Mapper => shared ?? mf();
    return {
      all(input) {
        const m = get();
        const out: Datapoint[] = [];
        for (const x of input) {
          const d = m.f(x.t, x.d);
          out.push({ t: m.mt ? m.ot : x.t, d });
        }
        return out;
      },
      last(input) {
        if (input.length === 0) return null;
        const m = get();
        let d: unknown = null;
        let t = 0;
        for (const x of input) {
          d = m.f(x.t, x.d);
          t = m.mt ? m.ot : x.t;
        }
        return { t, d };
      },
      first(t, d) {
        const m = get();
        const v = m.f(t, d);
        return { t: m.mt ? m.ot : t, d: v };
      },
    };
  }
  const sf = stageFactory(plan);
  const all = (input: readonly Datapoint[]): Datapoint[] => {
    const s = sf(new ArraySrc(input));
    const out: Datapoint[] = [];
    for (let x = s.next(); x !== null; x = s.next()) out.push(x);
    return out;
  };
  return {
    all,
    last(input) {
      const s = sf(new ArraySrc(input));
      let r: Datapoint | null = null;
      for (let x = s.next(); x !== null; x = s.next()) r = x;
      return r;
    },
    first(t, d) {
      const s = sf(new ArraySrc([{ t, d }]));
      return s.next();
    },
  };
}

/**
 * Whole-array evaluation of a one-to-one, non-peeking plan: no Src layers, output array sized once.
 * Returns null when the plan needs the general stage machinery.
 */
export function arrayRunner(plan: Plan): ((input: readonly Datapoint[]) => Datapoint[]) | null {
  if (!plan.mappable) return null;
  const n = plan.node;
  if (n.k === 'call' && n.identity) return (input) => input.slice();
  if (n.k === 'call' && n.impl.kind === 'kernel' && n.impl.fed.length === 0 && !n.impl.mapper) {
    const make = n.impl.make;
    return (input) => {
      const k = make();
      const len = input.length;
      const out = new Array<Datapoint>(len);
      for (let i = 0; i < len; i++) {
        const x = input[i];
        const t = x.t;
        const d = k.step(t, x.d, EMPTY_BOX);
        out[i] = { t: k.mt ? k.ot : t, d };
      }
      return out;
    };
  }
  const mf = mapperFactory(plan);
  return (input) => {
    const m = mf();
    const len = input.length;
    const out = new Array<Datapoint>(len);
    for (let i = 0; i < len; i++) {
      const x = input[i];
      const t = x.t;
      const d = m.f(t, x.d);
      out[i] = { t: m.mt ? m.ot : t, d };
    }
    return out;
  };
}
