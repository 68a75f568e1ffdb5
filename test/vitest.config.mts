import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

const E2E = ['test/e2e/**/*.test.ts'];
// The live scenarios: test/live/emulator.test.ts in every run, test/live/live.test.ts skipped unless ECS_SHARE_LIVE=1.
const LIVE = ['test/live/**/*.test.ts'];

export default defineConfig({
  test: {
    root: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'),
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // secret-scan: after the run, scans what the e2e files logged for every credential they used (docs/testing.md
    // "No secret in the logs"); before count-reporter so the "N passed, N failed" line stays the last one.
    reporters: ['default', './test/secret-scan.ts', './test/count-reporter.ts'],
    // The product logs one JSON line per step to stdout; tests that check logs turn them back on.
    env: { SHARE_LOG_LEVEL: 'off' },
    projects: [
      // The e2e files also capture every log line (at every level) and every credential, for the secret scan.
      { extends: true, test: { name: 'e2e', include: E2E, setupFiles: ['./test/setup/log-capture.ts'] } },
      // Live runs capture their logs like e2e files: the secret scan covers them too.
      { extends: true, test: { name: 'live', include: LIVE, setupFiles: ['./test/setup/log-capture.ts'] } },
      {
        extends: true,
        test: { name: 'other', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, ...E2E, ...LIVE] },
      },
    ],
  },
});
