import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { PgDb } from './db';

/**
 * migrations/postgres/ beside the SQLite engine's migrations/, at the package root: three levels
 * up from src/storage/postgres (tests) and from dist/src/storage/postgres… (built) alike — the
 * same rule as sqlite/db.ts, and the Docker image copies migrations/ whole.
 */
export const PG_MIGRATIONS_DIR = path.join(__dirname, '..', '..', '..', 'migrations', 'postgres');

/** The numbered files in order: `001_init.sql` → version 1. */
export function migrationFiles(dir = PG_MIGRATIONS_DIR): { version: number; file: string }[] {
  return readdirSync(dir)
    .filter((f) => /^\d+_.*\.sql$/.test(f))
    .map((f) => ({ version: parseInt(f, 10), file: path.join(dir, f) }))
    .sort((a, b) => a.version - b.version);
}

/**
 * Brings the connection's schema up to date. Each file runs in its own transaction holding
 * `pg_advisory_xact_lock` on a key derived from the schema name, and the version is recorded in
 * `schema_migrations` in that same transaction: processes that start at once queue on the lock,
 * and each re-reads the applied versions after getting it, so every file is applied exactly once.
 * Another schema of the same database migrates independently (different key).
 * Returns the versions this call applied.
 */
export async function migrate(db: PgDb, dir = PG_MIGRATIONS_DIR): Promise<number[]> {
  await ensureSchema(db);
  const applied: number[] = [];
  for (const m of migrationFiles(dir)) {
    const did = await db.tx(async (c) => {
      await c.query(`SELECT pg_advisory_xact_lock(hashtext('cdb_migrate:' || current_schema()))`);
      await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
      const r = await c.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version]);
      if (r.rowCount) return false;
      // No parameters: the simple query protocol, which runs a file of several statements.
      await c.query(readFileSync(m.file, 'utf8'));
      await c.query('INSERT INTO schema_migrations (version) VALUES ($1)', [m.version]);
      return true;
    });
    if (did) applied.push(m.version);
  }
  return applied;
}

/**
 * A `search_path` naming a schema that does not exist yet leaves current_schema() NULL, and the
 * first CREATE TABLE would fail: create it (IF NOT EXISTS, under a lock on its name, so two
 * processes do not race on the catalog).
 */
async function ensureSchema(db: PgDb): Promise<void> {
  const cur = await db.query<{ s: string | null }>('SELECT current_schema() AS s');
  if (cur.rows[0]?.s) return;
  const sp = await db.query<{ search_path: string }>('SHOW search_path');
  const first = sp.rows[0]?.search_path
    .split(',')
    .map((x) => x.trim())
    .find((x) => x !== '' && x !== '"$user"');
  if (!first) throw new Error('PostgreSQL: no schema selected (the search_path is empty)');
  // Unquoted names fold to lower case, as PostgreSQL resolves them.
  const name = first.startsWith('"') ? first.slice(1, -1).replace(/""/g, '"') : first.toLowerCase();
  await db.tx(async (c) => {
    await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`cdb_schema:${name}`]);
    await c.query(`CREATE SCHEMA IF NOT EXISTS "${name.replace(/"/g, '""')}"`);
  });
}
