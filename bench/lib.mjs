// Shared helpers for the benchmarks: a real server in a child process on a temp database,
// a keep-alive HTTP client, and RSS sampling of the server process.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
export const MAIN = path.join(ROOT, 'dist', 'main.js');

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const fmt = (n) => Math.round(n).toLocaleString('en-US');

/** Creates a temp database with user bench:bench and starts `node dist/main.js run` on it. */
export async function startServer(env = {}) {
  const tmp = mkdtempSync(path.join(tmpdir(), 'cdb-bench-'));
  const dir = path.join(tmp, 'db');
  execFileSync(process.execPath, [MAIN, 'create', dir, '--user', 'bench:bench'], { stdio: 'pipe' });
  const port = await freePort();
  const proc = spawn(process.execPath, [...(process.env.BENCH_SERVER_NODE_ARGS ? process.env.BENCH_SERVER_NODE_ARGS.split(' ') : []), MAIN, 'run', dir, '--host', '127.0.0.1', '--port', String(port)], {
    env: { ...process.env, CONNECTORDB_LOGLEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20000;
  for (;;) {
    try {
      const r = await fetch(`${url}/api/v1/meta/version`);
      if (r.ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error('server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const basicAuth = 'Basic ' + Buffer.from('bench:bench').toString('base64');
  const userDevice = await request({ port, agent }, 'GET', '/api/v1/crud/bench/user', undefined, basicAuth);
  const apikey = JSON.parse(userDevice.body).apikey;
  return {
    url,
    port,
    pid: proc.pid,
    dir,
    agent,
    auth: 'Basic ' + Buffer.from(':' + apikey).toString('base64'),
    req: (method, p, body, auth) => request({ port, agent }, method, p, body, auth ?? 'Basic ' + Buffer.from(':' + apikey).toString('base64')),
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      agent.destroy();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/** One HTTP request over a keep-alive agent; resolves {status, body}. */
export function request({ port, agent }, method, p, body, auth) {
  return new Promise((resolve, reject) => {
    const headers = { authorization: auth };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
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

export function rssOf(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Samples a process's RSS every 10 ms while fn runs; returns [result, peak growth in bytes]. */
export async function withPeakRss(pid, fn) {
  const base = rssOf(pid);
  let peak = base;
  const timer = setInterval(() => {
    const r = rssOf(pid);
    if (r > peak) peak = r;
  }, 10);
  try {
    const res = await fn();
    const r = rssOf(pid);
    if (r > peak) peak = r;
    return [res, peak - base];
  } finally {
    clearInterval(timer);
  }
}

export async function ensureOk(res, what) {
  if (res.status !== 200) throw new Error(`${what}: ${res.status} ${res.body.slice(0, 300)}`);
  return res;
}

/** Deterministic PRNG (mulberry32), so every run and the peer store the same data. */
export function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
