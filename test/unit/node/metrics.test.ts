import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createMetrics } from '../../../src/node/metrics.js'

const README = readFileSync(resolve(import.meta.dirname, '../../../README.md'), 'utf8')

/** The metric names README's metrics table lists (first column, in backticks, labels dropped). */
function documentedMetrics(): Set<string> {
  const section = /### Metrics \(`GET \/metrics`\)\n([\s\S]*?)\n(?:#|$)/.exec(README)?.[1] ?? ''
  return new Set([...section.matchAll(/^\| `(certchain_[a-z_]+)/gm)].map((m) => m[1]!))
}

describe('metrics', () => {
  it('process metrics carry the certchain_ prefix once (certchain_process_*, not certchain_process_process_*)', async () => {
    const text = await createMetrics().registry.metrics()
    expect(text).toMatch(/^certchain_process_cpu_user_seconds_total /m)
    expect(text).toMatch(/^certchain_nodejs_eventloop_lag_seconds /m)
    expect(text).not.toContain('certchain_process_process_')
    expect(text).not.toMatch(/^process_/m)
  })

  it('README documents every certchain_* metric the node declares, and no other', async () => {
    const declared = (await createMetrics({ defaultMetrics: false }).registry.getMetricsAsJSON()).map((m) => m.name).sort()
    expect(declared.length).toBeGreaterThan(10)
    expect([...documentedMetrics()].sort()).toEqual(declared)
  })
})
