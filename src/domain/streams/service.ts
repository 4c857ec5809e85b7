import { BadRequestError, ForbiddenError, NotFoundError } from '../../errors';
import type { Core } from '../core';
import { StorageConflict } from '../../storage/errors';
import { DOWNLINK, MAIN } from '../../storage/types';
import { STREAM_FIELDS, checkUpdate, readableMap } from '../fields';
import type { MetaLog } from '../metalog';
import { CANT_ACCESS, STREAM_NOT_FOUND, findDevice, findStream } from '../resolve';
import type { DeviceRow, Operator, StreamRow, UserRow } from '../types';
import { checkIcon, validName } from '../validation';
import { normalizeSchema } from './schema';
import type { RWAccess } from '../../permissions';
import { goType, resolveIndexRange } from '../datapoints/service';

const STREAM_KEYS = ['name', 'nickname', 'description', 'icon', 'schema', 'datatype', 'ephemeral', 'downlink'] as const;

/** The stream's own retention as its JSON shows it, or undefined when it has none (the original's shape). */
export function retentionJSON(s: StreamRow): { datapoints?: number; seconds?: number } | undefined {
  if (!s.keep_datapoints && !s.keep_seconds) return undefined;
  const r: { datapoints?: number; seconds?: number } = {};
  if (s.keep_datapoints) r.datapoints = s.keep_datapoints;
  if (s.keep_seconds) r.seconds = s.keep_seconds;
  return r;
}

/**
 * The `retention` of a create or update body: `{"datapoints": N, "seconds": D}` (either may be
 * left out; 0 or null = no limit) or null to remove it. Undefined when the body has none.
 */
export function parseRetention(v: unknown): { keep_datapoints: number; keep_seconds: number } | undefined {
  if (v === undefined) return undefined;
  if (v === null) return { keep_datapoints: 0, keep_seconds: 0 };
  const bad = () =>
    new BadRequestError('retention must be an object {"datapoints": N, "seconds": D}: a whole number of datapoints and a number of seconds, 0 or more (0 = no limit)');
  if (typeof v !== 'object' || Array.isArray(v)) throw bad();
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'datapoints' && k !== 'seconds') throw bad();
  const n = o.datapoints ?? 0;
  const d = o.seconds ?? 0;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw bad();
  if (typeof d !== 'number' || !Number.isFinite(d) || d < 0) throw bad();
  return { keep_datapoints: n, keep_seconds: d };
}

/** Struct form (rest-api §7.1): fixed order, unreadable fields blanked; `retention` last, only when set. */
export function streamStruct(s: StreamRow, read: RWAccess): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of STREAM_KEYS) {
    const v = s[k];
    out[k] = read[`stream_${k}`] ? v : typeof v === 'boolean' ? false : '';
  }
  const r = retentionJSON(s);
  if (r) out.retention = r;
  return out;
}

export function streamMap(s: StreamRow, read: RWAccess, extra?: Record<string, unknown>): Record<string, unknown> {
  const m = readableMap('stream', s as unknown as Record<string, unknown>, [...STREAM_KEYS], read);
  const r = retentionJSON(s);
  if (r) m.retention = r;
  if (extra) Object.assign(m, extra);
  return Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Type-checks a create body the way the original's JSON decoder did (400 on a wrong type, unknown
 * keys ignored) and returns the known fields.
 */
export function createBody(body: unknown, fields: Record<string, 'string' | 'boolean'>, struct: string): Record<string, unknown> {
  if (body === null || body === undefined) return {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequestError(`json: cannot unmarshal ${goType(body)} into Go value of type ${struct}`);
  }
  const b = body as Record<string, unknown>;
  for (const [k, t] of Object.entries(fields)) {
    const v = b[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== t) {
      throw new BadRequestError(`json: cannot unmarshal ${goType(v)} into Go struct field ${struct}.${k} of type ${t === 'boolean' ? 'bool' : 'string'}`);
    }
  }
  return b;
}

/** A device created by the same operation as its streams: the stream names planned on it so far. */
export interface PlannedDevice {
  planned: string[];
}

export interface StreamCreateOpts {
  /** Skip the permission check (nested creation already checked the parent). */
  checked?: boolean;
}

export class StreamService {
  constructor(
    private readonly core: Core,
    private readonly log: MetaLog,
  ) {}

