/**
 * Go RE2 patterns run on JS RegExp. Constructs whose meaning differs are translated; constructs RE2
 * rejects (backreferences, look-around) are rejected with Go's message.
 */
import { ParseDetail } from '../errors';

const POSIX: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

function fail(msg: string): never {
  throw new ParseDetail(`error parsing regexp: ${msg}`);
}

export function compileGoRegexp(src: string): RegExp {
  let flags = '';
  let i = 0;
  let out = '';
  let unicode = false;
  let dotAll = false;
  // Leading flag group (?i) (?s) (?m) (?is) ...
  const lead = /^\(\?([imsU]+)\)/.exec(src);
  if (lead) {
    if (lead[1].includes('U')) fail(`invalid or unsupported Perl syntax: \`(?U\``);
    if (lead[1].includes('i')) flags += 'i';
    if (lead[1].includes('m')) flags += 'm';
    if (lead[1].includes('s')) dotAll = true;
    i = lead[0].length;
  }
  let inClass = false;
  while (i < src.length) {
    const c = src[i];
    if (c === '\\') {
      const n = src[i + 1];
      if (n === undefined) fail('trailing backslash at end of expression: ``');
      if (/[1-9]/.test(n)) fail(`invalid escape sequence: \`\\${n}\``);
      if (n === 'z' && !inClass) {
        out += '$(?![\\s\\S])';
        i += 2;
        continue;
      }
      if (n === 'A' && !inClass) {
        out += '^';
        i += 2;
        continue;
      }
      if (n === 's') {
        out += inClass ? '\\t\\n\\f\\r ' : '[\\t\\n\\f\\r ]';
        i += 2;
        continue;
      }
      if (n === 'S' && !inClass) {
        out += '[^\\t\\n\\f\\r ]';
        i += 2;
        continue;
      }
      if (n === 'p' || n === 'P') {
        unicode = true;
        if (src[i + 2] === '{') {
          const end = src.indexOf('}', i);
          if (end < 0) fail(`invalid character class range: \`${src.slice(i)}\``);
          out += src.slice(i, end + 1);
          i = end + 1;
        } else {
          out += `\\${n}{${src[i + 2]}}`;
          i += 3;
        }
        continue;
      }
      if (n === 'Q') {
        const end = src.indexOf('\\E', i + 2);
        const lit = end < 0 ? src.slice(i + 2) : src.slice(i + 2, end);
        out += lit.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
        i = end < 0 ? src.length : end + 2;
        continue;
      }
      out += c + n;
      i += 2;
      continue;
    }
    if (inClass) {
      if (c === '[' && src[i + 1] === ':') {
        const end = src.indexOf(':]', i + 2);
        if (end > 0) {
          let name = src.slice(i + 2, end);
          const negate = name.startsWith('^');
          if (negate) name = name.slice(1);
          const cls = POSIX[name];
          if (cls === undefined) fail(`invalid character class range: \`${src.slice(i, end + 2)}\``);
          if (negate) fail(`invalid or unsupported Perl syntax: \`[:^\``);
          out += cls;
          i = end + 2;
          continue;
        }
      }
      if (c === ']') inClass = false;
      out += c === '[' ? '\\[' : c;
      i++;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      i++;
      if (src[i] === '^') {
        out += '^';
        i++;
      }
      if (src[i] === ']') {
        out += '\\]';
        i++;
      }
      continue;
    }
    if (c === '(' && src[i + 1] === '?') {
      const rest = src.slice(i + 2);
      if (rest.startsWith('P<')) {
        out += '(?<';
        i += 4;
        continue;
      }
      if (rest.startsWith(':')) {
        out += '(?:';
        i += 3;
        continue;
      }
      if (rest.startsWith('<') && !rest.startsWith('<=') && !rest.startsWith('<!')) {
        out += '(?<';
        i += 3;
        continue;
      }
      fail(`invalid or unsupported Perl syntax: \`(?${rest[0] ?? ''}\``);
    }
    if (c === '.') {
      out += dotAll ? '[\\s\\S]' : '[^\\n]';
      i++;
      continue;
    }
    out += c;
    i++;
  }
  if (unicode) flags += 'u';
  try {
    return new RegExp(out, flags);
  } catch (e) {
    const msg = (e as Error).message;
    if (/Unterminated group|Unmatched '\('/.test(msg) || (src.split('(').length > src.split(')').length)) fail(`missing closing ): \`${src}\``);
    if (/Unmatched '\)'/.test(msg)) fail(`unexpected ): \`${src}\``);
    if (/Unterminated character class/.test(msg)) fail(`missing closing ]: \`${src.slice(src.lastIndexOf('['))}\``);
    if (/Nothing to repeat/.test(msg)) fail(`missing argument to repetition operator: \`${src}\``);
    fail(msg);
  }
}
