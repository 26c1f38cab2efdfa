/**
 * LedgerApp: the consensus <-> ledger boundary, with a real Ledger and Mempool. Consensus asks
 * for a block, asks whether a block is valid, and says which block is final.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { blockTimeBounds, LedgerApp, type FinalizedEvent } from '../../../src/consensus/app.js'
import { DEFAULT_CONFIG } from '../../../src/node/config.js'
import { blockHash } from '../../../src/core/block.js'
import { toHex } from '../../../src/core/bytes.js'
import { generateKeyPair } from '../../../src/core/crypto.js'
import { decodeCanonical, encode } from '../../../src/core/encoding.js'
import { merkleRoot } from '../../../src/core/merkle.js'
import type { DecodedTx } from '../../../src/core/tx.js'
import type { Block } from '../../../src/core/types.js'
import type { Ledger } from '../../../src/ledger/index.js'
import { DEFAULT_MEMPOOL_OPTIONS, Mempool } from '../../../src/mempool/index.js'
import {
  commitFor,
  decode,
  issueTx,
  makeTestChain,
  openLedger,
  type OpenedLedger,
  type TestChain,
} from '../../helpers/fixtures.js'

const chain = makeTestChain({ params: { maxBlockTxs: 3 } })
const DRIFT = 5_000

const toClean: OpenedLedger[] = []
afterEach(async () => {
  vi.restoreAllMocks()
  for (const o of toClean.splice(0)) await o.cleanup()
})

async function fresh(c: TestChain = chain): Promise<Ledger> {
  const o = await openLedger(c)
  toClean.push(o)
  return o.ledger
}

interface Harness {
  readonly ledger: Ledger
  readonly mempool: Mempool
  readonly app: LedgerApp
  readonly events: FinalizedEvent[]
  /** The app's clock; tests move it. */
  time: number
}

async function harness(start = Date.now()): Promise<Harness> {
  const ledger = await fresh()
  const mempool = new Mempool(DEFAULT_MEMPOOL_OPTIONS)
  const events: FinalizedEvent[] = []
  const h: Harness = {
    ledger,
    mempool,
    events,
    time: start,
    app: new LedgerApp(ledger, mempool, { maxClockDriftMs: DRIFT, maxBlockAgeMs: DRIFT }, (e) => events.push(e), () => h.time),
  }
  return h
}

const ids = (list: readonly DecodedTx[]): string[] => list.map((t) => toHex(t.id))
const issue = (issuer: string, n = 1, opts: { expiresAt?: number } = {}): DecodedTx => decode(chain, issueTx(chain, issuer, n, opts))

