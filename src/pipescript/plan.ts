/** Building Plans: flags (§4.3), constant folding (§4.6), argument checks (§4.7), operators. */
import { ParseDetail, PipeScriptError } from './errors';
import { type Impl, type Kernel, type Mapper, type Plan, type ArgBox, mapperFactory } from './runtime';
import * as V from './values';

export interface ArgDef {
  description: string;
  optional: boolean;
  /** A constant default value (listed as `default`). */
  default?: unknown;
  /** The default is the script `$` (listed as `"default": null`). */
  scriptDefault?: boolean;
  constant: boolean;
  hijacked: boolean;
}

export interface BuildCtx {
  name: string;
  /** Every argument, defaults filled in. */
  args: Plan[];
  /** Values of the arguments flagged constant (undefined elsewhere). */
  consts: unknown[];
  /** How many arguments the script gave. */
  given: number;
}

export interface TransformDef {
  name: string;
  description: string;
  documentation: string;
  ischema?: string;
  oschema?: string;
  args: ArgDef[];
  o2o: boolean;
  stateless: boolean;
  peek: boolean;
  build(ctx: BuildCtx): Impl;
}

export function constPlan(value: unknown): Plan {
  return {
    node: { k: 'const', value },
    o2o: true,
    stateless: true,
    peek: false,
    hasWhile: false,
    constant: true,
    mappable: true,
  };
}

const IDENTITY_IMPL: Impl = {
  kind: 'kernel',
  fed: [],
  make: () => ({
    mt: false,
    ot: 0,
    step: (_t: number, d: unknown) => d,
    reset() {},
  }),
};

export function identityPlan(): Plan {
  return {
    node: { k: 'call', name: '$', impl: IDENTITY_IMPL, identity: true },
    o2o: true,
    stateless: true,
    peek: false,
    hasWhile: false,
    constant: false,
    mappable: true,
  };
}

/** Evaluate a constant script by feeding it one dummy datapoint (§4.7). */
export function constValue(plan: Plan): unknown {
  if (plan.node.k === 'const') return plan.node.value;
  if (!plan.constant || !plan.mappable) throw new ParseDetail('GetConstant was called on a non-constant Script');
  try {
    return mapperFactory(plan)().f(0, null);
  } catch (e) {
    if (e instanceof PipeScriptError) throw new ParseDetail(e.message);
    throw e;
  }
}

/**
 * Append stage b to pipeline a, folding as the original parser does (§4.6). `a` is consumed: its
 * stage list is extended in place, since copying it per stage made a 25,000-stage script
 * quadratic (4 s).
 */
export function appendStage(a: Plan, b: Plan): Plan {
  if (b.constant && a.o2o) return b;
  if (a.constant && b.stateless) throw new ParseDetail('GetConstant was called on a non-constant Script');
  const stages = a.node.k === 'pipe' ? a.node.stages : [a];
  if (b.node.k === 'pipe') for (const s of b.node.stages) stages.push(s);
  else stages.push(b);
  return {
    node: { k: 'pipe', stages },
    o2o: a.o2o && b.o2o,
    stateless: a.stateless && b.stateless,
    peek: a.peek || b.peek,
    hasWhile: a.hasWhile || b.hasWhile,
    constant: false,
    mappable: a.mappable && b.mappable,
  };
}

export function callPlan(def: TransformDef, given: Plan[]): Plan {
  const name = def.name;
  if (given.length > def.args.length)
    throw new ParseDetail(`${given.length} arguments were passed to '${name}', which only accepts ${def.args.length}`);
  const args: Plan[] = [];
  const consts: unknown[] = [];
  for (let i = 0; i < def.args.length; i++) {
    const ad = def.args[i];
    let p = given[i];
    if (p === undefined) {
      if (!ad.optional) throw new ParseDetail(`Argument ${i + 1} of transform '${name}' is required (got ${given.length} args).`);
      p = ad.scriptDefault ? identityPlan() : constPlan(ad.default ?? null);
    } else {
      if (!p.o2o) throw new ParseDetail(`Argument ${i + 1} of transform '${name}' must be OneToOne`);
      if (ad.constant && !p.constant) throw new ParseDetail(`Argument ${i + 1} of transform '${name}' must be a constant.`);
    }
    args.push(p);
    consts.push(ad.constant ? constValue(p) : undefined);
  }
  const impl = def.build({ name, args, consts, given: given.length });
  if (impl.kind === 'kernel' && impl.identity) return identityPlan();
  return implPlan(name, impl, def.o2o, def.stateless, def.peek, name === 'while', false);
}

