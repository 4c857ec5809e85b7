/** A datapoint on the wire: `t` omitted when 0, `d` omitted when null, `o` set for non-owner writes. */
export interface Datapoint {
  t?: number;
  d?: unknown;
  o?: string;
}

/** One element of the downsampling read (`…/data?downsample=N`). */
export interface Bucket {
  t: number;
  d: { min: number; max: number; mean: number; count: number };
}

/** The fields of a stream the views care about (rest-api §7.1, plus `device` from `q=streams`). */
export interface StreamInfo {
  name: string;
  nickname?: string;
  description?: string;
  schema: string;
  datatype: string;
  ephemeral: boolean;
  downlink: boolean;
  device?: string;
}

/** What the views render: either raw datapoints or downsampled buckets. */
export type Series =
  | { kind: 'points'; points: Datapoint[]; total: number; truncated: boolean }
  | { kind: 'buckets'; buckets: Bucket[]; total: number };

export type JSONSchema = {
  type?: string | string[];
  enum?: unknown[];
  properties?: Record<string, JSONSchema>;
  required?: string[];
  minimum?: number;
  maximum?: number;
  title?: string;
  description?: string;
  default?: unknown;
  items?: JSONSchema;
};

export function parseSchema(s: string): JSONSchema {
  try {
    const v = JSON.parse(s || '{}') as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as JSONSchema) : {};
  } catch {
    return {};
  }
}

export function schemaType(s: JSONSchema): string | undefined {
  if (Array.isArray(s.type)) {
    const t = s.type.filter((x) => x !== 'null');
    return t.length === 1 ? t[0] : undefined;
  }
  return s.type;
}
