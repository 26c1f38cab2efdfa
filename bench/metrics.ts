import type { HttpClient } from './http.js'
import { round } from './load.js'

/** One scrape of the validator's `/metrics`: each sample line's name with labels, and its value. */
export type Scrape = ReadonlyMap<string, number>

export async function scrape(client: HttpClient): Promise<Scrape> {
  const res = await client.get('/metrics')
  if (res.status !== 200) throw new Error(`GET /metrics: HTTP ${res.status}`)
  const samples = new Map<string, number>()
  for (const line of res.body.toString().split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    samples.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return samples
}

/**
 * The validator's own account of a phase, from two scrapes of its metrics: how long the route took
 * inside the node (Fastify's timing, excluding time queued before the request was parsed), how
 * late its event loop ran, and how long it spent in GC. Comparing these with the latencies the
 * bench measured tells the node's share of a tail from the machine's (scheduling, the client).
 */
export interface ValidatorView {
  /** Upper bounds of the histogram buckets holding the route's median and 99th percentile. */
  readonly routeP50MsAtMost: number | null
  readonly routeP99MsAtMost: number | null
  /** Event-loop delay over the phase (prom-client samples it at 10 ms resolution and resets on scrape). */
  readonly eventLoopLagP99Ms: number | null
  readonly eventLoopLagMaxMs: number | null
  readonly gcSeconds: number
  readonly blocks: number
  readonly blockCommitMsAvg: number | null
}

const ROUTE_HISTOGRAM = 'certchain_rpc_request_duration_seconds'
// prom-client's default metrics (nodejs_*, process_*) as a node exports them.
const PREFIX = 'certchain_'

/** Sums the samples whose name (before any labels) is `name` and whose labels include every `labels` entry. */
function sum(scrape: Scrape, name: string, labels: readonly string[] = []): number {
  let total = 0
  for (const [key, value] of scrape) {
    const brace = key.indexOf('{')
    if ((brace < 0 ? key : key.slice(0, brace)) === name && labels.every((l) => key.includes(l))) total += value
  }
  return total
}

function routeQuantileMs(before: Scrape, after: Scrape, route: string, q: number): number | null {
  const routeLabel = `route="${route}"`
  const bounds = new Set<string>()
  for (const key of after.keys()) {
    const le = /le="([^"]+)"/.exec(key)?.[1]
    if (key.startsWith(`${ROUTE_HISTOGRAM}_bucket{`) && key.includes(routeLabel) && le !== undefined) bounds.add(le)
  }
  const count = (scrape: Scrape, le: string): number => sum(scrape, `${ROUTE_HISTOGRAM}_bucket`, [routeLabel, `le="${le}"`])
  const cumulative = [...bounds]
    .map((le) => ({ le: Number(le), n: count(after, le) - count(before, le) }))
    .sort((a, b) => a.le - b.le)
  const total = cumulative.at(-1)?.n ?? 0
  if (total === 0) return null
  const bucket = cumulative.find((c) => c.n >= q * total)!
  return Number.isFinite(bucket.le) ? round(bucket.le * 1000) : Infinity
}

export function validatorView(before: Scrape, after: Scrape, route: string): ValidatorView {
  const ms = (key: string): number | null => {
    const v = after.get(PREFIX + key)
    return v === undefined ? null : round(v * 1000)
  }
  const blocks = sum(after, 'certchain_height') - sum(before, 'certchain_height')
  const timed = sum(after, 'certchain_block_commit_seconds_count') - sum(before, 'certchain_block_commit_seconds_count')
  const commitSeconds = sum(after, 'certchain_block_commit_seconds_sum') - sum(before, 'certchain_block_commit_seconds_sum')
  return {
    routeP50MsAtMost: routeQuantileMs(before, after, route, 0.5),
    routeP99MsAtMost: routeQuantileMs(before, after, route, 0.99),
    eventLoopLagP99Ms: ms('nodejs_eventloop_lag_p99_seconds'),
    eventLoopLagMaxMs: ms('nodejs_eventloop_lag_max_seconds'),
    gcSeconds: round(sum(after, `${PREFIX}nodejs_gc_duration_seconds_sum`) - sum(before, `${PREFIX}nodejs_gc_duration_seconds_sum`)),
    blocks,
    // Null when the node does not time its blocks (no observation of certchain_block_commit_seconds).
    blockCommitMsAvg: timed === 0 ? null : round((commitSeconds * 1000) / timed),
  }
}
