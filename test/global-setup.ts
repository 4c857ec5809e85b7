import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';

/** Newest modification time under `p` (file or folder), in ms. */
function newest(p: string): number {
  const s = statSync(p);
  if (!s.isDirectory()) return s.mtimeMs;
  return readdirSync(p).reduce((m, f) => Math.max(m, newest(path.join(p, f))), s.mtimeMs);
}

/**
 * Builds dist/ once before the suite: the tests that run the real server as a child process
 * (kill -9 durability, graceful shutdown, CLI) need the compiled entry point, and the web tests
 * need the built app (dist/public), rebuilt only when src/web changed since the last build.
 * scripts/test.mjs sets CDB_TEST_BUILT on its second run (PostgreSQL), which reuses the first build.
 */
function build(): void {
  const root = path.join(__dirname, '..');
  if (!process.env.CDB_TEST_BUILT) {
    try {
      execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
        cwd: root,
        stdio: 'inherit',
      });
    } catch {
      // tsc still emits; type errors fail `npm run build` and `npm run lint`, which CI runs first.
      console.warn('global-setup: the TypeScript build reported errors; process tests use what was emitted');
    }
  }
  const index = path.join(root, 'dist', 'public', 'index.html');
  const sources = Math.max(newest(path.join(root, 'src', 'web')), newest(path.join(root, 'vite.config.mts')), newest(path.join(root, 'package-lock.json')));
  if (!existsSync(index) || statSync(index).mtimeMs < sources) {
    execFileSync(process.execPath, [path.join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build'], { cwd: root, stdio: 'inherit' });
  }
}

/**
 * On the PostgreSQL run (test/engine.ts): checks the test database answers before any test
 * starts, hands the workers this run's schema prefix, and at the end drops every schema with that
 * prefix (those of apps that closed are gone already; a killed server process leaves its own).
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  build();
  const prefix = `cdb_${randomBytes(3).toString('hex')}_`;
  project.provide('pgSchemaPrefix', prefix);
  if (process.env.CDB_TEST_ENGINE !== 'postgres') return undefined;
  const url = process.env.CDB_TEST_PG;
  if (!url) throw new Error('CDB_TEST_ENGINE=postgres needs CDB_TEST_PG=postgres://user@host:port/database');
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (e) {
    throw new Error(`the PostgreSQL test database ${url} does not answer: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    await client.end().catch(() => {});
  }
  return async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const { rows } = await c.query<{ nspname: string }>("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)", [prefix]);
      for (const r of rows) await c.query(`DROP SCHEMA IF EXISTS ${r.nspname} CASCADE`);
      if (rows.length) console.log(`global-setup: dropped ${rows.length} schemas the PostgreSQL run left behind`);
    } finally {
      await c.end();
    }
  };
}
