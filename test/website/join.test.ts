import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN, type TestApp, makeApp } from '../helpers';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('POST /join', () => {
  it('refuses anonymous visitors with the nobody role message by default', async () => {
    t = await makeApp();
    const r = await t.http.post('/join').send({ name: 'newbie', email: 'n@x', password: 'pw' });
    expect(r.status).toBe(403);
    expect(r.body.msg).toBe('You must be logged in to add users');
  });

  it('creates a user with the join role and logs the visitor in as that user when joining is open', async () => {
    t = await makeApp();
    t.services.core.permissions.file.user_roles.nobody.join = true;
    const r = await t.http.post('/join').send({ name: 'newbie', email: 'n@x', password: 'pw', role: 'admin' });
    expect(r.status, r.text).toBe(200);
    expect(r.text).toBe('ok');
    const cookie = String(r.headers['set-cookie']).split(';')[0];
    const me = await t.http.get('/api/v1/?q=this').set('Cookie', cookie);
    expect(me.text).toBe('newbie/user');
    const u = await t.http.get('/api/v1/crud/newbie').set('Authorization', ADMIN);
    expect(u.body.role).toBe('user');
  });

  it('answers 400 with the creation message for an invalid join body', async () => {
    t = await makeApp();
    t.services.core.permissions.file.user_roles.nobody.join = true;
    const r = await t.http.post('/join').send({ name: 'newbie', email: 'not-an-email', password: 'pw' });
    expect(r.status).toBe(400);
    expect(r.body.msg).toBe('Invalid Email Address');
  });
});
