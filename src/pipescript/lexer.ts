/** Lexer of spec §2: leftmost-first alternation, unknown characters end the input silently. */

export const enum Tok {
  EOF,
  AND,
  OR,
  NOT,
  NUMBER,
  CMP,
  BOOL,
  STRING,
  COLON,
  PIPE,
  OP, // - * / + % ^
  IDENT,
  IDENT_SP,
  LBRACK,
  RBRACK,
  LPAREN,
  RPAREN,
  LBRACE,
  RBRACE,
  COMMA,
}

export interface Token {
  type: Tok;
  text: string;
  /** decoded string value, number value, or bool value */
  value?: unknown;
  pos: number;
}

// One sticky regex with the alternatives in the spec's order; JS alternation is leftmost-first like Go's.
const TOKEN_RE = new RegExp(
  [
    '(and|or|not)',
    '([0-9]+(?:\\.[0-9]+)?)',
    '(<=|>=|<|>|==|!=)',
    '(true|false)',
    '("(?:\\\\"|\\\\n|\\\\r|\\\\t|\\\\\\\\|[^\\n])*?"|\'(?:\\\\\'|\\\\n|\\\\r|\\\\t|\\\\\\\\|[^\\n])*?\')',
    '(:|\\|)',
    '(-|\\*|/|\\+|%|\\^)',
    '([a-zA-Z_$][a-zA-Z_0-9$]*)',
    '(\\[|\\]|\\(|\\)|\\{|\\})',
    '(,)',
  ].join('|'),
  'y',
);

/** Whitespace skipped between tokens: the single-byte Unicode spaces (§2.1). */
function isWs(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0x85 || c === 0xa0;
}

function decodeString(body: string): string {
  // Six whole-string replacements in this order reproduce the original's quirks (`'a\\nb'`).
  return body
    .replaceAll('\\n', '\n')
    .replaceAll('\\r', '\r')
    .replaceAll('\\t', '\t')
    .replaceAll('\\\\', '\\')
    .replaceAll('\\"', '"')
    .replaceAll("\\'", "'");
}

export function lex(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  // The original lexes UTF-8 bytes; any non-ASCII character outside a string starts with a byte that is
  // neither whitespace nor a token, so it ends the input. 0x85/0xA0 only count as bytes on their own,
  // which a JS string cannot hold, so they end the input too.
  for (;;) {
    while (i < src.length) {
      const c = src.charCodeAt(i);
      if (c < 0x80 && isWs(c)) i++;
      else break;
    }
    if (i >= src.length) break;
    TOKEN_RE.lastIndex = i;
    const m = TOKEN_RE.exec(src);
    if (!m) break;
    const text = m[0];
    const pos = i;
    i += text.length;
    let type: Tok;
    let value: unknown;
    if (m[1] !== undefined) type = text === 'and' ? Tok.AND : text === 'or' ? Tok.OR : Tok.NOT;
    else if (m[2] !== undefined) {
      type = Tok.NUMBER;
      value = Number(text);
    } else if (m[3] !== undefined) type = Tok.CMP;
    else if (m[4] !== undefined) {
      type = Tok.BOOL;
      value = text === 'true';
    } else if (m[5] !== undefined) {
      type = Tok.STRING;
      value = decodeString(text.slice(1, -1));
    } else if (m[6] !== undefined) type = text === ':' ? Tok.COLON : Tok.PIPE;
    else if (m[7] !== undefined) type = Tok.OP;
    else if (m[8] !== undefined) {
      const next = i < src.length ? src.charCodeAt(i) : -1;
      type = next >= 0 && next < 0x80 && isWs(next) ? Tok.IDENT_SP : Tok.IDENT;
    } else if (m[9] !== undefined) {
      type =
        text === '['
          ? Tok.LBRACK
          : text === ']'
            ? Tok.RBRACK
            : text === '('
              ? Tok.LPAREN
              : text === ')'
                ? Tok.RPAREN
                : text === '{'
                  ? Tok.LBRACE
                  : Tok.RBRACE;
    } else type = Tok.COMMA;
    out.push({ type, text, value, pos });
  }
  out.push({ type: Tok.EOF, text: '', pos: i });
  return out;
}
