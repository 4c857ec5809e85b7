import { BadRequestError, ForbiddenError } from '../../errors';
import { DatapointService } from '../../domain/datapoints/service';
import { compileTransform } from '../../domain/datapoints/transform';
import { type Register, checkNames, requireBody, sendJSON, sendText } from '../context';
import { sendError } from '../errors';
import { sendDatapoints, sendJoinedBytes, sendRowChunks } from '../stream';
import { MAX_BUCKETS } from '../../domain/datapoints/downsample';
import { CSV_SAMPLE, type CsvColumns, addColumns, cellTypes, parseCsvUpload, pull, scanColumns, sendCsv, sendProduceError } from '../csv';
import type { Datapoint } from '../../pipescript/datapoint';
import { schemas } from '../schemas';

type Q = Record<string, string | undefined>;
type P = Record<string, string>;

const RANGE_MSG = 'A range needs [both "i1" and "i2" int] or ["t1" and ["t2" decimal and/or "limit" int]]';

/** Go's strconv.ParseInt(s, 0, 64): sign, 0x / 0o / 0b / leading-0 octal, underscores. */
export function parseGoInt(s: string): number | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|0[0-7_]*|[1-9][0-9_]*)$/.exec(s);
  if (!m) return undefined;
  const body = m[2].replace(/_/g, '');
  let v: number;
  if (/^0[xX]/.test(body)) v = parseInt(body.slice(2), 16);
  else if (/^0[bB]/.test(body)) v = parseInt(body.slice(2), 2);
  else if (/^0[oO]/.test(body)) v = parseInt(body.slice(2), 8);
  else if (body.length > 1 && body[0] === '0') v = parseInt(body.slice(1), 8);
  else v = parseInt(body, 10);
  if (!Number.isFinite(v)) return undefined;
  return m[1] === '-' ? -v : v;
}

function parseGoFloat(s: string): number | undefined {
  if (!/^[+-]?(\d[\d_]*\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|[iI]nf(inity)?|NaN)$/.test(s)) return undefined;
  const v = Number(s.replace(/_/g, '').replace(/^([+-]?)[iI]nf(inity)?$/, '$1Infinity'));
  return Number.isNaN(v) && s !== 'NaN' ? undefined : v;
}

const present = (v: string | undefined): v is string => v !== undefined && v !== '';

/** `downsample=N`: a whole number of buckets from 1 to MAX_BUCKETS; undefined when absent. */
function parseDownsample(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = /^\d{1,6}$/.test(v) ? Number(v) : NaN;
  if (!(n >= 1 && n <= MAX_BUCKETS)) {
    throw new BadRequestError(`downsample must be a whole number of buckets from 1 to ${MAX_BUCKETS}, got "${String(v).slice(0, 40)}"`);
  }
  return n;
}

export interface RangeQuery {
  kind: 'index' | 'time';
  i1: number;
  i2: number;
  t1: number;
  t2: number;
  limit: number;
}

/** The range parameters of a data read (rest-api §8.2), shared by `/data` and `/data.csv`. */
export function parseRange(q: Q): RangeQuery {
  const r: RangeQuery = { kind: 'index', i1: 0, i2: 0, t1: 0, t2: 0, limit: 0 };
  if (present(q.i1) || present(q.i2)) {
    if (present(q.i1)) {
      const v = parseGoInt(q.i1);
      if (v === undefined) throw new BadRequestError('Could not parse i1 parameter');
      r.i1 = v;
    }
    if (present(q.i2)) {
      const v = parseGoInt(q.i2);
      if (v === undefined) throw new BadRequestError('Could not parse i2 parameter');
      r.i2 = v;
    }
  } else if (present(q.t1) || present(q.t2)) {
    r.kind = 'time';
    const a = present(q.t1) ? parseGoFloat(q.t1) : 0;
    const b = present(q.t2) ? parseGoFloat(q.t2) : 0;
    const l = present(q.limit) ? parseGoInt(q.limit) : 0;
    if (a === undefined || b === undefined || l === undefined || l < 0) throw new BadRequestError(RANGE_MSG);
    r.t1 = a;
    r.t2 = b;
    r.limit = l;
  } else throw new BadRequestError(RANGE_MSG);
  return r;
}

