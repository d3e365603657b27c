import { defineConfig } from 'vitest/config';

// End-to-end: a real berth (bin/berth) and Debian's Chromium through
// playwright-core; one file at a time, the steps of a story in order.
export default defineConfig({
  test: {
    environment: 'node',
    include: ['e2e/**/*.e2e.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    sequence: { concurrent: false },
  },
});
