/**
 * Whole-sequence reductions read straight from typed arrays: `sum | if last`, `mean | if last`,
 * `count | if last`, `min | if last`, `max | if last` (what dashboards and the issue-11 figures
 * ask of long numeric streams). The general pipeline builds an object per datapoint and per stage
 * output; a Reducer consumes a numeric chunk's Float64Arrays in one loop instead.
 *
 * The answer must be the general pipeline's, bit for bit: each reduction below repeats the
 * kernel of its transform in core.ts (same operations, same order, so floating-point sums round
 * the same way), and a datapoint that is not a plain number goes through the same conversion
 * (V.toFloat) with the same error. test/pipescript/reduce.test.ts holds the two side by side.
 */
import type { Datapoint } from './datapoint';
import type { Plan } from './runtime';
import * as V from './values';

export type ReductionKind = 'sum' | 'mean' | 'count' | 'min' | 'max';

/** The reduction a plan is exactly, or null: chosen once at compile time. */
export function reductionOf(plan: Plan): ReductionKind | null {
  const n = plan.node;
  if (n.k !== 'pipe' || n.stages.length !== 2) return null;
  const [a, b] = n.stages;
  if (b.node.k !== 'call' || b.node.name !== 'if' || b.node.impl.kind !== 'stage' || b.node.impl.ifLast !== true) return null;
  if (a.node.k !== 'call' || a.node.impl.kind !== 'kernel') return null;
  const fed = a.node.impl.fed;
  switch (a.node.name) {
    case 'sum':
    case 'mean':
    case 'count':
      return fed.length === 0 ? a.node.name : null;
    case 'min':
    case 'max': {
      // Ranked by the datapoint itself (`max`, `max($)`), not by a sub-script.
      const f = fed.length === 1 ? fed[0].node : null;
      return f !== null && f.k === 'call' && f.identity === true ? a.node.name : null;
    }
    default:
      return null;
  }
}

/** One run of a reduction over one sequence: feed it in order, then take the result. */
export class Reducer {
  private n = 0;
  private s = 0;
  private lastT = 0;
  private has = false;
  private best = 0;
  private bt = 0;
  private bd: unknown = null;

  constructor(readonly kind: ReductionKind) {}

  /** Datapoints [from, to) whose values are all plain numbers (a numeric chunk's columns). */
  numbers(times: Float64Array, values: Float64Array, from: number, to: number): void {
    if (to <= from) return;
    switch (this.kind) {
      case 'sum':
      case 'mean': {
        let s = this.s;
        for (let i = from; i < to; i++) s += values[i];
        this.s = s;
        break;
      }
      case 'max': {
        let has = this.has;
        let best = this.best;
        let at = -1;
        for (let i = from; i < to; i++) {
          const x = values[i];
          if (!has || x > best) {
            has = true;
            best = x;
            at = i;
          }
        }
        this.keep(has, best, at, times, values);
        break;
      }
      case 'min': {
        let has = this.has;
        let best = this.best;
        let at = -1;
        for (let i = from; i < to; i++) {
          const x = values[i];
          if (!has || x < best) {
            has = true;
            best = x;
            at = i;
          }
        }
        this.keep(has, best, at, times, values);
        break;
      }
      case 'count':
        break;
    }
    this.n += to - from;
    this.lastT = times[to - 1];
  }

  private keep(has: boolean, best: number, at: number, times: Float64Array, values: Float64Array): void {
    this.has = has;
    if (at < 0) return;
    this.best = best;
    this.bt = times[at];
    this.bd = values[at];
  }

  /** One datapoint of any value, converted as the transform's kernel converts it. */
  point(t: number, d: unknown): void {
    switch (this.kind) {
      case 'sum':
      case 'mean':
        this.s += typeof d === 'number' ? d : V.toFloat(d);
        break;
      case 'max':
      case 'min': {
        const x = V.toFloat(d);
        if (!this.has || (this.kind === 'max' ? x > this.best : x < this.best)) {
          this.has = true;
          this.best = x;
          this.bt = t;
          this.bd = d;
        }
        break;
      }
      case 'count':
        break;
    }
    this.n++;
    this.lastT = t;
  }

  /** The single datapoint `… | if last` outputs, or null for an empty sequence. */
  result(): Datapoint | null {
    if (this.n === 0) return null;
    switch (this.kind) {
      case 'sum':
        return { t: this.lastT, d: this.s };
      case 'mean':
        return { t: this.lastT, d: this.s / this.n };
      case 'count':
        return { t: this.lastT, d: V.mkInt(this.n) };
      case 'max':
      case 'min':
        return { t: this.bt, d: this.bd };
    }
  }
}
