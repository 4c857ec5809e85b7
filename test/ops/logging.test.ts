import { Writable } from 'node:stream';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app';
import { makeLogger } from '../../src/server';
import * as admin from '../../src/ops/admin';
import { basic, freshFolder } from './util';

describe('request logging', () => {
  it('one JSON line per request, never a password, API key or cookie', async () => {
    const o = await freshFolder();
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(...String(chunk).split('\n').filter((l) => l !== ''));
        cb();
      },
    });
    o.config.failed_login_delay = 0;
    const logger = makeLogger(o.config, sink);
    const { app } = buildApp({ config: o.config, storage: o.storage, logger, permissions: o.svc.core.permissions });
    await app.ready();
    const http = request(app.server);
    try {
      const PW = 'Sup3r-Secret-Pw';
      const NEWPW = 'An0ther-Secret-Pw';
      const key = await admin.addUser(o.svc, { name: 'logu', email: 'logu@x', password: PW, public: true });
      const calls = [
        () => http.get('/api/v1/?q=this').set('Authorization', basic('logu', PW)),
        () => http.get('/api/v1/?q=this').set('Authorization', basic('logu', `${PW}-wrong`)),
        () => http.get(`/api/v1/?q=this&apikey=${key}`),
        () => http.get('/api/v1/?q=this').set('Authorization', basic('', key)),
        () => http.put('/api/v1/crud/logu').set('Authorization', basic('logu', PW)).send({ password: NEWPW }),
        () => http.post('/api/v1/crud/other').set('Authorization', basic('logu', NEWPW)).send({ password: PW, email: 'o@x' }),
        () => http.post('/api/v1/crud/logu/user/s').set('Authorization', basic('logu', NEWPW)).send(`{"password": "${PW}"`),
      ];
      for (const c of calls) await c();
      const login = await http.get('/api/v1/login').set('Authorization', basic('logu', NEWPW));
      const cookie = String(login.headers['set-cookie']).split(';')[0];
      const cookieValue = cookie.split('=')[1];
      expect(cookieValue.length).toBeGreaterThan(10);
      expect((await http.get('/api/v1/?q=this').set('Cookie', cookie)).text).toBe('logu/user');
      logger.flush();
      const text = lines.join('\n');
      for (const secret of [PW, NEWPW, key, cookieValue, Buffer.from(`logu:${PW}`).toString('base64')]) expect(text).not.toContain(secret);
      const requests = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request');
      expect(requests).toHaveLength(calls.length + 2);
      expect(requests[2].url).toBe('/api/v1/?q=this&apikey=[redacted]');
      expect(requests[0]).toMatchObject({ method: 'GET', status: 200, op: 'logu/user' });
      expect(requests[1]).toMatchObject({ status: 401 });
      for (const r of requests) expect(Object.keys(r)).not.toContain('headers');
    } finally {
      await app.close();
      o.close();
    }
  });
});
