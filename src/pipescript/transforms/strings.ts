import { AFINN } from '../afinn';
import { config } from '../config';
import { runtimeError } from '../errors';
import * as V from '../values';
import { type Def, arg, atParse, kernel, pure } from './util';
import { compileGoRegexp } from './regexp';
import { urlHost } from './url';
import { goAtan2, goCos, goSin } from './gomath';

const PUNCT_RUN = /[.,/#!$%^&*;:{}=\-_`~()]+/g;

/** Go unicode.ToLower per rune (simple case mapping). */
function simpleLower(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(s)) return s.toLowerCase();
  let out = '';
  for (const ch of s) {
    const l = ch.toLowerCase();
    out += [...l].length === 1 ? l : ch;
  }
  return out;
}

export function tokenize(s: string): string[] {
  const text = simpleLower(s).replace(PUNCT_RUN, ' ');
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    if (V.isGoSpace(text.charCodeAt(i))) {
      if (start >= 0) out.push(text.slice(start, i));
      start = -1;
    } else if (start < 0) start = i;
  }
  if (start >= 0) out.push(text.slice(start));
  return out;
}

const O2O_STATELESS = { o2o: true, stateless: true, peek: false };

export const stringTransforms: Def[] = [
  {
    name: 'wc',
    description: 'Returns the number of words in the string',
    args: [],
    ...O2O_STATELESS,
    build: () => pure((_t, d) => V.mkInt(tokenize(V.toStr(d)).length)),
  },
  {
    name: 'sentiment',
    description: 'Returns the AFINN-111 sentiment score of the text, normalised by its word count',
    args: [],
    ...O2O_STATELESS,
    build: () =>
      pure((_t, d) => {
        const toks = tokenize(V.toStr(d));
        if (toks.length === 0) return new V.PsFloat32(0);
        let sum = 0;
        for (const w of toks) sum += AFINN.get(w) ?? 0;
        return new V.PsFloat32(Math.fround(Math.fround(sum) / Math.fround(5 * toks.length)));
      }),
  },
  {
    name: 'contains',
    description: 'Returns true if the data (as a string) contains the given substring',
    args: [arg('The substring to look for', { constant: true })],
    ...O2O_STATELESS,
    build({ consts }) {
      const sub = atParse(() => V.toStr(consts[0]));
      return pure((_t, d) => V.toStr(d).includes(sub));
    },
  },
  {
    name: 'regex',
    description: 'Returns true if the data (as a string) matches the regular expression',
    args: [arg('The regular expression (Go RE2 syntax)', { constant: true })],
    ...O2O_STATELESS,
    build({ consts }) {
      const src = atParse(() => V.toStr(consts[0]));
      const re = compileGoRegexp(src);
      return pure((_t, d) => re.test(V.toStr(d)));
    },
  },
  {
    name: 'append',
    description: 'Appends the data (as a string) to a running string',
    // The only output schema the original's registry declared (recorded from /api/v1/meta/transforms).
    oschema: '{"type": "string"}',
    args: [],
    o2o: true,
    stateless: false,
    peek: false,
    build: () =>
      kernel([], () => {
        let s = '';
        let bytes = 0;
        return {
          mt: false,
          ot: 0,
          step(_t, d) {
            const add = V.toStr(d);
            bytes += V.utf8Length(add);
            if (bytes > config.stringMax) throw runtimeError(`Reached maximum string length ${config.stringMax}.`);
            s += add;
            return s;
          },
          reset() {
            s = '';
            bytes = 0;
          },
        };
      }),
  },
  {
    name: 'domain',
    description: 'Returns the domain of a URL (without a leading www.)',
    args: [],
    ...O2O_STATELESS,
    build: () =>
      pure((_t, d) => {
        const h = urlHost(V.toStr(d));
        return h.startsWith('www.') ? h.slice(4) : h;
      }),
  },
  {
    name: 'distance',
    description: 'Returns the distance in meters from the given coordinates to the datapoint\'s latitude/longitude',
    args: [arg('The latitude', { constant: true }), arg('The longitude', { constant: true })],
    ...O2O_STATELESS,
    build({ consts }) {
      const lat = atParse(() => V.toFloat(consts[0]));
      const lon = atParse(() => V.toFloat(consts[1]));
      const rad = Math.PI / 180;
      const phi1 = lat * rad;
      const lam1 = lon * rad;
      return pure((_t, d) => {
        const field = (k: string): number => {
          if (!V.isObject(d) || !Object.prototype.hasOwnProperty.call(d, k))
            throw runtimeError(`Could not find '${k}' in '${V.goV(d)}'`);
          const x = V.tryFloat(d[k]);
          if (x === undefined) throw runtimeError(`Could not convert ${k} to float`);
          return x;
        };
        const lat2 = field('latitude');
        const lon2 = field('longitude');
        const phi2 = lat2 * rad;
        const s1 = goSin((phi2 - phi1) / 2);
        const s2 = goSin((lon2 * rad - lam1) / 2);
        const a = s1 * s1 + goCos(phi1) * goCos(phi2) * s2 * s2;
        const c = 2 * goAtan2(Math.sqrt(a), Math.sqrt(1 - a));
        return 6371000 * c;
      });
    },
  },
];
