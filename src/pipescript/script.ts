import type { Datapoint } from './datapoint';
import { PipeScriptError } from './errors';
import { parsePlan } from './parser';
import { type ReductionKind, Reducer, reductionOf } from './reduce';
import { ArraySrc, IterSrc, type Plan, type Src, arrayRunner, passesPauses, stageFactory } from './runtime';

export interface Script {
  readonly source: string;
  run(input: Iterator<Datapoint>): Iterator<Datapoint>;
  runArray(input: Datapoint[]): Datapoint[];
  instance(): ScriptInstance;
  /**
   * When the script is exactly `sum`, `mean`, `count`, `min` or `max` followed by `| if last`: a
   * fresh Reducer that gives the same single output as `run` from typed arrays (reduce.ts);
   * otherwise null.
   */
  reducer(): Reducer | null;
  /**
   * True when `run` hands a PAUSE (datapoint.ts) from its input on as an output and continues
   * after it; only such a script may be fed an input that pauses.
   */
  readonly pausable: boolean;
}

export interface ScriptInstance {
  runSequence(input: Datapoint[]): Datapoint[];
}

class OutIterator implements Iterator<Datapoint> {
  private done = false;
  constructor(private readonly s: Src) {}
  next(): IteratorResult<Datapoint> {
    if (this.done) return { done: true, value: undefined };
    let x: Datapoint | null;
    try {
      x = this.s.next();
    } catch (e) {
      this.done = true;
      throw e;
    }
    if (x === null) {
      this.done = true;
      return { done: true, value: undefined };
    }
    return { done: false, value: x };
  }
  [Symbol.iterator](): Iterator<Datapoint> {
    return this;
  }
}

class Instance implements ScriptInstance {
  private src = new ArraySrc([]);
  private stage: Src;
  constructor(private readonly build: (src: Src) => Src) {
    this.stage = build(this.src);
  }
  runSequence(input: Datapoint[]): Datapoint[] {
    this.src.load(input);
    const out: Datapoint[] = [];
    try {
      for (let x = this.stage.next(); x !== null; x = this.stage.next()) out.push(x);
    } catch (e) {
      // The pipeline stopped mid-sequence; start over from a fresh one for the next sequence.
      this.src = new ArraySrc([]);
      this.stage = this.build(this.src);
      throw e;
    }
    return out;
  }
}

class CompiledScript implements Script {
  private readonly build: (src: Src) => Src;
  private readonly whole: ((input: readonly Datapoint[]) => Datapoint[]) | null;
  private readonly reduction: ReductionKind | null;
  readonly pausable: boolean;
  constructor(
    readonly source: string,
    plan: Plan,
  ) {
    this.build = stageFactory(plan);
    this.whole = arrayRunner(plan);
    this.reduction = reductionOf(plan);
    this.pausable = passesPauses(plan);
  }
  reducer(): Reducer | null {
    return this.reduction === null ? null : new Reducer(this.reduction);
  }
  run(input: Iterator<Datapoint>): Iterator<Datapoint> {
    return new OutIterator(this.build(new IterSrc(input)));
  }
  runArray(input: Datapoint[]): Datapoint[] {
    if (this.whole !== null) return this.whole(input);
    const s = this.build(new ArraySrc(input));
    const out: Datapoint[] = [];
    for (let x = s.next(); x !== null; x = s.next()) out.push(x);
    return out;
  }
  instance(): ScriptInstance {
    return new Instance(this.build);
  }
}

export function parseScript(source: string): Script {
  if (typeof source !== 'string') throw new PipeScriptError('parse', `Script '${String(source)}': syntax error`);
  return new CompiledScript(source, parsePlan(source));
}
