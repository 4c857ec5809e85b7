import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { knownFolderEnv, newFolderEnv } from '../engine';

/** Real processes of the built server: `node dist/main.js …`. */
export const ROOT = path.join(__dirname, '..', '..');
export const MAIN = path.join(ROOT, 'dist', 'main.js');
export const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CONNECTORDB_')));

/** Commands that create the database folder they name. */
const CREATING = new Set(['create', 'import', 'start']);
/** Commands whose folder is their second argument (`user add DIR …`). */
const NESTED = new Set(['user', 'device']);

/**
 * On the PostgreSQL run (test/engine.ts), the CONNECTORDB_SQL_* variables of the folder a command
 * names: a fresh schema for a folder it creates, the same one for later commands on that folder;
 * a folder made any other way stays on SQLite. {} on the SQLite run.
 */
export function folderEnv(args: string[]): Record<string, string> {
  const dir = NESTED.has(args[0]) ? args[2] : args[1];
  if (!dir || dir.startsWith('-')) return {};
  return CREATING.has(args[0]) ? newFolderEnv(dir) : knownFolderEnv(dir);
}

export function cli(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { input, encoding: 'utf8', env: { ...ENV, ...folderEnv(args) }, timeout: 60000 });
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
  const proc = spawn(process.execPath, [MAIN, ...args], { env: { ...ENV, ...folderEnv(args), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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
