import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app';
import { configFileText, defaultConfig } from '../../src/config';
import { CONFIG_NAME } from '../../src/config/load';
import { createDatabase } from '../../src/main';
import { type OpenedDatabase, openFolder } from '../../src/ops/open';
import { TEST_POOL_SIZE, freshSchema, onPostgres } from '../engine';

export const tmp = (prefix = 'cdb-ops-'): string => mkdtempSync(path.join(tmpdir(), prefix));

/**
 * A fresh database folder opened as the offline commands open it (no env overrides). On the
 * PostgreSQL run its config points at a fresh schema (test/engine.ts), which close() drops.
 */
export async function freshFolder(dir = path.join(tmp(), 'db')): Promise<OpenedDatabase & { dir: string }> {
  if (!onPostgres) {
    await createDatabase(dir);
    return { ...(await openFolder(dir, { env: {} })), dir };
  }
  const schema = await freshSchema();
  const cfg = defaultConfig(path.resolve(dir));
  cfg.sql.type = 'postgres';
  cfg.sql.uri = schema.uri;
  cfg.sql.pool = TEST_POOL_SIZE;
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, CONFIG_NAME), configFileText(cfg), { mode: 0o600 });
  const o = await openFolder(dir, { env: {} });
  return {
    ...o,
    dir,
    close: async () => {
      await o.close();
      await schema.drop();
    },
  };
}

/** Serves an opened folder over HTTP on a loopback port. */
export async function serve(o: OpenedDatabase): Promise<{ app: FastifyInstance; http: ReturnType<typeof request>; url: string; close(): Promise<void> }> {
  o.config.failed_login_delay = 0;
  const { app } = buildApp({ config: o.config, storage: o.storage, permissions: o.svc.core.permissions });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { app, http: request(app.server), url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

/** Every file under dir, relative path → content. */
export function readTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = path.join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out[path.relative(dir, p)] = readFileSync(p, 'utf8');
    }
  };
  walk(dir);
  return out;
}

export const rmrf = (p: string) => rmSync(p, { recursive: true, force: true });
export const basic = (u: string, p: string) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');
