import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeApp } from '../helpers';

/**
 * No Docker engine on our machines: check that the Dockerfile runs the README's fresh-machine
 * commands (which the other tests run for real: the build in process.test.ts, `start` on an empty
 * folder there too) and that its HEALTHCHECK works against a real server.
 */
const ROOT = path.join(__dirname, '..', '..');
const dockerfile = readFileSync(path.join(ROOT, 'docker', 'Dockerfile'), 'utf8');
const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

const CLEAN_ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CONNECTORDB_')));

/** Every file under dir, relative, with '/' separators. */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = path.join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(path.relative(dir, p).split(path.sep).join('/'));
    }
  };
  walk(dir);
  return out;
}

/** Dockerfile instructions with continuation lines joined. */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
const runs = instructions.filter((l) => l.startsWith('RUN ')).map((l) => l.slice(4).replace(/\s+/g, ' '));
const jsonArg = (kw: string): string[] => {
  const l = instructions.find((i) => i.startsWith(`${kw} `))!;
  return JSON.parse(l.slice(l.indexOf('['))) as string[];
};

describe('docker/Dockerfile', () => {
  it('is multi-stage on a Debian-based image of the current Node LTS line (24), while the package still declares >=20', () => {
    const froms = instructions.filter((l) => l.startsWith('FROM '));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    // Node 20 is past end of life: the image moved to an LTS line; both stages share it (one ABI).
    for (const f of froms) expect(f).toMatch(/^FROM node:24-(bookworm|trixie)(-slim)? ?/);
    expect(new Set(froms.map((f) => f.split(' ')[1])).size).toBe(1);
    const full = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    expect(full.engines.node).toBe('>=20');
    // And this suite itself runs on whatever CI has (Node 20 today).
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(20);
    expect(instructions).toContain('COPY --from=build /app/dist ./dist');
    expect(instructions).toContain('COPY --from=build /app/migrations ./migrations');
  });

  it("follows the README's fresh-machine commands", () => {
    expect(readme).toContain('npm ci && npm run build');
    expect(runs).toContain('npm ci');
    expect(runs).toContain('npm run build');
    expect(pkg.scripts.build).toBe('tsc -p tsconfig.build.json');
    const cmd = jsonArg('CMD');
    expect(cmd).toEqual(['node', 'dist/main.js', 'start', '/data', '--host', '0.0.0.0']);
    expect(readme).toContain('node dist/main.js start');
  });

  it('runs as a non-root user under tini with a /data volume on port 3124', () => {
    expect(jsonArg('ENTRYPOINT')).toEqual(['/usr/bin/tini', '--']);
    expect(runs.some((r) => r.includes('apt-get install') && r.includes('tini'))).toBe(true);
    const user = instructions.filter((l) => l.startsWith('USER '));
    expect(user.at(-1)).toBe('USER node');
    expect(instructions.indexOf(user.at(-1)!)).toBeLessThan(instructions.findIndex((l) => l.startsWith('CMD ')));
    expect(instructions).toContain('VOLUME /data');
    expect(instructions).toContain('EXPOSE 3124');
  });

  it('the HEALTHCHECK follows the configured port (CONNECTORDB_PORT or the config file) against a real server', async () => {
    // Before: the check hard-coded 127.0.0.1:3124, so CONNECTORDB_PORT=3331 made the container "unhealthy".
    const hc = instructions.find((l) => l.startsWith('HEALTHCHECK '))!;
    const cmd = JSON.parse(hc.slice(hc.indexOf('['))) as string[];
    expect(cmd).toEqual(['node', 'dist/ops/healthcheck.js', '/data']);
    expect(hc).not.toContain('3124');
    const run = (dir: string, env: Record<string, string>) =>
      promisify(execFile)(process.execPath, [path.join(ROOT, cmd[1]), dir], { timeout: 15000, env: { ...CLEAN_ENV, ...env } });
    const t = await makeApp();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'cdb-hc-'));
    try {
      const addr = t.app.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      // The port from the environment, as with `docker run -e CONNECTORDB_PORT=…`.
      await run(dataDir, { CONNECTORDB_PORT: String(port) });
      // The port from /data/connectordb.conf.
      writeFileSync(path.join(dataDir, 'connectordb.conf'), JSON.stringify({ port }));
      await run(dataDir, {});
      // The wrong port: unhealthy.
      await expect(run(dataDir, { CONNECTORDB_PORT: '1' })).rejects.toThrow();
    } finally {
      await t.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('native modules build without the internet: npm_config_nodedir points at the image\'s own Node headers', () => {
    const build = instructions.slice(0, instructions.findIndex((l, i) => i > 0 && l.startsWith('FROM ')));
    const npmCi = build.findIndex((l) => l === 'RUN npm ci');
    const nodedir = build.findIndex((l) => /^ENV npm_config_nodedir=\/usr\/local$/.test(l));
    expect(nodedir).toBeGreaterThanOrEqual(0);
    expect(nodedir).toBeLessThan(npmCi);
    expect(runs.some((r) => r.includes('apt-get install') && r.includes('g++'))).toBe(true);
  });

  it('the final node_modules has no compile leftovers, and the native modules still load after pruning', () => {
    const build = instructions.slice(0, instructions.findIndex((l, i) => i > 0 && l.startsWith('FROM ')));
    const prune = build.findIndex((l) => l === 'RUN sh /tmp/prune-native.sh node_modules');
    expect(prune).toBeGreaterThan(build.findIndex((l) => l === 'RUN npm prune --omit=dev'));
    // Run the script on a copy of the two native packages and what they load.
    const nm = path.join(mkdtempSync(path.join(tmpdir(), 'cdb-prune-')), 'node_modules');
    for (const p of ['better-sqlite3', 'bindings', 'file-uri-to-path', 'argon2', 'node-gyp-build', '@phc/format']) {
      cpSync(path.join(ROOT, 'node_modules', p), path.join(nm, p), { recursive: true });
    }
    const before = listFiles(nm);
    expect(before.some((f) => f.endsWith('.o'))).toBe(true);
    execFileSync('sh', [path.join(ROOT, 'docker', 'prune-native.sh'), nm]);
    const after = listFiles(nm);
    for (const f of after) expect(f, f).not.toMatch(/\.(o|a|d|mk)$|\/Makefile$|config\.gypi$|\/obj\.target\/|\/\.deps\//);
    expect(after.some((f) => f.includes('better-sqlite3/deps/'))).toBe(false);
    expect(after).toContain('better-sqlite3/build/Release/better_sqlite3.node');
    const probe =
      "const D=require('better-sqlite3');const db=new D(':memory:');const v=db.prepare('select 41+1 as n').get().n;" +
      "require('argon2').hash('x').then((h)=>{process.stdout.write(v+' '+h.slice(0,9))})";
    const out = execFileSync(process.execPath, ['-e', probe], { cwd: path.dirname(nm), encoding: 'utf8' });
    expect(out).toBe('42 $argon2id');
    rmSync(path.dirname(nm), { recursive: true, force: true });
  });

  it('stop timeouts are aligned: the image shuts down within docker stop\'s 10 s, compose waits longer than its shutdown', () => {
    const env = instructions.find((l) => l.startsWith('ENV CONNECTORDB_SHUTDOWN_TIMEOUT='))!;
    expect(Number(env.split('=')[1])).toBeLessThan(10);
    expect(instructions).toContain('STOPSIGNAL SIGTERM');
    const compose = readFileSync(path.join(ROOT, 'docker', 'compose.yaml'), 'utf8');
    const grace = Number(/stop_grace_period: (\d+)s/.exec(compose)![1]);
    const shutdown = Number(/CONNECTORDB_SHUTDOWN_TIMEOUT: "(\d+)"/.exec(compose)![1]);
    expect(grace).toBeGreaterThan(shutdown);
    expect(readme).toContain('--stop-timeout 40');
  });

  it('a root-owned bind-mounted /data fails the first start with the chown that fixes it (documented)', () => {
    expect(readme).toContain('sudo chown -R 1000:1000');
    if (typeof process.getuid !== 'function' || process.getuid() !== 0) return; // needs root to act as uid 1000
    const data = mkdtempSync(path.join(tmpdir(), 'cdb-rootdata-'));
    chmodSync(data, 0o755); // root-owned, not writable by uid 1000: like a host folder docker created
    const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'main.js'), 'start', data], { uid: 1000, gid: 1000, encoding: 'utf8', env: CLEAN_ENV, timeout: 30000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`Permission denied writing ${path.join(data, 'connectordb.conf')} (EACCES)`);
    expect(r.stderr).toContain('sudo chown -R 1000:1000');
    expect(r.stderr).toContain('docker run --user');
    rmSync(data, { recursive: true, force: true });
  });

  it('compose.yaml names its project and publishes the port on 127.0.0.1 only by default', () => {
    const compose = readFileSync(path.join(ROOT, 'docker', 'compose.yaml'), 'utf8');
    expect(compose).toMatch(/^name: connectordb$/m);
    const ports = compose.match(/^\s+- "([^"]+)"$/gm)!.map((l) => l.trim());
    expect(ports).toEqual(['- "127.0.0.1:3124:3124"']);
  });

  it('compose.yaml mounts /data, publishes 3124 and gives shutdown time; .dockerignore keeps builds clean', () => {
    const compose = readFileSync(path.join(ROOT, 'docker', 'compose.yaml'), 'utf8');
    expect(compose).toMatch(/dockerfile: docker\/Dockerfile/);
    expect(compose).toMatch(/- cdb-data:\/data/);
    expect(compose).toMatch(/"3124:3124"/);
    expect(compose).toMatch(/stop_grace_period/);
    const ignore = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const p of ['node_modules', 'dist', '.git']) expect(ignore).toContain(p);
  });
});
