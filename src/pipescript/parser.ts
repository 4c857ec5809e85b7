/**
 * Recursive-descent parser equivalent to the original yacc grammar and its conflict resolution (§3).
 * Plans are built while parsing, like the yacc actions, so folding and argument errors surface in the
 * same order as the original.
 */
import { ParseDetail, PipeScriptError } from './errors';
import { Tok, type Token, lex } from './lexer';
import { type BinOp, appendStage, binPlan, callPlan, constPlan, objPlan, unaryPlan } from './plan';
import type { Plan } from './runtime';
import { lookupTransform } from './registry';
import { config } from './config';

/** Too deep or too long: refused like a syntax error (403), with the setting to change. */
const nestingError = (max: number, pos: number) =>
  new ParseDetail(`the script is nested more than ${max} levels deep (parentheses, brackets, braces, calls, not, -); the limit is pipescript.max_nesting`, pos);

const stagesError = (pos: number) => new ParseDetail(`the script has more than ${config.maxStages} stages; the limit is pipescript.max_stages`, pos);

/** Refuses an over-long pipeline before building any of it (a `|` is always a stage). */
function checkLength(toks: Token[]): Token[] {
  let pipes = 0;
  for (const t of toks) if (t.type === Tok.PIPE && ++pipes >= config.maxStages) throw stagesError(t.pos);
  return toks;
}

class Parser {
  private i = 0;
  /** Current nesting: the parser recurses per level, so it is bounded before the stack is. */
  private depth = 0;
  private stages = 0;
  constructor(private readonly toks: Token[]) {}

  private enter(): void {
    if (++this.depth > config.maxNesting) throw nestingError(config.maxNesting, this.cur.pos);
  }

  /** Counts one more stage (`|` or `:`); a long pipeline is a loop, limited only in length. */
  private addStage(): void {
    if (++this.stages >= config.maxStages) throw stagesError(this.cur.pos);
  }

  private get cur(): Token {
    return this.toks[this.i];
  }

  private fail(): never {
    throw new ParseDetail('syntax error', this.cur.pos);
  }

  private expect(type: Tok): Token {
    const t = this.cur;
    if (t.type !== type) this.fail();
    this.i++;
    return t;
  }

  script(): Plan {
    const p = this.pipeline();
    if (this.cur.type !== Tok.EOF) this.fail();
    return p;
  }

  private pipeline(): Plan {
    let p = this.stage();
    while (this.cur.type === Tok.PIPE) {
      this.i++;
      this.addStage();
      const pos = this.cur.pos;
      p = withPos(() => appendStage(p, this.stage()), pos);
    }
    return p;
  }

  private startsExpr(t: Token, allowMinus: boolean): boolean {
    switch (t.type) {
      case Tok.NUMBER:
      case Tok.STRING:
      case Tok.BOOL:
      case Tok.IDENT:
      case Tok.IDENT_SP:
      case Tok.LPAREN:
      case Tok.LBRACK:
      case Tok.LBRACE:
      case Tok.NOT:
        return true;
      case Tok.OP:
        return allowMinus && t.text === '-';
      default:
        return false;
    }
  }

  /** A stage may be a bash-style call `name a b c` (only here, §3.3). */
  private stage(): Plan {
    const t = this.cur;
    if (t.type === Tok.IDENT_SP && this.startsExpr(this.toks[this.i + 1], false)) {
      this.i++;
      const args: Plan[] = [this.expr()];
      while (this.startsExpr(this.cur, false)) args.push(this.expr());
      return this.call(t, args);
    }
    return this.expr();
  }

  private expr(): Plan {
    this.enter();
    const p = this.orExpr();
    this.depth--;
    return p;
  }

  private orExpr(): Plan {
    let l = this.andExpr();
    while (this.cur.type === Tok.OR) {
      const pos = this.cur.pos;
      this.i++;
      const r = this.andExpr();
      const left = l;
      l = withPos(() => binPlan('or', left, r), pos);
    }
    return l;
  }

  private andExpr(): Plan {
    let l = this.notExpr();
    while (this.cur.type === Tok.AND) {
      const pos = this.cur.pos;
      this.i++;
      const r = this.notExpr();
      const left = l;
      l = withPos(() => binPlan('and', left, r), pos);
    }
    return l;
  }

  private notExpr(): Plan {
    if (this.cur.type === Tok.NOT) {
      const pos = this.cur.pos;
      this.i++;
      this.enter();
      const e = this.notExpr();
      this.depth--;
      return withPos(() => unaryPlan('not', e), pos);
    }
    return this.cmpExpr();
  }

  private cmpExpr(): Plan {
    let l = this.addExpr();
    while (this.cur.type === Tok.CMP) {
      const t = this.cur;
      this.i++;
      const r = this.addExpr();
      const left = l;
      l = withPos(() => binPlan(t.text as BinOp, left, r), t.pos);
    }
    return l;
  }

