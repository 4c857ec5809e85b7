import { asNumber, niceStep } from './stats';
import { type Datapoint, type JSONSchema, schemaType } from './types';

/** What the data looks like, decided from the schema first and from the datapoints second. */
export type Shape =
  | { kind: 'empty' }
  | { kind: 'number' }
  | { kind: 'boolean' }
  | { kind: 'category'; distinct: number }
  | { kind: 'text' }
  | { kind: 'numobject'; fields: string[] }
  | { kind: 'aggregate'; fields: string[] }
  | { kind: 'other' };

const SAMPLE = 2000;

function isNumericObject(d: unknown): d is Record<string, unknown> {
  if (!d || typeof d !== 'object' || Array.isArray(d)) return false;
  return Object.values(d).some((v) => asNumber(v) !== null && typeof v !== 'boolean');
}

export function detectShape(schema: JSONSchema, points: readonly Datapoint[], transformed: boolean, datatype = ''): Shape {
  // A transform can turn any stream into anything, so the schema only speaks for raw data.
  const st = transformed ? undefined : schemaType(schema);
  const sample = points.length > SAMPLE ? points.slice(points.length - SAMPLE) : points;
  if (st === 'number' || st === 'integer') return points.length ? { kind: 'number' } : { kind: 'empty' };
  if (st === 'boolean') return points.length ? { kind: 'boolean' } : { kind: 'empty' };
  if (!transformed && schema.enum && schema.enum.length) return { kind: 'category', distinct: schema.enum.length };
  if (st === 'object' && schema.properties) {
    const fields = Object.entries(schema.properties)
      .filter(([, p]) => schemaType(p) === 'number' || schemaType(p) === 'integer')
      .map(([k]) => k);
    if (fields.length) return points.length ? { kind: 'numobject', fields } : { kind: 'empty' };
  }
  if (!sample.length) return { kind: 'empty' };
  if (!transformed && datatype.startsWith('log.')) return { kind: 'text' };
  const ds = sample.map((p) => p.d);
  if (ds.every((d) => typeof d === 'boolean')) return { kind: 'boolean' };
  if (ds.every((d) => typeof d === 'number' || d === null || d === undefined)) return { kind: 'number' };
  if (ds.every((d) => typeof d === 'string' || d === undefined)) {
    const distinct = new Set(ds).size;
    if (st !== 'string' && ds.every((d) => asNumber(d) !== null)) return { kind: 'number' };
    // Repetitive strings are categories; strings that rarely repeat are free text.
    const spaced = ds.filter((d) => typeof d === 'string' && d.trim().includes(' ')).length;
    if (ds.length >= 5 && distinct <= 200 && distinct <= ds.length / 2 && spaced < ds.length / 2) return { kind: 'category', distinct };
    return { kind: 'text' };
  }
  if (ds.every(isNumericObject)) {
    const fields = new Set<string>();
    for (const d of ds as Record<string, unknown>[]) for (const [k, v] of Object.entries(d)) if (asNumber(v) !== null) fields.add(k);
    const list = [...fields].slice(0, 8);
    if (sample.length === 1 && fields.size > 1) return { kind: 'aggregate', fields: [...fields] };
    return { kind: 'numobject', fields: list };
  }
  return { kind: 'other' };
}

/** How a view draws: the main data, or the result of its own PipeScript over the same range. */
export type Render = 'line' | 'bool' | 'bars' | 'list' | 'table' | 'scatter';

export interface ViewDef {
  id: string;
  label: string;
  render: Render;
  /** The PipeScript the view runs on the server after the page's transform; null = the page's data. */
  script: string | null;
  /** How the keys of a `map` result are labelled. */
  keys?: 'day' | 'week' | 'bucket' | 'plain';
  /** Fields for scatter/correlation. */
  fields?: string[];
}

/** Views in the order the page offers them; the first is shown by default. */
export function viewsFor(shape: Shape, points: readonly Datapoint[], opts: { bucket?: number } = {}): ViewDef[] {
  const table: ViewDef = { id: 'table', label: 'Table', render: 'table', script: null };
  const v: ViewDef[] = [];
  switch (shape.kind) {
    case 'number': {
      v.push({ id: 'line', label: 'Line chart', render: 'line', script: null });
      if (points.length >= 7) {
        const step = opts.bucket ?? histogramStep(points);
        v.push({ id: 'histogram', label: 'Histogram', render: 'bars', script: `map(bucket(${step}), count)`, keys: 'bucket' });
      }
      v.push({ id: 'daymean', label: 'Daily average', render: 'bars', script: 'map(day, mean)', keys: 'day' });
      v.push({ id: 'daysum', label: 'Daily sum', render: 'bars', script: 'map(day, sum)', keys: 'day' });
      v.push({ id: 'weekmean', label: 'Weekly average', render: 'bars', script: 'map(week, mean)', keys: 'week' });
      v.push({ id: 'weeksum', label: 'Weekly sum', render: 'bars', script: 'map(week, sum)', keys: 'week' });
      break;
    }
    case 'boolean':
      v.push({ id: 'bool', label: 'Timeline', render: 'bool', script: null });
      v.push({ id: 'ttrue', label: 'Time true per day', render: 'bars', script: 'ttrue | map(day, sum)', keys: 'day' });
      v.push({ id: 'counts', label: 'Counts', render: 'bars', script: 'map($, count)', keys: 'plain' });
      break;
    case 'category':
      v.push({ id: 'counts', label: 'Value counts', render: 'bars', script: 'map($, count)', keys: 'plain' });
      v.push({ id: 'list', label: 'List', render: 'list', script: null });
      break;
    case 'text':
      v.push({ id: 'list', label: 'List', render: 'list', script: null });
      v.push({ id: 'sentiment', label: 'Sentiment', render: 'line', script: 'sentiment' });
      v.push({ id: 'words', label: 'Word count', render: 'line', script: 'wc' });
      break;
    case 'numobject':
      v.push({ id: 'line', label: 'Line chart', render: 'line', script: null, fields: shape.fields });
      if (shape.fields.length === 2 && points.length > 3) {
        v.push({ id: 'correlation', label: 'Correlation', render: 'scatter', script: null, fields: shape.fields });
      }
      break;
    case 'aggregate':
      v.push({ id: 'bars', label: 'Bars', render: 'bars', script: null, keys: 'plain' });
      break;
    default:
      break;
  }
  v.push(table);
  return v;
}

function histogramStep(points: readonly Datapoint[]): number {
  let min = Infinity, max = -Infinity;
  for (const p of points) {
    const x = asNumber(p.d);
    if (x === null) continue;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return Number(niceStep(min, max, 15).toPrecision(6));
}

/** `userTransform | viewScript`, so a view recomputes on the transformed data. */
export function compose(transform: string, script: string): string {
  const t = transform.trim();
  return t ? `${t} | ${script}` : script;
}
