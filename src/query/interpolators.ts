/**
 * Interpolators (interpolators-datasets.md §1): align one stream to a non-decreasing series of
 * timestamps. Each interpolator reads its stream forward only, pulling lazily, so a dataset over a
 * huge stream never holds more than the current window in memory. An input that pauses (PAUSE,
 * pipescript/datapoint.ts) makes `interpolate` return PAUSE: called again with the same timestamp
 * it continues where it stopped.
 */
import { type Datapoint, PAUSE } from '../pipescript/datapoint';
import { parseScript, type Script } from '../pipescript';
import { runtimeError } from '../pipescript/errors';
import { mkInt, toFloat } from '../pipescript/values';

/** One interpolator bound to one stream. `interpolate` throws on runtime errors. */
export interface Interpolator {
  /**
   * The result for `ts` (timestamps must not decrease between calls), or null for "nothing";
   * PAUSE when the input paused first (call again with the same `ts`).
   */
  interpolate(ts: number): Datapoint | null;
}

/** A validated interpolator string, ready to be bound to any number of streams. */
export interface CompiledInterpolator {
  readonly source: string;
  /** True when `source` named a registered interpolator rather than a script. */
  readonly registered: boolean;
  create(input: Iterator<Datapoint>): Interpolator;
}

/** One entry of `GET /api/v1/meta/interpolators` (rest-api §4.7). */
export interface InterpolatorInfo {
  name: string;
  description: string;
  documentation: string;
  ischema: string;
  oschema: string;
}

/** Pull-one-ahead wrapper: interpolators need to see the next datapoint before consuming it. */
class Lookahead {
  private head: Datapoint | undefined;
  private primed = false;
  private done = false;

  constructor(private readonly it: Iterator<Datapoint>) {}

  peek(): Datapoint | undefined {
    if (!this.primed) {
      this.primed = true;
      if (this.done) {
        this.head = undefined;
      } else {
        const r = this.it.next();
        if (r.done) {
          this.done = true;
          this.head = undefined;
        } else if (r.value === PAUSE) {
          // Not primed: the next peek asks the input again.
          this.primed = false;
          return PAUSE;
        } else {
          this.head = r.value;
        }
      }
    }
    return this.head;
  }

  take(): Datapoint | undefined {
    const h = this.peek();
    this.primed = false;
    this.head = undefined;
    return h;
  }
}

/**
 * State shared by `closest` and `before` (§1.2/§1.3): `prev` is the last datapoint with t <= ts.
 * `cur` is PAUSE while the datapoint after `prev` is still to be pulled (the input paused).
 */
class PrevCur {
  /** Pulls the start still owes: 2 for prev and cur, 1 for cur, 0 once started. */
  private owed = 2;
  prev: Datapoint | undefined;
  cur: Datapoint | undefined;

  constructor(private readonly input: Iterator<Datapoint>) {}

  private pull(): Datapoint | undefined {
    const r = this.input.next();
    return r.done ? undefined : r.value;
  }

  /** Moves prev and cur to `ts`; false when the input paused first (call again). */
  advance(ts: number): boolean {
    if (this.owed === 2) {
      const p = this.pull();
      if (p === PAUSE) return false;
      this.prev = p;
      // An exhausted iterator is not asked again: not every source tolerates next() after done.
      this.owed = p === undefined ? 0 : 1;
    }
    if (this.owed === 1) {
      const c = this.pull();
      if (c === PAUSE) return false;
      this.cur = c;
      this.owed = 0;
    }
    let cur = this.cur;
    for (;;) {
      if (cur === PAUSE) {
        cur = this.pull();
        if (cur === PAUSE) return false;
      }
      if (cur === undefined || cur.t > ts) break;
      this.prev = cur;
      this.cur = cur = PAUSE;
    }
    this.cur = cur;
    return true;
  }
}

class Closest implements Interpolator {
  private readonly s: PrevCur;
  constructor(input: Iterator<Datapoint>) {
    this.s = new PrevCur(input);
  }
  interpolate(ts: number): Datapoint | null {
    const s = this.s;
    if (!s.advance(ts)) return PAUSE;
    if (s.prev === undefined) return s.cur ?? null;
    if (s.cur === undefined) return s.prev;
    return Math.abs(s.prev.t - ts) <= Math.abs(s.cur.t - ts) ? s.prev : s.cur;
  }
}

class Before implements Interpolator {
  private readonly s: PrevCur;
  constructor(input: Iterator<Datapoint>) {
    this.s = new PrevCur(input);
  }
  interpolate(ts: number): Datapoint | null {
    const s = this.s;
    if (!s.advance(ts)) return PAUSE;
    if (s.prev === undefined || s.prev.t > ts) return null;
    return s.prev;
  }
}

class After implements Interpolator {
  private held: Datapoint | undefined;
  constructor(private readonly input: Iterator<Datapoint>) {}
  interpolate(ts: number): Datapoint | null {
    if (this.held !== undefined && this.held.t > ts) return this.held;
    this.held = undefined;
    for (;;) {
      const r = this.input.next();
      if (r.done) return null;
      if (r.value === PAUSE) return PAUSE;
      if (r.value.t > ts) {
        this.held = r.value;
        return r.value;
      }
    }
  }
}

/** Base for the window-consuming aggregates (§1.5–§1.7). */
abstract class WindowAggregate implements Interpolator {
  private readonly src: Lookahead;
  /** A window is being summed up (the input paused inside it): the next call goes on with it. */
  private open = false;
  constructor(input: Iterator<Datapoint>) {
    this.src = new Lookahead(input);
  }
  protected abstract reset(): void;
  protected abstract add(dp: Datapoint): void;
  protected abstract result(ts: number): Datapoint;
  interpolate(ts: number): Datapoint | null {
    if (!this.open) {
      this.reset();
      this.open = true;
    }
    for (let dp = this.src.peek(); dp !== undefined && (dp === PAUSE || dp.t <= ts); dp = this.src.peek()) {
      if (dp === PAUSE) return PAUSE;
      this.src.take();
      this.add(dp);
    }
    this.open = false;
    return this.result(ts);
  }
}

