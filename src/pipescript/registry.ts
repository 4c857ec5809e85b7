/** The transform registry (rest-api §4.6, spec §9). */
import { config } from './config';
import type { TransformDef } from './plan';
import { coreTransforms } from './transforms/core';
import { datetimeTransforms } from './transforms/datetime';
import { stringTransforms } from './transforms/strings';
import { DOCS } from './transforms/docs';

const ALL = new Map<string, TransformDef>();
for (const d of [...coreTransforms, ...datetimeTransforms, ...stringTransforms]) {
  ALL.set(d.name, { ...d, documentation: d.documentation ?? DOCS[d.name] ?? d.description });
}

export function lookupTransform(name: string): TransformDef | undefined {
  const d = ALL.get(name);
  if (d === undefined || config.disableTransforms.includes(name)) return undefined;
  return d;
}

export interface TransformArgInfo {
  description: string;
  optional: boolean;
  default?: unknown;
  constant: boolean;
  hijacked: boolean;
}

export interface TransformInfo {
  name: string;
  description: string;
  documentation: string;
  ischema?: string;
  oschema?: string;
  args: TransformArgInfo[] | null;
  one_to_one: boolean;
  stateless: boolean;
  peek: boolean;
}

export function transformListing(): Record<string, TransformInfo> {
  const out: Record<string, TransformInfo> = {};
  for (const name of [...ALL.keys()].sort()) {
    const d = lookupTransform(name);
    if (!d) continue;
    const info: TransformInfo = {
      name,
      description: d.description,
      documentation: d.documentation,
      args:
        d.args.length === 0
          ? null
          : d.args.map((a) => {
              const r: TransformArgInfo = { description: a.description, optional: a.optional, constant: a.constant, hijacked: a.hijacked };
              // Script defaults serialise as null; absent defaults are left out.
              if (a.scriptDefault) r.default = null;
              else if (a.optional && a.default !== undefined) r.default = a.default;
              return { description: r.description, optional: r.optional, ...('default' in r ? { default: r.default } : {}), constant: r.constant, hijacked: r.hijacked };
            }),
      one_to_one: d.o2o,
      stateless: d.stateless,
      peek: d.peek,
    };
    if (d.ischema) info.ischema = d.ischema;
    if (d.oschema) info.oschema = d.oschema;
    out[name] = {
      name: info.name,
      description: info.description,
      documentation: info.documentation,
      ...(info.ischema ? { ischema: info.ischema } : {}),
      ...(info.oschema ? { oschema: info.oschema } : {}),
      args: info.args,
      one_to_one: info.one_to_one,
      stateless: info.stateless,
      peek: info.peek,
    };
  }
  return out;
}
