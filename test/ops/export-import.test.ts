import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportDatabase } from '../../src/ops/export';
import { importDatabase } from '../../src/ops/import';
import { readJsonArray } from '../../src/ops/jsonarray';
import { TerminalProgress } from '../../src/ops/progress';
import { CPU_POINTS, KEYS, PASSWORDS, originalExport, writeExport } from './fixture';
import { basic, freshFolder, readTree, serve, tmp } from './util';

const root = tmp('cdb-xi-');
const fixture = writeExport(path.join(root, 'original'));

describe('server format (version 2): original → ours → export → import', () => {
  let a: Awaited<ReturnType<typeof freshFolder>>;
  let srv: Awaited<ReturnType<typeof serve>>;
  const ourExport = path.join(root, 'ours');

  beforeAll(async () => {
    a = await freshFolder(path.join(root, 'a'));
    const stats = await importDatabase(a.svc, fixture);
    expect(stats).toMatchObject({ version: 2, users: 3, devices: 5, streams: 6, datapoints: 3 + 2 + 3 + 4 + CPU_POINTS });
    // Exported before anyone logs in, so the password hashes are still the original's.
    await exportDatabase(a.svc, ourExport);
    srv = await serve(a);
  });
  afterAll(async () => {
    await srv.close();
    await a.close();
  });

  it('keeps objects, fields and API keys', async () => {
    const this_ = await srv.http.get('/api/v1/?q=this').set('Authorization', basic('', KEYS.alicePhone));
    expect(this_.text).toBe('alice/phone');
    const bob = await srv.http.get('/api/v1/?q=this').set('Authorization', basic('', KEYS.bobLaptop));
    expect(bob.text).toBe('bob/laptop');
    const u = (await a.svc.core.users.get('carol'))!;
    expect(u).toMatchObject({ email: 'Carol <carol@x>', nickname: 'CAROL', public: true, role: 'user' });
    const alice = (await a.svc.core.users.get('alice'))!;
    const phone = (await a.svc.core.devices.get(alice.id, 'phone'))!;
    expect(phone).toMatchObject({ nickname: 'P1', enabled: false, visible: false, user_editable: false, apikey: KEYS.alicePhone, role: '' });
    const userDev = (await a.svc.core.devices.get(alice.id, 'user'))!;
    expect(userDev.apikey).toBe(KEYS.aliceUser);
    const temp = (await a.svc.core.streams.get(phone.id, 'temperature'))!;
    expect(temp).toMatchObject({ schema: '{"type":"number","minimum":0}', icon: 'material:whatshot', ephemeral: false });
    const bobU = (await a.svc.core.users.get('bob'))!;
    const live = (await a.svc.core.streams.get((await a.svc.core.devices.get(bobU.id, 'laptop'))!.id, 'live'))!;
    expect(live.ephemeral).toBe(true);
  });

  it('keeps datapoints verbatim: timestamps, o of downlinks, data the later schema refuses', async () => {
    const auth = basic('', KEYS.alicePhone);
    const light = await srv.http.get('/api/v1/crud/alice/phone/light/data?i1=0&i2=0').set('Authorization', auth);
    expect(light.body).toEqual([
      { t: 1795472046.81, d: true },
      { t: 1795472050.125, d: false },
    ]);
    const dl = await srv.http.get('/api/v1/crud/alice/phone/light/data?i1=0&i2=0&downlink=true').set('Authorization', auth);
    expect(dl.body).toEqual([
      { t: 1795472046.495899, d: true, o: 'alice/user' },
      { t: 1795472046.495899, d: false, o: 'bob/laptop' },
      { t: 1795472047, d: true, o: 'alice/user' },
    ]);
    const temp = await srv.http.get('/api/v1/crud/alice/phone/temperature/data?i1=0&i2=0').set('Authorization', auth);
    expect(temp.text).toBe('[{"t":1500000000,"d":-3.5},{"t":1500000001,"d":20},{"t":1500000002},{"t":1500000003,"d":1e+300}]');
    const cpu = await srv.http.get('/api/v1/crud/bob/laptop/cpu/data?q=length').set('Authorization', basic('', KEYS.bobLaptop));
    expect(cpu.text).toBe(String(CPU_POINTS));
  });

  it('skips the meta device: meta/log starts empty', async () => {
    const alice = (await a.svc.core.users.get('alice'))!;
    const meta = (await a.svc.core.devices.get(alice.id, 'meta'))!;
    const log = (await a.svc.core.streams.get(meta.id, 'log'))!;
    expect(await a.svc.core.data.length(log.id, 0)).toBe(0);
    expect(meta.apikey).toBe('');
  });

  it('our export has the original layout and reproduces its files', () => {
    const orig = readTree(fixture);
    const ours = readTree(ourExport);
    expect(JSON.parse(ours['connectordb.json'])).toEqual({ Version: 2, ConnectorDB: '0.3.0' });
    expect(ours['connectordb.json']).toContain('\t"Version": 2');
    for (const [f, text] of Object.entries(orig)) {
      if (f === 'connectordb.json' || f.includes(`${path.sep}meta${path.sep}`)) continue;
      expect(ours[f], f).toBeDefined();
      // Metadata is tab-indented in struct key order, data compact: byte-identical to the original.
      expect(ours[f], f).toBe(text);
    }
    // meta is exported (with an empty log), as the original does.
    expect(ours[path.join('alice', 'meta', 'log', 'data.json')]).toBe('[]');
  });

  it('old bcrypt and SHA512 hashes verify at login and are rehashed with argon2id', async () => {
    for (const [name, pw] of Object.entries(PASSWORDS)) {
      const before = (await a.svc.core.users.get(name))!;
      expect(['bcrypt', 'SHA512']).toContain(before.password_scheme);
      const bad = await srv.http.get('/api/v1/?q=this').set('Authorization', basic(name, pw + 'x'));
      expect(bad.status).toBe(401);
      expect((await a.svc.core.users.get(name))!.password).toBe(before.password);
      const ok = await srv.http.get('/api/v1/?q=this').set('Authorization', basic(name, pw));
      expect(ok.status, name).toBe(200);
      expect(ok.text).toBe(`${name}/user`);
      const after = (await a.svc.core.users.get(name))!;
      expect(after.password_scheme).toBe('argon2id');
      expect(after.password).toMatch(/^\$argon2id\$/);
      const again = await srv.http.get('/api/v1/?q=this').set('Authorization', basic(name, pw));
      expect(again.status).toBe(200);
    }
  });

  it('our export imports into a fresh database identically (hashes included)', async () => {
    const b = await freshFolder(path.join(root, 'b'));
    try {
      await importDatabase(b.svc, ourExport);
      const again = path.join(root, 'again');
      await exportDatabase(b.svc, again);
      expect(readTree(again)).toEqual(readTree(ourExport));
    } finally {
      await b.close();
    }
  });

  it('refuses an existing export location', async () => {
    await expect(exportDatabase(a.svc, ourExport)).rejects.toThrow('The given export location already exists');
  });
});

