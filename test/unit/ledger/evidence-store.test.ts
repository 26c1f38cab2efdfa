import { afterEach, describe, expect, it } from 'vitest'
import { decodeCanonical, encode } from '../../../src/core/encoding.js'
import { makeTestChain, openLedger, type OpenedLedger } from '../../helpers/fixtures.js'

let opened: OpenedLedger | undefined
afterEach(async () => {
  await opened?.cleanup()
  opened = undefined
})

describe('equivocation evidence store', () => {
  it('keeps a prevote and a precommit equivocation of one validator and round as two records', async () => {
    opened = await openLedger(makeTestChain())
    const { ledger } = opened
    await ledger.saveEvidence({ height: 5, round: 1, type: 'prevote', validator: 'validator-2' }, encode({ type: 'prevote' }))
    await ledger.saveEvidence({ height: 5, round: 1, type: 'precommit', validator: 'validator-2' }, encode({ type: 'precommit' }))
    const listed = (await ledger.listEvidence(10)).map((bytes) => (decodeCanonical(bytes, 1024) as { type: string }).type)
    expect(listed.sort()).toEqual(['precommit', 'prevote'])
  })

  it('lists the newest records first, so a long history does not hide recent faults', async () => {
    opened = await openLedger(makeTestChain())
    const { ledger } = opened
    for (let height = 1; height <= 30; height++) {
      await ledger.saveEvidence({ height, round: 0, type: 'prevote', validator: 'validator-2' }, encode({ height }))
    }
    const listed = (await ledger.listEvidence(5)).map((bytes) => (decodeCanonical(bytes, 1024) as { height: number }).height)
    expect(listed).toEqual([30, 29, 28, 27, 26])
  })
})