  async read(op: Operator, user: string, device: string, stream: string): Promise<Record<string, unknown>> {
    let ref;
    try {
      ref = await findStream(this.core, user, device, stream, NotFoundError);
    } catch (e) {
      // rest-api §7.2 (observed): a missing user or device is named, a missing stream is not.
      if (e instanceof NotFoundError && e.message === STREAM_NOT_FOUND) throw new NotFoundError(CANT_ACCESS);
      throw e;
    }
    const acc = this.core.accessDevice(op, ref.device);
    if (!acc.read.can_access_stream) throw new NotFoundError(CANT_ACCESS);
    return streamStruct(ref.stream, acc.read);
  }

  async listForDevice(op: Operator, user: string, device: string): Promise<Record<string, unknown>[]> {
    let found;
    try {
      found = await findDevice(this.core, user, device, NotFoundError);
    } catch {
      throw new NotFoundError(CANT_ACCESS);
    }
    const acc = this.core.accessDevice(op, found.device);
    if (!acc.can_list_streams) throw new NotFoundError(CANT_ACCESS);
    if (!acc.read.can_access_stream) return [];
    return (await this.core.streams.listForDevice(found.device.id)).map((s) => streamMap(s, acc.read));
  }

  /**
   * A schema as a client sent it, minified and compiled once to prove it valid. Compiling costs
   * about 5 ms per KB of schema on the main thread, so schemas over `max_schema_bytes` are refused
   * before compiling: a 400 KB schema would otherwise hold every other request for seconds.
   */
  private checkedSchema(text: string): string {
    const max = this.core.config.max_schema_bytes;
    if (max > 0 && Buffer.byteLength(text) > max) {
      throw new ForbiddenError(`The provided schema is too large: ${Buffer.byteLength(text)} bytes, the limit is ${max} (max_schema_bytes)`);
    }
    return normalizeSchema(text);
  }

  /**
   * Validates a stream body against defaults; returns the row to insert (nothing written yet).
   * `device` is a stored device, or a device being created in the same operation with the names of
   * the streams planned on it so far.
   */
  async prepare(op: Operator, owner: UserRow, device: DeviceRow | PlannedDevice, name: string, body: Record<string, unknown>): Promise<Omit<StreamRow, 'id'>> {
    const defs = this.core.permissions.userRole(op.user.role).create_stream_defaults;
    const str = (k: string, d: string) => (typeof body[k] === 'string' ? (body[k] as string) : d);
    const bool = (k: string, d: boolean) => (typeof body[k] === 'boolean' ? (body[k] as boolean) : d);
    const schema = this.checkedSchema(str('schema', defs.schema));
    if (!validName(name)) throw new ForbiddenError('Invalid Username, usernames may not contain / \\ ? or spaces');
    const icon = str('icon', defs.icon);
    checkIcon(icon);
    const role = this.core.permissions.userRole(owner.role);
    const planned = 'planned' in device ? device.planned : undefined;
    const stored = 'planned' in device ? undefined : device;
    const count = stored ? await this.core.streams.countForDevice(stored.id) : planned!.length;
    if (role.max_streams > 0 && count >= role.max_streams) {
      throw new ForbiddenError('Cannot create stream: Exceeded maximum stream number for device.');
    }
    if (stored ? await this.core.streams.get(stored.id, name) : planned!.includes(name)) throw new ForbiddenError('Stream with this name already exists');
    if (planned) planned.push(name);
    return {
      device_id: stored ? stored.id : 0,
      name,
      nickname: str('nickname', defs.nickname),
      description: str('description', defs.description),
      icon,
      schema,
      datatype: str('datatype', defs.datatype),
      ephemeral: bool('ephemeral', defs.ephemeral),
      downlink: bool('downlink', defs.downlink),
    };
  }

