import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import path from 'node:path';

/** Real processes of the built server: `node dist/main.js …`. */
export const ROOT = path.join(__dirname, '..', '..');
export const MAIN = path.join(ROOT, 'dist', 'main.js');
export const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CONNECTORDB_')));

export function cli(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { input, encoding: 'utf8', env: ENV, timeout: 60000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface Server {
  proc: ChildProcess;
  url: string;
  out: () => string;
  exit: Promise<number | null>;
}

/** Starts `run`/`start` and waits for the "is serving … at URL" line. */
export function startServer(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Server> {
  const proc = spawn(process.execPath, [MAIN, ...args], { env: { ...ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exit = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    const onData = (b: Buffer) => {
      out += String(b);
      const m = /is serving .* at (http:\/\/[^"\s]+)/.exec(out);
      if (m) resolve({ proc, url: m[1].replace('localhost', '127.0.0.1'), out: () => out, exit });
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    void exit.then((code) => reject(new Error(`server exited with ${code}:\n${out}`)));
    setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 20000);
  });
}
