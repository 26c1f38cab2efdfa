import { performance } from 'node:perf_hooks'
import { setImmediate as nextTurn } from 'node:timers/promises'

/** CPU time a block's execution or commit may run before it lets the event loop take a turn. */
export const SLICE_MS = 4

/**
 * Lets the event loop run between slices of a long computation: executing and committing a block
 * of 100,000 certificates takes seconds of CPU, and lookups (and consensus timers) must keep their
 * latency meanwhile. Awaiting a resolved promise would not do: microtasks run before any I/O.
 */
export class Pacer {
  private since = performance.now()

  /** Yields when the current slice is used up; cheap to call often. */
  async pause(): Promise<void> {
    if (performance.now() - this.since < SLICE_MS) return
    await nextTurn()
    this.since = performance.now()
  }
}
