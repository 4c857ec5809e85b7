import type { FastifySchema } from 'fastify';

/*
 * Request and response schemas of every REST route, for the OpenAPI document (issue 14). They are
 * documentation: the API plugin installs validator and serializer compilers that accept and
 * stringify as before, because the original's parsing (Go integer literals in i1/i2, JSON read
 * whatever the Content-Type, its exact error messages) is done by the handlers and clients rely on
 * it. So the schemas describe what the handlers accept; they never change an answer.
 */

type S = FastifySchema & Record<string, unknown>;

const ref = (id: string) => ({ $ref: `${id}#` });

/** Shared component schemas, added to the root instance by the API plugin. */
export const SHARED_SCHEMAS = [
  {
    $id: 'ErrorBody',
    type: 'object',
    description: "ConnectorDB's error body (rest-api §1.5): the status repeated, a message, and a reference logged by the server",
    properties: { code: { type: 'integer' }, msg: { type: 'string' }, ref: { type: 'string' } },
    required: ['code', 'msg', 'ref'],
  },
  {
    $id: 'Datapoint',
    type: 'object',
    description: 'A datapoint: t in seconds since 1970 (omitted when 0), d any JSON (omitted when null), o the writer when not the owner',
    properties: { t: { type: 'number' }, d: {}, o: { type: 'string' } },
  },
  {
    $id: 'Bucket',
    type: 'object',
    description: 'One bucket of a downsampling read: its start time and the min, max, mean and count of its numeric values',
    properties: {
      t: { type: 'number' },
      d: {
        type: 'object',
        properties: { min: { type: 'number' }, max: { type: 'number' }, mean: { type: 'number' }, count: { type: 'integer' } },
        required: ['min', 'max', 'mean', 'count'],
      },
    },
    required: ['t', 'd'],
  },
  {
    $id: 'User',
    type: 'object',
    description: 'A user (data-model §3); password hashes are never shown',
    properties: {
      name: { type: 'string' },
      email: { type: 'string' },
      nickname: { type: 'string' },
      description: { type: 'string' },
      icon: { type: 'string' },
      role: { type: 'string' },
      public: { type: 'boolean' },
    },
    additionalProperties: true,
  },
  {
    $id: 'Device',
    type: 'object',
    description: 'A device (data-model §4); apikey only for readers allowed to see it',
    properties: {
      name: { type: 'string' },
      nickname: { type: 'string' },
      description: { type: 'string' },
      icon: { type: 'string' },
      apikey: { type: 'string' },
      enabled: { type: 'boolean' },
      public: { type: 'boolean' },
      role: { type: 'string' },
      user_editable: { type: 'boolean' },
      visible: { type: 'boolean' },
    },
    additionalProperties: true,
  },
  {
    $id: 'Stream',
    type: 'object',
    description: 'A stream (data-model §5); schema is the JSON Schema of its values, as a string',
    properties: {
      name: { type: 'string' },
      nickname: { type: 'string' },
      description: { type: 'string' },
      icon: { type: 'string' },
      schema: { type: 'string' },
      datatype: { type: 'string' },
      downlink: { type: 'boolean' },
      ephemeral: { type: 'boolean' },
    },
    additionalProperties: true,
  },
  {
    $id: 'StreamQuery',
    type: 'object',
    description: 'One stream of a merge or dataset (rest-api §9): index or time range, optional transform',
    properties: {
      stream: { type: 'string', description: 'user/device/stream or user/device/stream/downlink' },
      transform: { type: 'string' },
      i1: { type: 'integer' },
      i2: { type: 'integer' },
      t1: { type: 'number' },
      t2: { type: 'number' },
      limit: { type: 'integer' },
    },
    required: ['stream'],
  },
  {
    $id: 'DatasetQuery',
    type: 'object',
    description: 'A T-dataset (t1, t2, dt) or an X-dataset (stream or merge) with its columns (rest-api §9.2)',
    properties: {
      stream: { type: 'string' },
      transform: { type: 'string' },
      i1: { type: 'integer' },
      i2: { type: 'integer' },
      t1: { type: 'number' },
      t2: { type: 'number' },
      limit: { type: 'integer' },
      merge: { type: 'array', items: ref('StreamQuery') },
      dt: { type: 'number' },
      posttransform: { type: 'string' },
      dataset: {
        type: 'object',
        additionalProperties: {
          type: 'object',
          properties: {
            stream: { type: 'string' },
            transform: { type: 'string' },
            merge: { type: 'array', items: ref('StreamQuery') },
            interpolator: { type: 'string' },
            allownil: { type: 'boolean' },
            i1: { type: 'integer' },
            i2: { type: 'integer' },
            t1: { type: 'number' },
            t2: { type: 'number' },
            limit: { type: 'integer' },
          },
        },
      },
    },
    required: ['dataset'],
  },
];