  private binLevel(next: () => Plan, ops: string): Plan {
    let l = next();
    while (this.cur.type === Tok.OP && ops.includes(this.cur.text)) {
      const t = this.cur;
      this.i++;
      const r = next();
      const left = l;
      l = withPos(() => binPlan(t.text as BinOp, left, r), t.pos);
    }
    return l;
  }

  private addExpr(): Plan {
    return this.binLevel(() => this.mulExpr(), '+-');
  }

  private mulExpr(): Plan {
    return this.binLevel(() => this.powExpr(), '*/');
  }

  private powExpr(): Plan {
    return this.binLevel(() => this.unaryExpr(), '%^');
  }

  /** Prefix operators in operand position: `-` takes only `:` with it, `not` takes comparisons (§3.2). */
  private unaryExpr(): Plan {
    const t = this.cur;
    if (t.type === Tok.OP && t.text === '-') {
      this.i++;
      this.enter();
      const e = this.unaryExpr();
      this.depth--;
      return withPos(() => unaryPlan('neg', e), t.pos);
    }
    if (t.type === Tok.NOT) {
      this.i++;
      const e = this.cmpExpr();
      return withPos(() => unaryPlan('not', e), t.pos);
    }
    return this.colonExpr();
  }

  private colonExpr(): Plan {
    let l = this.primary();
    while (this.cur.type === Tok.COLON) {
      const pos = this.cur.pos;
      this.i++;
      this.addStage();
      const c = this.cur;
      const r = (c.type === Tok.OP && c.text === '-') || c.type === Tok.NOT ? this.unaryExpr() : this.primary();
      const left = l;
      l = withPos(() => appendStage(left, r), pos);
    }
    return l;
  }

  private primary(): Plan {
    const t = this.cur;
    switch (t.type) {
      case Tok.NUMBER:
      case Tok.STRING:
      case Tok.BOOL:
        this.i++;
        return constPlan(t.value);
      case Tok.IDENT: {
        this.i++;
        const n = this.cur;
        if (n.type === Tok.LPAREN || n.type === Tok.LBRACK) {
          this.i++;
          const close = n.type === Tok.LPAREN ? Tok.RPAREN : Tok.RBRACK;
          const args: Plan[] = [];
          if (!(close === Tok.RPAREN && this.cur.type === Tok.RPAREN)) {
            args.push(this.expr());
            while (this.cur.type === Tok.COMMA) {
              this.i++;
              args.push(this.expr());
            }
          }
          this.expect(close);
          return this.call(t, args);
        }
        return this.call(t, []);
      }
      case Tok.IDENT_SP:
        this.i++;
        return this.call(t, []);
      case Tok.LPAREN: {
        this.i++;
        const p = this.pipeline();
        this.expect(Tok.RPAREN);
        return p;
      }
      case Tok.LBRACK: {
        this.i++;
        const p = this.pipeline();
        this.expect(Tok.RBRACK);
        return p;
      }
      case Tok.LBRACE: {
        this.i++;
        const keys: string[] = [];
        const vals: Plan[] = [];
        for (;;) {
          const k = this.expect(Tok.STRING);
          this.expect(Tok.COLON);
          keys.push(k.value as string);
          vals.push(this.expr());
          if (this.cur.type === Tok.COMMA) {
            this.i++;
            continue;
          }
          this.expect(Tok.RBRACE);
          break;
        }
        return withPos(() => objPlan(keys, vals), t.pos);
      }
      default:
        return this.fail();
    }
  }

  private call(t: Token, args: Plan[]): Plan {
    return withPos(() => {
      const def = lookupTransform(t.text);
      if (!def) throw new ParseDetail(`Transform ${t.text} not found`);
      return callPlan(def, args);
    }, t.pos);
  }
}

function withPos<T>(f: () => T, pos: number): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ParseDetail && e.position === undefined) throw new ParseDetail(e.detail, pos);
    throw e;
  }
}

/** Parse and build; errors become `Script '<text>': <detail>` (§10.1). */
export function parsePlan(source: string): Plan {
  try {
    try {
      return new Parser(checkLength(lex(source))).script();
    } catch (e) {
      // Only reachable with max_nesting set far above the default: still a refusal, not a 500.
      if (e instanceof RangeError) throw nestingError(config.maxNesting, 0);
      throw e;
    }
  } catch (e) {
    if (e instanceof ParseDetail) {
      throw new PipeScriptError('parse', `Script '${source}': ${e.detail}`, { position: e.position, detail: e.detail });
    }
    if (e instanceof PipeScriptError) {
      throw new PipeScriptError('parse', `Script '${source}': ${e.message}`, { detail: e.message });
    }
    throw e;
  }
}
