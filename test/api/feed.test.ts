import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, type TestApp, makeApp } from '../helpers';

let t: TestApp;
beforeAll(async () => {
  t = await makeApp();
  await t.http.post('/api/v1/crud/test/user/temp').set('Authorization', ADMIN).send({ schema: '{"type":"number"}' }).expect(200);
  const pts = Array.from({ length: 520 }, (_, i) => ({ t: 1000 + i, d: i }));
  await t.http.post('/api/v1/crud/test/user/temp/data').set('Authorization', ADMIN).send(pts).expect(200);
});
afterAll(() => t.close());

describe('Atom feed', () => {
  it('lists the last 500 datapoints of a stream as Atom entries, with and without .atom', async () => {
    for (const p of ['/api/v1/feed/test/user/temp.atom', '/api/v1/feed/test/user/temp']) {
      const r = await t.http.get(p).set('Authorization', ADMIN);
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe('application/xml; charset=utf-8');
      expect(r.text.startsWith('<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">')).toBe(true);
      expect(r.text.match(/<entry>/g)).toHaveLength(500);
      expect(r.text).toContain('<title>test/user/temp</title>');
      expect(r.text).toContain('<title>Datapoint 520</title>');
      expect(r.text).toContain('/api/v1/crud/test/user/temp/data?i1=519&amp;i2=520');
      expect(r.text).toContain('<content>519</content>');
      expect(r.text).toContain('<author><name>test/user</name></author>');
    }
  });

  it('applies a transform, answers 500 for a bad one and 403 without read access', async () => {
    const r = await t.http.get('/api/v1/feed/test/user/temp.atom').query({ transform: 'if $ > 517' }).set('Authorization', ADMIN);
    expect(r.text.match(/<entry>/g)).toHaveLength(2);
    const bad = await t.http.get('/api/v1/feed/test/user/temp.atom').query({ transform: '(((' }).set('Authorization', ADMIN);
    expect(bad.status).toBe(500);
    expect(bad.body.msg).toBe("Script '(((': syntax error");
    const anon = await t.http.get('/api/v1/feed/test/user/temp.atom');
    expect(anon.status).toBe(403);
  });
});
