export type PipeScriptErrorKind = 'parse' | 'runtime' | 'nonfinite';

/**
 * `message` is exactly the text the original server put in the error body's `msg`;
 * anything extra (like the parse position) lives in separate properties so the text stays byte-identical.
 */
export class PipeScriptError extends Error {
  readonly kind: PipeScriptErrorKind;
  /** For parse errors: byte-agnostic character offset in the script where the parser stopped, when known. */
  readonly position?: number;
  /** For parse errors: the detail part after `Script '<text>': `. */
  readonly detail?: string;

  constructor(kind: PipeScriptErrorKind, message: string, extra?: { position?: number; detail?: string }) {
    super(message);
    this.name = 'PipeScriptError';
    this.kind = kind;
    if (extra?.position !== undefined) this.position = extra.position;
    if (extra?.detail !== undefined) this.detail = extra.detail;
  }
}

/** Thrown while building a script; the parser wraps it into `Script '<text>': <detail>`. */
export class ParseDetail extends Error {
  constructor(
    readonly detail: string,
    readonly position?: number,
  ) {
    super(detail);
  }
}

export function runtimeError(msg: string): PipeScriptError {
  return new PipeScriptError('runtime', msg);
}
