import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'),
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', './test/count-reporter.ts'],
    // The product logs one JSON line per step to stdout; tests that check logs turn them back on.
    env: { SHARE_LOG_LEVEL: 'off' },
  },
});
