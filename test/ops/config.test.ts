import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Config, configFileText, defaultConfig } from '../../src/config';
import { envName, optionLeaves, postgresUri, readConfig } from '../../src/config/load';
import { loadPermissions } from '../../src/config/permissions';
import { ConfigError } from '../../src/config/validate';
import { defaultPermissions } from '../../src/permissions';
import { tmp } from './util';

const folder = (conf?: string): string => {
  const d = tmp('cdb-conf-');
  if (conf !== undefined) writeFileSync(path.join(d, 'connectordb.conf'), conf);
  return d;
};

const problems = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a ConfigError');
};

/** An original ConnectorDB 0.3 connectordb.conf (sqlite3 variant), as `connectordb create` wrote it. */
const ORIGINAL_CONF = `/**
ConnectorDB Configuration File

This file is the main configuration file for ConnectorDB.
**/
{
	"version": 1,
	"watch": true,
	"permissions": "default",
	"hostname": "",
	"port": 8000,
	"redirect80": false,
	"frontend_enabled": true,
	"logfile": "",
	"loglevel": "INFO",
	"siteurl": "",
	"allowcrossorigin": false,
	"cookie": { "authkey": "a2V5", "encryptionkey": "ZW5j", "maxage": 1000, "remember": true },
	"tls": { "enabled": false, "key": "tls_key.key", "cert": "tls_cert.crt",
		"acme": { "enabled": false, "server": "https://acme-v01.api.letsencrypt.org/directory", "private_key": "acme_privatekey.pem",
			"registration": "acme_registration.json", "domains": ["example.com"], "tos_agree": false } },
	"captcha": { "enabled": false, "site_key": "", "site_secret": "" },
	"query_display_timer": 60,
	"stats_display_timer": 86400,
	"insert_limit_bytes": 2000000,
	"http_read_timeout": 5,
	"websocket": { "message_limit_bytes": 1048576, "write_wait": 2, "pong_wait": 60, "ping_period": 54, "read_buffer": 1024, "write_buffer": 1024, "message_buffer": 3 },
	"minify": true, "cache_static": true, "cache_static_maxage": 604800, "gzip_static": true,
	"failed_login_delay": 300,
	"redis": { "hostname": "localhost", "port": 6380, "password": "x", "enabled": true },
	"nats": { "hostname": "localhost", "port": 4223, "username": "connectordb", "password": "y", "enabled": true },
	"sql": { "uri": "db.sqlite3", "type": "sqlite3", "hostname": "localhost", "port": 52593, "username": "postgres", "password": "z", "enabled": true },
	"batchsize": 250, "chunksize": 10, "cache": true, "cache_timeout": 30000,
	"user_cache_size": 1000, "device_cache_size": 10000, "stream_cache_size": 10000,
	"password_hash": "bcrypt",
	"pipescript": { "split_max": 50000, "string_max": 1000000, "peek_max": 100, "disable_transforms": ["sentiment"], "disable_interpolators": [] }
}
`;

