import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, makeApp } from '../helpers';

let t: TestApp;
beforeAll(async () => {
  t = await makeApp();
});
afterAll(() => t.close());

describe('health and readiness', () => {
  it('GET /api/v1/meta/health answers {"status":"ok"} without credentials', async () => {
    const r = await t.http.get('/api/v1/meta/health');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(r.text).toBe('{"status":"ok"}');
  });

  it('GET /api/v1/meta/health does not authenticate, so bad credentials still get 200', async () => {
    const r = await t.http.get('/api/v1/meta/health').set('Authorization', 'Basic Og==');
    expect(r.status).toBe(200);
  });

  it('GET /api/v1/meta/ready answers {"status":"ready"} while the database answers', async () => {
    const r = await t.http.get('/api/v1/meta/ready');
    expect(r.status).toBe(200);
    expect(r.text).toBe('{"status":"ready"}');
  });

  it('readiness is a 503 error body while the API is disabled (shutting down), liveness stays 200', async () => {
    t.app.cdb.state.enabled = false;
    try {
      const r = await t.http.get('/api/v1/meta/ready');
      expect(r.status).toBe(503);
      expect(Object.keys(r.body)).toEqual(['code', 'msg', 'ref']);
      expect(r.body.msg).toBe('ConnectorDB is currently inactive');
      expect((await t.http.get('/api/v1/meta/health')).status).toBe(200);
    } finally {
      t.app.cdb.state.enabled = true;
    }
  });

  it('readiness is a 503 when the database does not answer', async () => {
    const other = await makeApp();
    try {
      // The database goes away under the running app: the SQLite handle, or the PostgreSQL pool.
      if (other.db) other.db.close();
      else await other.storage.close();
      const r = await other.http.get('/api/v1/meta/ready');
      expect(r.status).toBe(503);
      expect(r.body.msg).toBe('The database does not answer');
      expect((await other.http.get('/api/v1/meta/health')).status).toBe(200);
    } finally {
      await other.app.close();
    }
  });
});
