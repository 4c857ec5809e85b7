import path from 'node:path';
import { type Config, defaultConfig } from '../config';
import { envName, isObj, isPostgres, optionLeaves, postgresUri, readConfig } from '../config/load';

export { isPostgres };
import { ConfigError, validateConfig } from '../config/validate';

/**
 * What the admin commands need to know about a PostgreSQL-backed folder (README "Running several
 * servers"): the configuration `create` writes, connection strings fit to print, and the pg_dump
 * commands `backup` points to.
 */

/** A postgres:// URL without its password (for dbinfo, logs and hints); anything else unchanged. */
export function displayUri(uri: string): string {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return uri;
  }
  if (!/^postgres(ql)?:$/.test(u.protocol)) return uri;
  u.password = '';
  // URL keeps "user:@host" once the password is gone: say "user@host".
  return u.toString().replace(/^(postgres(?:ql)?:\/\/[^:@/]*):@/, '$1@');
}

/** The schema a URI selects through `options=-c search_path=…`, if any. */
export function uriSchema(uri: string): string | undefined {
  let opts: string | null;
  try {
    opts = new URL(uri).searchParams.get('options');
  } catch {
    return undefined;
  }
  const m = opts ? /(?:^|\s)-c\s*search_path\s*=\s*("?)([^",\s]+)\1/.exec(opts) : null;
  return m ? m[2] : undefined;
}

/** The URI as pg_dump and psql take it: no password, and no `options` (the schema goes in --schema). */
function toolUri(uri: string): string {
  const u = new URL(displayUri(uri));
  u.searchParams.delete('options');
  return u.toString().replace(/^(postgres(?:ql)?:\/\/[^:@/]*):@/, '$1@');
}

/** Single-quoted for a POSIX shell. */
export const shellQuote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The pg_dump and pg_restore commands for the database (and schema) of `uri`. */
export function pgDumpCommands(uri: string, file: string): { dump: string; restore: string; hasPassword: boolean } {
  const schema = uriSchema(uri);
  const db = shellQuote(toolUri(uri));
  const f = shellQuote(file);
  return {
    dump: `pg_dump --format=custom${schema ? ` --schema=${shellQuote(schema)}` : ''} --file=${f} ${db}`,
    restore: `pg_restore --clean --if-exists --no-owner --dbname=${db} ${f}`,
    hasPassword: new URL(uri).password !== '',
  };
}

/** `backup` on a PostgreSQL folder: the refusal, with the commands that do it. */
export function pgBackupMessage(cfg: Config, dir: string, file: string): string {
  const uri = postgresUri(cfg);
  const c = pgDumpCommands(uri, file);
  return [
    `backup copies SQLite databases; the database of ${path.resolve(dir)} is on PostgreSQL (${displayUri(uri)}).`,
    'Back it up with pg_dump, safe while the servers run (one consistent snapshot):',
    `  ${c.dump}`,
    'Restore it (servers stopped; --clean replaces what is there):',
    `  ${c.restore}`,
    ...(c.hasPassword ? ['The password is not shown: give it to pg_dump/pg_restore in PGPASSWORD or ~/.pgpass.'] : []),
    'Use a pg_dump at least as new as the PostgreSQL server. Keep connectordb.conf as well: it holds the cookie secrets all servers share.',
  ].join('\n');
}

export interface CreateOptions {
  /** `-c/--config FILE`: start from this configuration instead of the defaults (the original's flag). */
  config?: string;
  /** `--sqlbackend postgres|sqlite3` (the original's flag). */
  sqlbackend?: string;
  /** `--sqluri URL`: the PostgreSQL URL (or the SQLite file). */
  sqluri?: string;
  /** Where CONNECTORDB_SQL_* and CONNECTORDB_NATS_* come from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

const SHARED_ENV = /^CONNECTORDB_(SQL|NATS)_/;

/** An environment value as the option's type (as readConfig parses it), undefined when it is not one. */
function parseLeaf(def: unknown, raw: string): unknown {
  if (typeof def === 'number') {
    const n = raw.trim() === '' ? NaN : Number(raw);
    return Number.isFinite(n) ? n : undefined;
  }
  if (typeof def === 'boolean') {
    const s = raw.trim().toLowerCase();
    return ['1', 'true', 'yes', 'on'].includes(s) ? true : ['0', 'false', 'no', 'off'].includes(s) ? false : undefined;
  }
  return raw;
}

function setLeaf(cfg: Config, p: string[], v: unknown): void {
  let cur = cfg as unknown as Record<string, unknown>;
  for (const k of p.slice(0, -1)) {
    const next = cur[k];
    if (!isObj(next)) return;
    cur = next;
  }
  cur[p[p.length - 1]] = v;
}

/**
 * The configuration `create DIR` writes: the defaults (or `--config FILE`) with fresh cookie
 * secrets, then CONNECTORDB_SQL_* / CONNECTORDB_NATS_* from the environment, then the flags.
 * Only those variables go into the file: they say where the shared database and bus are, which
 * every copy of the folder needs; the others stay per process, as at `run`. Validated.
 */
export function newFolderConfig(dir: string, o: CreateOptions = {}): Config {
  const env = o.env ?? process.env;
  const cfg = o.config ? readConfig(o.config, { env: {}, noValidate: true }).config : defaultConfig(path.resolve(dir));
  const problems: string[] = [];
  for (const leaf of optionLeaves(cfg)) {
    const name = envName(leaf.path);
    const raw = env[name];
    if (raw === undefined || !SHARED_ENV.test(name)) continue;
    const v = parseLeaf(leaf.def, raw);
    if (v === undefined) problems.push(`Environment variable ${name} must be ${typeof leaf.def === 'number' ? 'a number' : 'true or false'}, not ${JSON.stringify(raw)}`);
    else setLeaf(cfg, leaf.path, v);
  }
  if (problems.length > 0) throw new ConfigError('environment', problems);
  cfg.dir = path.resolve(dir);
  const backend = o.sqlbackend?.toLowerCase();
  if (backend !== undefined) {
    if (backend === 'postgres' || backend === 'postgresql') cfg.sql.type = 'postgres';
    else if (backend === 'sqlite3' || backend === 'sqlite') {
      cfg.sql.type = 'sqlite3';
      if (o.sqluri === undefined && /^postgres(ql)?:/.test(cfg.sql.uri)) cfg.sql.uri = 'db.sqlite3';
    } else throw new ConfigError('--sqlbackend', [`--sqlbackend must be postgres or sqlite3, not '${o.sqlbackend}'`]);
  }
  if (o.sqluri !== undefined) cfg.sql.uri = o.sqluri;
  const v = validateConfig(cfg);
  if (v.errors.length > 0) throw new ConfigError(o.config ?? 'create', v.errors);
  return cfg;
}
