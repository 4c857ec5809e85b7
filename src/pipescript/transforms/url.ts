/** The host of a URL as Go's net/url.Parse sees it (spec §12 `domain`); "" on any parse failure. */

function isHex(c: string): boolean {
  return /^[0-9a-fA-F]$/.test(c);
}

class UrlError extends Error {}

function shouldEscapeHost(c: string): boolean {
  if (/[a-zA-Z0-9]/.test(c)) return false;
  if ("!$&'()*+,;=:[]<>\"".includes(c)) return false;
  if ('-_.~'.includes(c)) return false;
  return true;
}

function validUserinfo(s: string): boolean {
  for (const c of s) {
    if (/[a-zA-Z0-9]/.test(c)) continue;
    if ("-._:~!$&'()*+,;=%@".includes(c)) continue;
    if (c.charCodeAt(0) >= 0x80) continue;
    return false;
  }
  return true;
}

/** Checks %XX escapes; in host mode also Go's extra host restrictions. Returns the decoded string. */
function unescape(s: string, host: boolean): string {
  const bytes: number[] = [];
  let hasEsc = false;
  for (let i = 0; i < s.length; ) {
    const c = s[i];
    if (c === '%') {
      if (i + 2 >= s.length) throw new UrlError();
      if (!isHex(s[i + 1]) || !isHex(s[i + 2])) throw new UrlError();
      if (host && parseInt(s[i + 1], 16) < 8 && s.slice(i, i + 3) !== '%25') throw new UrlError();
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      hasEsc = true;
      i += 3;
      continue;
    }
    const code = s.charCodeAt(i);
    if (host && code < 0x80 && shouldEscapeHost(c)) throw new UrlError();
    for (const b of Buffer.from(c, 'utf8')) bytes.push(b);
    i++;
  }
  return hasEsc ? Buffer.from(bytes).toString('utf8') : s;
}

function validOptionalPort(port: string): boolean {
  if (port === '') return true;
  if (port[0] !== ':') return false;
  return /^[0-9]*$/.test(port.slice(1));
}

function parseHost(host: string): string {
  if (host.startsWith('[')) {
    const i = host.lastIndexOf(']');
    if (i < 0) throw new UrlError();
    if (!validOptionalPort(host.slice(i + 1))) throw new UrlError();
    const zone = host.slice(0, i).indexOf('%25');
    if (zone >= 0) {
      return unescape(host.slice(0, zone), true) + unescape(host.slice(zone, i), false) + unescape(host.slice(i), true);
    }
  } else {
    const i = host.lastIndexOf(':');
    if (i !== -1 && !validOptionalPort(host.slice(i))) throw new UrlError();
  }
  return unescape(host, true);
}

function parse(raw: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(raw)) throw new UrlError();
  const hash = raw.indexOf('#');
  const u = hash >= 0 ? raw.slice(0, hash) : raw;
  if (hash >= 0) unescape(raw.slice(hash + 1), false);
  if (u === '*') return '';
  // scheme
  let rest = u;
  let scheme = '';
  for (let i = 0; i < u.length; i++) {
    const c = u[i];
    if (/[a-zA-Z]/.test(c)) continue;
    if (/[0-9+\-.]/.test(c)) {
      if (i === 0) break;
      continue;
    }
    if (c === ':') {
      if (i === 0) throw new UrlError();
      scheme = u.slice(0, i);
      rest = u.slice(i + 1);
    }
    break;
  }
  const q = rest.indexOf('?');
  if (q >= 0) rest = rest.slice(0, q);
  if (!rest.startsWith('/')) {
    if (scheme !== '') return '';
    const seg = rest.indexOf('/') >= 0 ? rest.slice(0, rest.indexOf('/')) : rest;
    if (seg.includes(':')) throw new UrlError();
  }
  let host = '';
  if ((scheme !== '' || !rest.startsWith('///')) && rest.startsWith('//')) {
    const after = rest.slice(2);
    const slash = after.indexOf('/');
    const authority = slash >= 0 ? after.slice(0, slash) : after;
    rest = slash >= 0 ? after.slice(slash) : '';
    const at = authority.lastIndexOf('@');
    if (at >= 0) {
      const userinfo = authority.slice(0, at);
      if (!validUserinfo(userinfo)) throw new UrlError();
      unescape(userinfo, false);
      host = parseHost(authority.slice(at + 1));
    } else host = parseHost(authority);
  }
  unescape(rest, false);
  return host;
}

export function urlHost(raw: string): string {
  try {
    return parse(raw);
  } catch (e) {
    if (e instanceof UrlError) return '';
    throw e;
  }
}
