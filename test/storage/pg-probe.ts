import { spawnSync } from 'node:child_process';
import net from 'node:net';

/** The PostgreSQL database the PostgreSQL-only tests use: CDB_TEST_PG, else the shared test server. */
export const PG_BASE = process.env.CDB_TEST_PG ?? 'postgres://cdb@127.0.0.1:55432/postgres';

/**
 * Whether PostgreSQL answers at `uri`, decided synchronously (a child process connects) so a test
 * file can `describe.skipIf` on it without top-level await, which the CommonJS build refuses.
 */
export function pgReachable(uri = PG_BASE): boolean {
  const script = `const pg = require(${JSON.stringify(require.resolve('pg'))});
const c = new pg.Client({ connectionString: process.argv[1], connectionTimeoutMillis: 2000 });
c.connect().then(() => c.end()).then(() => process.exit(0), () => process.exit(1));`;
  const r = spawnSync(process.execPath, ['-e', script, uri], { timeout: 5000, stdio: 'ignore' });
  return r.status === 0;
}

/** Whether something accepts TCP connections at host:port within a second (NATS, PostgreSQL). */
export function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.setTimeout(1000);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}
