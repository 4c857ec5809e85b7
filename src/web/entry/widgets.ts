import { type JSONSchema, schemaType } from '../views/types';

/**
 * Input widgets by datatype with the original's dotted-prefix fallback:
 * `rating.stars.x` → `rating.stars` → `rating` → the form generated from the schema.
 */
export type Widget = 'stars' | 'diary' | 'form';

const BY_DATATYPE: Record<string, Widget> = { 'rating.stars': 'stars', 'log.diary': 'diary' };

export function widgetFor(datatype: string): Widget {
  let d = datatype.trim();
  while (d) {
    const w = BY_DATATYPE[d];
    if (w) return w;
    const dot = d.lastIndexOf('.');
    d = dot < 0 ? '' : d.slice(0, dot);
  }
  return 'form';
}

/** The value a fresh form starts with. */
export function initialValue(s: JSONSchema): unknown {
  if (s.default !== undefined) return s.default;
  if (s.enum && s.enum.length) return undefined;
  switch (schemaType(s)) {
    case 'boolean':
      return false;
    case 'number':
    case 'integer':
      return s.minimum ?? undefined;
    case 'string':
      return '';
    case 'object': {
      if (!s.properties) return undefined;
      const o: Record<string, unknown> = {};
      for (const [k, p] of Object.entries(s.properties)) o[k] = initialValue(p);
      return o;
    }
    default:
      return undefined;
  }
}

/** Whether a schema gets a generated control (else a JSON box). */
export function isSimple(s: JSONSchema): boolean {
  if (s.enum && s.enum.length) return true;
  const t = schemaType(s);
  if (t === 'number' || t === 'integer' || t === 'boolean' || t === 'string') return true;
  return t === 'object' && !!s.properties && Object.values(s.properties).every(isSimple);
}

/** A one-tap schema: submitting is the same click as choosing (enum buttons, stars, booleans). */
export function isOneTap(s: JSONSchema, datatype: string): boolean {
  return widgetFor(datatype) === 'stars' || !!(s.enum && s.enum.length);
}
