import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, basic, makeApp, onPostgres } from '../helpers';
import { testDatabaseUrl } from '../engine';
import { expectError } from '../api/util';

/**
 * A TCP relay in front of the test PostgreSQL server, in a process of its own (the server's
 * synchronous reads block this thread while the worker thread waits for PostgreSQL, so a relay
 * here could not pass their bytes on). `down()` kills it: the port closes and every connection
 * through it is cut, as when PostgreSQL stops or the network goes; `up()` starts it again on the
 * same port.
 */
class Relay {
  private child: ChildProcess | undefined;
  port = 0;
  constructor(
    private readonly host: string,
    private readonly target: number,
  ) {}

  async up(): Promise<void> {
    if (this.child) return;
    const script = `const net = require('node:net');
const [host, target, port] = process.argv.slice(1);
const server = net.createServer((c) => {
  const u = net.connect(Number(target), host);
  c.on('error', () => u.destroy());
  u.on('error', () => c.destroy());
  c.pipe(u).pipe(c);
});
server.listen(Number(port), '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));`;
    const child = spawn(process.execPath, ['-e', script, this.host, String(this.target), String(this.port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.child = child;
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
      child.once('exit', (code) => reject(new Error(`the relay exited (${code})`)));
    });
    this.port = Number(line);
  }

  async down(): Promise<void> {
    const c = this.child;
    this.child = undefined;
    if (!c || c.exitCode !== null) return;
    const gone = new Promise((resolve) => c.once('exit', resolve));
    c.kill('SIGKILL');
    await gone;
  }
}

const MSG = 'The database does not answer at the moment: try again shortly';

describe.runIf(onPostgres)('PostgreSQL out of reach', () => {
  let t: TestApp;
  let relay: Relay;
  const A = basic('test', 'test');
  beforeAll(async () => {
    const u = new URL(testDatabaseUrl());
    relay = new Relay(u.hostname, Number(u.port || 5432));
    await relay.up();
    t = await makeApp((c) => {
      const via = new URL(c.sql.uri);
      via.hostname = '127.0.0.1';
      via.port = String(relay.port);
      c.sql.uri = via.toString();
    });
    expect((await t.http.post('/api/v1/crud/test/user/s').set('Authorization', A).send({ schema: '{"type":"number"}' })).status).toBe(200);
    expect((await t.http.post('/api/v1/crud/test/user/s/data').set('Authorization', A).send([{ t: 1, d: 1 }])).status).toBe(200);
  });
  afterAll(async () => {
    await relay.up().catch(() => {});
    await t?.close();
    await relay.down();
  });

  it('answers 503 with Retry-After and a message while it is down (never 500), and serves again once it is back', async () => {
    await relay.down();
    const cases = [
      t.http.get('/api/v1/crud/test/user/s').set('Authorization', A),
      t.http.post('/api/v1/crud/test/user/s/data').set('Authorization', A).send([{ t: 2, d: 2 }]),
      t.http.get('/api/v1/crud/test/user/s/data?i1=0&i2=0').set('Authorization', A),
      t.http.get('/api/v1/crud/test/user/s/data?i1=0&i2=0&transform=%24%20%2B%201').set('Authorization', A),
      t.http.post('/api/v1/crud/test/newdev').set('Authorization', A).send({}),
    ];
    for (const r of await Promise.all(cases)) {
      expectError(r, 503, MSG);
      expect(r.headers['retry-after']).toBe('5');
    }
    expectError(await t.http.get('/api/v1/meta/ready'), 503, 'The database does not answer');

    await relay.up();
    // The pool and the listening connections reconnect by themselves.
    let r = await t.http.get('/api/v1/crud/test/user/s/data?i1=0&i2=0').set('Authorization', A);
    for (let i = 0; i < 100 && r.status !== 200; i++) {
      await new Promise((res) => setTimeout(res, 50));
      r = await t.http.get('/api/v1/crud/test/user/s/data?i1=0&i2=0').set('Authorization', A);
    }
    expect(r.text).toBe('[{"t":1,"d":1}]');
    expect((await t.http.post('/api/v1/crud/test/user/s/data').set('Authorization', A).send([{ t: 3, d: 3 }])).status).toBe(200);
    expect((await t.http.get('/api/v1/crud/test/user/s/data?i1=0&i2=0&transform=%24%20%2B%201').set('Authorization', A)).text).toBe('[{"t":1,"d":2},{"t":3,"d":4}]');
  });
});