  async create(op: Operator, user: string, device: string, stream: string, rawBody: unknown): Promise<Record<string, unknown>> {
    const body = createBody(rawBody, STREAM_FIELDS, 'StreamMaker');
    const { user: u, device: d } = await findDevice(this.core, user, device, ForbiddenError);
    const acc = this.core.accessDevice(op, d);
    if (!acc.can_create_stream) throw new ForbiddenError(CANT_ACCESS);
    const retention = parseRetention(body.retention);
    const row = { ...(await this.prepare(op, u, d, stream, body)), ...retention };
    const log = await this.log.write(this.log.plan(), op, 'CreateStream', `${u.name}/${d.name}/${row.name}`, u);
    let s: StreamRow;
    try {
      s = await this.core.meta.createStream(row, log.entries);
    } catch (e) {
      if (e instanceof StorageConflict) throw new ForbiddenError('Stream with this name already exists');
      throw e;
    }
    log.publish();
    return streamStruct(s, acc.read);
  }

  async update(op: Operator, user: string, device: string, stream: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const ref = await findStream(this.core, user, device, stream, ForbiddenError);
    const acc = this.core.accessDevice(op, ref.device);
    if (!acc.write.can_access_stream) throw new ForbiddenError(CANT_ACCESS);
    // Retention deletes data, so changing it needs the right to delete the stream.
    const { retention: rawRetention, ...fields } = body;
    const retention = parseRetention(rawRetention);
    if (retention && !acc.can_delete_stream) throw new ForbiddenError('This device does not have permissions to write retention');
    const ch = checkUpdate('stream', STREAM_FIELDS, fields, acc.write);
    if ('name' in ch && ch.name !== ref.stream.name) throw new ForbiddenError('ConnectorDB does not support modification of stream names');
    delete ch.name;
    if (typeof ch.schema === 'string') ch.schema = this.checkedSchema(ch.schema);
    const log = await this.log.write(this.log.plan(), op, 'UpdateStream', ref.path, ref.user);
    await this.core.meta.updateStream(ref.stream.id, { ...(ch as Partial<StreamRow>), ...retention }, ch.downlink === false && ref.stream.downlink, log.entries);
    log.publish();
    return streamStruct((await this.core.streams.getById(ref.stream.id))!, acc.read);
  }

  /**
   * Deletes datapoints [a, b) by index (Python-style, as reads resolve them) or (a, b] by time
   * (b = 0: to the end), for those who may delete the stream. Later datapoints' indexes shift
   * down; subscribers are told nothing; the meta log records it in the same transaction.
   * Beyond the original.
   */
  async deleteData(op: Operator, user: string, device: string, stream: string, downlink: boolean, range: { kind: 'index' | 'time'; a: number; b: number }): Promise<void> {
    const ref = await findStream(this.core, user, device, stream, ForbiddenError);
    const acc = this.core.accessDevice(op, ref.device);
    if (!acc.can_delete_stream) throw new ForbiddenError(CANT_ACCESS);
    const sub = downlink ? DOWNLINK : MAIN;
    const id = ref.stream.id;
    const n = await this.core.data.length(id, sub);
    let i1: number;
    let i2: number;
    if (range.kind === 'index') [i1, i2] = resolveIndexRange(n, range.a, range.b);
    else {
      i1 = n === 0 ? 0 : await this.core.data.time2index(id, sub, range.a);
      i2 = range.b !== 0 && n > 0 ? await this.core.data.time2index(id, sub, range.b) : n;
      if (i2 < i1) i2 = i1;
    }
    const what = range.kind === 'index' ? `i1=${range.a}&i2=${range.b}` : `t1=${range.a}&t2=${range.b}`;
    const log = await this.log.write(this.log.plan(), op, 'DeleteDatapoints', `${ref.path}${downlink ? '/downlink' : ''}?${what}`, ref.user);
    await this.core.data.deleteRange(id, sub, i1, i2, log.entries);
    log.publish();
  }

  async delete(op: Operator, user: string, device: string, stream: string, downlinkOnly: boolean): Promise<void> {
    const ref = await findStream(this.core, user, device, stream, ForbiddenError);
    const acc = this.core.accessDevice(op, ref.device);
    if (!acc.can_delete_stream) throw new ForbiddenError(CANT_ACCESS);
    const ownLog = !downlinkOnly && ref.device.name === 'meta' && ref.stream.name === 'log';
    const log = await this.log.write(this.log.plan(), op, 'DeleteStream', ref.path, ref.user, ownLog);
    if (downlinkOnly) await this.core.meta.clearSubstream(ref.stream.id, DOWNLINK, log.entries);
    else await this.core.meta.deleteStream(ref.stream.id, log.entries);
    log.publish();
  }
}
