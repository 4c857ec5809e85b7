import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { type Config, defaultConfig } from './index';
import { ConfigError, validateConfig } from './validate';

export const CONFIG_NAME = 'connectordb.conf';
export const ENV_PREFIX = 'CONNECTORDB_';

/** Removes // and /* *\/ comments outside strings (the original allowed JavaScript-style comments). */
export function stripComments(text: string): string {
  let out = '';
  let inStr = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inStr) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inStr = false;
    } else if (c === '"') {
      inStr = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && text[i + 1] === '*') {
      i += 2;
      while (i < text.length && !(text[i] === '*' && text[i + 1] === '/')) i++;
      i++;
    } else out += c;
  }
  return out;
}

/** Reads a JSON file that may contain comments (config and permissions files). */
export function readJsonWithComments(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, [`Could not read ${file}: ${e instanceof Error ? e.message : String(e)}`]);
  }
  try {
    return JSON.parse(stripComments(text));
  } catch (e) {
    throw new ConfigError(file, [`${file} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`]);
  }
}

export function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Options of the original that have no meaning here (Redis, NATS, PostgreSQL, its storage batching
 * and caches, the web UI's static-file and captcha settings): accepted and ignored with a warning.
 */
export const OBSOLETE_KEYS = new Set([
  'redis',
  'nats',
  'redirect80',
  'batchsize',
  'chunksize',
  'cache',
  'cache_timeout',
  'user_cache_size',
  'device_cache_size',
  'stream_cache_size',
  'captcha',
  'query_display_timer',
  'stats_display_timer',
  'minify',
  'cache_static',
  'cache_static_maxage',
  'gzip_static',
  'tls.acme',
  'sql.enabled',
]);

/**
 * Options only the PostgreSQL engine reads: on SQLite, a file that sets them to anything but the
 * default (the original's config did) gets the same "ignoring" warning as the obsolete ones.
 */
export const POSTGRES_KEYS = ['sql.hostname', 'sql.port', 'sql.username', 'sql.password', 'sql.database', 'sql.pool'];

/** sql.type names PostgreSQL (`postgres`, or `postgresql` as in URLs). */
export const isPostgres = (cfg: Config): boolean => cfg.sql.type === 'postgres' || cfg.sql.type === 'postgresql';

/** A postgres:// or postgresql:// URL (sql.uri on PostgreSQL). */
export const isPostgresUri = (uri: string): boolean => /^postgres(ql)?:\/\//i.test(uri);

/**
 * The PostgreSQL server to connect to: sql.uri when it is a postgres:// URL, else (empty, or the
 * SQLite default left in place) one built from the original's sql.hostname/port/username/password
 * and sql.database.
 */
export function postgresUri(cfg: Config): string {
  const s = cfg.sql;
  if (isPostgresUri(s.uri)) return s.uri;
  const auth = s.username ? `${encodeURIComponent(s.username)}${s.password ? `:${encodeURIComponent(s.password)}` : ''}@` : '';
  const host = s.hostname.includes(':') && !s.hostname.startsWith('[') ? `[${s.hostname}]` : s.hostname;
  return `postgres://${auth}${host || 'localhost'}:${s.port}/${encodeURIComponent(s.database)}`;
}

/** A PostgreSQL URL without its password, for messages. */
export function redactUri(uri: string): string {
  try {
    const u = new URL(uri);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return uri.replace(/:\/\/([^:/@]*):[^@]*@/, '://$1:***@');
  }
}

/** The keys that are not plain options (`dir` is where the file is, not a setting). */
const NOT_OPTIONS = new Set(['dir']);

type Leaf = { path: string[]; def: unknown };

/** Every settable option as a path, with its default (which also gives its type). */
export function optionLeaves(cfg: Config = defaultConfig()): Leaf[] {
  const out: Leaf[] = [];
  const walk = (o: Record<string, unknown>, pre: string[]) => {
    for (const [k, v] of Object.entries(o)) {
      if (pre.length === 0 && NOT_OPTIONS.has(k)) continue;
      if (isObj(v)) walk(v, [...pre, k]);
      else out.push({ path: [...pre, k], def: v });
    }
  };
  walk(cfg as unknown as Record<string, unknown>, []);
  return out;
}

/** `websocket.pong_wait` → `CONNECTORDB_WEBSOCKET_PONG_WAIT`. */
export const envName = (p: string[]): string => ENV_PREFIX + p.join('_').toUpperCase();

const typeName = (v: unknown): string => (Array.isArray(v) ? 'a list of strings' : typeof v === 'number' ? 'a number' : typeof v === 'boolean' ? 'true or false' : 'a string');

function sameType(def: unknown, v: unknown): boolean {
  if (Array.isArray(def)) return Array.isArray(v) && v.every((x) => typeof x === 'string');
  if (typeof def === 'number') return typeof v === 'number' && Number.isFinite(v);
  return typeof v === typeof def;
}

/** Merges a parsed file over the defaults, checking types; unknown and obsolete keys become warnings. */
function mergeFile(base: Record<string, unknown>, over: Record<string, unknown>, pre: string[], problems: string[], obsolete: string[], unknown: string[]): void {
  for (const [k, v] of Object.entries(over)) {
    const key = [...pre, k].join('.');
    if (OBSOLETE_KEYS.has(key)) {
      obsolete.push(key);
      continue;
    }
    if (pre.length === 0 && NOT_OPTIONS.has(k)) {
      unknown.push(key);
      continue;
    }
    if (!(k in base)) {
      unknown.push(key);
      continue;
    }
    const def = base[k];
    if (isObj(def)) {
      if (!isObj(v)) problems.push(`'${key}' must be an object`);
      else mergeFile(def, v, [...pre, k], problems, obsolete, unknown);
    } else if (!sameType(def, v)) {
      problems.push(`'${key}' must be ${typeName(def)}, not ${JSON.stringify(v)}`);
    } else base[k] = v;
  }
}

function setPath(o: Record<string, unknown>, p: string[], v: unknown): void {
  let cur = o;
  for (const k of p.slice(0, -1)) cur = cur[k] as Record<string, unknown>;
  cur[p[p.length - 1]] = v;
}

/** Parses an environment value according to the option's type. */
function parseEnv(def: unknown, raw: string): { ok: true; v: unknown } | { ok: false } {
  if (typeof def === 'number') {
    const n = raw.trim() === '' ? NaN : Number(raw);
    return Number.isFinite(n) ? { ok: true, v: n } : { ok: false };
  }
  if (typeof def === 'boolean') {
    const s = raw.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(s)) return { ok: true, v: true };
    if (['0', 'false', 'no', 'off'].includes(s)) return { ok: true, v: false };
    return { ok: false };
  }
  if (Array.isArray(def)) {
    const s = raw.trim();
    if (s.startsWith('[')) {
      try {
        const a: unknown = JSON.parse(s);
        return Array.isArray(a) && a.every((x) => typeof x === 'string') ? { ok: true, v: a } : { ok: false };
      } catch {
        return { ok: false };
      }
    }
    return { ok: true, v: s === '' ? [] : s.split(',').map((x) => x.trim()).filter((x) => x !== '') };
  }
  return { ok: true, v: raw };
}

