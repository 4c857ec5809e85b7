/**
 * Static checks on a parsed stream schema, written without recursion: a schema is a string inside
 * the request, so the body's nesting limit does not bound it.
 */
import { ForbiddenError } from '../../errors';

/** The keyword the "integer" nodes get so the validator also checks the 64-bit range. */
export const INT64_KEYWORD = 'x-connectordb-int64';

/** A datapoint met a reference loop the static check could not see. */
export class SchemaLoopError extends ForbiddenError {
  constructor() {
    super("The stream's schema refers to itself without end, so the datapoint could not be checked against it");
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Keywords whose value is one subschema applied to the same value (no descent into the data). */
const IN_PLACE_ONE = ['not', 'if', 'then', 'else'];
/** Keywords whose value is a list of subschemas applied to the same value. */
const IN_PLACE_LIST = ['allOf', 'anyOf', 'oneOf'];
/** Keywords whose value is one subschema applied to a part of the value. */
const DESCEND_ONE = ['additionalItems', 'additionalProperties', 'contains', 'propertyNames', 'items'];
/** Keywords whose value maps names to subschemas (definitions are only reached through $ref). */
const SCHEMA_MAPS = ['properties', 'patternProperties', 'definitions', '$defs', 'dependencies'];

interface Node {
  schema: Obj;
  path: string;
}

/** Every schema object in the tree, with its JSON pointer. */
function allNodes(root: Obj): Node[] {
  const out: Node[] = [];
  const seen = new Set<Obj>();
  const todo: Node[] = [{ schema: root, path: '#' }];
  const push = (v: unknown, path: string) => {
    if (isObj(v) && !seen.has(v)) todo.push({ schema: v, path });
  };
  while (todo.length > 0) {
    const n = todo.pop() as Node;
    if (seen.has(n.schema)) continue;
    seen.add(n.schema);
    out.push(n);
    const s = n.schema;
    for (const k of [...IN_PLACE_ONE, ...DESCEND_ONE]) push(s[k], `${n.path}/${k}`);
    for (const k of [...IN_PLACE_LIST, 'items']) {
      const l = s[k];
      if (Array.isArray(l)) l.forEach((v, i) => push(v, `${n.path}/${k}/${i}`));
    }
    for (const k of SCHEMA_MAPS) {
      const m = s[k];
      if (isObj(m)) for (const name of Object.keys(m)) push(m[name], `${n.path}/${k}/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`);
    }
  }
  return out;
}

/** Resolves a same-document JSON-pointer `$ref` ("#", "#/definitions/a"); undefined otherwise. */
function resolvePointer(root: Obj, ref: string): Obj | undefined {
  if (ref === '#' || ref === '#/') return root;
  if (!ref.startsWith('#/')) return undefined;
  let cur: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    let part: string;
    try {
      part = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    } catch {
      return undefined;
    }
    if (Array.isArray(cur)) cur = cur[Number(part)];
    else if (isObj(cur)) cur = cur[part];
    else return undefined;
  }
  return isObj(cur) ? cur : undefined;
}

/** The subschemas applied to the same value as s: where a loop would never end. */
function inPlace(root: Obj, s: Obj): Obj[] {
  const out: Obj[] = [];
  if (typeof s.$ref === 'string') {
    const r = resolvePointer(root, s.$ref);
    if (r) out.push(r);
  }
  for (const k of IN_PLACE_ONE) if (isObj(s[k])) out.push(s[k] as Obj);
  for (const k of IN_PLACE_LIST) {
    const l = s[k];
    if (Array.isArray(l)) for (const v of l) if (isObj(v)) out.push(v);
  }
  const deps = s.dependencies;
  if (isObj(deps)) for (const v of Object.values(deps)) if (isObj(v)) out.push(v);
  return out;
}

/**
 * A loop of references that never moves into a part of the value (`{"$ref":"#"}`,
 * `{"allOf":[{"$ref":"#"}]}`, definitions referring to each other) makes every check recurse
 * forever. Returns the pointer of a schema on such a loop, or null.
 */
export function selfReferenceLoop(root: object): string | null {
  if (!isObj(root)) return null;
  const nodes = allNodes(root);
  const pathOf = new Map<Obj, string>(nodes.map((n) => [n.schema, n.path]));
  const state = new Map<Obj, 1 | 2>(); // 1 = on the current path, 2 = done
  for (const start of nodes) {
    if (state.has(start.schema)) continue;
    const stack: { s: Obj; next: Obj[] }[] = [{ s: start.schema, next: inPlace(root, start.schema) }];
    state.set(start.schema, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const n = top.next.pop();
      if (n === undefined) {
        state.set(top.s, 2);
        stack.pop();
        continue;
      }
      const st = state.get(n);
      if (st === 1) return pathOf.get(n) ?? '#';
      if (st === 2) continue;
      state.set(n, 1);
      stack.push({ s: n, next: inPlace(root, n) });
    }
  }
  return null;
}

/** Marks the nodes that accept integers but not other numbers, for the 64-bit range check. */
export function markInt64(root: object): void {
  if (!isObj(root)) return;
  for (const { schema } of allNodes(root)) {
    const t = schema.type;
    const integer = t === 'integer' || (Array.isArray(t) && t.includes('integer') && !t.includes('number'));
    if (integer) schema[INT64_KEYWORD] = true;
  }
}