const err = (description: string) => ({ description, content: { 'application/json': { schema: ref('ErrorBody') } } });
const json = (schema: unknown, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
const text = (description: string, example?: string) => ({
  description,
  content: { 'text/plain': { schema: { type: 'string', ...(example === undefined ? {} : { example }) } } },
});
const csv = (description: string) => ({ description, content: { 'text/csv': { schema: { type: 'string' } } } });
const OK = text('The two bytes ok', 'ok');
const ERR = {
  400: err('Malformed input (bad JSON, names, parameters)'),
  401: err('Authentication failed'),
  403: err('Not allowed, not found, or refused (the original answers most failures with 403)'),
  404: err('Not found (object reads and listings)'),
  503: err('The server is disabled or shutting down'),
};
const ERR413 = { 413: err('The body is larger than insert_limit_bytes') };

const str = (description: string, extra: Record<string, unknown> = {}) => ({ type: 'string', description, ...extra });
const params = (...names: ('user' | 'device' | 'stream')[]) => ({
  type: 'object',
  properties: Object.fromEntries(names.map((n) => [n, str(`${n} name`)])),
  required: names,
});
const goBool = (description: string) => str(`${description} (Go's strconv.ParseBool: 1, t, true, …)`);
const obj = { type: 'object', additionalProperties: true };

const RANGE_QUERY = {
  i1: str('Index range start (Python-style, negative counts from the end; Go integer literal syntax)'),
  i2: str('Index range end, exclusive (0 = to the end)'),
  t1: str('Time range start in seconds, exclusive'),
  t2: str('Time range end in seconds, inclusive (0 or absent = no end)'),
  limit: str('Most datapoints of a time range (after the transform)'),
  transform: str('PipeScript applied to the range'),
  downlink: goBool('Read the downlink substream'),
  downsample: str('Answer at most this many buckets (1 to 100000) of min, max, mean and count instead of the datapoints'),
};

const tag = (t: string) => ({ tags: [t] });

export const schemas = {
  root: {
    ...tag('meta'),
    summary: 'The current device name or a count (q=this, countusers, countdevices, countstreams)',
    querystring: { type: 'object', properties: { q: { type: 'string', enum: ['this', 'countusers', 'countdevices', 'countstreams'] } } },
    response: { 200: text('The device name (user/device) or a decimal count', 'alice/user'), 401: ERR[401], 403: ERR[403], 404: ERR[404], 503: ERR[503] },
  },
  login: {
    ...tag('meta'),
    summary: 'Sets the session cookie of the authenticated device',
    querystring: { type: 'object', properties: { remember: str('true: a persistent cookie (default from the config)') } },
    response: { 200: OK, 401: ERR[401], 503: ERR[503] },
  },
  logout: { ...tag('meta'), summary: 'Deletes the session cookie', response: { 200: OK, 503: ERR[503] } },
  version: { ...tag('meta'), summary: 'The server version', response: { 200: text('Version string', '0.3.0') } },
  transforms: { ...tag('meta'), summary: 'The PipeScript transforms', response: { 200: json(obj) } },
  interpolators: { ...tag('meta'), summary: 'The interpolators', response: { 200: json(obj) } },
  health: {
    ...tag('meta'),
    summary: 'Liveness: the process serves HTTP (no authentication, no database)',
    response: { 200: json({ type: 'object', properties: { status: { type: 'string', enum: ['ok'] } }, required: ['status'] }) },
  },
  dbinfo: {
    ...tag('meta'),
    summary: 'Storage figures per substream (admins only): datapoints, chunks, bytes, bytes per datapoint',
    response: { 200: json(obj), 401: ERR[401], 403: ERR[403] },
  },
  ready: {
    ...tag('meta'),
    summary: 'Readiness: the database answers and the server is enabled',
    response: { 200: json({ type: 'object', properties: { status: { type: 'string', enum: ['ready'] } }, required: ['status'] }), 503: ERR[503] },
  },

  listUsers: {
    ...tag('users'),
    summary: 'Lists users (q=ls)',
    querystring: { type: 'object', properties: { q: { type: 'string', enum: ['ls'] } }, required: ['q'] },
    response: { 200: json({ type: 'array', items: ref('User') }), 400: ERR[400], 401: ERR[401], 404: ERR[404], 503: ERR[503] },
  },
  readUser: {
    ...tag('users'),
    summary: "Reads a user, lists its devices (q=ls, q=devices) or its streams (q=streams)",
    params: params('user'),
    querystring: {
      type: 'object',
      properties: {
        q: { type: 'string', enum: ['', 'ls', 'devices', 'streams'] },
        public: str('q=streams: only public streams (true)'),
        downlink: str('q=streams: only downlink streams (true)'),
        visible: str('q=streams: only visible streams (true)'),
      },
    },
    response: {
      200: json({ oneOf: [ref('User'), { type: 'array', items: ref('Device') }, { type: 'array', items: ref('Stream') }] }),
      400: ERR[400],
      401: ERR[401],
      404: ERR[404],
      503: ERR[503],
    },
  },
  createUser: {
    ...tag('users'),
    summary: 'Creates a user (email, password, role, public, …)',
    params: params('user'),
    body: { type: 'object', properties: { email: { type: 'string' }, password: { type: 'string' }, role: { type: 'string' }, public: { type: 'boolean' } }, additionalProperties: true },
    response: { 200: json(ref('User')), ...ERR, ...ERR413 },
  },
  updateUser: {
    ...tag('users'),
    summary: 'Updates fields of a user',
    params: params('user'),
    body: obj,
    response: { 200: json(ref('User')), ...ERR, ...ERR413 },
  },
  deleteUser: { ...tag('users'), summary: 'Deletes a user with its devices and streams', params: params('user'), response: { 200: OK, ...ERR } },

  readDevice: {
    ...tag('devices'),
    summary: 'Reads a device, or lists its streams (q=ls, q=streams)',
    params: params('user', 'device'),
    querystring: { type: 'object', properties: { q: { type: 'string', enum: ['', 'ls', 'streams'] } } },
    response: { 200: json({ oneOf: [ref('Device'), { type: 'array', items: ref('Stream') }] }), 400: ERR[400], 401: ERR[401], 404: ERR[404], 503: ERR[503] },
  },
  createDevice: { ...tag('devices'), summary: 'Creates a device', params: params('user', 'device'), body: obj, response: { 200: json(ref('Device')), ...ERR, ...ERR413 } },
  updateDevice: { ...tag('devices'), summary: 'Updates fields of a device', params: params('user', 'device'), body: obj, response: { 200: json(ref('Device')), ...ERR, ...ERR413 } },
  deleteDevice: { ...tag('devices'), summary: 'Deletes a device with its streams', params: params('user', 'device'), response: { 200: OK, ...ERR } },

  readStream: {
    ...tag('streams'),
    summary: 'Reads a stream',
    params: params('user', 'device', 'stream'),
    querystring: { type: 'object', properties: { q: { type: 'string', enum: [''] } } },
    response: { 200: json(ref('Stream')), 400: ERR[400], 401: ERR[401], 404: ERR[404], 503: ERR[503] },
  },
  createStream: {
    ...tag('streams'),
    summary: 'Creates a stream (schema, downlink, ephemeral, …)',
    params: params('user', 'device', 'stream'),
    body: { type: 'object', properties: { schema: { type: 'string' }, downlink: { type: 'boolean' }, ephemeral: { type: 'boolean' } }, additionalProperties: true },
    response: { 200: json(ref('Stream')), ...ERR, ...ERR413 },
  },
  updateStream: { ...tag('streams'), summary: 'Updates fields of a stream', params: params('user', 'device', 'stream'), body: obj, response: { 200: json(ref('Stream')), ...ERR, ...ERR413 } },
  deleteStream: {
    ...tag('streams'),
    summary: 'Deletes a stream, or only its downlink data (downlink=true)',
    params: params('user', 'device', 'stream'),
    querystring: { type: 'object', properties: { downlink: goBool('Delete only the downlink substream data') } },
    response: { 200: OK, ...ERR },
  },

  deleteData: {
    ...tag('data'),
    summary: 'Deletes datapoints by index range (i1, i2) or time range (t1, t2); later indexes shift down (beyond the original)',
    params: params('user', 'device', 'stream'),
    querystring: { type: 'object', properties: { downlink: goBool('Delete from the downlink substream'), i1: str('First index'), i2: str('End index (exclusive)'), t1: str('Start time'), t2: str('End time') } },
    response: { 200: OK, ...ERR },
  },
  readData: {
    ...tag('data'),
    summary: 'Reads datapoints by index or time range, their number (q=length), an index (q=time2index), or buckets (downsample=N)',
    params: params('user', 'device', 'stream'),
    querystring: {
      type: 'object',
      properties: { q: { type: 'string', enum: ['length', 'time2index'] }, t: str('q=time2index: the timestamp'), ...RANGE_QUERY },
    },
    response: {
      200: {
        description: 'A JSON array of datapoints (streamed), of buckets with downsample, the index for q=time2index, or the length as text for q=length',
        content: {
          'application/json': { schema: { oneOf: [{ type: 'array', items: ref('Datapoint') }, { type: 'array', items: ref('Bucket') }, { type: 'integer' }] } },
          'text/plain': { schema: { type: 'string', example: '42' } },
        },
      },
      ...ERR,
    },
  },
  insertData: {
    ...tag('data'),
    summary: 'Inserts datapoints (POST refuses older timestamps than stored, PUT restamps them)',
    params: params('user', 'device', 'stream'),
    querystring: { type: 'object', properties: { downlink: goBool('Write to the downlink substream') } },
    body: { type: 'array', items: ref('Datapoint') },
    response: { 200: OK, ...ERR, ...ERR413 },
  },
  readCsv: {
    ...tag('data'),
    summary: 'Reads datapoints as CSV: time (ISO 8601), t (seconds), d or d.<field> columns',
    params: params('user', 'device', 'stream'),
    querystring: { type: 'object', properties: RANGE_QUERY },
    produces: ['text/csv'],
    response: { 200: csv('CSV with a header row (streamed)'), ...ERR },
  },
  insertCsv: {
    ...tag('data'),
    summary: 'Inserts a CSV file: header row, a t or time column (seconds or ISO 8601), d or d.<field> columns; all-or-nothing',
    params: params('user', 'device', 'stream'),
    querystring: { type: 'object', properties: { downlink: goBool('Write to the downlink substream') } },
    body: { content: { 'text/csv': { schema: { type: 'string', example: 't,d\n2023-11-14T22:13:20Z,21.5\n1700000060,21.7\n' } } } },
    response: { 200: OK, ...ERR, ...ERR413 },
  },

  merge: {
    ...tag('queries'),
    summary: 'Merges up to 10 streams in time order',
    body: { type: 'array', items: ref('StreamQuery') },
    response: { 200: json({ type: 'array', items: ref('Datapoint') }), ...ERR, ...ERR413 },
  },
  dataset: {
    ...tag('queries'),
    summary: 'A T-dataset or X-dataset',
    body: ref('DatasetQuery'),
    response: { 200: json({ type: 'array', items: ref('Datapoint') }), ...ERR, ...ERR413 },
  },
  datasetCsv: {
    ...tag('queries'),
    summary: 'A dataset as CSV: time, t, then one d.<column> per dataset column',
    body: ref('DatasetQuery'),
    produces: ['text/csv'],
    response: { 200: csv('CSV with a header row (streamed)'), ...ERR, ...ERR413 },
  },

  feed: {
    ...tag('feeds'),
    summary: 'Atom feed of the last 500 datapoints (the .atom suffix is optional)',
    params: params('user', 'device', 'stream'),
    querystring: { type: 'object', properties: { transform: str('PipeScript applied to the datapoints'), downlink: goBool('The downlink substream') } },
    response: { 200: { description: 'Atom 1.0', content: { 'application/xml': { schema: { type: 'string' } } } }, 401: ERR[401], 403: ERR[403], 500: err('The transform failed'), 503: ERR[503] },
  },
  websocket: {
    ...tag('websocket'),
    summary: 'The websocket endpoint (GET with Upgrade: websocket; websocket.md); a plain GET is a 404',
    querystring: { type: 'object', properties: { apikey: str('API key (or Basic auth, or the session cookie)') } },
    response: { 101: { description: 'Switching protocols to the websocket subscription protocol' }, 401: ERR[401], 404: ERR[404], 503: ERR[503] },
  },
} satisfies Record<string, S>;
