// `npm run bench`: every benchmark in turn, each in its own process so one's heap does not skew
// the next. Files that are missing are skipped.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const all = ['ingest', 'pipescript', 'query', 'server-queries', 'downsample', 'metrics', 'websocket', 'stall', 'codec', 'storage', 'web', 'pg'];
let failed = 0;
for (const name of only.length ? only : all) {
  const file = path.join(here, `${name}.mjs`);
  if (!existsSync(file)) continue;
  console.log(`\n== ${name}`);
  const r = spawnSync(process.execPath, ['--max-old-space-size=4096', file], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