/** Applies CONNECTORDB_* variables over the config. */
function applyEnv(cfg: Config, env: NodeJS.ProcessEnv, problems: string[], warnings: string[]): void {
  const leaves = optionLeaves();
  const known = new Set(leaves.map((l) => envName(l.path)));
  for (const l of leaves) {
    const name = envName(l.path);
    const raw = env[name];
    if (raw === undefined) continue;
    const r = parseEnv(l.def, raw);
    if (!r.ok) problems.push(`Environment variable ${name} must be ${typeName(l.def)}, not ${JSON.stringify(raw)}`);
    else setPath(cfg as unknown as Record<string, unknown>, l.path, r.v);
  }
  for (const k of Object.keys(env)) {
    if (k.startsWith(ENV_PREFIX) && !known.has(k)) warnings.push(`Unknown environment variable ${k} ignored`);
  }
}

/** A folder means `<dir>/connectordb.conf` (server-cli-config §1). */
export function configPath(target: string): string {
  return existsSync(target) && statSync(target).isDirectory() ? path.join(target, CONFIG_NAME) : target;
}

export interface LoadOptions {
  /** Environment to read CONNECTORDB_* overrides from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Command-line flags: applied last (flags > env > file > defaults). */
  overrides?: (cfg: Config) => void;
  /** Skip validation (for commands that only need the database location). */
  noValidate?: boolean;
}

