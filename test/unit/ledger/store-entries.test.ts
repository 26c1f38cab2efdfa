import { afterEach, describe, expect, it } from 'vitest'
import { toHex } from '../../../src/core/bytes.js'
import { Ledger } from '../../../src/ledger/index.js'
import { ENTRY_CACHE_LIMIT } from '../../../src/ledger/store.js'
import { commitTxs, decode, issueTx, makeTestChain, openLedger, reinstateTx, revokeTx, suspendTx, type OpenedLedger } from '../../helpers/fixtures.js'

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

// getCertificates keeps decoded entries (ENTRY_CACHE_LIMIT); a block that changes a certificate's
// status must be seen by the very next read after its commit, whatever was cached or in flight.
describe('the certificate entry cache', () => {
  it('answers a revocation, suspension and reinstatement at once after each block commits, and as-of reads stay right', async () => {
    const chain = makeTestChain()
    const o = await openLedger(chain)
    opened.push(o)
    const t0 = Date.now()
    const issued = decode(chain, issueTx(chain, 'kr.mois', 2, { now: t0 }))
    await commitTxs(o.ledger, chain, [issued], t0)
    const [a, b] = issued.certificateIds as [Uint8Array, Uint8Array]
    const state = async (id: Uint8Array) => (await o.ledger.getCertificates([id]))[0]!.state
    expect(await state(a)).toBe('active')
    expect(await state(a)).toBe('active') // now from the cache
    await commitTxs(o.ledger, chain, [suspendTx(chain, 'kr.mois', a, { now: t0 + 1000 })], t0 + 1000)
    expect(await state(a)).toBe('suspended')
    await commitTxs(o.ledger, chain, [reinstateTx(chain, 'kr.mois', a, { now: t0 + 2000 })], t0 + 2000)
    expect(await state(a)).toBe('active')
    await commitTxs(o.ledger, chain, [revokeTx(chain, 'kr.mois', [a], { now: t0 + 3000 })], t0 + 3000)
    expect(await state(a)).toBe('revoked')
    expect(await state(b)).toBe('active')
    const asOf = async (h: number) => {
      const past = await o.ledger.certificateAsOf(a, h)
      return past?.issued ? past.entry.state : past
    }
    expect(await Promise.all([0, 1, 2, 3, 4].map(asOf))).toEqual([{ issued: false }, 'active', 'suspended', 'active', 'revoked'])
    // unknown ids are never cached as absent, so an id issued later is found
    const later = decode(chain, issueTx(chain, 'kr.mois', 1, { now: t0 + 4000 }))
    expect(await o.ledger.getCertificates(later.certificateIds)).toEqual([undefined])
    await commitTxs(o.ledger, chain, [later], t0 + 4000)
    expect((await o.ledger.getCertificates(later.certificateIds))[0]?.state).toBe('active')
  })

  it('a read in flight while a revocation commits leaves nothing stale behind', async () => {
    const chain = makeTestChain()
    const o = await openLedger(chain)
    opened.push(o)
    const t0 = Date.now()
    const issued = decode(chain, issueTx(chain, 'kr.mois', 12, { now: t0 }))
    await commitTxs(o.ledger, chain, [issued], t0)
    const ids = issued.certificateIds
    const target = ids[0]!
    // Holds the next batched read (more than 8 ids read asynchronously) until the block has committed.
    const db = (o.ledger as unknown as { store: { db: { getMany: (keys: Uint8Array[]) => Promise<unknown[]> } } }).store.db
    const getMany = db.getMany.bind(db)
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    db.getMany = async (keys) => {
      const values = await getMany(keys)
      await gate
      return values
    }
    const inFlight = o.ledger.getCertificates(ids)
    await new Promise((r) => setTimeout(r, 20))
    db.getMany = getMany
    await commitTxs(o.ledger, chain, [revokeTx(chain, 'kr.mois', [target], { now: t0 + 1000 })], t0 + 1000)
    release()
    // It read before the commit; what it saw must not outlive it.
    expect((await inFlight)[0]!.state).toBe('active')
    expect((await o.ledger.getCertificates([target]))[0]!.state).toBe('revoked')
    expect((await o.ledger.getCertificates(ids)).map((e) => e!.state)).toEqual(['revoked', ...ids.slice(1).map(() => 'active')])
  })

  it(`holds at most ENTRY_CACHE_LIMIT (${ENTRY_CACHE_LIMIT}) entries, dropping the oldest half at a time`, async () => {
    const chain = makeTestChain()
    const o = await openLedger(chain)
    opened.push(o)
    const store = (o.ledger as unknown as { store: { entryCache: { size: number; has(k: string): boolean }; rememberEntry(id: string, e: unknown): void } }).store
    for (let i = 0; i < ENTRY_CACHE_LIMIT * 3 + 100; i++) {
      store.rememberEntry(`id${i}`, {})
      if (store.entryCache.size > ENTRY_CACHE_LIMIT) throw new Error(`${store.entryCache.size} entries held after ${i + 1}`)
    }
    expect(store.entryCache.size).toBeGreaterThanOrEqual(ENTRY_CACHE_LIMIT / 2)
    expect(store.entryCache.has('id0')).toBe(false)
    expect(store.entryCache.has(`id${ENTRY_CACHE_LIMIT * 3 + 99}`)).toBe(true)
  })
})
