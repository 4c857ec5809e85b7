import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30000,
    hookTimeout: 60000,
    // Each file gets its own temp database; two workers match the 2-core CI machine.
    pool: 'forks',
    maxWorkers: 2,
    // `npm test` (scripts/test.mjs) adds a JSON report per engine run for its summary line.
  },
});
