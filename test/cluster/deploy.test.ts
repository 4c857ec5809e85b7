import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { envName, optionLeaves } from '../../src/config/load';
import { defaultConfig } from '../../src/config';
import { ROOT } from '../ops/cli';
import { NGINX, nginxConfig, nginxPrefix, nginxTest } from './cluster';

/**
 * No Docker engine here: docker/compose.cluster.yaml and its nginx and NATS configs are checked
 * as far as they can be without one (parsed, run through `nginx -t` and `nats-server -t`, every
 * variable a real option). The same commands and variables run for real, against PostgreSQL and
 * NATS, in processes.test.ts.
 */
const compose = parse(readFileSync(path.join(ROOT, 'docker', 'compose.cluster.yaml'), 'utf8'), { merge: true }) as {
  services: Record<string, { image?: string; build?: { context: string; dockerfile: string }; command?: string[]; environment?: Record<string, string>; volumes?: string[]; depends_on?: Record<string, { condition: string }> | string[] }>;
  volumes: Record<string, unknown>;
};
const S = compose.services;
const NATS_BIN = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((p) => existsSync(p));

describe('docker/compose.cluster.yaml', () => {
  it('runs PostgreSQL 15 or newer, NATS 2.9 or newer, init, two replicas and nginx', () => {
    expect(Object.keys(S).sort()).toEqual(['cdb1', 'cdb2', 'init', 'nats', 'nginx', 'postgres']);
    expect(Number(/^postgres:(\d+)/.exec(S.postgres.image!)![1])).toBeGreaterThanOrEqual(15);
    const [maj, min] = /^nats:(\d+)\.(\d+)/.exec(S.nats.image!)!.slice(1).map(Number);
    expect(maj * 100 + min).toBeGreaterThanOrEqual(209);
    expect(S.nats.volumes).toContain('./nats.cluster.conf:/etc/nats/nats.conf:ro');
    expect(S.nginx.volumes).toContain('./nginx.cluster.conf:/etc/nginx/conf.d/default.conf:ro');
  });

  it('builds the replicas and init from the repository Dockerfile; replicas run copies of the config init wrote', () => {
    for (const n of ['init', 'cdb1', 'cdb2']) {
      expect(S[n].build).toEqual({ context: '..', dockerfile: 'docker/Dockerfile' });
      expect(S[n].environment!.CONNECTORDB_SQL_TYPE).toBe('postgres');
      expect(S[n].environment!.CONNECTORDB_SQL_URI).toMatch(/^postgres:\/\/cdb:\$\{CDB_PG_PASSWORD[^}]*\}@postgres:5432\/connectordb$/);
      expect(S[n].environment!.CONNECTORDB_NATS_HOSTNAME).toBe('nats');
    }
    expect(S.init.volumes).toEqual(['cdb-config:/data']);
    expect(S.init.command!.join(' ')).toContain('node dist/main.js create /data --user');
    for (const n of ['cdb1', 'cdb2']) {
      expect(S[n].volumes).toEqual(['cdb-config:/cluster-config:ro']);
      expect(S[n].command).toEqual(['sh', '-c', 'cp /cluster-config/connectordb.conf /data/connectordb.conf && exec node dist/main.js run /data --host 0.0.0.0']);
      expect((S[n].depends_on as Record<string, { condition: string }>).init.condition).toBe('service_completed_successfully');
    }
    expect(Object.keys(compose.volumes).sort()).toEqual(['cdb-config', 'pg-data']);
  });

  it('sets only CONNECTORDB_* variables that are options of the server', () => {
    const known = new Set(optionLeaves(defaultConfig()).map((l) => envName(l.path)));
    const used = Object.keys(S.cdb1.environment!).filter((k) => k.startsWith('CONNECTORDB_'));
    expect(used.length).toBeGreaterThan(5);
    expect(used.filter((k) => !known.has(k))).toEqual([]);
  });
});

describe('docker/nats.cluster.conf', () => {
  it.skipIf(!NATS_BIN)('is a valid nats-server config with max_payload above the 10 MiB insert limit', () => {
    const file = path.join(ROOT, 'docker', 'nats.cluster.conf');
    const r = spawnSync(NATS_BIN!, ['-c', file, '-t'], { encoding: 'utf8', env: { ...process.env, NATS_PASSWORD: 'x' } });
    expect(r.status, r.stderr).toBe(0);
    const mb = Number(/max_payload:\s*(\d+)MB/.exec(readFileSync(file, 'utf8'))![1]);
    expect(mb * 1024 * 1024).toBeGreaterThan(defaultConfig().insert_limit_bytes);
  });
});

describe('docker/nginx.cluster.conf', () => {
  const site = readFileSync(path.join(ROOT, 'docker', 'nginx.cluster.conf'), 'utf8');

  it('balances both replicas round robin, passes websocket upgrades with a long read timeout, and caps bodies at the insert limit', () => {
    const upstream = /upstream connectordb \{([^}]*)\}/.exec(site)![1];
    expect(upstream).toMatch(/server cdb1:3124/);
    expect(upstream).toMatch(/server cdb2:3124/);
    // No ip_hash/hash/least_conn: round robin, nothing sticky but the websocket itself.
    expect(upstream).not.toMatch(/ip_hash|hash |least_conn|sticky/);
    expect(site).toMatch(/proxy_http_version 1\.1;/);
    expect(site).toMatch(/proxy_set_header Upgrade \$http_upgrade;/);
    expect(site).toMatch(/proxy_set_header Connection \$connection_upgrade;/);
    const ws = /location = \/api\/v1\/websocket \{([^}]*)\}/.exec(site)![1];
    expect(Number(/proxy_read_timeout (\d+)s/.exec(ws)![1])).toBeGreaterThan(defaultConfig().websocket.ping_period);
    // No proxy_set_header inside a location: it would drop the server-level ones there.
    expect(ws).not.toMatch(/proxy_set_header/);
    // An insert is never replayed on the other replica (it may have committed on the first).
    const at = site.indexOf('location ~ ^/api/v1/crud/[^/]+/[^/]+/[^/]+/data$ {');
    expect(at).toBeGreaterThan(0);
    const data = site.slice(at, site.indexOf('}', at));
    expect(data).toMatch(/proxy_next_upstream off;/);
    expect(new RegExp('^/api/v1/crud/[^/]+/[^/]+/[^/]+/data$').test('/api/v1/crud/alice/phone/temp/data')).toBe(true);
    const mb = Number(/client_max_body_size (\d+)m;/.exec(site)![1]);
    expect(mb * 1024 * 1024).toBe(defaultConfig().insert_limit_bytes);
  });

  it.skipIf(!NGINX)('passes nginx -t with the upstream names replaced by loopback ports (unprivileged)', () => {
    const prefix = nginxPrefix();
    const [ok, out] = nginxTest(prefix, nginxConfig(prefix, 18080, [13124, 13125]));
    expect(ok, out).toBe(true);
    expect(out).toMatch(/test is successful/);
  });
});
