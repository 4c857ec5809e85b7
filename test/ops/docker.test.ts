import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
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
  it('is multi-stage on a Debian-based Node 20 image', () => {
    const froms = instructions.filter((l) => l.startsWith('FROM '));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) expect(f).toMatch(/^FROM node:20-(bookworm|bullseye)(-slim)? ?/);
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

  it('has a HEALTHCHECK against the API that passes on a real server', async () => {
    const hc = instructions.find((l) => l.startsWith('HEALTHCHECK '))!;
    expect(hc).toContain('/api/v1/meta/ready');
    const cmd = JSON.parse(hc.slice(hc.indexOf('['))) as string[];
    expect(cmd[0]).toBe('node');
    const t = await makeApp();
    try {
      const addr = t.app.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      const args = cmd.slice(1).map((a) => a.replace('127.0.0.1:3124', `127.0.0.1:${port}`));
      await promisify(execFile)(process.execPath, args, { timeout: 10000 });
    } finally {
      await t.close();
    }
    // Against nothing, it fails.
    const args = cmd.slice(1).map((a) => a.replace('127.0.0.1:3124', '127.0.0.1:1'));
    await expect(promisify(execFile)(process.execPath, args, { timeout: 10000 })).rejects.toThrow();
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
