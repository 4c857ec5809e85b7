import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, type TestApp, basic, makeApp } from '../helpers';
import { readConfig } from '../../src/config/load';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The value of one sample line of the text format (labels matched as given). */
function sample(text: string, name: string, labels = ''): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    const key = line.slice(0, sp);
    if (key === name + labels || (labels === '' && key === name)) return Number(line.slice(sp + 1));
  }
  return undefined;
}

describe('metrics off (the default)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp();
  });
  afterAll(() => t.close());

  it('GET /metrics is the ordinary not-found page', async () => {
    const r = await t.http.get('/metrics');
    expect(r.status).toBe(404);
    expect(r.headers['content-type']).toMatch(/text\/html/);
  });

  it('CONNECTORDB_METRICS_ENABLED and _TOKEN switch them on', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cdb-metrics-'));
    const { config } = readConfig(dir, { env: { CONNECTORDB_METRICS_ENABLED: 'true', CONNECTORDB_METRICS_TOKEN: 's3cret' } });
    expect(config.metrics).toEqual({ enabled: true, token: 's3cret' });
  });
});

describe('metrics on', () => {
  let t: TestApp;
  let url = '';
  beforeAll(async () => {
    t = await makeApp((c) => {
      c.metrics.enabled = true;
    });
    const a = t.app.server.address();
    url = `ws://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/api/v1/websocket`;
  });
  afterAll(() => t.close());

  it('serve the Prometheus text format with HTTP, datapoint, login, websocket, database and process metrics', async () => {
    const s = '/api/v1/crud/test/user/m';
    expect((await t.http.post(s).set('Authorization', ADMIN).send({ schema: '{"type":"number"}' })).status).toBe(200);
    // Creating a stream also writes the meta log stream: count from here.
    const before = (await t.http.get('/metrics')).text;
    const delta = (m: string, name: string) => sample(m, name)! - sample(before, name)!;
    expect((await t.http.post(`${s}/data`).set('Authorization', ADMIN).send([{ t: 1, d: 1 }, { t: 2, d: 2 }, { t: 3, d: 3 }])).status).toBe(200);
    expect((await t.http.get(`${s}/data?i1=0&i2=0`).set('Authorization', ADMIN)).status).toBe(200);
    expect((await t.http.get('/api/v1/?q=this').set('Authorization', basic('test', 'wrong'))).status).toBe(401);
    const ws = new WebSocket(url, { headers: { authorization: ADMIN } });
    await new Promise((r, j) => ws.once('open', r).once('error', j));
    ws.send(JSON.stringify({ cmd: 'subscribe', arg: 'test/user/m' }));
    // The subscription is registered once the server has read the command; a later insert proves it.
    const got = new Promise((r) => ws.once('message', r));
    await t.http.post(`${s}/data`).set('Authorization', ADMIN).send([{ t: 4, d: 4 }]);
    await got;

    const r = await t.http.get('/metrics');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0.0.4/);
    const m = r.text;
    expect(sample(m, 'connectordb_http_request_duration_seconds_count', '{method="POST",route="/api/v1/crud/:user/:device/:stream/data",status="200"}')).toBe(2);
    expect(sample(m, 'connectordb_http_request_duration_seconds_count', '{method="GET",route="/api/v1",status="401"}')).toBe(1);
    expect(m).toMatch(/connectordb_http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/api\/v1\/crud\/:user\/:device\/:stream\/data",status="200"\} \d/);
    expect(delta(m, 'connectordb_datapoints_inserted_total')).toBe(4);
    expect(delta(m, 'connectordb_datapoints_read_total')).toBe(3);
    expect(delta(m, 'connectordb_failed_logins_total')).toBe(1);
    expect(delta(m, 'connectordb_insert_batch_size_count')).toBe(2);
    expect(delta(m, 'connectordb_insert_batch_size_sum')).toBe(4);
    expect(sample(m, 'connectordb_websocket_connections')).toBe(1);
    expect(sample(m, 'connectordb_websocket_subscriptions')).toBe(1);
    expect(sample(m, 'connectordb_datapoints_stored')).toBeGreaterThanOrEqual(4);
    expect(sample(m, 'connectordb_database_bytes')).toBeGreaterThan(0);
    expect(sample(m, 'connectordb_database_bytes_per_datapoint')).toBeGreaterThan(0);
    expect(sample(m, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(m).toContain('nodejs_eventloop_lag_seconds');
    expect(m).toContain('nodejs_heap_size_used_bytes');
    ws.close();
  });

  it('route labels are patterns, so unknown paths do not grow the label set', async () => {
    await t.http.get('/api/v1/no/such/path/abc123');
    const m = (await t.http.get('/metrics')).text;
    expect(m).not.toContain('abc123');
    expect(m).toContain('route="unmatched",status="404"');
  });
});

describe('metrics with a token', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp((c) => {
      c.metrics.enabled = true;
      c.metrics.token = 's3cret';
    });
  });
  afterAll(() => t.close());

  it('refuse scrapes without the bearer token and serve them with it', async () => {
    expect((await t.http.get('/metrics')).status).toBe(401);
    expect((await t.http.get('/metrics').set('Authorization', 'Bearer wrong')).status).toBe(401);
    const r = await t.http.get('/metrics').set('Authorization', 'Bearer s3cret');
    expect(r.status).toBe(200);
    expect(r.text).toContain('connectordb_datapoints_inserted_total');
  });
});

describe('the Grafana dashboard in docker/', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp((c) => {
      c.metrics.enabled = true;
    });
  });
  afterAll(() => t.close());

  it('is valid JSON whose every query uses metrics the server exports', async () => {
    const { readFileSync } = await import('node:fs');
    const dash = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'docker', 'grafana-dashboard.json'), 'utf8')) as {
      panels: { targets: { expr: string }[] }[];
    };
    // A request and an insert so the labelled series exist.
    await t.http.post('/api/v1/crud/test/user/x').set('Authorization', ADMIN).send({});
    const text = (await t.http.get('/metrics')).text;
    const exported = new Set(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(/[{ ]/)[0]));
    const used = new Set<string>();
    for (const p of dash.panels) for (const tg of p.targets) for (const m of tg.expr.matchAll(/\b(connectordb_\w+|nodejs_\w+|process_\w+)/g)) used.add(m[1]);
    expect(used.size).toBeGreaterThan(10);
    for (const name of used) expect(exported, name).toContain(name);
  });
});
