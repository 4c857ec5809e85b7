import { randomBytes } from 'node:crypto';

/**
 * The running configuration. Key names follow the original's `connectordb.conf` where the concept
 * survives (server-cli-config.md §2) so an old config file reads as is.
 */
export interface Config {
  version: number;
  /** Folder holding the database and config; relative paths resolve against it. */
  dir: string;
  hostname: string;
  port: number;
  siteurl: string;
  allowcrossorigin: boolean;
  frontend_enabled: boolean;
  loglevel: string;
  logfile: string;
  permissions: string;
  insert_limit_bytes: number;
  failed_login_delay: number;
  http_read_timeout: number;
  password_hash: string;
  cookie: { authkey: string; encryptionkey: string; maxage: number; remember: boolean };
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
    disable_transforms: string[];
    disable_interpolators: string[];
  };
  sql: { type: string; uri: string; synchronous: 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA' };
}

export function defaultConfig(dir = '.'): Config {
  return {
    version: 1,
    dir,
    hostname: '',
    port: 3124,
    siteurl: '',
    allowcrossorigin: false,
    frontend_enabled: true,
    loglevel: 'info',
    logfile: '',
    permissions: 'default',
    insert_limit_bytes: 10485760,
    failed_login_delay: 300,
    http_read_timeout: 5,
    password_hash: 'argon2id',
    cookie: {
      authkey: randomBytes(64).toString('base64'),
      encryptionkey: randomBytes(32).toString('base64'),
      maxage: 10368000,
      remember: true,
    },
    websocket: {
      message_limit_bytes: 1048576,
      write_wait: 2,
      pong_wait: 60,
      ping_period: 54,
      read_buffer: 1024,
      write_buffer: 1024,
      message_buffer: 3,
    },
    pipescript: { split_max: 50000, string_max: 1000000, peek_max: 100, disable_transforms: [], disable_interpolators: [] },
    sql: { type: 'sqlite3', uri: 'db.sqlite3', synchronous: 'NORMAL' },
  };
}