export interface Loaded {
  config: Config;
  /** The config file read, or undefined when there was none (defaults + env). */
  file: string | undefined;
  warnings: string[];
}

/**
 * The configuration of a database folder (or a config file): defaults, then the file, then
 * CONNECTORDB_* environment variables, then command-line flags; validated as a whole. Throws a
 * ConfigError listing every problem.
 */
export function readConfig(target: string, opts: LoadOptions = {}): Loaded {
  const file = configPath(target);
  const isDirTarget = file !== target;
  const dir = isDirTarget ? path.resolve(target) : path.dirname(path.resolve(file));
  const cfg = defaultConfig(dir);
  const problems: string[] = [];
  const warnings: string[] = [];
  let used: string | undefined;
  let fileObsolete: string[] = [];
  let fileParsed: Record<string, unknown> | undefined;
  if (existsSync(file)) {
    used = file;
    const parsed = readJsonWithComments(file);
    if (!isObj(parsed)) throw new ConfigError(file, [`${file} must contain a JSON object`]);
    const obsolete: string[] = [];
    const unknown: string[] = [];
    mergeFile(cfg as unknown as Record<string, unknown>, parsed, [], problems, obsolete, unknown);
    for (const u of unknown) warnings.push(`Unknown configuration option '${u}' ignored`);
    fileObsolete = obsolete;
    fileParsed = parsed;
  } else if (!isDirTarget) {
    throw new ConfigError(file, [`The configuration file ${file} does not exist`]);
  }
  applyEnv(cfg, opts.env ?? process.env, problems, warnings);
  opts.overrides?.(cfg);
  // Decided once the environment had its say: CONNECTORDB_SQL_TYPE may switch the engine.
  if (fileParsed && !isPostgres(cfg)) {
    const def = defaultConfig();
    for (const k of POSTGRES_KEYS) {
      const [a, b] = k.split('.');
      const sec = fileParsed[a];
      if (isObj(sec) && b in sec && sec[b] !== (def.sql as unknown as Record<string, unknown>)[b]) fileObsolete.push(k);
    }
  }
  if (fileObsolete.length > 0) {
    warnings.splice(0, 0, `Ignoring options of the original ConnectorDB that this server does not use: ${fileObsolete.join(', ')}`);
  }
  cfg.dir = dir;
  if (!opts.noValidate) {
    const v = validateConfig(cfg);
    problems.push(...v.errors);
    warnings.push(...v.warnings);
  }
  if (problems.length > 0) throw new ConfigError(used ?? dir, problems);
  return { config: cfg, file: used, warnings };
}

/** readConfig without the warnings (they are dropped). */
export function loadConfig(target: string, opts: LoadOptions = {}): Config {
  return readConfig(target, opts).config;
}

/** Where the SQLite file of a config lives. */
export function databaseFile(cfg: Config): string {
  return path.resolve(cfg.dir, cfg.sql.uri || 'db.sqlite3');
}

/** A path option resolved against the config's folder. */
export const resolvePath = (cfg: Config, p: string): string => path.resolve(cfg.dir, p);
