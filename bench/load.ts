import { performance } from 'node:perf_hooks'

/** One request of a load run: resolves true on the expected answer. */
export type Call = (index: number) => Promise<boolean>

export interface LoadRun {
  readonly calls: number
  readonly failures: number
  /** Wall time from the first call to the last answer. */
  readonly seconds: number
  readonly perSec: number
  readonly latencyMs: LatencySummary
  /** The first failure, to explain a non-zero `failures`. */
  readonly firstFailure?: string
}

export interface LatencySummary {
  readonly p50: number
  readonly p99: number
  readonly max: number
}

/** Nearest-rank percentiles (no interpolation: every reported value is a measured one). */
export function summarize(samples: readonly number[]): LatencySummary {
  if (samples.length === 0) return { p50: NaN, p99: NaN, max: NaN }
  const sorted = Float64Array.from(samples).sort()
  const rank = (q: number): number => round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!)
  return { p50: rank(0.5), p99: rank(0.99), max: round(sorted[sorted.length - 1]!) }
}

export function round(n: number, digits = 3): number {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

class Recorder {
  readonly latencies: number[] = []
  failures = 0
  firstFailure: string | undefined

  async run(call: Call, index: number, since: number): Promise<void> {
    let ok: boolean
    try {
      ok = await call(index)
      if (!ok) this.firstFailure ??= `call ${index} got an unexpected answer`
    } catch (err) {
      ok = false
      this.firstFailure ??= `call ${index}: ${(err as Error).message}`
    }
    if (ok) this.latencies.push(performance.now() - since)
    else this.failures++
  }

  result(calls: number, started: number): LoadRun {
    const seconds = (performance.now() - started) / 1000
    return {
      calls,
      failures: this.failures,
      seconds: round(seconds),
      perSec: round(this.latencies.length / seconds, 1),
      latencyMs: summarize(this.latencies),
      ...(this.firstFailure === undefined ? {} : { firstFailure: this.firstFailure }),
    }
  }
}

/**
 * Closed loop: `concurrency` workers each issue their next call as soon as the previous one is
 * answered, until `total` calls are made or `durationMs` has passed (whichever comes first).
 * This finds the maximum throughput; its latencies include queueing behind the other workers.
 */
export async function closedLoop(
  concurrency: number,
  limit: { total?: number; durationMs?: number; stopOnFailure?: boolean },
  call: Call,
): Promise<LoadRun> {
  const recorder = new Recorder()
  const total = limit.total ?? Infinity
  const started = performance.now()
  const deadline = started + (limit.durationMs ?? Infinity)
  let next = 0
  const worker = async (): Promise<void> => {
    // A build where each call depends on the last (bench:scale) stops at its first failure instead of
    // preparing and failing every remaining call.
    while (next < total && performance.now() < deadline && !(limit.stopOnFailure && recorder.failures > 0)) {
      const index = next++
      await recorder.run(call, index, performance.now())
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return recorder.result(next, started)
}

/**
 * Open loop: calls are scheduled at fixed intervals regardless of how fast answers come, and
 * latency is measured from the scheduled time, so a stalled server is charged for every request
 * that should have been sent meanwhile (no coordinated omission).
 */
export async function openLoop(ratePerSec: number, durationMs: number, call: Call): Promise<LoadRun> {
  const recorder = new Recorder()
  const interval = 1000 / ratePerSec
  const total = Math.floor((ratePerSec * durationMs) / 1000)
  const started = performance.now()
  const inFlight: Promise<void>[] = []
  let next = 0
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now()
      for (; next < total && started + next * interval <= now; next++) {
        inFlight.push(recorder.run(call, next, started + next * interval))
      }
      // A timer rather than a busy loop: spinning would take a core away from the validator.
      if (next < total) setTimeout(tick, Math.max(0, started + next * interval - performance.now()))
      else resolve()
    }
    tick()
  })
  await Promise.all(inFlight)
  return recorder.result(total, started)
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
