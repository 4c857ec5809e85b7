/** The analysis page's dataset, and the query / Python code made from it (rest-api §9.2). */

export interface Column {
  name: string;
  stream: string;
  interpolator: string;
  transform: string;
}

export interface DatasetSpec {
  kind: 'T' | 'X';
  t1: number;
  t2: number;
  dt: number;
  /** X-dataset: the reference stream and its transform. */
  x: string;
  xtransform: string;
  columns: Column[];
  posttransform: string;
}

export const MAX_COLUMNS = 10;

export const DT_PRESETS: [string, number][] = [
  ['1 second', 1],
  ['1 minute', 60],
  ['5 minutes', 300],
  ['15 minutes', 900],
  ['1 hour', 3600],
  ['6 hours', 21600],
  ['1 day', 86400],
  ['1 week', 604800],
  ['30 days', 2592000],
  ['1 year', 31536000],
];

export interface DatasetQuery {
  t1?: number;
  t2?: number;
  dt?: number;
  stream?: string;
  transform?: string;
  posttransform?: string;
  dataset: Record<string, { stream: string; interpolator: string; transform?: string }>;
}

export function buildQuery(s: DatasetSpec): DatasetQuery {
  const q: DatasetQuery = { t1: s.t1, t2: s.t2, dataset: {} };
  if (s.kind === 'T') q.dt = s.dt;
  else {
    q.stream = s.x.trim();
    if (s.xtransform.trim()) q.transform = s.xtransform.trim();
  }
  if (s.posttransform.trim()) q.posttransform = s.posttransform.trim();
  for (const c of s.columns) {
    if (!c.stream.trim()) continue;
    const name = c.name.trim() || c.stream.trim();
    q.dataset[name] = { stream: c.stream.trim(), interpolator: c.interpolator || 'closest' };
    if (c.transform.trim()) q.dataset[name].transform = c.transform.trim();
  }
  return q;
}

const py = (v: unknown) => JSON.stringify(v);

/** The same query with the official client (connectordb-python's `Dataset`). */
export function pythonCode(s: DatasetSpec, siteurl: string, user: string): string {
  const q = buildQuery(s);
  const lines = ['import connectordb', 'from connectordb.query import Dataset', '', `cdb = connectordb.ConnectorDB(${py(user)}, "<password or device api key>", url=${py(siteurl)})`];
  const args = [s.kind === 'T' ? `dt=${q.dt}` : `x=${py(q.stream)}`, `t1=${q.t1}`, `t2=${q.t2}`];
  if (q.transform) args.push(`transform=${py(q.transform)}`);
  if (q.posttransform) args.push(`posttransform=${py(q.posttransform)}`);
  lines.push(`d = Dataset(cdb, ${args.join(', ')})`);
  for (const [name, e] of Object.entries(q.dataset)) {
    const a = [py(e.stream), py(e.interpolator)];
    if (e.transform) a.push(`transform=${py(e.transform)}`);
    a.push(`colname=${py(name)}`);
    lines.push(`d.addStream(${a.join(', ')})`);
  }
  lines.push('data = d.run()', 'print(len(data), "rows")');
  return lines.join('\n') + '\n';
}

export function defaultSpec(now = Date.now() / 1000): DatasetSpec {
  return {
    kind: 'T',
    t1: Math.floor(now - 7 * 86400),
    t2: Math.floor(now),
    dt: 3600,
    x: '',
    xtransform: '',
    columns: [{ name: '', stream: '', interpolator: 'closest', transform: '' }],
    posttransform: '',
  };
}

/** The spec kept in the URL (`?ds=`), so a dataset can be bookmarked and shared. */
export function parseSpec(s: string | null): DatasetSpec | null {
  if (!s) return null;
  try {
    const v = JSON.parse(s) as Partial<DatasetSpec>;
    const d = defaultSpec();
    const cols = Array.isArray(v.columns) ? v.columns.slice(0, MAX_COLUMNS).map((c) => ({ ...d.columns[0], ...c })) : d.columns;
    return { ...d, ...v, columns: cols.length ? cols : d.columns };
  } catch {
    return null;
  }
}