/** Datapoint routes: rest-api §8. */
export const registerData: Register = (app, { svc, api, config }) => {
  app.get(
    '/api/v1/crud/:user/:device/:stream/data',
    { schema: schemas.readData },
    api(async (req, reply, op) => {
      const { user, device, stream } = req.params as P;
      checkNames(user, device, stream);
      const q = req.query as Q;
      const downlink = DatapointService.goBool(q.downlink);
      if (q.q === 'length') return sendText(reply, String(await svc.data.length(op, user, device, stream, downlink)));
      if (q.q === 'time2index') return sendJSON(reply, await svc.data.time2index(op, user, device, stream, downlink, q.t));

      const buckets = parseDownsample(q.downsample);
      const { kind, i1, i2, t1, t2, limit } = parseRange(q);

      const { ref, sub } = await svc.data.openForRead(op, user, device, stream, downlink);
      const transform = compileTransform(q.transform);
      const plan = kind === 'index' ? await svc.data.planIndex(ref, sub, i1, i2, transform) : await svc.data.planTime(ref, sub, t1, t2, limit, transform);
      if (buckets !== undefined) {
        const b = await svc.data.downsample(plan, buckets, kind === 'time' ? t1 : 0, kind === 'time' ? t2 : 0);
        return sendRowChunks(reply, b.json());
      }
      if (!plan.transform) {
        const into = svc.data.joinedInto(plan);
        return into ? sendJoinedBytes(reply, into) : sendRowChunks(reply, svc.data.rows(plan));
      }
      return sendDatapoints(reply, svc.data.datapoints(plan, true));
    }),
  );

  const insert = (restamp: boolean) =>
    api(async (req, reply, op) => {
      const { user, device, stream } = req.params as P;
      checkNames(user, device, stream);
      const points = DatapointService.parseInsertBody(requireBody(req));
      await svc.data.insert(op, user, device, stream, points, { restamp, downlink: DatapointService.goBool((req.query as Q).downlink) });
      return sendText(reply, 'ok');
    });
  // Beyond the original (append-only): delete a range. Without one the original's 404 stands, before
  // authentication, exactly as when the route did not exist.
  const del = api(async (req, reply, op) => {
    const { user, device, stream } = req.params as P;
    checkNames(user, device, stream);
    const q = req.query as Q;
    const downlink = DatapointService.goBool(q.downlink);
    if (present(q.i1) || present(q.i2)) {
      const i1 = present(q.i1) ? parseGoInt(q.i1) : 0;
      const i2 = present(q.i2) ? parseGoInt(q.i2) : 0;
      if (i1 === undefined) throw new BadRequestError('Could not parse i1 parameter');
      if (i2 === undefined) throw new BadRequestError('Could not parse i2 parameter');
      await svc.streams.deleteData(op, user, device, stream, downlink, { kind: 'index', a: i1, b: i2 });
    } else {
      const a = present(q.t1) ? parseGoFloat(q.t1) : 0;
      const b = present(q.t2) ? parseGoFloat(q.t2) : 0;
      if (a === undefined || b === undefined || Number.isNaN(a) || Number.isNaN(b)) throw new BadRequestError(RANGE_MSG);
      await svc.streams.deleteData(op, user, device, stream, downlink, { kind: 'time', a, b });
    }
    return sendText(reply, 'ok');
  });
  app.delete('/api/v1/crud/:user/:device/:stream/data', { schema: schemas.deleteData }, async (req, reply) => {
    const q = req.query as Q;
    if (!(present(q.i1) || present(q.i2) || present(q.t1) || present(q.t2))) return sendError(reply, 404, 'This path is not recognized');
    return del(req, reply);
  });

  app.post('/api/v1/crud/:user/:device/:stream/data', { schema: schemas.insertData }, insert(false));
  app.put('/api/v1/crud/:user/:device/:stream/data', { schema: schemas.insertData }, insert(true));

  // CSV download: the parameters of GET …/data, one row per datapoint (or per bucket).
  app.get(
    '/api/v1/crud/:user/:device/:stream/data.csv',
    { schema: schemas.readCsv },
    api(async (req, reply, op) => {
      const { user, device, stream } = req.params as P;
      checkNames(user, device, stream);
      const q = req.query as Q;
      const buckets = parseDownsample(q.downsample);
      const { kind, i1, i2, t1, t2, limit } = parseRange(q);
      const { ref, sub } = await svc.data.openForRead(op, user, device, stream, DatapointService.goBool(q.downlink));
      const transform = compileTransform(q.transform);
      const plan = kind === 'index' ? await svc.data.planIndex(ref, sub, i1, i2, transform) : await svc.data.planTime(ref, sub, t1, t2, limit, transform);
      const file = `${stream}.csv`;
      if (buckets !== undefined) {
        const b = await svc.data.downsample(plan, buckets, kind === 'time' ? t1 : 0, kind === 'time' ? t2 : 0);
        return sendCsv(reply, { plain: false, fields: ['min', 'max', 'mean', 'count'] }, [], b.datapoints(), file);
      }
      const it = svc.data.datapoints(plan, true);
      const cols: CsvColumns = { plain: false, fields: [] };
      const seen = new Set<string>();
      let head: Datapoint[];
      try {
        head = await pull(it, CSV_SAMPLE);
        for (const dp of head) addColumns(cols, seen, dp.d);
        if (cols.fields.length > 0 && head.length === CSV_SAMPLE) await scanColumns(cols, seen, svc.data.datapoints(plan, true));
      } catch (e) {
        return sendProduceError(reply, e);
      }
      return sendCsv(reply, cols, head, it, file);
    }),
  );

  // CSV upload: the body is read as a stream by csv-parse, not by the JSON body parser.
  app.register(async (inst) => {
    inst.removeAllContentTypeParsers();
    inst.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    const upload = (restamp: boolean) =>
      api(async (req, reply, op) => {
        const { user, device, stream } = req.params as P;
        checkNames(user, device, stream);
        const downlink = DatapointService.goBool((req.query as Q).downlink);
        const ref = await svc.data.openForWrite(op, user, device, stream, downlink);
        const body = req.body as NodeJS.ReadableStream | undefined;
        if (!body) throw new BadRequestError('The CSV file is empty: it needs a header row, e.g. "t,d"');
        const { points, lines } = await parseCsvUpload(body, config.insert_limit_bytes, cellTypes(ref.stream.schema));
        const bad = svc.data.firstInvalid(ref, points);
        if (bad >= 0) throw new ForbiddenError(`line ${lines[bad]}: the value does not conform to the stream's schema`);
        let last = 0;
        for (let i = 0; i < points.length; i++) {
          const t = points[i].t;
          if (t === 0) continue;
          if (t < last) throw new ForbiddenError(`line ${lines[i]}: timestamps are not ordered (${t} comes after ${last})`);
          last = t;
        }
        await svc.data.insert(op, user, device, stream, points, { restamp, downlink });
        return sendText(reply, 'ok');
      });
    inst.post('/api/v1/crud/:user/:device/:stream/data.csv', { schema: schemas.insertCsv }, upload(false));
    inst.put('/api/v1/crud/:user/:device/:stream/data.csv', { schema: schemas.insertCsv }, upload(true));
  });
};