describe('LedgerApp', () => {
  let h: Harness
  beforeEach(async () => {
    h = await harness()
  })

  it('exposes the chain id, the committed height, the validators and pending transactions', () => {
    expect(h.app.chainId).toBe(chain.genesis.chainId)
    expect(h.app.committedHeight()).toBe(0)
    expect(h.app.validators(1).map((v) => v.id)).toEqual([chain.proposer])
    expect(h.app.hasPendingTxs()).toBe(false)
    h.mempool.add(issue('kr.mois'))
    expect(h.app.hasPendingTxs()).toBe(true)
  })

  it('createBlock reaps the mempool (within maxBlockTxs) and executes once; its own block validates without re-execution', async () => {
    const txs = [issue('kr.mois', 2), issue('kr.court.seoul'), issue('kr.land.seoul'), issue('kr.mois')]
    for (const tx of txs) h.mempool.add(tx)
    const propose = vi.spyOn(h.ledger, 'proposeBlock')
    const execute = vi.spyOn(h.ledger, 'executeBlock')

    const block = await h.app.createBlock(1, chain.proposer)
    expect(propose).toHaveBeenCalledTimes(1)
    // the oldest three (maxBlockTxs = 3), in arrival order, at the app's time, by the proposer
    expect(block.txs.map(toHex)).toEqual(txs.slice(0, 3).map((t) => toHex(t.bytes)))
    expect(block.header).toMatchObject({ height: 1, time: h.time, txCount: 3, proposer: chain.proposer })
    // nothing is removed before the block is final
    expect(h.mempool.size).toBe(4)
    expect(h.ledger.head.height).toBe(0)

    expect(await h.app.validateBlock(block)).toBe(true)
    expect(await h.app.validateBlock(block)).toBe(true)
    expect(execute).not.toHaveBeenCalled()
  })

  it('validateBlock: another ledger\'s valid block is true, executed once however often asked', async () => {
    const other = await fresh()
    const proposed = await other.proposeBlock([issue('kr.mois', 2), issue('kr.court.seoul')], h.time, chain.proposer)
    const execute = vi.spyOn(h.ledger, 'executeBlock')
    expect(await h.app.validateBlock(proposed.writes.block)).toBe(true)
    expect(await h.app.validateBlock(proposed.writes.block)).toBe(true)
    expect(execute).toHaveBeenCalledTimes(1)
    expect(h.ledger.head.height).toBe(0) // validating commits nothing
  })

  it('validateBlock: a tampered block is false, and the verdict is cached', async () => {
    const other = await fresh()
    const { block } = (await other.proposeBlock([issue('kr.mois')], h.time, chain.proposer)).writes
    const tampered: Block = { ...block, header: { ...block.header, stateRoot: new Uint8Array(32).fill(7) } }
    // another transaction, with a header that matches it (txRoot) but not its execution (stateRoot)
    const forged = decode(chain, issueTx(chain, 'kr.mois', 1, { signWith: generateKeyPair() }))
    const badTx: Block = { header: { ...block.header, txRoot: merkleRoot([forged.bytes]) }, txs: [forged.bytes] }
    const execute = vi.spyOn(h.ledger, 'executeBlock')
    expect(await h.app.validateBlock(tampered)).toBe(false)
    expect(await h.app.validateBlock(tampered)).toBe(false)
    expect(execute).toHaveBeenCalledTimes(1)
    expect(await h.app.validateBlock(badTx)).toBe(false)
    expect(execute).toHaveBeenCalledTimes(2)
    // the untampered block is still fine
    expect(await h.app.validateBlock(block)).toBe(true)
    expect(execute).toHaveBeenCalledTimes(3)
  })

  // Regression: results are cached by header hash; a relayed copy with the same header and one
  // signature byte flipped (same tx ids) once poisoned the verdict on the genuine block. txRoot now
  // covers the transactions' exact bytes and a body that does not fit its header is never cached.
  it('validateBlock: a same-header copy with other txs does not poison the verdict on the genuine block', async () => {
    const other = await fresh()
    const { block } = (await other.proposeBlock([issue('kr.mois')], h.time, chain.proposer)).writes
    const fields = decodeCanonical(block.txs[0]!, 1 << 20) as Record<string, unknown>
    const sig = Uint8Array.from(fields.sig as Uint8Array)
    sig[0]! ^= 1
    const copy: Block = { header: block.header, txs: [encode({ ...fields, sig })] }
    expect(toHex(decode(chain, copy.txs[0]!).id)).toBe(toHex(decode(chain, block.txs[0]!).id))
    expect(await h.app.validateBlock(copy)).toBe(false)
    expect(await h.app.validateBlock(block)).toBe(true)
  })

  it('validateBlock: a block more than maxClockDriftMs ahead is refused without execution, and not cached', async () => {
    const other = await fresh()
    const ahead = (await other.proposeBlock([issue('kr.mois')], h.time + DRIFT + 1, chain.proposer)).writes.block
    const execute = vi.spyOn(h.ledger, 'executeBlock')
    expect(await h.app.validateBlock(ahead)).toBe(false)
    expect(execute).not.toHaveBeenCalled()
    // exactly at the drift limit is fine once our clock has moved on by 1 ms
    h.time += 1
    expect(await h.app.validateBlock(ahead)).toBe(true)
    expect(execute).toHaveBeenCalledTimes(1)
  })

  it('isTimely: a block dated more than maxBlockAgeMs before this clock is not timely (previous + 1 ms is refused)', async () => {
    const block = await h.app.createBlock(1, chain.proposer)
    expect(h.app.isTimely(block)).toBe(true)
    const backdated = { ...block, header: { ...block.header, time: h.ledger.head.time + 1 } }
    expect(h.app.isTimely(backdated)).toBe(false)
    h.time = block.header.time + DRIFT
    expect(h.app.isTimely(block)).toBe(true)
    h.time += 1
    expect(h.app.isTimely(block)).toBe(false)
  })

  it('a node bounds block time by its clock: 10 s ahead, and for a fresh proposal 13 s behind (drift plus propose timeout) by default', () => {
    expect(blockTimeBounds(DEFAULT_CONFIG.consensus)).toEqual({ maxClockDriftMs: 10_000, maxBlockAgeMs: 13_000 })
    expect(blockTimeBounds({ maxClockDriftMs: 2000, timeoutProposeMs: 500 })).toEqual({ maxClockDriftMs: 2000, maxBlockAgeMs: 2500 })
  })

  it('block time must be after the previous block: equal or earlier is MALFORMED_BLOCK; a proposer dates it previous + 1 ms at least', async () => {
    const other = await fresh()
    const previous = h.ledger.head.time
    const { block } = (await other.proposeBlock([issue('kr.mois')], previous + 1000, chain.proposer)).writes
    for (const time of [previous, previous - 1]) {
      const dated = { ...block, header: { ...block.header, time } }
      await expect(h.ledger.executeBlock(dated)).rejects.toMatchObject({ code: 'MALFORMED_BLOCK', message: expect.stringContaining('time is not after the previous block') })
      expect(await h.app.validateBlock(dated)).toBe(false)
    }
    expect(await h.app.validateBlock(block)).toBe(true)
    // A clock behind the chain still yields a valid next block (the lower bound then is isTimely's).
    const behind = (await other.proposeBlock([], previous - 60_000, chain.proposer)).writes.block
    expect(behind.header.time).toBe(previous + 1)
  })

  it('commitBlock of its own block: stores block and commit, drops included and refused txs, records rejections, reports', async () => {
    const a = issue('kr.mois', 2)
    const expired = issue('kr.mois', 1, { expiresAt: h.time })
    const b = issue('kr.court.seoul', 3)
    const later = issue('kr.land.seoul')
    for (const tx of [a, expired, b, later]) h.mempool.add(tx)

    const block = await h.app.createBlock(1, chain.proposer)
    expect(block.txs.map(toHex)).toEqual([a, b].map((t) => toHex(t.bytes)))
    const commit = commitFor(chain, block)
    const execute = vi.spyOn(h.ledger, 'executeBlock')
    await h.app.commitBlock(block, commit)
    expect(execute).not.toHaveBeenCalled() // committed from the proposal's execution

    expect(await h.ledger.getBlock(1)).toEqual({ block, commit })
    expect(h.app.committedHeight()).toBe(1)
    expect(h.ledger.head).toMatchObject({ height: 1, certificateCount: 5, txCount: 2 })
    expect(toHex(h.ledger.head.hash)).toBe(toHex(blockHash(block.header)))
    // included and refused transactions leave the mempool; one that was not reaped stays
    expect(h.mempool.size).toBe(1)
    expect(h.mempool.has(toHex(later.id))).toBe(true)
    for (const tx of [a, expired, b]) expect(h.mempool.has(toHex(tx.id))).toBe(false)
    expect(h.mempool.rejection(toHex(expired.id))).toMatchObject({ code: 'TX_EXPIRED' })
    expect(h.mempool.rejection(toHex(a.id))).toBeUndefined()

    expect(h.events).toHaveLength(1)
    const event = h.events[0]!
    expect(event.block).toBe(block)
    expect(event.commit).toBe(commit)
    expect(event.certificates).toBe(5)
    expect(event.writes.txIds.map(toHex)).toEqual(ids([a, b]))
    expect(event.rejected.map((r) => [toHex(r.tx.id), r.error.code])).toEqual([[toHex(expired.id), 'TX_EXPIRED']])
  })

  it('commitBlock of another proposer\'s block: drops its txs from the mempool, reports no rejections', async () => {
    const other = await fresh()
    const a = issue('kr.mois', 4)
    const mine = issue('kr.court.seoul')
    h.mempool.add(a)
    h.mempool.add(mine)
    const { block } = (await other.proposeBlock([a], h.time, chain.proposer)).writes
    expect(await h.app.validateBlock(block)).toBe(true)
    const commit = commitFor(chain, block, 3)
    await h.app.commitBlock(block, commit)
    expect(await h.ledger.getBlock(1)).toEqual({ block, commit })
    expect(h.mempool.has(toHex(a.id))).toBe(false)
    expect(h.mempool.has(toHex(mine.id))).toBe(true)
    expect(h.events).toHaveLength(1)
    expect(h.events[0]).toMatchObject({ certificates: 4, rejected: [] })
  })

  it('commitBlock of a block it never validated (catch-up) executes it first', async () => {
    const other = await fresh()
    const { block } = (await other.proposeBlock([issue('kr.land.seoul', 2)], h.time, chain.proposer)).writes
    const execute = vi.spyOn(h.ledger, 'executeBlock')
    const commit = commitFor(chain, block)
    await h.app.commitBlock(block, commit)
    expect(execute).toHaveBeenCalledTimes(1)
    expect(await h.ledger.getBlock(1)).toEqual({ block, commit })
    expect(h.events[0]?.certificates).toBe(2)
  })

  it('after a commit, the finished height\'s results are dropped and the next height builds on it', async () => {
    const other = await fresh()
    const { block: rival } = (await other.proposeBlock([issue('kr.mois')], h.time, chain.proposer)).writes
    expect(await h.app.validateBlock(rival)).toBe(true)
    h.mempool.add(issue('kr.court.seoul'))
    const block1 = await h.app.createBlock(1, chain.proposer)
    await h.app.commitBlock(block1, commitFor(chain, block1))
    // the rival for height 1 was valid on the old head; re-checked now, it is not
    const execute = vi.spyOn(h.ledger, 'executeBlock')
    expect(await h.app.validateBlock(rival)).toBe(false)
    expect(execute).toHaveBeenCalledTimes(1)

    h.time += 1000
    h.mempool.add(issue('kr.mois', 2))
    const block2 = await h.app.createBlock(2, chain.proposer)
    expect(block2.header).toMatchObject({ height: 2, time: h.time, txCount: 1 })
    expect(toHex(block2.header.prevHash)).toBe(toHex(blockHash(block1.header)))
    await h.app.commitBlock(block2, commitFor(chain, block2))
    expect(h.app.committedHeight()).toBe(2)
    expect(h.events.map((e) => e.certificates)).toEqual([1, 2])
    expect(h.app.hasPendingTxs()).toBe(false)
  })
})
