/**
 * Issue 10 item 12: every validator that sees an equivocation signs its own report of it. A
 * mempool keeps (and so gossip forwards) one report per offence, refusing the rest
 * DUPLICATE_EVIDENCE before their votes are verified, and at most
 * MAX_PENDING_REPORTS_PER_SIGNER pending reports of any one validator (TOO_MANY_REPORTS).
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Ledger } from '../../../src/ledger/index.js'
import { admitTx, DEFAULT_MEMPOOL_OPTIONS, MAX_PENDING_REPORTS_PER_SIGNER, Mempool, validateTxGossip } from '../../../src/mempool/index.js'
import { evidenceTx, makeMultiValidatorChain, openLedger, signedVote, type OpenedLedger, type TestValidator } from '../../helpers/fixtures.js'

const { chain, validators } = makeMultiValidatorChain(4)
const [, reporterA, reporterB, offender] = validators as [TestValidator, TestValidator, TestValidator, TestValidator]
const opened: OpenedLedger[] = []
afterEach(async () => {
  for (const o of opened.splice(0)) await o.cleanup()
})

async function ledger(): Promise<Ledger> {
  const o = await openLedger(chain)
  opened.push(o)
  return o.ledger
}

const hash = (byte: number) => new Uint8Array(32).fill(byte)

/** `reporter`'s report of `offender` voting twice at (1, round, type). */
function report(reporter: TestValidator, round = 0, type: 'prevote' | 'precommit' = 'prevote', by = offender) {
  return evidenceTx(chain, reporter, signedVote(chain, by, 1, round, hash(1), type), signedVote(chain, by, 1, round, hash(2), type))
}

describe('evidence reports in the mempool', () => {
  it('keeps one report per offence (height, round, type, validator), whoever reported it', async () => {
    const l = await ledger()
    const m = new Mempool(DEFAULT_MEMPOOL_OPTIONS)
    expect((await admitTx(l, m, report(reporterA).bytes, Date.now())).added).toBe(true)
    await expect(admitTx(l, m, report(reporterB).bytes, Date.now())).rejects.toMatchObject({ code: 'DUPLICATE_EVIDENCE' })
    // Another round or vote type is another offence.
    expect((await admitTx(l, m, report(reporterB, 1).bytes, Date.now())).added).toBe(true)
    expect((await admitTx(l, m, report(reporterB, 0, 'precommit').bytes, Date.now())).added).toBe(true)
    expect(m.size).toBe(3)
    expect(m.hasReport({ height: 1, round: 0, type: 'prevote', validator: offender.id })).toBe(true)
    expect(m.hasReport({ height: 1, round: 2, type: 'prevote', validator: offender.id })).toBe(false)
  })

  it('refuses a second report before verifying its votes (a forged copy costs no signature check)', async () => {
    const l = await ledger()
    const m = new Mempool(DEFAULT_MEMPOOL_OPTIONS)
    await admitTx(l, m, report(reporterA).bytes, Date.now())
    const first = signedVote(chain, offender, 1, 0, hash(1))
    const forged = { ...signedVote(chain, offender, 1, 0, hash(3)), sig: new Uint8Array(64) }
    await expect(admitTx(l, m, evidenceTx(chain, reporterB, first, forged).bytes, Date.now())).rejects.toMatchObject({ code: 'DUPLICATE_EVIDENCE' })
    // Alone, the same forged report is what it is.
    await expect(admitTx(l, new Mempool(DEFAULT_MEMPOOL_OPTIONS), evidenceTx(chain, reporterB, first, forged).bytes, Date.now())).rejects.toMatchObject({ code: 'INVALID_EVIDENCE' })
  })

  it('takes another report of the offence once the pending one is gone', async () => {
    const l = await ledger()
    const m = new Mempool(DEFAULT_MEMPOOL_OPTIONS)
    const kept = await admitTx(l, m, report(reporterA).bytes, Date.now())
    m.remove([kept.tx.id])
    expect(m.hasReport({ height: 1, round: 0, type: 'prevote', validator: offender.id })).toBe(false)
    expect((await admitTx(l, m, report(reporterB).bytes, Date.now())).added).toBe(true)
  })

  it(`bounds the pending reports of one signer at ${MAX_PENDING_REPORTS_PER_SIGNER} (TOO_MANY_REPORTS); others may still report`, async () => {
    const l = await ledger()
    const m = new Mempool(DEFAULT_MEMPOOL_OPTIONS)
    for (let round = 0; round < MAX_PENDING_REPORTS_PER_SIGNER; round++) await admitTx(l, m, report(reporterA, round).bytes, Date.now())
    await expect(admitTx(l, m, report(reporterA, MAX_PENDING_REPORTS_PER_SIGNER).bytes, Date.now())).rejects.toMatchObject({ code: 'TOO_MANY_REPORTS' })
    expect((await admitTx(l, m, report(reporterB, MAX_PENDING_REPORTS_PER_SIGNER).bytes, Date.now())).added).toBe(true)
    // One of A's reports leaves (committed): A may report again.
    m.remove([m.pending()[0]!.id])
    expect((await admitTx(l, m, report(reporterA, MAX_PENDING_REPORTS_PER_SIGNER + 1).bytes, Date.now())).added).toBe(true)
  })

  it('gossip: a second report of an offence is ignored (not forwarded) and not charged to the relay', async () => {
    const l = await ledger()
    const m = new Mempool(DEFAULT_MEMPOOL_OPTIONS)
    expect(await validateTxGossip(l, m, report(reporterA).bytes, Date.now())).toEqual({ result: 'accept' })
    const second = await validateTxGossip(l, m, report(reporterB).bytes, Date.now())
    expect(second).toMatchObject({ result: 'ignore', code: 'DUPLICATE_EVIDENCE' })
    expect(second).not.toHaveProperty('charge')
    const overBound = new Mempool(DEFAULT_MEMPOOL_OPTIONS)
    for (let round = 0; round < MAX_PENDING_REPORTS_PER_SIGNER; round++) await admitTx(l, overBound, report(reporterA, round).bytes, Date.now())
    expect(await validateTxGossip(l, overBound, report(reporterA, 99).bytes, Date.now())).toMatchObject({ result: 'ignore', code: 'TOO_MANY_REPORTS' })
  })
})
