import { randomBytes } from 'node:crypto';

export type Synchronous = 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA';

/**
 * The running configuration. Key names follow the original's `connectordb.conf` where the concept
 * survives (server-cli-config.md §2) so an old config file reads as is. config.example.json
 * documents every option; src/config/validate.ts checks them at start.
 */
export interface Config {
  version: number;
  /** Folder holding the database and config; relative paths resolve against it. Not a file key. */
  dir: string;
  /** Accepted for compatibility; this server reads the file once at start (restart to apply). */
  watch: boolean;
  hostname: string;
  port: number;
  siteurl: string;
  allowcrossorigin: boolean;
  frontend_enabled: boolean;
  loglevel: string;
  logfile: string;
  permissions: string;
  insert_limit_bytes: number;
  /** Largest stream schema accepted at create/update (0 = no limit): compiling one blocks the event loop. */
  max_schema_bytes: number;
  failed_login_delay: number;
  /** Failed password logins allowed per client address and per account in `window` seconds (0 = off). */
  login_limit: { per_ip: number; per_account: number; window: number };
  /**
   * Proxies whose X-Forwarded-For/-Proto are believed: "" none, else a comma list of addresses,
   * CIDR ranges or `loopback`/`linklocal`/`uniquelocal` (Fastify's trustProxy).
   */
  trust_proxy: string;
  http_read_timeout: number;
  /** Seconds a SIGTERM/SIGINT waits for in-flight requests before closing their connections. */
  shutdown_timeout: number;
  /** New hashes are always argon2id; `bcrypt`/`SHA512` from an old file are accepted (and still verified). */
  password_hash: string;
  cookie: { authkey: string; encryptionkey: string; maxage: number; remember: boolean };
  /** TLS is not built in (terminate it at a reverse proxy); `enabled: true` is refused at start. */
  tls: { enabled: boolean; key: string; cert: string };
  websocket: {
    message_limit_bytes: number;
    write_wait: number;
    pong_wait: number;
    ping_period: number;
    read_buffer: number;
    write_buffer: number;
    message_buffer: number;
  };
  pipescript: {
    split_max: number;
    string_max: number;
    peek_max: number;
    max_nesting: number;
    max_stages: number;
    disable_transforms: string[];
    disable_interpolators: string[];
  };
  /**
   * `type` sqlite3 (default; `uri` is the file) or postgres/postgresql (`uri` a postgres:// URL,
   * or, when it is empty or the SQLite default, built from hostname/port/username/password/database).
   * `pool`: PostgreSQL connections per process.
   */
  sql: {
    type: string;
    uri: string;
    synchronous: Synchronous;
    quick_check: boolean;
    /** SQLite: megabytes of sealed chunks kept as ready answer bytes for range reads (0: off). */
    read_cache_mb: number;
    hostname: string;
    port: number;
    username: string;
    password: string;
    database: string;
    pool: number;
  };
  /**
   * The original's NATS server keys. With `sql.type: "postgres"` a non-empty hostname switches the
   * live-data bus between server processes to NATS (else PostgreSQL LISTEN/NOTIFY carries it);
   * on SQLite (one process) they are ignored.
   */
  nats: { hostname: string; port: number; username: string; password: string };
  /** Prometheus metrics at /metrics (off by default); a non-empty token must come as `Authorization: Bearer`. */
  metrics: { enabled: boolean; token: string };
  /** Retention for streams without their own (beyond the original); 0 = no limit. */
  retention: { datapoints: number; seconds: number; sweep_interval: number };
}

/** Fresh random cookie secrets (written by `create` / `write config`). */
export function cookieSecrets(): { authkey: string; encryptionkey: string } {
  return { authkey: randomBytes(64).toString('base64'), encryptionkey: randomBytes(32).toString('base64') };
}

export function defaultConfig(dir = '.'): Config {
  return {
    version: 1,
    dir,
    watch: true,
    hostname: '',
    port: 3124,
    siteurl: '',
    allowcrossorigin: false,
    frontend_enabled: true,
    loglevel: 'info',
    logfile: '',
    permissions: 'default',
    insert_limit_bytes: 10485760,
    max_schema_bytes: 32768,
    failed_login_delay: 300,
    login_limit: { per_ip: 20, per_account: 50, window: 300 },
    trust_proxy: '',
    http_read_timeout: 5,
    shutdown_timeout: 30,
    password_hash: 'argon2id',
    cookie: {
      ...cookieSecrets(),
      maxage: 10368000,
      remember: true,
    },
    tls: { enabled: false, key: 'tls_key.key', cert: 'tls_cert.crt' },
    websocket: {
      message_limit_bytes: 1048576,
      write_wait: 2,
      pong_wait: 60,
      ping_period: 54,
      read_buffer: 1024,
      write_buffer: 1024,
      message_buffer: 3,
    },
    pipescript: { split_max: 50000, string_max: 1000000, peek_max: 100, max_nesting: 100, max_stages: 2000, disable_transforms: [], disable_interpolators: [] },
    sql: {
      type: 'sqlite3',
      uri: 'db.sqlite3',
      synchronous: 'NORMAL',
      quick_check: true,
      read_cache_mb: 32,
      hostname: 'localhost',
      port: 5432,
      username: 'postgres',
      password: '',
      database: 'connectordb',
      pool: 10,
    },
    nats: { hostname: '', port: 4222, username: '', password: '' },
    metrics: { enabled: false, token: '' },
    retention: { datapoints: 0, seconds: 0, sweep_interval: 60 },
  };
}

/** The config as written to a file: everything but the runtime-only `dir`. */
export function fileConfig(cfg: Config): Omit<Config, 'dir'> {
  const { dir: _dir, ...rest } = cfg;
  return rest;
}

export const CONFIG_HEADER =
  '/* ConnectorDB configuration (JSON; comments allowed). Every option, its default and its\n' +
  '   CONNECTORDB_* environment variable are documented in config.example.json. */\n';

/** The text of a fresh configuration file with new random secrets. */
export function configFileText(cfg: Config = defaultConfig()): string {
  return `${CONFIG_HEADER}${JSON.stringify(fileConfig(cfg), null, 2)}\n`;
}
