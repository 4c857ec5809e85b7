import { isIP } from 'node:net';
import type { Config } from './index';

/** A configuration that cannot be used: every problem found, for one clear message at start. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`Invalid configuration (${source}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const SYNC = ['OFF', 'NORMAL', 'FULL', 'EXTRA'];

/**
 * The original's start-time checks (server-cli-config §2.1) plus ours. Normalises a few values in
 * place (log level and sql.synchronous case, `warning` → `warn`).
 */
export function validateConfig(cfg: Config): { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  const atLeast = (v: number, min: number, msg: string) => {
    if (!(v >= min)) errors.push(msg);
  };
  if (cfg.version !== 1) errors.push('This version of ConnectorDB only accepts configuration version 1');
  if (!Number.isInteger(cfg.port) || cfg.port < 0 || cfg.port > 65535) errors.push(`The port must be an integer from 0 to 65535, not ${cfg.port}`);
  atLeast(cfg.insert_limit_bytes, 100, 'The limit of single insert has to be at least 100 bytes.');
  atLeast(cfg.max_schema_bytes, 0, 'max_schema_bytes must not be negative (0 = no limit)');
  atLeast(cfg.failed_login_delay, 0, 'failed_login_delay must not be negative');
  atLeast(cfg.login_limit.per_ip, 0, 'login_limit.per_ip must not be negative (0 = no limit)');
  atLeast(cfg.login_limit.per_account, 0, 'login_limit.per_account must not be negative (0 = no limit)');
  atLeast(cfg.login_limit.window, 0, 'login_limit.window must not be negative (0 = no limit)');
  atLeast(cfg.http_read_timeout, 0, 'http_read_timeout must not be negative (0 = no limit)');
  atLeast(cfg.shutdown_timeout, 0, 'shutdown_timeout must not be negative');
  atLeast(cfg.cookie.maxage, 0, 'cookie.maxage must not be negative');
  const ws = cfg.websocket;
  atLeast(ws.message_limit_bytes, 100, 'The websocket message limit (websocket.message_limit_bytes) has to be at least 100 bytes.');
  atLeast(ws.write_wait, 1, 'websocket.write_wait must be at least 1 second');
  atLeast(ws.pong_wait, 1, 'websocket.pong_wait must be at least 1 second');
  atLeast(ws.ping_period, 1, 'websocket.ping_period must be at least 1 second');
  atLeast(ws.read_buffer, 10, 'websocket.read_buffer must be at least 10 bytes');
  atLeast(ws.write_buffer, 10, 'websocket.write_buffer must be at least 10 bytes');
  atLeast(ws.message_buffer, 1, 'websocket.message_buffer must be at least 1');
  if (ws.ping_period >= ws.pong_wait) warnings.push('websocket.ping_period should be less than websocket.pong_wait, or idle clients are disconnected');
  const ps = cfg.pipescript;
  atLeast(ps.split_max, 1, 'pipescript.split_max must be at least 1');
  atLeast(ps.string_max, 1, 'pipescript.string_max must be at least 1');
  atLeast(ps.peek_max, 1, 'pipescript.peek_max must be at least 1');
  atLeast(ps.max_nesting, 1, 'pipescript.max_nesting must be at least 1');
  atLeast(ps.max_stages, 1, 'pipescript.max_stages must be at least 1');
  const rt = cfg.retention;
  if (!(Number.isInteger(rt.datapoints) && rt.datapoints >= 0)) errors.push('retention.datapoints must be a whole number, 0 or more (0 = no limit)');
  atLeast(rt.seconds, 0, 'retention.seconds must not be negative (0 = no limit)');
  atLeast(rt.sweep_interval, 1, 'retention.sweep_interval must be at least 1 second');

  let level = cfg.loglevel.toLowerCase();
  if (level === 'warning') level = 'warn';
  if (!LOG_LEVELS.includes(level)) errors.push(`Unknown log level '${cfg.loglevel}': use debug, info, warn or error`);
  else cfg.loglevel = level;

  if (cfg.password_hash === 'bcrypt' || cfg.password_hash === 'SHA512') {
    warnings.push(`password_hash '${cfg.password_hash}': new passwords are hashed with argon2id; existing ${cfg.password_hash} hashes keep working and are upgraded at login`);
  } else if (cfg.password_hash !== 'argon2id') {
    errors.push(`The password hashing algorithm must be one of 'argon2id', 'SHA512' or 'bcrypt', not '${cfg.password_hash}'`);
  }

  const sync = cfg.sql.synchronous.toUpperCase();
  if (!SYNC.includes(sync)) errors.push(`sql.synchronous must be one of ${SYNC.join(', ')}, not '${cfg.sql.synchronous}'`);
  else cfg.sql.synchronous = sync as Config['sql']['synchronous'];
  const sqlType = cfg.sql.type.toLowerCase();
  if (sqlType === 'postgres' || sqlType === 'postgresql') {
    cfg.sql.type = 'postgres';
    const uri = cfg.sql.uri;
    // Empty, or the SQLite default left in place: the URL is built from sql.hostname and the rest.
    if (uri !== '' && uri !== 'db.sqlite3') {
      if (!/^postgres(ql)?:\/\//i.test(uri)) errors.push(`sql.uri must be a postgres:// or postgresql:// URL when sql.type is 'postgres', not '${redact(uri)}'`);
      else if (!parses(uri)) errors.push(`sql.uri is not a valid URL: '${redact(uri)}'`);
    } else {
      if (cfg.sql.hostname.trim() === '') errors.push('sql.hostname must name the PostgreSQL server when sql.uri is empty');
      if (!Number.isInteger(cfg.sql.port) || cfg.sql.port < 1 || cfg.sql.port > 65535) errors.push(`sql.port must be an integer from 1 to 65535, not ${cfg.sql.port}`);
      if (cfg.sql.database.trim() === '') errors.push('sql.database must name the PostgreSQL database when sql.uri is empty');
    }
    if (!Number.isInteger(cfg.sql.pool) || cfg.sql.pool < 1) errors.push(`sql.pool must be a whole number, 1 or more, not ${cfg.sql.pool}`);
  } else if (sqlType !== 'sqlite3' && sqlType !== 'sqlite') {
    errors.push(`sql.type must be 'sqlite3' or 'postgres', not '${cfg.sql.type}'`);
  } else if (cfg.sql.uri.startsWith('file:') || cfg.sql.uri.includes('?')) {
    errors.push(`sql.uri must be a file path, not '${cfg.sql.uri}'`);
  }
  if (!(cfg.sql.read_cache_mb >= 0 && cfg.sql.read_cache_mb <= 1 << 20)) {
    errors.push(`sql.read_cache_mb must be a number of megabytes from 0 to ${1 << 20}, not ${cfg.sql.read_cache_mb}`);
  }
  if (cfg.sql.type !== 'postgres' && cfg.nats.hostname !== '') {
    warnings.push('nats.hostname is set but ignored: the NATS bus connects several server processes on one PostgreSQL database (sql.type "postgres"); one SQLite process needs none');
  }
  if (!Number.isInteger(cfg.nats.port) || cfg.nats.port < 1 || cfg.nats.port > 65535) errors.push(`nats.port must be an integer from 1 to 65535, not ${cfg.nats.port}`);

  if (cfg.tls.enabled) {
    errors.push('tls.enabled: HTTPS is not built into this server. Serve it behind a reverse proxy (nginx, Caddy, Traefik) that terminates TLS, or start with --http.');
  }
  if (!cfg.cookie.authkey || !cfg.cookie.encryptionkey) {
    warnings.push('cookie.authkey/cookie.encryptionkey are empty: random keys are used for this run, so login sessions end at every restart');
  }
  for (const part of cfg.trust_proxy.split(',').map((x) => x.trim()).filter((x) => x !== '')) {
    const [addr, bits, extra] = part.split('/');
    const v = isIP(addr);
    const okBits = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (v === 6 ? 128 : 32));
    if (!['loopback', 'linklocal', 'uniquelocal'].includes(part) && (v === 0 || !okBits || extra !== undefined)) {
      errors.push(`trust_proxy: '${part}' is not an address, a CIDR range, loopback, linklocal or uniquelocal`);
    }
  }
  if (cfg.siteurl.endsWith('/')) cfg.siteurl = cfg.siteurl.replace(/\/+$/, '');
  return { errors, warnings };
}

function parses(uri: string): boolean {
  try {
    return new URL(uri).hostname !== '' || new URL(uri).searchParams.has('host');
  } catch {
    return false;
  }
}

/** A URL in a message keeps its password out. */
function redact(uri: string): string {
  return uri.replace(/:\/\/([^:/@]*):[^@]*@/, '://$1:***@');
}
