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
    // Under CI a JSON report lets .ci/run print the plain "N passed, N failed" summary line.
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.tmp/vitest-report.json' }]] : ['default'],
  },
});
