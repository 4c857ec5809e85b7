// `npm run bench -- peer`: the storage workload against a local InfluxDB 1.x (`influxd`, Debian's
// influxdb package) and against us, side by side. InfluxDB runs on loopback in a temp folder with
// its own config; writes use the line protocol over HTTP (ms precision), reads InfluxQL.
// Skipped with a message when influxd is not installed.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fmt, freePort } from './lib.mjs';
import { runOurs, sensorBatches, xyzBatches } from './storage.mjs';

const N = Number(process.env.BENCH_N ?? 1_000_000);
const XYZ = Math.round(N / 10);
const SERIES = 4;

const which = spawnSync('sh', ['-c', 'command -v influxd'], { encoding: 'utf8' });
if (which.status !== 0 || !which.stdout.trim()) {
  console.log('peer: influxd not found (apt-get install influxdb): skipped');
  process.exit(0);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function req(port, method, p, body) {
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { 'content-length': Buffer.byteLength(body) };
    const r = http.request({ host: '127.0.0.1', port, method, path: p, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    r.on('error', reject);
    if (body !== undefined) r.write(body);
    r.end();
  });
}
const ok = (r, what) => {
  if (r.status >= 300) throw new Error(`${what}: ${r.status} ${r.body.slice(0, 200)}`);
  return r;
};
const q = (port, db, query) => req(port, 'GET', `/query?db=${db}&epoch=ms&q=${encodeURIComponent(query)}`);
const lines = (m, tag, b) => b.map((p) => `${m},sensor=${tag} value=${p.d} ${Math.round(p.t * 1000)}`).join('\n');
const xyzLines = (b) => b.map((p) => `xyz x=${p.d.x},y=${p.d.y},z=${p.d.z} ${Math.round(p.t * 1000)}`).join('\n');
const write = async (port, db, body) => ok(await req(port, 'POST', `/write?db=${db}&precision=ms`, body), 'write');

function du(dir) {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? du(p) : statSync(p).size;
  }
  return n;
}

async function timed(fn) {
  const t = performance.now();
  const r = await fn();
  return [r, (performance.now() - t) / 1000];
}

async function influx() {
  const tmp = mkdtempSync(path.join(tmpdir(), 'cdb-influx-'));
  const port = await freePort();
  const rpc = await freePort();
  const conf = path.join(tmp, 'influxdb.conf');
  writeFileSync(
    conf,
    `reporting-disabled = true
bind-address = "127.0.0.1:${rpc}"
[meta]
  dir = "${tmp}/meta"
[data]
  dir = "${tmp}/data"
  wal-dir = "${tmp}/wal"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "1s"
  compact-full-write-cold-duration = "2s"
[http]
  enabled = true
  bind-address = "127.0.0.1:${port}"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
`,
  );
  const proc = spawn('influxd', ['-config', conf], { stdio: ['ignore', 'ignore', 'ignore'] });
  const out = {};
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await req(port, 'GET', '/ping')).status === 204) break;
      } catch {
        /* starting */
      }
      if (i > 400) throw new Error('influxd did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    ok(await req(port, 'POST', `/query?q=${encodeURIComponent('CREATE DATABASE size')}`), 'create');
    ok(await req(port, 'POST', `/query?q=${encodeURIComponent('CREATE DATABASE bench')}`), 'create');

    // Bytes on disk: 1M numeric + 100k {x,y,z}, then the cold-write compaction.
    for (const b of sensorBatches(1, N)) await write(port, 'size', lines('num', 'a', b));
    for (const b of xyzBatches(2, XYZ)) await write(port, 'size', xyzLines(b));
    await new Promise((r) => setTimeout(r, 8000));
    out.bytes = (du(path.join(tmp, 'data', 'size')) + du(path.join(tmp, 'wal', 'size'))) / (N + XYZ);

    const [, ingestSecs] = await timed(() =>
      Promise.all(
        Array.from({ length: SERIES }, async (_, c) => {
          for (const b of sensorBatches(10 + c, N)) await write(port, 'bench', lines('s', String(c), b));
        }),
      ),
    );
    out.ingest = (SERIES * N) / ingestSecs;

    const SINGLE = Number(process.env.BENCH_SINGLE ?? 20000);
    let sent = 0;
    const [, ssecs] = await timed(() =>
      Promise.all(
        Array.from({ length: 10 }, async (_, c) => {
          let k = 0;
          while (sent < SINGLE) {
            sent++;
            k++;
            await write(port, 'bench', `one,sensor=${c} value=${k} ${1.6e12 + k * 1000}`);
          }
        }),
      ),
    );
    out.single = sent / ssecs;
    out.singlefull = out.single;

    const [r, rsecs] = await timed(() => q(port, 'bench', "SELECT value FROM s WHERE sensor='0'"));
    ok(r, 'read all');
    const got = JSON.parse(r.body).results[0].series?.[0]?.values?.length ?? 0;
    if (got !== N) throw new Error(`influx read all returned ${got}`);
    out.readall = rsecs;

    const ts = [];
    for (const b of sensorBatches(10, N)) for (const p of b) ts.push(Math.round(p.t * 1000));
    const READS = Number(process.env.BENCH_READS ?? 800);
    const R = 10_000;
    let done = 0;
    let i = 0;
    const [, secs] = await timed(() =>
      Promise.all(
        Array.from({ length: 4 }, async () => {
          while (done < READS) {
            done++;
            const k = (i++ * 7919) % (N - R);
            ok(await q(port, 'bench', `SELECT value FROM s WHERE sensor='0' AND time >= ${ts[k]}ms AND time <= ${ts[k + R - 1]}ms`), 'range');
          }
        }),
      ),
    );
    out.range = done / secs;
    for (const [key, fn] of [
      ['mean', 'mean'],
      ['sum', 'sum'],
    ]) {
      let t = 0;
      for (let pass = 0; pass < 2; pass++) [, t] = await timed(async () => ok(await q(port, 'bench', `SELECT ${fn}(value) FROM s WHERE sensor='0'`), fn));
      out[key] = t;
    }
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r)));
    agent.destroy();
    rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}

const ROWS = [
  ['ingest', 'batched ingest, 1,000-point batches, 4 clients (dp/s)', true],
  ['single', 'single-point writes, 10 clients, NORMAL (req/s)', true],
  ['singlefull', 'single-point writes, 10 clients, FULL (req/s)', true],
  ['readall', `read all ${fmt(N)} points (s)`, false],
  ['range', '10,000-point range reads, 4 clients (req/s)', true],
  ['mean', `mean | if last over ${fmt(N)} (s)`, false],
  ['sum', `sum | if last over ${fmt(N)} (s)`, false],
  ['bytes', 'bytes on disk per datapoint', false],
];

console.log('peer: InfluxDB');
const peer = await influx();
console.log('peer: ours');
const ours = await runOurs({ big: 0 });
const show = (v) => (v >= 100 ? fmt(v) : v.toFixed(3));
console.log(`\n${'figure'.padEnd(56)} ${'InfluxDB'.padStart(10)} ${'ours'.padStart(10)}  ours/peer (>1 = ours better)`);
for (const [k, name, higherBetter] of ROWS) {
  const a = peer[k];
  const b = ours[k];
  const ratio = higherBetter ? b / a : a / b;
  console.log(`${name.padEnd(56)} ${show(a).padStart(10)} ${show(b).padStart(10)}  ${ratio.toFixed(2)}`);
}
console.log('(InfluxDB fsyncs its WAL on every write; its NORMAL and FULL columns are the same run. The machine is shared: figures are distorted by other load.)');
