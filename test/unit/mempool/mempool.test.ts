import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { toHex } from '../../../src/core/bytes.js'
import { CertchainError } from '../../../src/core/errors.js'
import type { DecodedTx } from '../../../src/core/tx.js'
import type { Ledger } from '../../../src/ledger/index.js'
import { admitTx, DEFAULT_MEMPOOL_OPTIONS, HELD_BYTES_PER_CERTIFICATE, heldBytes, Mempool, type MempoolOptions } from '../../../src/mempool/index.js'
import {
  commitTxs,
  decode,
  issueTx,
  makeTestChain,
  MINUTE,
  openLedger,
  revokeTx,
  suspendTx,
  thrownCode,
  type OpenedLedger,
} from '../../helpers/fixtures.js'

const chain = makeTestChain()

function pool(opts: Partial<MempoolOptions> = {}): Mempool {
  return new Mempool({ ...DEFAULT_MEMPOOL_OPTIONS, ...opts })
}

function txs(n: number): DecodedTx[] {
  return Array.from({ length: n }, () => decode(chain, issueTx(chain, 'kr.mois', 1)))
}

const ids = (list: readonly DecodedTx[]): string[] => list.map((t) => toHex(t.id))

describe('Mempool', () => {
  it('touching: every pending transaction touching a certificate, one or several, until removed', () => {
    const m = pool()
    const issuance = decode(chain, issueTx(chain, 'kr.mois', 3))
    const [first, second] = issuance.certificateIds as [Uint8Array, Uint8Array]
    const revocation = decode(chain, revokeTx(chain, 'kr.mois', [first]))
    const suspension = decode(chain, suspendTx(chain, 'kr.mois', first))
    for (const tx of [issuance, revocation, suspension]) m.add(tx)
    expect(ids(m.touching([toHex(first)])).sort()).toEqual(ids([issuance, revocation, suspension]).sort())
    expect(ids(m.touching([toHex(second)]))).toEqual(ids([issuance]))
    m.remove([issuance.id])
    expect(ids(m.touching([toHex(first)])).sort()).toEqual(ids([revocation, suspension]).sort())
    expect(m.touching([toHex(second)])).toEqual([])
    m.remove([revocation.id, suspension.id])
    expect(m.touching([toHex(first)])).toEqual([])
    expect(m.size).toBe(0)
  })

  it('add: a new transaction is added, the same one again is a duplicate', () => {
    const m = pool()
    const [a] = txs(1)
    expect(m.add(a!)).toBe('added')
    expect(m.add(a!)).toBe('duplicate')
    // decoded again from the same bytes: same id, still a duplicate
    expect(m.add(decode(chain, a!.bytes))).toBe('duplicate')
    expect(m.size).toBe(1)
    expect(m.bytes).toBe(a!.bytes.length)
    expect(m.has(toHex(a!.id))).toBe(true)
  })

  it('known: finds a pending transaction by its exact bytes, only while it is pending', () => {
    const m = pool()
    const [a, b] = txs(2)
    m.add(a!)
    expect(m.known(Uint8Array.from(a!.bytes))).toBe(a)
    expect(m.known(b!.bytes)).toBeUndefined()
    const altered = Uint8Array.from(a!.bytes)
    altered[altered.length - 1]! ^= 1
    expect(m.known(altered)).toBeUndefined()
    m.remove([a!.id])
    expect(m.known(a!.bytes)).toBeUndefined()
  })

  it('reap: oldest first, and transactions stay until removed', () => {
    const m = pool()
    const list = txs(5)
    for (const t of list) m.add(t)
    expect(ids(m.reap(10, Infinity))).toEqual(ids(list))
    expect(ids(m.reap(10, Infinity))).toEqual(ids(list))
    expect(m.size).toBe(5)
  })

  it('reap: respects the count budget', () => {
    const m = pool()
    const list = txs(5)
    for (const t of list) m.add(t)
    expect(ids(m.reap(3, Infinity))).toEqual(ids(list.slice(0, 3)))
    expect(m.reap(0, Infinity)).toEqual([])
  })

  it('reap: respects the byte budget and never skips ahead', () => {
    const m = pool()
    const small = decode(chain, issueTx(chain, 'kr.mois', 1))
    const big = decode(chain, issueTx(chain, 'kr.mois', 20))
    const small2 = decode(chain, issueTx(chain, 'kr.mois', 1))
    for (const t of [small, big, small2]) m.add(t)
    const total = small.bytes.length + big.bytes.length + small2.bytes.length
    expect(ids(m.reap(10, total))).toEqual(ids([small, big, small2]))
    expect(ids(m.reap(10, small.bytes.length + big.bytes.length))).toEqual(ids([small, big]))
    // the big one does not fit: stop there, even though the next small one would
    expect(ids(m.reap(10, small.bytes.length + big.bytes.length - 1))).toEqual(ids([small]))
    expect(m.reap(10, small.bytes.length - 1)).toEqual([])
  })

  it('remove: drops the given transactions, frees their bytes, ignores unknown ones', () => {
    const m = pool()
    const list = txs(4)
    for (const t of list) m.add(t)
    const [extra] = txs(1)
    m.remove([list[1]!.id, list[3]!.id, extra!.id])
    expect(ids(m.reap(10, Infinity))).toEqual(ids([list[0]!, list[2]!]))
    expect(m.size).toBe(2)
    expect(m.bytes).toBe(list[0]!.bytes.length + list[2]!.bytes.length)
    expect(m.has(toHex(list[1]!.id))).toBe(false)
    // removing twice changes nothing
    m.remove([list[1]!.id])
    expect(m.size).toBe(2)
    expect(m.bytes).toBe(list[0]!.bytes.length + list[2]!.bytes.length)
    m.remove([list[0]!.id, list[2]!.id])
    expect(m.size).toBe(0)
    expect(m.bytes).toBe(0)
  })

  it('MEMPOOL_FULL by count', () => {
    const m = pool({ maxTxs: 2 })
    const list = txs(3)
    m.add(list[0]!)
    m.add(list[1]!)
    expect(thrownCode(() => m.add(list[2]!))).toBe('MEMPOOL_FULL')
    expect(m.size).toBe(2)
    // a duplicate of a pending one is still just a duplicate
    expect(m.add(list[0]!)).toBe('duplicate')
    // room again after a removal
    m.remove([list[0]!.id])
    expect(m.add(list[2]!)).toBe('added')
  })

  it('MEMPOOL_FULL by the memory held: encoded bytes plus a cost per certificate', () => {
    const list = txs(3)
    const held = list.map((t) => heldBytes(t))
    expect(held[0]).toBe(list[0]!.bytes.length + HELD_BYTES_PER_CERTIFICATE)
    const m = pool({ maxBytes: held[0]! + held[1]! + held[2]! - 1 })
    m.add(list[0]!)
    m.add(list[1]!)
    expect(thrownCode(() => m.add(list[2]!))).toBe('MEMPOOL_FULL')
    expect(m.size).toBe(2)
    expect(m.bytes).toBe(list[0]!.bytes.length + list[1]!.bytes.length)
    expect(m.heldBytes).toBe(held[0]! + held[1]!)
    m.remove([list[0]!.id])
    expect(m.heldBytes).toBe(held[1]!)
  })

  it('a large issuance is charged per certificate, not only by its encoding (a record decoded costs ~10x its bytes)', () => {
    const big = decode(chain, issueTx(chain, 'kr.mois', 200))
    const revocation = decode(chain, revokeTx(chain, 'kr.mois', [new Uint8Array(32), new Uint8Array(32).fill(1)]))
    expect(heldBytes(revocation)).toBe(revocation.bytes.length + 2 * HELD_BYTES_PER_CERTIFICATE)
    // Room for its encoding ten times over is still not room for it.
    const m = pool({ maxBytes: big.bytes.length * 10 })
    expect(thrownCode(() => m.add(big))).toBe('MEMPOOL_FULL')
    expect(m.size).toBe(0)
  })

  it('MEMPOOL_FULL carries HTTP status 503', () => {
    const m = pool({ maxTxs: 0 })
    try {
      m.add(txs(1)[0]!)
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(CertchainError)
      expect((err as CertchainError).status).toBe(503)
    }
  })

  it('a refused transaction (full) reserves no certificate ids', () => {
    const m = pool({ maxTxs: 1 })
    const [first] = txs(1)
    m.add(first!)
    const issue = issueTx(chain, 'kr.mois', 1)
    expect(thrownCode(() => m.add(decode(chain, issue)))).toBe('MEMPOOL_FULL')
    m.remove([first!.id])
    // another transaction issuing the same certificate is welcome now
    const again = issueTx(chain, 'kr.mois', [issue.records[0]!], { expiresAt: Date.now() + 11 * MINUTE })
    expect(m.add(decode(chain, again))).toBe('added')
  })

  it('DUPLICATE_CERTIFICATE: a certificate already being issued by a pending transaction', () => {
    const m = pool()
    const a = issueTx(chain, 'kr.mois', 3)
    const b = issueTx(chain, 'kr.mois', [{}, a.records[1]!], { expiresAt: Date.now() + 11 * MINUTE })
    expect(m.add(decode(chain, a))).toBe('added')
    expect(thrownCode(() => m.add(decode(chain, b)))).toBe('DUPLICATE_CERTIFICATE')
    expect(m.size).toBe(1)
    // the fresh record of the refused transaction was not reserved
    const c = issueTx(chain, 'kr.mois', [b.records[0]!], { expiresAt: Date.now() + 12 * MINUTE })
    expect(m.add(decode(chain, c))).toBe('added')
    // once the first issuance leaves the pool, its certificates are free again
    m.remove([decode(chain, a).id])
    expect(m.add(decode(chain, issueTx(chain, 'kr.mois', [a.records[1]!], { expiresAt: Date.now() + 13 * MINUTE })))).toBe('added')
  })

  it('status changes reserve nothing: two revocations of one certificate may both wait', () => {
    const m = pool()
    const id = new Uint8Array(32).fill(3)
    expect(m.add(decode(chain, revokeTx(chain, 'kr.mois', [id], { reason: 'fraud' })))).toBe('added')
    expect(m.add(decode(chain, revokeTx(chain, 'kr.mois', [id], { reason: 'other' })))).toBe('added')
    expect(m.size).toBe(2)
  })

  it('onAdded: called for every added transaction, not for duplicates; unsubscribes', () => {
    const m = pool()
    let calls = 0
    const off = m.onAdded(() => calls++)
    const [a, b] = txs(2)
    m.add(a!)
    m.add(a!)
    expect(calls).toBe(1)
    off()
    m.add(b!)
    expect(calls).toBe(1)
  })

  it('recordRejection: remembers the code, forgets the oldest beyond rejectionMemory', () => {
    const m = pool({ rejectionMemory: 2 })
    m.recordRejection('aa', new CertchainError('TX_EXPIRED', 'expired'))
    m.recordRejection('bb', new CertchainError('BAD_SIGNATURE', 'bad'))
    expect(m.rejection('aa')).toEqual({ code: 'TX_EXPIRED', message: 'expired' })
    m.recordRejection('cc', new CertchainError('NOT_AUTHORIZED', 'no'))
    expect(m.rejection('aa')).toBeUndefined()
    expect(m.rejection('bb')?.code).toBe('BAD_SIGNATURE')
    expect(m.rejection('cc')?.code).toBe('NOT_AUTHORIZED')
  })
})

