import { defineConfig } from 'vitest/config'

/**
 * Docker scenarios: the image and the compose cluster on a Docker engine the suite starts itself
 * (root required; skipped with a message elsewhere, never skipped under CI=true). Run on their own:
 * a build and a five-container cluster take the machine's two cores.
 */
export default defineConfig({
  test: {
    include: ['test/docker/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: 'forks',
  },
})
