import type { Datapoint } from '../datapoint';
import { ParseDetail, PipeScriptError } from '../errors';
import type { ArgDef, TransformDef, BuildCtx } from '../plan';
import type { Impl, Kernel, Plan, Src, ArgBox, In } from '../runtime';

export type { ArgDef, TransformDef, BuildCtx, Impl, Kernel, Plan, Src, ArgBox, In, Datapoint };

export function arg(description: string, flags: Partial<ArgDef> = {}): ArgDef {
  return { description, optional: false, constant: false, hijacked: false, ...flags };
}

/** Kernel impl from a factory; `fed` are the per-datapoint argument plans. */
export function kernel(fed: Plan[], make: () => Kernel): Impl {
  return { kind: 'kernel', fed, make };
}

/** A stateless kernel with no per-datapoint arguments. */
export function pure(step: (t: number, d: unknown, a: ArgBox) => unknown, fed: Plan[] = []): Impl {
  const k: Kernel = { mt: false, ot: 0, step, reset() {} };
  return { kind: 'kernel', fed, make: () => k };
}

/** Runs parse-time conversions, turning runtime errors into parse details. */
export function atParse<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof PipeScriptError) throw new ParseDetail(e.message);
    throw e;
  }
}

/** Inner scripts fed one datapoint at a time must not peek. `while` hangs the original there, so it is
 * rejected with the same message. */
export function checkNoPeek(p: Plan, msg: string): void {
  if (p.peek || p.hasWhile || !p.mappable) throw new ParseDetail(msg);
}

export type Def = Omit<TransformDef, 'documentation'> & { documentation?: string };
