import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { knownFolderEnv, newFolderEnv } from './engine';

export const ROOT = path.join(__dirname, '..');
export const MAIN = path.join(ROOT, 'dist', 'main.js');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * `node dist/main.js create` into a fresh temp folder; returns the folder. On the PostgreSQL run
 * the folder's database is a fresh schema (test/engine.ts), which runServer points the server at.
 */
export function createDb(user = 'admin:secret'): string {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'cdb-proc-')), 'db');
  execFileSync(process.execPath, [MAIN, 'create', dir, '--user', user], { stdio: 'pipe', env: { ...process.env, ...newFolderEnv(dir) } });
  return dir;
}

export interface ServerProcess {
  proc: ChildProcess;
  url: string;
  output: () => string;
}

/** Starts `node dist/main.js run DIR` on a free port and resolves once it answers. */
export async function runServer(dir: string, extraEnv: Record<string, string> = {}, extraArgs: string[] = []): Promise<ServerProcess> {
  const port = await freePort();
  const proc = spawn(process.execPath, [MAIN, 'run', dir, '--host', '127.0.0.1', '--port', String(port), ...extraArgs], {
    env: { ...process.env, ...knownFolderEnv(dir), ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`server exited early: ${out}`);
    try {
      const r = await fetch(`${url}/api/v1/meta/version`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`server did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { proc, url, output: () => out };
}

export function exited(p: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve({ code: p.exitCode, signal: p.signalCode });
  return new Promise((resolve) => p.once('exit', (code, signal) => resolve({ code, signal })));
}
