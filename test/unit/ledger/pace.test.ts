import { performance } from 'node:perf_hooks'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { BlockExecution } from '../../../src/ledger/execute.js'
import { TreeChunk } from '../../../src/ledger/state-tree.js'
import { Pacer, SLICE_MS } from '../../../src/ledger/pace.js'
import { commitWrites, decode, issueTx, makeTestChain, openLedger, type OpenedLedger } from '../../helpers/fixtures.js'

let opened: OpenedLedger[] = []
afterEach(async () => {
  await Promise.all(opened.map((o) => o.cleanup()))
  opened = []
})

/** Counts event-loop turns (macrotasks) until stopped; `mark` notes what had happened at each turn. */
function turns(mark?: () => void): { stop(): number } {
  let n = 0
  let running = true
  const tick = (): void => {
    if (!running) return
    n++
    mark?.()
    setImmediate(tick)
  }
  setImmediate(tick)
  return {
    stop() {
      running = false
      return n
    },
  }
}

describe('Pacer', () => {
  it('gives the event loop a turn once a slice of work is used up, and not before', async () => {
    const pacer = new Pacer()
    const counter = turns()
    // within the first slice: no turn
    await pacer.pause()
    const early = counter.stop()
    expect(early).toBe(0)
    // busy work that only pauses: the loop still turns, one slice apart at the least
    let seen = 0
    const started = performance.now()
    const again = turns(() => seen++)
    while (seen < 3 && performance.now() < started + 2000) await pacer.pause()
    again.stop()
    expect(seen).toBe(3)
    expect(performance.now() - started).toBeGreaterThanOrEqual(2 * SLICE_MS)
  })

  // Waiting for LevelDB gives turns anyway; what matters is a turn between the CPU-bound steps:
  // between applying one large transaction and the next, and while a commit encodes its entries
  // (before the first tree chunk is packed, which comes after them).
  it('a large block is built and committed in slices: the event loop turns between its CPU-bound steps', async () => {
    const chain = makeTestChain({ params: { maxRecordsPerTx: 1000 } })
    const o = await openLedger(chain)
    opened.push(o)
    const txs = Array.from({ length: 4 }, () => decode(chain, issueTx(chain, 'kr.mois', 1000)))
    // Spies call through; at each turn, how many transactions were applied and chunks packed so far.
    const apply = vi.spyOn(BlockExecution.prototype, 'apply')
    const pack = vi.spyOn(TreeChunk.prototype, 'pack')
    try {
      const appliedAtTurns: number[] = []
      const proposing = turns(() => appliedAtTurns.push(apply.mock.calls.length))
      const proposed = await o.ledger.proposeBlock(txs, Date.now(), chain.proposer)
      proposing.stop()
      expect(proposed.included).toHaveLength(4)
      expect(appliedAtTurns.some((n) => n >= 1 && n < 4)).toBe(true)
      const packedAtTurns: number[] = []
      const committing = turns(() => packedAtTurns.push(pack.mock.calls.length))
      await commitWrites(o.ledger, chain, proposed.writes)
      committing.stop()
      expect(packedAtTurns[0]).toBe(0)
      expect(o.ledger.head.certificateCount).toBe(4000)
    } finally {
      vi.restoreAllMocks()
    }
  })
})