describe('a failing import leaves the database as it was', () => {
  const count = async (o: Awaited<ReturnType<typeof freshFolder>>) => ({
    users: await o.svc.core.users.count(),
    devices: await o.svc.core.devices.count(),
    streams: await o.svc.core.streams.count(),
  });

  it('rolls back everything when the last stream has out-of-order data', async () => {
    const tree = originalExport();
    tree.users[1].devices[2].streams[0].data = '[{"t":5,"d":1},{"t":4,"d":2}]';
    const dir = writeExport(path.join(root, 'bad-order'), tree);
    const o = await freshFolder();
    try {
      const { addUser } = await import('../../src/ops/admin');
      await addUser(o.svc, { name: 'zed', email: 'zed@x', password: 'zz' });
      const before = await count(o);
      await expect(importDatabase(o.svc, dir)).rejects.toThrow(/bob\/laptop\/cpu: Timestamps are not ordered!\nNothing was imported/);
      expect(await count(o)).toEqual(before);
      expect(await o.svc.core.users.get('alice')).toBeUndefined();
      expect(await o.svc.core.users.get('zed')).toBeDefined();
    } finally {
      await o.close();
    }
  });

  it('rolls back on a greater timestamp already stored, an API key in use, a missing role', async () => {
    const cases: [string, (t: ReturnType<typeof originalExport>) => void, RegExp][] = [
      ['second chunk older', (t) => void (t.users[0].devices[2].streams[0].data = '[{"t":10,"d":true},{"t":9,"d":false}]'), /alice\/phone\/light/],
      ['duplicate key', (t) => void (t.users[2].devices[0].json.apikey = KEYS.alicePhone), /carol\/user: Device with this API key already exists/],
      ['unknown role', (t) => void (t.users[2].json.role = 'superuser'), /carol: The given role 'superuser' does not exist/],
      ['broken json', (t) => void (t.users[0].devices[0].streams[0].data = '[{"t":1,'), /./],
    ];
    for (const [name, mutate, re] of cases) {
      const tree = originalExport();
      mutate(tree);
      const dir = writeExport(path.join(root, `bad-${name.replace(/ /g, '-')}`), tree);
      const o = await freshFolder();
      try {
        const before = await count(o);
        await expect(importDatabase(o.svc, dir), name).rejects.toThrow(re);
        expect(await count(o), name).toEqual(before);
      } finally {
        await o.close();
      }
    }
  });

  it('rolls back when a user already exists (by name or email)', async () => {
    const o = await freshFolder();
    try {
      await importDatabase(o.svc, fixture);
      const before = await count(o);
      await expect(importDatabase(o.svc, fixture)).rejects.toThrow(/alice: User with this email or username already exists/);
      expect(await count(o)).toEqual(before);
    } finally {
      await o.close();
    }
  });

  it("refuses exports of unknown versions and incomplete exports", async () => {
    const o = await freshFolder();
    try {
      const v3 = path.join(root, 'v3');
      mkdirSync(v3);
      writeFileSync(path.join(v3, 'connectordb.json'), '{"Version": 3, "ConnectorDB": "x"}');
      await expect(importDatabase(o.svc, v3)).rejects.toThrow("Can't open the export version 3");
      const partial = path.join(root, 'partial');
      mkdirSync(partial);
      await expect(importDatabase(o.svc, partial)).rejects.toThrow(/no connectordb.json/);
    } finally {
      await o.close();
    }
  });
});

