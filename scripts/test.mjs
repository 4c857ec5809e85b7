#!/usr/bin/env node
// `npm test`: the whole suite on SQLite, then, when CDB_TEST_PG names a PostgreSQL database, a
// second time on the PostgreSQL engine (CDB_TEST_ENGINE=postgres, read by test/engine.ts), and one
// summary line counting both runs from vitest's JSON reports. Arguments go to both runs
// (`npm test -- test/api`). CDB_TEST_ENGINE=sqlite|postgres set by hand runs that engine only.
// The exit status is non-zero when either run fails.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
const args = process.argv.slice(2);

const only = process.env.CDB_TEST_ENGINE;
if (only && only !== 'sqlite' && only !== 'postgres') {
  console.error(`CDB_TEST_ENGINE must be sqlite or postgres, not '${only}'`);
  process.exit(2);
}
const engines = only ? [only] : process.env.CDB_TEST_PG ? ['sqlite', 'postgres'] : ['sqlite'];
if (engines.includes('postgres') && !process.env.CDB_TEST_PG) {
  console.error('CDB_TEST_ENGINE=postgres needs CDB_TEST_PG=postgres://user@host:port/database');
  process.exit(2);
}

mkdirSync(path.join(root, '.tmp'), { recursive: true });
const results = [];
let status = 0;
for (const [i, engine] of engines.entries()) {
  const report = path.join(root, '.tmp', `vitest-report-${engine}.json`);
  rmSync(report, { force: true });
  if (engines.length > 1) console.log(`\n=== test suite on ${engine} ===\n`);
  const started = Date.now();
  const r = spawnSync(process.execPath, [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...args], {
    cwd: root,
    stdio: 'inherit',
    // The second run reuses the first run's build of dist/ (test/global-setup.ts).
    env: { ...process.env, CDB_TEST_ENGINE: engine, ...(i > 0 ? { CDB_TEST_BUILT: '1' } : {}) },
  });
  const code = r.status ?? 1;
  if (code !== 0) status = code;
  const seconds = Math.round((Date.now() - started) / 1000);
  if (!existsSync(report)) {
    results.push({ engine, seconds, missing: true });
    status ||= 1;
    continue;
  }
  const j = JSON.parse(readFileSync(report, 'utf8'));
  results.push({
    engine,
    seconds,
    passed: j.numPassedTests,
    failed: j.numFailedTests,
    skipped: j.numPendingTests + (j.numTodoTests || 0),
    // A file that fails to load counts no failed test: say so, the exit status already does.
    brokenFiles: j.testResults.filter((f) => f.status === 'failed' && f.assertionResults.every((a) => a.status !== 'failed')).length,
    // Unhandled errors fail the run without failing a test: the exit status tells them apart.
    exit: code,
  });
}

const sum = (k) => results.reduce((s, r) => s + (r[k] ?? 0), 0);
// A file whose setup failed reports its tests as skipped: the line says so rather than hide it.
const broken = sum('brokenFiles');
const erred = results.filter((r) => !r.missing && r.exit !== 0 && !r.failed && !r.brokenFiles).map((r) => r.engine);
const errNote = erred.length ? `, errors outside tests on ${erred.join(' and ')} (see "Unhandled Errors" above)` : '';
console.log(`${sum('passed')} passed, ${sum('failed')} failed, ${sum('skipped')} skipped${broken ? `, ${broken} files failed to run` : ''}${errNote}`);
console.log(
  results
    .map((r) =>
      r.missing
        ? `${r.engine}: no report (vitest exited with ${status}) in ${r.seconds}s`
        : `${r.engine}: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped${r.brokenFiles ? `, ${r.brokenFiles} files failed to run` : ''} in ${r.seconds}s`,
    )
    .join('; '),
);
process.exit(status);
