import { ForbiddenError } from '../errors';

const NAME_RE = /^[a-zA-Z][a-zA-Z0-9_-]*$/;

/** The URL-level sanitation of rest-api §5.5: these characters never reach the object checks. */
export function nameSanitary(name: string): boolean {
  return name.length > 0 && !/[/\\ ?]/.test(name);
}

/** data-model §2: letters, digits, `_`, `-`, starting with a letter, shorter than 30. */
export function validName(name: string): boolean {
  return name.length < 30 && NAME_RE.test(name);
}

/** The longest email address accepted, in characters (the whole field, display name included). */
export const MAX_EMAIL_LENGTH = 254;

/**
 * Email acceptance of Go's net/mail.ParseAddress as observed (data-model §3.1): a single address,
 * optionally with a display name or in angle brackets, local part may be quoted.
 */
export function validEmail(email: string): boolean {
  // RFC 5321's limit for an address; the original had none, but PostgreSQL's unique index cannot
  // hold an entry over about 2.7 KB, and no working address is longer.
  if (email.length > MAX_EMAIL_LENGTH) return false;
  let s = email.trim();
  const angle = /^(?:"[^"]*"|[^<>"]*)\s*<([^<>]+)>$/.exec(s);
  if (angle) s = angle[1];
  else if (/[<>,;]/.test(s)) return false;
  const at = s.lastIndexOf('@');
  if (at <= 0 || at === s.length - 1) return false;
  const local = s.slice(0, at);
  const domain = s.slice(at + 1);
  const atom = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
  const localOk = new RegExp(`^(?:${atom}(?:\\.${atom})*|"(?:[^"\\\\]|\\\\.)*")$`).test(local);
  const domainOk = new RegExp(`^(?:${atom}(?:\\.${atom})*|\\[[^\\]]*\\])$`).test(domain);
  return localOk && domainOk;
}

/**
 * data-model §3.5: empty, a short `material:`/`fa:` name, a data: image URI (our leniency, the
 * original refused them although its client documents them), or URL-safe padded base64.
 */
export function checkIcon(icon: string): void {
  if (icon === '') return;
  if (icon.startsWith('material:') || icon.startsWith('fa:')) {
    if (icon.length > 30) throw new ForbiddenError("icon name can't be more than 30 characters.");
    return;
  }
  if (/^data:image\/[a-zA-Z0-9.+-]+;base64,[A-Za-z0-9+/=]+$/.test(icon)) return;
  const bad = firstBadBase64Byte(icon);
  if (bad >= 0) throw new ForbiddenError(`illegal base64 data at input byte ${bad}`);
}

/** Mirrors Go's base64.URLEncoding.DecodeString error position. */
function firstBadBase64Byte(s: string): number {
  const alpha = /[A-Za-z0-9_-]/;
  let i = 0;
  for (; i < s.length; i++) {
    if (!alpha.test(s[i])) break;
  }
  if (i === s.length) return s.length % 4 === 0 ? -1 : s.length - (s.length % 4);
  // padding: only `=` up to the end, total length a multiple of 4, at most 2 pad chars
  const rest = s.slice(i);
  if (/^=+$/.test(rest) && s.length % 4 === 0 && rest.length <= 2 && i % 4 >= 2) return -1;
  return i;
}