function implPlan(
  name: string,
  impl: Impl,
  o2o: boolean,
  stateless: boolean,
  peek: boolean,
  isWhile: boolean,
  constant: boolean,
): Plan {
  const fed = impl.fed;
  return {
    node: { k: 'call', name, impl },
    o2o,
    stateless: stateless && fed.every((p) => p.stateless),
    peek: peek || fed.some((p) => p.peek),
    hasWhile: isWhile || fed.some((p) => p.hasWhile),
    constant,
    mappable: impl.kind === 'kernel' && fed.every((p) => p.mappable),
  };
}

// ---------------------------------------------------------------------------------------------
// Operators

export type BinOp = '+' | '-' | '*' | '/' | '%' | '^' | '==' | '!=' | '<' | '>' | '<=' | '>=' | 'and' | 'or';

const OPS: Record<BinOp, (a: unknown, b: unknown) => unknown> = {
  '+': V.add,
  '-': V.sub,
  '*': V.mul,
  '/': V.div,
  '%': V.mod,
  '^': V.pow,
  '==': V.duckEqual,
  '!=': (a, b) => !V.duckEqual(a, b),
  '<': V.lt,
  '>': V.gt,
  '<=': V.le,
  '>=': V.ge,
  // Both operands are always evaluated (no short-circuit), and both are converted.
  and: (a, b) => {
    const x = V.toBool(a);
    const y = V.toBool(b);
    return x && y;
  },
  or: (a, b) => {
    const x = V.toBool(a);
    const y = V.toBool(b);
    return x || y;
  },
};

function mapper(f: (t: number, d: unknown) => unknown, parts: Mapper[]): Mapper {
  return {
    mt: false,
    ot: 0,
    f,
    reset() {
      for (const p of parts) p.reset();
    },
  };
}

function constOf(m: Mapper): { v: unknown } | null {
  return (m as { constValue?: { v: unknown } }).constValue ?? null;
}

/**
 * Specialised closures per operator, so each has its own call-site feedback and number fast path,
 * and a constant right operand is captured instead of re-evaluated.
 */
function binMapper(op: BinOp, l: Mapper, r: Mapper): Mapper {
  const rc = constOf(r);
  if (rc !== null && typeof rc.v === 'number') {
    const c = rc.v;
    switch (op) {
      case '+':
        return mapper((t, d) => {
          const a = l.f(t, d);
          return typeof a === 'number' ? a + c : V.add(a, c);
        }, [l]);
      case '-':
        return mapper((t, d) => {
          const a = l.f(t, d);
          return typeof a === 'number' ? a - c : V.sub(a, c);
        }, [l]);
      case '*':
        return mapper((t, d) => {
          const a = l.f(t, d);
          return typeof a === 'number' ? a * c : V.mul(a, c);
        }, [l]);
      case '/':
        return mapper((t, d) => {
          const a = l.f(t, d);
          return typeof a === 'number' ? a / c : V.div(a, c);
        }, [l]);
      case '>':
        return mapper((t, d) => {
          const a = l.f(t, d);
          return typeof a === 'number' ? a > c : V.gt(a, c);
        }, [l]);
      case '<':
        return mapper((t, d) => {
          const a = l.f(t, d);
          return typeof a === 'number' ? a < c : V.lt(a, c);
        }, [l]);
      case '>=':
        return mapper((t, d) => {
          const a = l.f(t, d);
          return typeof a === 'number' ? a >= c : V.ge(a, c);
        }, [l]);
      case '<=':
        return mapper((t, d) => {
          const a = l.f(t, d);
          return typeof a === 'number' ? a <= c : V.le(a, c);
        }, [l]);
      case '==':
        return mapper((t, d) => {
          const a = l.f(t, d);
          return typeof a === 'number' ? a === c : V.duckEqual(a, c);
        }, [l]);
      case '!=':
        return mapper((t, d) => {
          const a = l.f(t, d);
          return typeof a === 'number' ? a !== c : !V.duckEqual(a, c);
        }, [l]);
      default:
        break;
    }
  }
  const fn = OPS[op];
  switch (op) {
    case '+':
      return mapper((t, d) => V.add(l.f(t, d), r.f(t, d)), [l, r]);
    case '*':
      return mapper((t, d) => V.mul(l.f(t, d), r.f(t, d)), [l, r]);
    case '-':
      return mapper((t, d) => V.sub(l.f(t, d), r.f(t, d)), [l, r]);
    default:
      return mapper((t, d) => fn(l.f(t, d), r.f(t, d)), [l, r]);
  }
}

