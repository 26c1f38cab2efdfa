import { defineConfig } from 'vitest/config'

/**
 * Cluster scenarios: real node processes in Linux network namespaces (root required; skipped with
 * a message elsewhere, never skipped under CI=true). Files run one at a time: each owns the
 * machine's two cores while it runs a five-node cluster.
 */
export default defineConfig({
  test: {
    include: ['test/cluster/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
})
