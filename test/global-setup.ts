import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** Newest modification time under `p` (file or folder), in ms. */
function newest(p: string): number {
  const s = statSync(p);
  if (!s.isDirectory()) return s.mtimeMs;
  return readdirSync(p).reduce((m, f) => Math.max(m, newest(path.join(p, f))), s.mtimeMs);
}

/**
 * Builds dist/ once before the suite: the tests that run the real server as a child process
 * (kill -9 durability, graceful shutdown, CLI) need the compiled entry point, and the web tests
 * need the built app (dist/public), rebuilt only when src/web changed since the last build.
 */
export default function setup(): void {
  const root = path.join(__dirname, '..');
  try {
    execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
      cwd: root,
      stdio: 'inherit',
    });
  } catch {
    // tsc still emits; type errors fail `npm run build` and `npm run lint`, which CI runs first.
    console.warn('global-setup: the TypeScript build reported errors; process tests use what was emitted');
  }
  const index = path.join(root, 'dist', 'public', 'index.html');
  const sources = Math.max(newest(path.join(root, 'src', 'web')), newest(path.join(root, 'vite.config.mts')), newest(path.join(root, 'package-lock.json')));
  if (!existsSync(index) || statSync(index).mtimeMs < sources) {
    execFileSync(process.execPath, [path.join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build'], { cwd: root, stdio: 'inherit' });
  }
}
