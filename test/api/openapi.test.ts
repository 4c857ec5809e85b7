import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, makeApp } from '../helpers';

let t: TestApp;
beforeAll(async () => {
  t = await makeApp();
});
afterAll(() => t.close());

interface Doc {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, unknown>; parameters?: { name: string; in: string }[] }>>;
}

const toOpenapiPath = (url: string) => url.replace(/:(\w+)/g, '{$1}');

describe('OpenAPI', () => {
  it('GET /api/v1/openapi.json is an OpenAPI 3.1 document that passes the validator', async () => {
    const r = await t.http.get('/api/v1/openapi.json');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    const doc = r.body as Doc;
    expect(doc.openapi).toBe('3.1.0');
    // validate() dereferences in place: give it a copy.
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy();
  });

  it('documents every registered REST route with its parameters and responses', async () => {
    const doc = (await t.http.get('/api/v1/openapi.json')).body as Doc;
    const api = t.app.routeTable.filter((r) => r.url.startsWith('/api/') && !r.url.startsWith('/api/docs') && r.url !== '/api/v1/openapi.json' && r.method !== 'HEAD');
    expect(api.length).toBeGreaterThan(30);
    for (const r of api) {
      const op = doc.paths[toOpenapiPath(r.url)]?.[r.method.toLowerCase()];
      expect(op, `${r.method} ${r.url}`).toBeDefined();
      const codes = Object.keys(op!.responses);
      expect(codes.includes('200') || codes.includes('101'), `${r.method} ${r.url}: ${codes.join(',')}`).toBe(true);
      const errorFree = ['/api/v1/meta/version', '/api/v1/meta/transforms', '/api/v1/meta/interpolators', '/api/v1/meta/health'];
      if (!errorFree.includes(r.url)) expect(codes.some((c) => /^[45]/.test(c)), `${r.method} ${r.url} documents its errors`).toBe(true);
      const pathParams = [...r.url.matchAll(/:(\w+)/g)].map((m) => m[1]);
      for (const p of pathParams) expect(op!.parameters?.some((x) => x.in === 'path' && x.name === p), `${r.url} {${p}}`).toBe(true);
    }
    // The downsampling read and the CSV forms are described.
    const read = doc.paths['/api/v1/crud/{user}/{device}/{stream}/data'].get;
    expect(read.parameters!.map((p) => p.name)).toEqual(expect.arrayContaining(['i1', 'i2', 't1', 't2', 'limit', 'transform', 'downlink', 'downsample', 'q']));
    expect(doc.paths['/api/v1/crud/{user}/{device}/{stream}/data.csv'].post).toBeDefined();
    expect(doc.paths['/api/v1/query/dataset.csv'].post).toBeDefined();
  });

  it('leaves the website routes out of the document', async () => {
    const doc = (await t.http.get('/api/v1/openapi.json')).body as Doc;
    expect(Object.keys(doc.paths).every((p) => p.startsWith('/api/'))).toBe(true);
  });

  it('serves the interactive page at /api/docs from local assets', async () => {
    const page = await t.http.get('/api/docs/').redirects(2);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    const scripts = [...page.text.matchAll(/src="([^"]+)"/g)].map((m) => m[1]);
    expect(scripts.length).toBeGreaterThan(0);
    for (const s of scripts) {
      expect(s).not.toMatch(/^https?:/);
      const url = s.startsWith('/') ? s : `/api/docs/${s.replace(/^\.\//, '')}`;
      expect((await t.http.get(url)).status, url).toBe(200);
    }
  });

  it.skipIf(!existsSync('/usr/bin/chromium'))('the page renders the document in a real browser', async () => {
    const a = t.app.server.address();
    const port = typeof a === 'object' && a ? a.port : 0;
    const { stdout } = await promisify(execFile)(
      '/usr/bin/chromium',
      ['--headless', '--no-sandbox', '--disable-gpu', '--virtual-time-budget=10000', '--dump-dom', `http://127.0.0.1:${port}/api/docs/`],
      { timeout: 60000, maxBuffer: 64 * 1024 * 1024 },
    );
    // Swagger UI fetched /api/v1/openapi.json and drew the operations.
    expect(stdout).toContain('/api/v1/crud/{user}/{device}/{stream}/data.csv');
    expect(stdout).toContain('ConnectorDB');
  }, 90000);

  it('schemas document but never validate: answers stay the original ones', async () => {
    // A non-JSON body on a create route keeps the parser message, a non-numeric i1 the original text.
    const r = await t.http.post('/api/v1/crud/newuser').set('Authorization', 'Basic ' + Buffer.from('test:test').toString('base64')).send('{bad');
    expect(r.status).toBe(400);
    expect(Object.keys(r.body)).toEqual(['code', 'msg', 'ref']);
    const d = await t.http.get('/api/v1/crud/test/user/nostream/data?i1=x').set('Authorization', 'Basic ' + Buffer.from('test:test').toString('base64'));
    expect(d.status).toBe(400);
    expect(d.body.msg).toBe('Could not parse i1 parameter');
    expect((await t.http.get('/api/v1/crud?q=other').set('Authorization', 'Basic ' + Buffer.from('test:test').toString('base64'))).body.msg).toBe('Unrecognized query command.');
  });
});