describe('client format (version 1) files', () => {
  it('imports with password = user name; Python-style spacing; missing downlink.json is empty', async () => {
    const dir = path.join(root, 'v1');
    mkdirSync(path.join(dir, 'dan', 'user', 'steps'), { recursive: true });
    mkdirSync(path.join(dir, 'dan', 'watch', 'hr'), { recursive: true });
    writeFileSync(path.join(dir, 'connectordb.json'), '{"Version": 1, "ConnectorDB": "0.3.0"}');
    writeFileSync(path.join(dir, 'dan', 'user.json'), '{"description": "", "email": "dan@x", "icon": "", "name": "dan", "nickname": "", "public": true, "role": "user"}');
    writeFileSync(path.join(dir, 'dan', 'user', 'device.json'), '{"name": "user", "role": "user"}');
    writeFileSync(path.join(dir, 'dan', 'user', 'steps', 'stream.json'), '{"name": "steps", "schema": "{\\"type\\": \\"integer\\"}", "downlink": true}');
    writeFileSync(path.join(dir, 'dan', 'user', 'steps', 'data.json'), '[{"t": 1.5, "d": 10}, {"t": 2.5, "d": 12}]');
    writeFileSync(path.join(dir, 'dan', 'watch', 'device.json'), '{"name": "watch", "apikey": "aaaa-bbbb"}');
    writeFileSync(path.join(dir, 'dan', 'watch', 'hr', 'stream.json'), '{"name": "hr"}');
    writeFileSync(path.join(dir, 'dan', 'watch', 'hr', 'data.json'), '[\n  {\n    "t": 7,\n    "d": {"a, ]": "[x]"}\n  }\n]\n');
    const o = await freshFolder();
    const srv = await serve(o);
    try {
      const st = await importDatabase(o.svc, dir);
      expect(st.warnings.join('\n')).toContain('dan');
      const r = await srv.http.get('/api/v1/crud/dan/user/steps/data?i1=0&i2=0').set('Authorization', basic('dan', 'dan'));
      expect(r.status).toBe(200);
      expect(r.body).toEqual([
        { t: 1.5, d: 10 },
        { t: 2.5, d: 12 },
      ]);
      const s = await srv.http.get('/api/v1/crud/dan/user/steps').set('Authorization', basic('dan', 'dan'));
      expect(s.body.schema).toBe('{"type":"integer"}');
      const hr = await srv.http.get('/api/v1/crud/dan/watch/hr/data?i1=0&i2=0').set('Authorization', basic('', 'aaaa-bbbb'));
      expect(hr.body).toEqual([{ t: 7, d: { 'a, ]': '[x]' } }]);
    } finally {
      await srv.close();
      await o.close();
    }
  });
});

describe('streaming JSON array reader', () => {
  it('splits elements across chunk boundaries and multi-byte characters', () => {
    const f = path.join(root, 'big.json');
    const big = 'é✓"\\'.repeat(300000);
    const arr = [{ t: 1, d: big }, null, 5, 'x,]', [1, [2]], { t: 2, d: { a: '}' } }];
    writeFileSync(f, ` \n${JSON.stringify(arr, null, 1)}\n`);
    let bytes = 0;
    const got = [...readJsonArray(f, (n) => (bytes = n))];
    expect(got).toEqual(arr);
    expect(bytes).toBe(readFileSync(f).length);
    writeFileSync(f, '[]');
    expect([...readJsonArray(f)]).toEqual([]);
    for (const bad of ['[1,]', '{}', '[1', '[1] 2', '[,1]']) {
      writeFileSync(f, bad);
      expect(() => [...readJsonArray(f)], bad).toThrow();
    }
  });
});

describe('progress', () => {
  it('updates one line on a terminal and prints lines otherwise', () => {
    const out: string[] = [];
    const tty = { isTTY: true, columns: 100, write: (s: string) => out.push(s) } as unknown as NodeJS.WriteStream;
    const p = new TerminalProgress(tty, 'datapoints', 'export');
    p.update('alice/phone/light', 10, 100);
    p.update('alice/phone/light', 100, 100);
    p.end('done');
    expect(out[0]).toMatch(/^\rexport 10% 10 datapoints \/ 100 datapoints {2}alice\/phone\/light/);
    expect(out.at(-1)).toBe('done\n');
    const lines: string[] = [];
    const pipe = { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
    const q = new TerminalProgress(pipe, 'bytes', 'import');
    q.update('x', 1, 2);
    expect(lines[0]).toBe('import 50% 1 B / 2 B  x\n');
  });
});

it('the fixture matches the documented layout', () => {
  expect(existsSync(path.join(fixture, 'alice', 'phone', 'light', 'downlink.json'))).toBe(true);
  expect(readFileSync(path.join(fixture, 'alice', 'user.json'), 'utf8')).toMatch(/^\{\n\t"name": "alice",\n\t"nickname"/);
});
