import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rest, clientExport, clientImport } from '../../src/ops/client';
import { ADMIN, type TestApp, basic, keyAuth, makeApp } from '../helpers';
import { tmp } from './util';

/**
 * The connectordb-python client's export/import (format version 1) driven against our real server
 * over HTTP, call for call (export-import.md §9), and its test_importexport round trip.
 */
describe('client format (version 1) over REST', () => {
  let t: TestApp;
  let url: string;
  const dir = path.join(tmp('cdb-client-'), 'export');
  let phoneKey = '';
  const main = [
    { t: 1500000000.25, d: 1 },
    { t: 1500000001, d: 2 },
    { t: 1500000002.5, d: 3.5 },
  ];
  const downlink = [
    { t: 1600000000, d: 10 },
    { t: 1600000001, d: 11 },
  ];

  beforeAll(async () => {
    t = await makeApp();
    const addr = t.app.server.address();
    url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    const as = basic('pyuser', 'pypass');
    const ok = (r: { status: number; text: string }) => expect(r.status, r.text).toBe(200);
    ok(await t.http.post('/api/v1/crud/pyuser').set('Authorization', ADMIN).send({ email: 'py@localhost', password: 'pypass', role: 'user', public: true }));
    const dev = await t.http.post('/api/v1/crud/pyuser/phone').set('Authorization', as).send({ nickname: 'My phone', public: true });
    ok(dev);
    phoneKey = dev.body.apikey;
    ok(await t.http.post('/api/v1/crud/pyuser/phone/steps').set('Authorization', as).send({ schema: '{"type":"number"}', downlink: true, datatype: 'count', nickname: 'Steps' }));
    ok(await t.http.post('/api/v1/crud/pyuser/phone/steps/data').set('Authorization', keyAuth(phoneKey)).send(main));
    // The user (not the owner device) writes into the downlink.
    ok(await t.http.post('/api/v1/crud/pyuser/phone/steps/data').set('Authorization', as).send(downlink));
    ok(await t.http.post('/api/v1/crud/pyuser/user/notes').set('Authorization', as).send({ schema: '{"type":"string"}' }));
    ok(await t.http.post('/api/v1/crud/pyuser/user/notes/data').set('Authorization', as).send([{ t: 5, d: 'hello' }]));
  });
  afterAll(() => t.close());

  it('User.export writes the version 1 layout', async () => {
    const st = await clientExport(new Rest(url, 'pyuser', 'pypass'), dir);
    expect(st).toMatchObject({ users: 1, streams: 3 });
    expect(JSON.parse(readFileSync(path.join(dir, 'connectordb.json'), 'utf8'))).toEqual({ Version: 1, ConnectorDB: '0.3.0' });
    const user = JSON.parse(readFileSync(path.join(dir, 'pyuser', 'user.json'), 'utf8'));
    expect(user).toMatchObject({ name: 'pyuser', email: 'py@localhost', public: true });
    expect(user.password).toBeUndefined();
    const dev = JSON.parse(readFileSync(path.join(dir, 'pyuser', 'phone', 'device.json'), 'utf8'));
    expect(dev.apikey).toBe(phoneKey);
    expect(existsSync(path.join(dir, 'pyuser', 'meta', 'log', 'data.json'))).toBe(true);
    expect(JSON.parse(readFileSync(path.join(dir, 'pyuser', 'phone', 'steps', 'data.json'), 'utf8'))).toEqual(main);
    const dl = JSON.parse(readFileSync(path.join(dir, 'pyuser', 'phone', 'steps', 'downlink.json'), 'utf8'));
    expect(dl).toEqual(downlink.map((p) => ({ ...p, o: 'pyuser/user' })));
  });

  it('refuses to export into a directory that is not a version 1 export, or over an exported user', async () => {
    await expect(clientExport(new Rest(url, 'pyuser', 'pypass'), dir)).rejects.toThrow(/already exists/);
    const other = tmp('cdb-client-other-');
    writeFileSync(path.join(other, 'connectordb.json'), '{"Version":2}');
    await expect(clientExport(new Rest(url, 'pyuser', 'pypass'), other)).rejects.toThrow(/not a version 1 export/);
  });

  it('import_users restores the user after deletion (test_importexport)', async () => {
    expect((await t.http.delete('/api/v1/crud/pyuser').set('Authorization', ADMIN)).status).toBe(200);
    const st = await clientImport(new Rest(url, 'test', 'test'), dir);
    expect(st).toMatchObject({ users: 1, streams: 2 });
    // The password is the directory name; the device keeps its API key.
    const me = await t.http.get('/api/v1/?q=this').set('Authorization', basic('pyuser', 'pyuser'));
    expect(me.text).toBe('pyuser/user');
    const dev = await t.http.get('/api/v1/?q=this').set('Authorization', keyAuth(phoneKey));
    expect(dev.text).toBe('pyuser/phone');
    const data = await t.http.get('/api/v1/crud/pyuser/phone/steps/data?i1=0&i2=0').set('Authorization', ADMIN);
    expect(data.body).toEqual(main);
    const dl = await t.http.get('/api/v1/crud/pyuser/phone/steps/data?i1=0&i2=0&downlink=true').set('Authorization', ADMIN);
    // Original senders are lost: the importer wrote the downlink (as in the Python client).
    expect(dl.body).toEqual(downlink.map((p) => ({ ...p, o: 'test/user' })));
    const s = await t.http.get('/api/v1/crud/pyuser/phone/steps').set('Authorization', ADMIN);
    expect(s.body).toMatchObject({ schema: '{"type":"number"}', downlink: true, datatype: 'count', nickname: 'Steps' });
    const notes = await t.http.get('/api/v1/crud/pyuser/user/notes/data?i1=0&i2=0').set('Authorization', ADMIN);
    expect(notes.body).toEqual([{ t: 5, d: 'hello' }]);
    const d = await t.http.get('/api/v1/crud/pyuser/phone').set('Authorization', ADMIN);
    expect(d.body).toMatchObject({ nickname: 'My phone', public: true, apikey: phoneKey });
  });

  it('import_users refuses an existing user and other versions', async () => {
    await expect(clientImport(new Rest(url, 'test', 'test'), dir)).rejects.toThrow('User pyuser already exists');
    const v2 = tmp('cdb-client-v2-');
    writeFileSync(path.join(v2, 'connectordb.json'), '{"Version":2}');
    await expect(clientImport(new Rest(url, 'test', 'test'), v2)).rejects.toThrow('Not able to read this import version');
  });
});
