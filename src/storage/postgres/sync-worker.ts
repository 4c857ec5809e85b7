/**
 * The source of the synchronous query bridge's worker thread (bridge.ts), run with
 * `new Worker(WORKER_SOURCE, { eval: true })`. Plain JavaScript in a string on purpose: a worker
 * cannot load TypeScript, and a string ships in dist/ inside this module, so the same code runs
 * under vitest from src/ and from the build with no copy step. `pg` is loaded from the path the
 * main thread resolved (workerData.pgPath), not from the working directory.
 *
 * Protocol: requests arrive on `workerData.port` as `{ id, text, values, array }`, are run one
 * after another on one connection, and each gets exactly one reply `{ id, rows }` or
 * `{ id, error }` posted on the same port. After posting, the worker bumps `state[0]` and wakes
 * the main thread, which is blocked in Atomics.wait on it. `state[1]` = 1 says the worker is gone
 * (it sets it on its way out). A lost connection is dropped after the failing query's reply; the
 * next request connects again.
 */
export const WORKER_SOURCE = String.raw`
'use strict';
const { workerData } = require('node:worker_threads');
const pg = require(workerData.pgPath);
const { port, state, uri, applicationName, statementTimeout, connectTimeout, transferMin } = workerData;

// int8 as numbers, as PgDb's pool parses them (indexes, lengths, byte counts).
const types = {
  getTypeParser(oid, format) {
    if (oid === 20 && format !== 'binary') return (v) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
};

let client = null;

function gone() {
  Atomics.store(state, 1, 1);
  Atomics.add(state, 0, 1);
  Atomics.notify(state, 0);
}
process.on('exit', gone);
process.on('uncaughtException', (e) => {
  try { port.postMessage({ id: current, error: { message: 'the query worker failed: ' + (e && e.message) } }); } catch {}
  gone();
  process.exit(1);
});

let opening = null;
function connection() {
  if (client) return Promise.resolve(client);
  if (!opening) opening = open().finally(() => { opening = null; });
  return opening;
}

async function open() {
  const c = new pg.Client({
    connectionString: uri,
    types,
    application_name: applicationName,
    connectionTimeoutMillis: connectTimeout,
    statement_timeout: statementTimeout,
  });
  // A connection lost while idle (server restart, pg_terminate_backend) must not kill the
  // thread: it is dropped, and the next request connects again.
  c.on('error', () => { if (client === c) client = null; });
  try {
    await c.connect();
  } catch (e) {
    c.end().catch(() => {});
    throw e;
  }
  client = c;
  return c;
}

// Server errors that leave the session usable keep the connection; anything else (socket
// errors, a terminated backend, a failed connect) drops it.
function keeps(e) {
  return e instanceof pg.DatabaseError && typeof e.code === 'string' && !e.code.startsWith('08') && !e.code.startsWith('57P');
}

// Buffers that own their memory (big bytea values) move to the main thread instead of being
// copied; small ones live in Node's shared pool and are copied with the message.
function transferables(rows) {
  const out = [];
  for (const row of rows) {
    const vals = Array.isArray(row) ? row : Object.values(row);
    for (const v of vals) {
      if (v instanceof Uint8Array && v.byteLength >= transferMin && v.byteOffset === 0 && v.byteLength === v.buffer.byteLength) out.push(v.buffer);
    }
  }
  return out;
}

function reply(msg, transfer) {
  try {
    port.postMessage(msg, transfer);
  } catch (e) {
    port.postMessage({ id: msg.id, error: { message: 'the query worker could not send its answer: ' + e.message } });
  }
  Atomics.add(state, 0, 1);
  Atomics.notify(state, 0);
}

// Connect at once: the first query then finds the connection ready. A failure here is
// reported by the first query, which tries again.
connection().catch(() => {});

// Statements are prepared once per connection under a name of their own: the plans' texts are
// constants, so a handful of names covers them; texts past the first 200 run unnamed.
const names = new Map();
function nameOf(text) {
  let n = names.get(text);
  if (n === undefined && names.size < 200) {
    n = 'cdb_sync_' + names.size;
    names.set(text, n);
  }
  return n;
}

const queue = [];
let busy = false;
let current = 0;
port.on('message', (m) => {
  queue.push(m);
  if (!busy) drain();
});

async function drain() {
  busy = true;
  while (queue.length > 0) {
    const m = queue.shift();
    current = m.id;
    try {
      const c = await connection();
      const r = await c.query({ name: nameOf(m.text), text: m.text, values: m.values, rowMode: m.array ? 'array' : undefined });
      reply({ id: m.id, rows: r.rows }, transferables(r.rows));
    } catch (e) {
      if (!keeps(e) && client) {
        const c = client;
        client = null;
        c.end().catch(() => {});
      }
      reply({ id: m.id, error: { message: String(e && e.message), code: e && e.code, detail: e && e.detail } });
    }
  }
  busy = false;
}
`;
