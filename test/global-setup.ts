import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * Builds dist/ once before the suite: the tests that run the real server as a child process
 * (kill -9 durability, graceful shutdown, CLI) need the compiled entry point.
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
}
