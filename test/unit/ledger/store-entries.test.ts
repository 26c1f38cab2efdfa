import { afterEach, describe, expect, it } from 'vitest'
import { toHex } from '../../../src/core/bytes.js'
import { Ledger } from '../../../src/ledger/index.js'
import { commitTxs, decode, issueTx, makeTestChain, openLedger, revokeTx, type OpenedLedger } from '../../helpers/fixtures.js'

// CERT keeps a certificate without its issuance's transaction id and key; ISSUANCE keeps those
// once per transaction. A reader must still get every field back, also after a restart (cold
// issuance cache) and for certificates whose status changed in a later block.
let opened: OpenedLedger[] = []
afterEach(async () => {
  await Promise.all(opened.map((o) => o.cleanup()))
  opened = []
})

describe('stored certificate entries', () => {
  it('read back whole (transaction id, key, record with and without holder, status history), before and after a reopen', async () => {
    const chain = makeTestChain()
    const o = await openLedger(chain)
    opened.push(o)
    const t0 = Date.now()
    const a = decode(chain, issueTx(chain, 'kr.mois', 3, { now: t0 }))
    const b = decode(chain, issueTx(chain, 'kr.seoul.jongno', [{ holder: new Uint8Array(32).fill(7) }], { now: t0 }))
    await commitTxs(o.ledger, chain, [a, b], t0)
    const revoked = a.certificateIds[1]!
    await commitTxs(o.ledger, chain, [revokeTx(chain, 'kr.mois', [revoked], { now: t0 + 1000 })], t0 + 1000)
    const ids = [...a.certificateIds, ...b.certificateIds]
    const before = await o.ledger.getCertificates(ids)
    expect(before.map((e) => toHex(e!.txId))).toEqual([a, a, a, b].map((t) => toHex(t.id)))
    expect(before.map((e) => toHex(e!.key))).toEqual([a, a, a, b].map((t) => toHex(t.tx.key)))
    expect(before.map((e) => e!.state)).toEqual(['active', 'revoked', 'active', 'active'])
    expect(before[1]!.change).toMatchObject({ height: 2, by: 'kr.mois', reason: 'issued_in_error' })
    expect(before[3]!.record.holder).toEqual(new Uint8Array(32).fill(7))
    expect('holder' in before[0]!.record).toBe(false)
    expect(before.map((e) => e!.seq)).toEqual([0, 1, 2, 3])
    await o.ledger.close()
    const reopened = await Ledger.open(o.dir, chain.genesis)
    try {
      expect(await reopened.getCertificates(ids)).toEqual(before)
      // and a later status change of a certificate issued two blocks back keeps its issuance
      await commitTxs(reopened, chain, [revokeTx(chain, 'kr.mois', [a.certificateIds[0]!], { now: t0 + 2000 })], t0 + 2000)
      const [again] = await reopened.getCertificates([a.certificateIds[0]!])
      expect(toHex(again!.txId)).toBe(toHex(a.id))
      expect(again!.state).toBe('revoked')
    } finally {
      await reopened.close()
    }
  })
})