describe('configuration', () => {
  it('defaults without a file', () => {
    const d = folder();
    const { config, file, warnings } = readConfig(d, { env: {} });
    expect(file).toBeUndefined();
    expect(warnings).toEqual([]);
    expect(config.port).toBe(3124);
    expect(config.dir).toBe(path.resolve(d));
  });

  it("reads the original's connectordb.conf; obsolete keys are accepted with one warning", () => {
    const { config, warnings } = readConfig(folder(ORIGINAL_CONF), { env: {} });
    expect(config).toMatchObject({ port: 8000, loglevel: 'info', insert_limit_bytes: 2000000, cookie: { authkey: 'a2V5', maxage: 1000 } });
    expect(config.pipescript.disable_transforms).toEqual(['sentiment']);
    const obsolete = warnings.find((w) => w.startsWith('Ignoring options'))!;
    for (const k of ['redis', 'nats', 'batchsize', 'cache_timeout', 'captcha', 'tls.acme', 'sql.password']) expect(obsolete).toContain(k);
    expect(warnings.some((w) => w.includes("password_hash 'bcrypt'"))).toBe(true);
  });

  it('precedence: flags > environment > file > defaults', () => {
    const d = folder('{"port": 4000, "hostname": "127.0.0.1", "loglevel": "warn", "sql": {"synchronous": "FULL"}}');
    const env = { CONNECTORDB_PORT: '5000', CONNECTORDB_SQL_SYNCHRONOUS: 'extra', CONNECTORDB_ALLOWCROSSORIGIN: 'yes', CONNECTORDB_PIPESCRIPT_DISABLE_TRANSFORMS: 'a, b' };
    const c1 = readConfig(d, { env }).config;
    expect(c1).toMatchObject({ port: 5000, hostname: '127.0.0.1', loglevel: 'warn', allowcrossorigin: true });
    expect(c1.sql.synchronous).toBe('EXTRA');
    expect(c1.pipescript.disable_transforms).toEqual(['a', 'b']);
    const c2 = readConfig(d, { env, overrides: (c) => void (c.port = 6000) }).config;
    expect(c2.port).toBe(6000);
    expect(readConfig(d, { env: {} }).config.port).toBe(4000);
    expect(readConfig(folder(), { env: {} }).config.port).toBe(3124);
  });

  it('validation errors name the option and use the original messages', () => {
    expect(problems(() => readConfig(folder('{"insert_limit_bytes": 50}'), { env: {} }))).toEqual(['The limit of single insert has to be at least 100 bytes.']);
    expect(problems(() => readConfig(folder('{"version": 2}'), { env: {} }))).toEqual(['This version of ConnectorDB only accepts configuration version 1']);
    const many = problems(() =>
      readConfig(folder('{"port": "80", "loglevel": "verbose", "password_hash": "md5", "websocket": {"pong_wait": 0}, "sql": {"type": "mysql"}, "tls": {"enabled": true}}'), { env: {} }),
    );
    expect(many).toEqual([
      `'port' must be a number, not "80"`,
      'websocket.pong_wait must be at least 1 second',
      "Unknown log level 'verbose': use debug, info, warn or error",
      "The password hashing algorithm must be one of 'argon2id', 'SHA512' or 'bcrypt', not 'md5'",
      "sql.type must be 'sqlite3' or 'postgres', not 'mysql'",
      expect.stringContaining('tls.enabled: HTTPS is not built into this server'),
    ]);
    expect(problems(() => readConfig(folder(), { env: { CONNECTORDB_PORT: 'abc', CONNECTORDB_COOKIE_REMEMBER: 'maybe' } }))).toEqual([
      'Environment variable CONNECTORDB_PORT must be a number, not "abc"',
      'Environment variable CONNECTORDB_COOKIE_REMEMBER must be true or false, not "maybe"',
    ]);
    expect(problems(() => readConfig(folder(), { env: {}, overrides: (c) => void (c.port = 70000) }))).toEqual(['The port must be an integer from 0 to 65535, not 70000']);
    expect(problems(() => readConfig(folder('{"sql": {"read_cache_mb": -1}}'), { env: {} }))).toEqual(['sql.read_cache_mb must be a number of megabytes from 0 to 1048576, not -1']);
    expect(readConfig(folder(), { env: { CONNECTORDB_SQL_READ_CACHE_MB: '0.5' } }).config.sql.read_cache_mb).toBe(0.5);
    expect(problems(() => readConfig(folder('{"port": 1,}'), { env: {} }))[0]).toMatch(/connectordb.conf is not valid JSON/);
    const e = (() => {
      try {
        readConfig(folder('{"insert_limit_bytes": 1}'), { env: {} });
      } catch (x) {
        return x as Error;
      }
    })()!;
    expect(e.message).toMatch(/^Invalid configuration \(.*connectordb.conf\):\n {2}- The limit of single insert/);
  });

  it('warns about unknown options and variables', () => {
    const { warnings } = readConfig(folder('{"prot": 1, "websocket": {"foo": 2}}'), { env: { CONNECTORDB_PROT: '1' } });
    expect(warnings).toEqual(["Unknown configuration option 'prot' ignored", "Unknown configuration option 'websocket.foo' ignored", 'Unknown environment variable CONNECTORDB_PROT ignored']);
  });

  it('a written config reads back as the defaults with its own secrets', () => {
    const text = configFileText();
    const { config } = readConfig(folder(text), { env: {} });
    const def = defaultConfig(config.dir);
    expect({ ...config, cookie: { ...config.cookie, authkey: '', encryptionkey: '' } }).toEqual({ ...def, cookie: { ...def.cookie, authkey: '', encryptionkey: '' } });
    expect(config.cookie.authkey).toHaveLength(88);
  });

  it('config.example.json reads as the defaults and documents every option with its variable', () => {
    const file = path.join(__dirname, '..', '..', 'config.example.json');
    const text = readFileSync(file, 'utf8');
    const { config, warnings } = readConfig(folder(text), { env: {} });
    expect(warnings).toEqual(['cookie.authkey/cookie.encryptionkey are empty: random keys are used for this run, so login sessions end at every restart']);
    const def = defaultConfig(config.dir);
    const blank = (c: Config) => ({ ...c, cookie: { ...c.cookie, authkey: '', encryptionkey: '' } });
    expect(blank(config)).toEqual(blank(def));
    for (const l of optionLeaves()) expect(text, envName(l.path)).toContain(envName(l.path));
    const readme = readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    expect(readme).toContain('CONNECTORDB_PORT');
  });

  it('permissions: default, a file in the original format, or a clear error', () => {
    const d = folder();
    const c = readConfig(d, { env: {} }).config;
    expect(loadPermissions(c).hasUserRole('admin')).toBe(true);
    const p = defaultPermissions();
    p.user_roles.user.max_devices = 7;
    writeFileSync(path.join(d, 'perm.conf'), `// edited\n${JSON.stringify(p)}`);
    c.permissions = 'perm.conf';
    expect(loadPermissions(c).userRole('user').max_devices).toBe(7);
    expect(loadPermissions(c, { join: true }).userRole('nobody').join).toBe(true);
    c.permissions = 'missing.conf';
    expect(problems(() => loadPermissions(c))[0]).toMatch(/missing.conf \(option 'permissions'\) does not exist/);
    p.user_roles.user.private_access_level = 'nonsense';
    writeFileSync(path.join(d, 'bad.conf'), JSON.stringify(p));
    c.permissions = 'bad.conf';
    expect(problems(() => loadPermissions(c))).toEqual(["User role 'user' references unknown access level 'nonsense'"]);
  });

  describe('sql.type postgres', () => {
    it('takes sql.uri as a postgres:// or postgresql:// URL, with the pool size', () => {
      const { config, warnings } = readConfig(folder('{"sql": {"type": "postgres", "uri": "postgres://cdb:pw@db.example:5433/cdb", "pool": 4}}'), { env: {} });
      expect(warnings).toEqual([]);
      expect(config.sql).toMatchObject({ type: 'postgres', pool: 4 });
      expect(postgresUri(config)).toBe('postgres://cdb:pw@db.example:5433/cdb');
      const c2 = readConfig(folder('{"sql": {"type": "postgresql", "uri": "postgresql://h/db"}}'), { env: {} }).config;
      expect(c2.sql.type).toBe('postgres');
      expect(c2.sql.pool).toBe(10);
      expect(postgresUri(c2)).toBe('postgresql://h/db');
    });

    it('is chosen and configured by CONNECTORDB_SQL_* variables like every other key', () => {
      const env = { CONNECTORDB_SQL_TYPE: 'postgres', CONNECTORDB_SQL_URI: 'postgres://u@10.0.0.5/cdb', CONNECTORDB_SQL_POOL: '3' };
      const { config, warnings } = readConfig(folder(), { env });
      expect(warnings).toEqual([]);
      expect(config.sql).toMatchObject({ type: 'postgres', uri: 'postgres://u@10.0.0.5/cdb', pool: 3 });
      const keys = readConfig(folder(), { env: { CONNECTORDB_SQL_TYPE: 'postgres', CONNECTORDB_SQL_URI: '', CONNECTORDB_SQL_HOSTNAME: 'pg', CONNECTORDB_SQL_PORT: '6000', CONNECTORDB_SQL_USERNAME: 'me', CONNECTORDB_SQL_PASSWORD: 'p@ss/w', CONNECTORDB_SQL_DATABASE: 'prod' } });
      expect(postgresUri(keys.config)).toBe('postgres://me:p%40ss%2Fw@pg:6000/prod');
    });

    it("builds the URL from the original's sql.hostname/port/username/password when sql.uri is empty or the SQLite default", () => {
      const conf = ORIGINAL_CONF.replace('"uri": "db.sqlite3", "type": "sqlite3"', '"uri": "", "type": "postgres"');
      const { config, warnings } = readConfig(folder(conf), { env: {} });
      expect(postgresUri(config)).toBe('postgres://postgres:z@localhost:52593/connectordb');
      const obsolete = warnings.find((w) => w.startsWith('Ignoring options'))!;
      expect(obsolete).toContain('redis');
      expect(obsolete).not.toContain('sql.password');
      expect(obsolete).not.toContain('sql.hostname');
      const def = readConfig(folder('{"sql": {"type": "postgres"}}'), { env: {} }).config;
      expect(postgresUri(def)).toBe('postgres://postgres@localhost:5432/connectordb');
    });

    it('refuses a URI that is not a postgres:// URL and a pool under 1, naming the setting', () => {
      expect(problems(() => readConfig(folder('{"sql": {"type": "postgres", "uri": "mysql://u:secret@h/db"}}'), { env: {} }))).toEqual([
        "sql.uri must be a postgres:// or postgresql:// URL when sql.type is 'postgres', not 'mysql://u:***@h/db'",
      ]);
      expect(problems(() => readConfig(folder('{"sql": {"type": "postgres", "uri": "postgres://u@h/db", "pool": 0}}'), { env: {} }))).toEqual([
        'sql.pool must be a whole number, 1 or more, not 0',
      ]);
      expect(problems(() => readConfig(folder('{"sql": {"type": "postgres", "uri": "", "hostname": "", "port": 0}}'), { env: {} }))).toEqual([
        'sql.hostname must name the PostgreSQL server when sql.uri is empty',
        'sql.port must be an integer from 1 to 65535, not 0',
      ]);
    });

    it('on SQLite, PostgreSQL keys set away from their defaults are ignored with a warning; a written config gives none', () => {
      const { warnings } = readConfig(folder('{"sql": {"hostname": "db", "pool": 10}}'), { env: {} });
      expect(warnings).toEqual(['Ignoring options of the original ConnectorDB that this server does not use: sql.hostname']);
      expect(readConfig(folder(configFileText()), { env: {} }).warnings).toEqual([]);
    });
  });
});