class Count extends WindowAggregate {
  private n = 0;
  protected reset(): void {
    this.n = 0;
  }
  protected add(): void {
    this.n++;
  }
  protected result(ts: number): Datapoint {
    return { t: ts, d: mkInt(this.n) };
  }
}

class Sum extends WindowAggregate {
  protected sum = 0;
  protected n = 0;
  protected reset(): void {
    this.sum = 0;
    this.n = 0;
  }
  protected add(dp: Datapoint): void {
    // The engine's duck ToFloat, so the error text is the original's `Could not convert 'x' to Float`.
    this.sum += toFloat(dp.d);
    this.n++;
  }
  protected result(ts: number): Datapoint {
    return { t: ts, d: this.sum };
  }
}

class Mean extends Sum {
  protected override result(ts: number): Datapoint {
    return { t: ts, d: this.n === 0 ? 0 : this.sum / this.n };
  }
}

/**
 * §1.8. Each window is fed to a stateful script instance as its own sequence; the last output is
 * what `| if last` would have kept, without changing the parse error text (which must quote the
 * user's script, not the extended one).
 */
class ScriptInterpolator implements Interpolator {
  private readonly src: Lookahead;
  private instance: ReturnType<Script['instance']> | undefined;
  /** The window being gathered: kept across a pause of the input. */
  private win: Datapoint[] = [];
  constructor(
    private readonly script: Script,
    input: Iterator<Datapoint>,
  ) {
    this.src = new Lookahead(input);
  }
  interpolate(ts: number): Datapoint | null {
    if (this.instance === undefined) {
      // The original runs the script once over the window up to t = 0 before the first real one.
      // That first end-of-sequence reset is observable: it is why `anytrue` answers true even in
      // the first window (vector script-anytrue-reset-quirk). A non-empty clearing window made the
      // original fail (§1.8 edge); timestamps are positive in practice, so this is only fidelity.
      const cleared = this.window(0);
      if (cleared === null) return PAUSE;
      this.instance = this.script.instance();
      if (cleared.length > 0) throw runtimeError('Failed to clear PipeScript used in interpolator');
      this.instance.runSequence(cleared);
    }
    const w = this.window(ts);
    if (w === null) return PAUSE;
    const out = this.instance.runSequence(w);
    return out.length === 0 ? null : out[out.length - 1];
  }
  /** The datapoints up to ts, or null when the input paused first (the window so far is kept). */
  private window(ts: number): Datapoint[] | null {
    const src = this.src;
    for (let dp = src.peek(); dp !== undefined && (dp === PAUSE || dp.t <= ts); dp = src.peek()) {
      if (dp === PAUSE) return null;
      src.take();
      this.win.push(dp);
    }
    const w = this.win;
    this.win = [];
    return w;
  }
}

interface Builtin {
  info: InterpolatorInfo;
  create(input: Iterator<Datapoint>): Interpolator;
}

function builtin(name: string, description: string, create: (input: Iterator<Datapoint>) => Interpolator): Builtin {
  return { info: { name, description, documentation: '', ischema: '', oschema: '' }, create };
}

const BUILTINS: ReadonlyMap<string, Builtin> = new Map(
  [
    builtin('after', 'Uses the first datapoint strictly after the interpolation timestamp', (i) => new After(i)),
    builtin('before', 'Uses the last datapoint at or before the interpolation timestamp', (i) => new Before(i)),
    builtin(
      'closest',
      'Uses the datapoint closest to the interpolation timestamp (both before and after)',
      (i) => new Closest(i),
    ),
    builtin('count', 'Returns the number of datapoints in the interpolation range', (i) => new Count(i)),
    builtin('mean', 'Returns the mean of the datapoints in the interpolation range', (i) => new Mean(i)),
    builtin('sum', 'Returns the sum of the datapoints in the interpolation range', (i) => new Sum(i)),
  ].map((b) => [b.info.name, b]),
);

let disabled: ReadonlySet<string> = new Set();

/** Applies the config's `pipescript.disable_interpolators`. A disabled name is then parsed as PipeScript. */
export function configureInterpolators(opts: { disable?: readonly string[] }): void {
  disabled = new Set(opts.disable ?? []);
}

/** `GET /api/v1/meta/interpolators`: registered, non-disabled interpolators keyed by name (sorted). */
export function interpolatorListing(): Record<string, InterpolatorInfo> {
  const out: Record<string, InterpolatorInfo> = {};
  for (const name of [...BUILTINS.keys()].sort()) {
    if (disabled.has(name)) continue;
    out[name] = { ...BUILTINS.get(name)!.info };
  }
  return out;
}

/**
 * Resolves an interpolator string (§1.1): an exact registered name wins, anything else is
 * PipeScript. Throws the engine's PipeScriptError (kind 'parse') when it is neither.
 */
export function compileInterpolator(source: string): CompiledInterpolator {
  const b = disabled.has(source) ? undefined : BUILTINS.get(source);
  if (b !== undefined) return { source, registered: true, create: b.create };
  const script = parseScript(source);
  return { source, registered: false, create: (input) => new ScriptInterpolator(script, input) };
}

/** Convenience: compile and bind in one step. */
export function createInterpolator(source: string, input: Iterator<Datapoint>): Interpolator {
  return compileInterpolator(source).create(input);
}
