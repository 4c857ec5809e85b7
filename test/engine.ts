/**
 * Which storage engine the suite runs on. `npm test` (scripts/test.mjs) runs everything on SQLite,
 * then again with CDB_TEST_ENGINE=postgres on the database named by CDB_TEST_PG
 * (`postgres://user@host:port/database`). On PostgreSQL every app, server process or config folder
 * a test makes gets a schema of its own in that database, so parallel workers never share state;
 * the schemas carry this run's prefix (from test/global-setup.ts) and are dropped when the app
 * closes, and at the end of the run whatever a killed process left behind.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';

/** True on the PostgreSQL run: `describe.skipIf(onPostgres)` for tests about SQLite itself. */
export const onPostgres = process.env.CDB_TEST_ENGINE === 'postgres';

/** Connections per app pool in tests: workers run in parallel on one server (max_connections). */
export const TEST_POOL_SIZE = 4;

declare module 'vitest' {
  export interface ProvidedContext {
    /** Prefix of every schema this run creates (`cdb_<run>_`), dropped by the global teardown. */
    pgSchemaPrefix: string;
  }
}

/** The `CDB_TEST_PG` URL; throws when the PostgreSQL run has none. */
export function testDatabaseUrl(): string {
  const url = process.env.CDB_TEST_PG;
  if (!url) throw new Error('the PostgreSQL run needs CDB_TEST_PG=postgres://user@host:port/database');
  return url;
}

/** `uri` with `-c search_path=<schema>` in its options, so every pooled connection uses the schema. */
export function withSearchPath(uri: string, schema: string): string {
  return `${uri}${uri.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

let admin: pg.Pool | undefined;
/** One small pool per worker for CREATE/DROP SCHEMA; idle connections go away on their own. */
function adminPool(): pg.Pool {
  admin ??= new pg.Pool({ connectionString: testDatabaseUrl(), max: 1, idleTimeoutMillis: 500, allowExitOnIdle: true });
  return admin;
}

export interface TestSchema {
  schema: string;
  /** The CDB_TEST_PG URL pointing at the schema. */
  uri: string;
  /** A statement on the test database, outside the app's pool (name tables as `${schema}.x`). */
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  drop(): Promise<void>;
}

const schemaName = () => `${inject('pgSchemaPrefix')}${randomBytes(5).toString('hex')}`;

function testSchema(schema: string): TestSchema {
  return {
    schema,
    uri: withSearchPath(testDatabaseUrl(), schema),
    query: (text, values) => adminPool().query(text, values),
    drop: async () => {
      await adminPool().query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
}

/** A new, empty schema in the test database. */
export async function freshSchema(): Promise<TestSchema> {
  const schema = schemaName();
  await adminPool().query(`CREATE SCHEMA ${schema}`);
  return testSchema(schema);
}

/**
 * The same, synchronously (psql), for the helpers that run the CLI with spawnSync. Left for the
 * global teardown to drop: the processes using it may outlive the test.
 */
export function freshSchemaSync(): TestSchema {
  const schema = schemaName();
  const r = spawnSync('psql', [testDatabaseUrl(), '-qX', '-v', 'ON_ERROR_STOP=1', '-c', `CREATE SCHEMA ${schema}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`psql could not create schema ${schema}: ${r.error?.message ?? r.stderr}`);
  return testSchema(schema);
}

/**
 * The environment that points a server or CLI process at `uri` (the original's
 * CONNECTORDB_SQL_* variables); empty on the SQLite run.
 */
export function engineEnv(s: TestSchema | undefined): Record<string, string> {
  if (!s) return {};
  return { CONNECTORDB_SQL_TYPE: 'postgres', CONNECTORDB_SQL_URI: s.uri, CONNECTORDB_SQL_POOL: String(TEST_POOL_SIZE) };
}

/** Database folders the tests created on the PostgreSQL run, and the schema each one uses. */
const folders = new Map<string, TestSchema>();

/**
 * For a command that creates the database folder `dir` (create, import, start on an empty
 * folder): on the PostgreSQL run a fresh schema for it and the variables that point there; {} on
 * SQLite. Later commands on the same folder get the same variables from `knownFolderEnv`.
 */
export function newFolderEnv(dir: string): Record<string, string> {
  if (!onPostgres) return {};
  const key = path.resolve(dir);
  let s = folders.get(key);
  if (!s) {
    s = freshSchemaSync();
    folders.set(key, s);
  }
  return engineEnv(s);
}

/** The variables of a folder `newFolderEnv` made; {} for any other folder and on SQLite. */
export function knownFolderEnv(dir: string): Record<string, string> {
  const s = folders.get(path.resolve(dir));
  return s ? engineEnv(s) : {};
}
