/**
 * Issue 10 item 9: a member's mempool drops what a committed block made impossible, instead of
 * keeping it `pending` past its expiry until MEMPOOL_FULL.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { toHex } from '../../../src/core/bytes.js'
import type { Ledger } from '../../../src/ledger/index.js'
import { admitTx, DEFAULT_MEMPOOL_OPTIONS, Mempool, recheckPending } from '../../../src/mempool/index.js'
import { commitTxs, decode, issueTx, makeTestChain, openLedger, revokeTx, suspendTx, type OpenedLedger } from '../../helpers/fixtures.js'

const chain = makeTestChain()
let opened: OpenedLedger
let ledger: Ledger
let checks: number

beforeEach(async () => {
  opened = await openLedger(chain)
  ledger = opened.ledger
  checks = 0
  const checkTx = ledger.checkTx.bind(ledger)
  ledger.checkTx = (tx, time) => {
    checks++
    return checkTx(tx, time)
  }
})
afterEach(() => opened.cleanup())

describe('recheckPending after a block', () => {
  it('ALREADY_REVOKED: the second of two revocations of one certificate is dropped once the first is committed', async () => {
    const issued = issueTx(chain, 'kr.mois', 1)
    const certId = (await commitTxs(ledger, chain, [issued])).included[0]!.certificateIds[0]!
    const other = (await commitTxs(ledger, chain, [issueTx(chain, 'kr.mois', 1)])).included[0]!.certificateIds[0]!

    const pool = new Mempool(DEFAULT_MEMPOOL_OPTIONS)
    const first = revokeTx(chain, 'kr.mois', [certId], { reason: 'fraud' })
    const second = revokeTx(chain, 'kr.mois', [certId], { reason: 'other' })
    const unrelated = suspendTx(chain, 'kr.mois', other)
    for (const tx of [first, second, unrelated]) expect((await admitTx(ledger, pool, tx.bytes, Date.now())).added).toBe(true)

    // The validators committed the first revocation (this member only learns it from the block).
    const block = await commitTxs(ledger, chain, [first])
    pool.remove(block.writes.txIds)
    checks = 0
    const evicted = await recheckPending(ledger, pool, { time: block.writes.block.header.time, certificates: block.writes.certificates.keys(), rulesChanged: false }, Date.now())

    const secondId = toHex(decode(chain, second).id)
    expect(evicted.map((e) => e.error.code)).toEqual(['ALREADY_REVOKED'])
    expect(pool.rejection(secondId)?.code).toBe('ALREADY_REVOKED')
    expect(pool.size).toBe(1)
    // Only the transaction touching the committed certificate was checked again.
    expect(checks).toBe(1)
  })

  it('TX_EXPIRED: a pending transaction whose expiry a block passed is dropped without being checked again', async () => {
    const now = Date.now()
    const soon = issueTx(chain, 'kr.mois', 1, { expiresAt: now + 1000 })
    const later = issueTx(chain, 'kr.mois', 1, { expiresAt: now + 60_000 })
    const pool = new Mempool(DEFAULT_MEMPOOL_OPTIONS)
    for (const tx of [soon, later]) await admitTx(ledger, pool, tx.bytes, now)
    checks = 0
    const evicted = await recheckPending(ledger, pool, { time: now + 1000, certificates: [], rulesChanged: false }, now + 1000)
    expect(evicted.map((e) => e.error.code)).toEqual(['TX_EXPIRED'])
    expect(pool.rejection(toHex(evicted[0]!.tx.id))?.code).toBe('TX_EXPIRED')
    expect(pool.pending().map((t) => t.bytes)).toEqual([later.bytes])
    expect(checks).toBe(0)
  })

  it('a change of the rules checks every pending transaction again; those still valid stay', async () => {
    const pool = new Mempool(DEFAULT_MEMPOOL_OPTIONS)
    for (let i = 0; i < 3; i++) await admitTx(ledger, pool, issueTx(chain, 'kr.mois', 1).bytes, Date.now())
    checks = 0
    expect(await recheckPending(ledger, pool, { time: Date.now(), certificates: [], rulesChanged: true }, Date.now())).toEqual([])
    expect(checks).toBe(3)
    expect(pool.size).toBe(3)
  })
})
