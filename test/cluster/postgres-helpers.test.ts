import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config';
import { displayUri, newFolderConfig, pgDumpCommands, shellQuote, uriSchema } from '../../src/ops/postgres';

describe('connection strings and pg_dump commands of a PostgreSQL folder', () => {
  it('drops the password, keeps everything else', () => {
    expect(displayUri('postgres://cdb:s3cret@db.example.org:5432/cdb?options=-c%20search_path%3Dt1')).toBe('postgres://cdb@db.example.org:5432/cdb?options=-c%20search_path%3Dt1');
    expect(displayUri('postgresql://cdb@h/db')).toBe('postgresql://cdb@h/db');
    expect(displayUri('db.sqlite3')).toBe('db.sqlite3');
  });

  it('reads the schema from options=-c search_path=…', () => {
    expect(uriSchema('postgres://h/db?options=-c%20search_path%3Dcdb_t1')).toBe('cdb_t1');
    expect(uriSchema('postgres://h/db?options=-csearch_path=x')).toBe('x');
    expect(uriSchema('postgres://h/db')).toBeUndefined();
  });

  it('quotes for a POSIX shell only what needs it', () => {
    expect(shellQuote('/backups/cdb.dump')).toBe('/backups/cdb.dump');
    expect(shellQuote("it's here")).toBe(`'it'\\''s here'`);
    expect(shellQuote('postgres://cdb@h/db?sslmode=require')).toBe(`'postgres://cdb@h/db?sslmode=require'`);
  });

  it('pg_dump of the schema the URI selects, without the password; pg_restore the same database', () => {
    const c = pgDumpCommands('postgres://cdb:pw@db:5432/cdb?options=-c%20search_path%3Dtenant1&sslmode=require', '/b/x.dump');
    expect(c.dump).toBe(`pg_dump --format=custom --schema=tenant1 --file=/b/x.dump 'postgres://cdb@db:5432/cdb?sslmode=require'`);
    expect(c.restore).toBe(`pg_restore --clean --if-exists --no-owner --dbname='postgres://cdb@db:5432/cdb?sslmode=require' /b/x.dump`);
    expect(c.hasPassword).toBe(true);
    expect(pgDumpCommands('postgres://cdb@db/cdb', 'f').dump).toBe('pg_dump --format=custom --file=f postgres://cdb@db/cdb');
  });
});

describe('the configuration create writes', () => {
  it('takes CONNECTORDB_SQL_* and CONNECTORDB_NATS_* from the environment, nothing else', () => {
    const env = { CONNECTORDB_SQL_TYPE: 'postgres', CONNECTORDB_SQL_URI: 'postgres://cdb@h/db', CONNECTORDB_SQL_POOL: '7', CONNECTORDB_NATS_HOSTNAME: 'nats', CONNECTORDB_PORT: '9999' };
    const cfg = newFolderConfig('/tmp/x', { env });
    expect(cfg.sql).toMatchObject({ type: 'postgres', uri: 'postgres://cdb@h/db', pool: 7 });
    expect(cfg.nats.hostname).toBe('nats');
    expect(cfg.port).toBe(defaultConfig().port);
    expect(cfg.cookie.authkey).not.toBe(newFolderConfig('/tmp/x', { env }).cookie.authkey);
  });

  it('flags win over the environment; --sqlbackend sqlite3 drops a PostgreSQL URL; bad values are refused', () => {
    const env = { CONNECTORDB_SQL_TYPE: 'postgres', CONNECTORDB_SQL_URI: 'postgres://cdb@h/db' };
    expect(newFolderConfig('/tmp/x', { env, sqluri: 'postgres://other@h/db2' }).sql.uri).toBe('postgres://other@h/db2');
    expect(newFolderConfig('/tmp/x', { env, sqlbackend: 'sqlite3' }).sql).toMatchObject({ type: 'sqlite3', uri: 'db.sqlite3' });
    expect(() => newFolderConfig('/tmp/x', { env: {}, sqlbackend: 'mysql' })).toThrow(/--sqlbackend must be postgres or sqlite3/);
    expect(() => newFolderConfig('/tmp/x', { env: { CONNECTORDB_SQL_POOL: 'many' } })).toThrow(/CONNECTORDB_SQL_POOL must be a number/);
    expect(() => newFolderConfig('/tmp/x', { env: {}, sqlbackend: 'postgres', sqluri: 'mysql://h/db' })).toThrow(/postgres:\/\/ or postgresql:\/\/ URL/);
  });
});
