import { describe, expect, it } from 'vitest'
import { DEFAULT_PENALTY_OPTIONS, DEFAULT_SYNC_SERVE_LIMITS, PeerPenalties, ServeBudget } from '../../../src/p2p/index.js'

function clock(start = 1_000_000): { now: () => number; advance(ms: number): void } {
  let t = start
  return { now: () => t, advance: (ms) => void (t += ms) }
}

describe('PeerPenalties', () => {
  it('charges failures by size, crosses the limit, and forgives over time', () => {
    const c = clock()
    const p = new PeerPenalties(DEFAULT_PENALTY_OPTIONS, c.now)
    const failing = { result: 'ignore', code: 'UNKNOWN_ISSUER' } as const
    // A 610 KB transaction that fails a state rule: 2 + 9 points.
    expect(p.cost(failing, 610 * 1024)).toBe(2 + 9)
    expect(p.cost({ result: 'reject', code: 'bad_signature' }, 100)).toBe(34)
    // Three rejects cut a peer off, as gossipsub graylists it at the third.
    expect(3 * 34).toBeGreaterThanOrEqual(DEFAULT_PENALTY_OPTIONS.disconnectAt)
    let over = false
    let sent = 0
    while (!over) {
      over = p.charge('member', p.cost(failing, 610 * 1024))
      sent++
    }
    // Cut off after 10 such messages, not 120.
    expect(sent).toBe(10)
    c.advance(60_000)
    expect(p.points('member')).toBeCloseTo(110 - 60)
    c.advance(60_000)
    expect(p.points('member')).toBe(0)
  })

  it('an honest peer with an occasional state race stays far below the limit', () => {
    const c = clock()
    const p = new PeerPenalties(DEFAULT_PENALTY_OPTIONS, c.now)
    for (let i = 0; i < 600; i++) {
      // One small failing relay every two seconds, for twenty minutes.
      expect(p.charge('honest', p.cost({ result: 'ignore', code: 'TX_EXPIRED' }, 500))).toBe(false)
      c.advance(2000)
    }
  })

  it('remembers failed messages by id for a while, at most rememberFailures of them', () => {
    const c = clock()
    const p = new PeerPenalties({ ...DEFAULT_PENALTY_OPTIONS, rememberFailures: 3 }, c.now)
    for (const id of ['a', 'b', 'c', 'd']) p.remember(id, { result: 'ignore', code: 'x' })
    expect(p.recall('a')).toBeUndefined()
    expect(p.recall('d')).toEqual({ result: 'ignore', code: 'x' })
    c.advance(DEFAULT_PENALTY_OPTIONS.rememberFailuresMs + 1)
    expect(p.recall('d')).toBeUndefined()
  })
})

describe('ServeBudget (sync serving per peer)', () => {
  it('serves at most maxConcurrentPerPeer requests of one peer at once; others keep their own slots', () => {
    const b = new ServeBudget(DEFAULT_SYNC_SERVE_LIMITS, clock().now)
    const admitted = Array.from({ length: 32 }, () => b.begin('greedy')).filter(Boolean).length
    expect(admitted).toBe(DEFAULT_SYNC_SERVE_LIMITS.maxConcurrentPerPeer)
    expect(b.begin('other')).toBe(true)
    b.end('greedy', 0)
    expect(b.begin('greedy')).toBe(true)
  })

  it('bounds the bytes served to one peer by the burst plus the rate over time', () => {
    const c = clock()
    const limits = { maxConcurrentPerPeer: 32, bytesPerSecondPerPeer: 8 * 1024 * 1024, burstBytesPerPeer: 16 * 1024 * 1024 }
    const b = new ServeBudget(limits, c.now)
    const response = 2.46 * 1024 * 1024
    let served = 0
    // Ten seconds of a peer asking every 10 ms (what 32 parallel streams did: 1.37 GiB in 10 s).
    for (let t = 0; t < 10_000; t += 10) {
      if (b.begin('greedy')) {
        b.end('greedy', response)
        served += response
      }
      c.advance(10)
    }
    expect(served).toBeLessThanOrEqual(limits.burstBytesPerPeer + 10 * limits.bytesPerSecondPerPeer + response)
    expect(served).toBeGreaterThan(10 * limits.bytesPerSecondPerPeer * 0.9)
  })
})
