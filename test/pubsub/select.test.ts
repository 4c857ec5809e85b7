import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config';
import { readConfig } from '../../src/config/load';
import { LocalPubSub } from '../../src/pubsub';
import { busKind, openBus } from '../../src/pubsub/select';
import { SqliteStorage } from '../../src/storage';

const dirs: string[] = [];
function folder(conf?: string): string {
  const d = mkdtempSync(path.join(tmpdir(), 'cdb-bus-conf-'));
  dirs.push(d);
  if (conf !== undefined) writeFileSync(path.join(d, 'connectordb.conf'), conf);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const PG = '"sql": {"type": "postgres", "uri": "postgres://cdb@127.0.0.1:55432/cluster_bus"}';
const NATS = '"nats": {"hostname": "nats.local", "port": 4223, "username": "connectordb", "password": "y", "enabled": true}';

describe('the nats keys', () => {
  it('on PostgreSQL they configure the bus and are not reported as obsolete (the original\'s "enabled" is)', () => {
    const { config, warnings } = readConfig(folder(`{${PG}, ${NATS}}`), { env: {} });
    expect(config.nats).toEqual({ hostname: 'nats.local', port: 4223, username: 'connectordb', password: 'y' });
    expect(warnings).toEqual(['Ignoring options of the original ConnectorDB that this server does not use: nats.enabled']);
    expect(busKind(config, { kind: 'postgres' })).toBe('nats');
  });

  it('come from CONNECTORDB_NATS_* like every key, also when sql.type comes from the environment', () => {
    const env = { CONNECTORDB_SQL_TYPE: 'postgres', CONNECTORDB_SQL_URI: 'postgres://x@h/db', CONNECTORDB_NATS_HOSTNAME: 'n1', CONNECTORDB_NATS_PORT: '4333', CONNECTORDB_NATS_PASSWORD: 'pw' };
    const { config, warnings } = readConfig(folder(`{${NATS.replace(', "enabled": true', '')}}`), { env });
    expect(config.nats).toEqual({ hostname: 'n1', port: 4333, username: 'connectordb', password: 'pw' });
    expect(warnings).toEqual([]);
    expect(() => readConfig(folder(), { env: { ...env, CONNECTORDB_NATS_PORT: 'x' } })).toThrow(/CONNECTORDB_NATS_PORT must be a number/);
    expect(() => readConfig(folder(), { env: { ...env, CONNECTORDB_NATS_PORT: '0' } })).toThrow(/nats.port must be an integer from 1 to 65535/);
  });

  it('without a NATS hostname a PostgreSQL configuration carries live data over LISTEN/NOTIFY', () => {
    const { config } = readConfig(folder(`{${PG}}`), { env: {} });
    expect(busKind(config, { kind: 'postgres' })).toBe('pgnotify');
  });

  it('on SQLite they stay accepted and ignored with the obsolete-options warning, and the bus stays in-process', async () => {
    const { config, warnings } = readConfig(folder(`{${NATS}}`), { env: {} });
    expect(warnings).toEqual(['Ignoring options of the original ConnectorDB that this server does not use: nats']);
    expect(config.nats.hostname).toBe('');
    expect(busKind(config, { kind: 'sqlite' })).toBe('local');
    const w = readConfig(folder(), { env: { CONNECTORDB_NATS_HOSTNAME: 'n1' } }).warnings;
    expect(w).toEqual([expect.stringMatching(/^nats.hostname is set but ignored/)]);
    const d = folder();
    const storage = SqliteStorage.open(path.join(d, 'db.sqlite3'));
    const c = defaultConfig(d);
    c.nats.hostname = '127.0.0.1';
    const bus = await openBus(c, storage);
    expect(bus).toBeInstanceOf(LocalPubSub);
    await storage.close();
  });
});