function opKernel(fn: (a: unknown, b: unknown) => unknown): () => Kernel {
  return () => ({
    mt: false,
    ot: 0,
    step: (_t: number, _d: unknown, a: ArgBox) => fn(a.v[0], a.v[1]),
    reset() {},
  });
}

function opFlags(name: string, impl: Impl, l: Plan, r: Plan | null, stateless: boolean): Plan {
  const p = implPlan(name, impl, true, stateless, false, false, l.constant && (r === null || r.constant));
  return p;
}

function checkOperand(p: Plan, i: number, name: string): void {
  if (!p.o2o) throw new ParseDetail(`Argument ${i} of transform '${name}' must be OneToOne`);
}

export function binPlan(op: BinOp, l: Plan, r: Plan): Plan {
  checkOperand(l, 1, op);
  checkOperand(r, 2, op);
  const fn = OPS[op];
  const impl: Impl = {
    kind: 'kernel',
    fed: [l, r],
    make: opKernel(fn),
    mapper: ([lm, rm]) => binMapper(op, lm, rm),
  };
  return opFlags(op, impl, l, r, op !== 'and' && op !== 'or');
}

export function unaryPlan(op: 'not' | 'neg', e: Plan): Plan {
  checkOperand(e, 1, op === 'not' ? 'not' : '-');
  const fn: (v: unknown) => unknown = op === 'not' ? V.not : V.neg;
  const impl: Impl = {
    kind: 'kernel',
    fed: [e],
    make: () => ({ mt: false, ot: 0, step: (_t: number, _d: unknown, a: ArgBox) => fn(a.v[0]), reset() {} }),
    mapper: ([m]) => mapper((t, d) => fn(m.f(t, d)), [m]),
  };
  return opFlags(op, impl, e, null, true);
}

export function objPlan(keys: string[], vals: Plan[]): Plan {
  const seen = new Set<string>();
  for (const k of keys) {
    if (seen.has(k)) throw new ParseDetail(`Key ${k} found multiple times in json object`);
    seen.add(k);
  }
  for (const v of vals) if (v.peek) throw new ParseDetail('All transforms in object must not peek');
  for (const v of vals) if (!v.o2o) throw new ParseDetail('All transforms in object must be one-to-one');
  const n = keys.length;
  const build = (get: (i: number) => unknown): V.PlainObject => {
    const o: V.PlainObject = {};
    for (let i = 0; i < n; i++) o[keys[i]] = get(i);
    return o;
  };
  const impl: Impl = {
    kind: 'kernel',
    fed: vals,
    make: () => ({ mt: false, ot: 0, step: (_t: number, _d: unknown, a: ArgBox) => build((i) => a.v[i]), reset() {} }),
    mapper: (ms) => mapper((t, d) => build((i) => ms[i].f(t, d)), ms),
  };
  return opFlags('{}', impl, { constant: vals.every((v) => v.constant) } as Plan, null, true);
}