describe('admitTx', () => {
  let opened: OpenedLedger
  let ledger: Ledger
  beforeEach(async () => {
    opened = await openLedger(chain)
    ledger = opened.ledger
  })
  afterEach(async () => {
    await opened.cleanup()
  })

  it('admits a valid transaction; resubmission returns added:false', async () => {
    const m = pool()
    const tx = issueTx(chain, 'kr.mois', 2)
    const first = await admitTx(ledger, m, tx.bytes, Date.now())
    expect(first).toMatchObject({ added: true, id: toHex(decode(chain, tx).id) })
    expect(first.tx.certificateIds).toHaveLength(2)
    const again = await admitTx(ledger, m, tx.bytes, Date.now())
    expect(again).toMatchObject({ added: false, id: first.id })
    expect(m.size).toBe(1)
  })

  it('records the rejection code of a transaction that breaks a rule, and throws it', async () => {
    const m = pool()
    const expired = issueTx(chain, 'kr.mois', 1, { expiresAt: Date.now() - 1 })
    await expect(admitTx(ledger, m, expired.bytes, Date.now())).rejects.toMatchObject({ code: 'TX_EXPIRED' })
    // Expiry is checked before the id is computed (hashing every record), so only the bytes are remembered.
    expect(m.rejection(toHex(decode(chain, expired).id))).toBeUndefined()
    expect(m.size).toBe(0)

    const stranger = revokeTx(chain, 'kr.court.seoul', [new Uint8Array(32)])
    await expect(admitTx(ledger, m, stranger.bytes, Date.now())).rejects.toMatchObject({ code: 'UNKNOWN_CERTIFICATE' })
    expect(m.rejection(toHex(decode(chain, stranger).id))?.code).toBe('UNKNOWN_CERTIFICATE')
  })

  it('records DUPLICATE_TX for a replay of a committed transaction', async () => {
    const m = pool()
    const tx = issueTx(chain, 'kr.mois', 1)
    await commitTxs(ledger, chain, [tx])
    await expect(admitTx(ledger, m, tx.bytes, Date.now() + 1000)).rejects.toMatchObject({ code: 'DUPLICATE_TX' })
    expect(m.rejection(toHex(decode(chain, tx).id))?.code).toBe('DUPLICATE_TX')
  })

  it('records the pending DUPLICATE_CERTIFICATE from the pool', async () => {
    const m = pool()
    const a = issueTx(chain, 'kr.mois', 1)
    const b = issueTx(chain, 'kr.mois', [a.records[0]!], { expiresAt: Date.now() + 11 * MINUTE })
    await admitTx(ledger, m, a.bytes, Date.now())
    await expect(admitTx(ledger, m, b.bytes, Date.now())).rejects.toMatchObject({ code: 'DUPLICATE_CERTIFICATE' })
    expect(m.rejection(toHex(decode(chain, b).id))?.code).toBe('DUPLICATE_CERTIFICATE')
  })

  it('does not record MEMPOOL_FULL (the transaction may be retried)', async () => {
    const m = pool({ maxTxs: 1 })
    await admitTx(ledger, m, issueTx(chain, 'kr.mois', 1).bytes, Date.now())
    const tx = issueTx(chain, 'kr.mois', 1)
    await expect(admitTx(ledger, m, tx.bytes, Date.now())).rejects.toMatchObject({ code: 'MEMPOOL_FULL' })
    expect(m.rejection(toHex(decode(chain, tx).id))).toBeUndefined()
  })

  it('a transaction that does not decode throws its code and leaves nothing behind', async () => {
    const m = pool()
    await expect(admitTx(ledger, m, Uint8Array.of(0xff), Date.now())).rejects.toMatchObject({ code: 'MALFORMED_ENCODING' })
    await expect(admitTx(ledger, m, revokeTx(chain, 'kr.mois', []).bytes, Date.now())).rejects.toMatchObject({ code: 'EMPTY_BATCH' })
    expect(m.size).toBe(0)
  })

  it('a pending transaction resubmitted is not re-checked (added:false even after its rule would fail)', async () => {
    const m = pool()
    const [id] = decode(chain, issueTx(chain, 'kr.mois', 1)).certificateIds
    const tx = suspendTx(chain, 'kr.mois', id!) // unknown certificate: would fail checkTx
    const ok = issueTx(chain, 'kr.mois', 1)
    await admitTx(ledger, m, ok.bytes, Date.now())
    await expect(admitTx(ledger, m, tx.bytes, Date.now())).rejects.toMatchObject({ code: 'UNKNOWN_CERTIFICATE' })
    expect((await admitTx(ledger, m, ok.bytes, Date.now())).added).toBe(false)
  })
})
