import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Multi-host and Docker scenarios run on their own (vitest.cluster.config.ts, vitest.docker.config.ts).
    exclude: ['test/cluster/**', 'test/docker/**', 'node_modules/**'],
    // Integration tests spawn the built CLI; build once before any test file runs.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
})
