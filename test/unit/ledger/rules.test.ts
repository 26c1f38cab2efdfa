import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { toHex, type Bytes } from '../../../src/core/bytes.js'
import { generateKeyPair } from '../../../src/core/crypto.js'
import type { DecodedTx } from '../../../src/core/tx.js'
import type { Ledger } from '../../../src/ledger/index.js'
import {
  commitTxs,
  commitWrites,
  decode,
  issueTx,
  makeTestChain,
  MINUTE,
  openLedger,
  reinstateTx,
  revokeTx,
  suspendTx,
  type BuiltTx,
  type OpenedLedger,
} from '../../helpers/fixtures.js'

const chain = makeTestChain()
const TTL = chain.genesis.params.txMaxTtlMs

let opened: OpenedLedger
let ledger: Ledger
/** Block time of the next block; every test starts from a fresh ledger at "now". */
let now: number

beforeEach(async () => {
  opened = await openLedger(chain)
  ledger = opened.ledger
  now = Date.now()
})
afterEach(async () => {
  await opened.cleanup()
})

function d(tx: BuiltTx | DecodedTx): DecodedTx {
  return 'signBytes' in tx ? tx : decode(chain, tx)
}

/** Next block at a strictly later time. */
async function commit(...txs: (BuiltTx | DecodedTx)[]): Promise<void> {
  now += 1000
  const p = await commitTxs(ledger, chain, txs.map(d), now)
  expect(p.rejected.map((r) => r.error.code), 'every transaction of this block should be valid').toEqual([])
}

/** Issues `n` certificates from `issuer` in one committed block; returns their ids. */
async function issued(issuer: string, n = 1, type?: string): Promise<Bytes[]> {
  const tx = issueTx(chain, issuer, n, type === undefined ? {} : { type })
  await commit(tx)
  return d(tx).certificateIds.slice()
}

async function entry(id: Bytes) {
  return (await ledger.getCertificates([id]))[0]
}

/**
 * The rule refuses the transaction with `code`, both at admission (checkTx) and when building a
 * block (proposeBlock leaves it out and reports the code). Nothing is committed.
 */
async function expectRejected(tx: BuiltTx | DecodedTx, code: string, time = now + 1000): Promise<void> {
  await expect(ledger.checkTx(d(tx), time)).rejects.toMatchObject({ code })
  const p = await ledger.proposeBlock([d(tx)], time, chain.proposer)
  expect(p.included).toEqual([])
  expect(p.rejected.map((r) => r.error.code)).toEqual([code])
}

/** Transactions refused against ids = [active, active, suspended] (in REFUSED_CODES order). */
function refused(ids: readonly Bytes[]): BuiltTx[] {
  return [
    issueTx(chain, 'kr.mois', [{}, { type: 'kr.land' }]), // a good record, then one of a foreign type
    revokeTx(chain, 'kr.court.seoul', [ids[0]!]),
    revokeTx(chain, 'kr.mois', [ids[0]!, ids[2]!, new Uint8Array(32)]),
    reinstateTx(chain, 'kr.mois', ids[1]!),
    suspendTx(chain, 'kr.mois', ids[2]!, { reason: 'court_order' }),
    issueTx(chain, 'kr.mois', 1, { signWith: generateKeyPair() }),
  ]
}
const REFUSED_CODES = [
  'ISSUER_NOT_AUTHORIZED_FOR_TYPE',
  'NOT_AUTHORIZED',
  'UNKNOWN_CERTIFICATE',
  'NOT_SUSPENDED',
  'ALREADY_SUSPENDED',
  'ISSUER_KEY_MISMATCH',
]

async function expectAccepted(tx: BuiltTx | DecodedTx, time = now + 1000): Promise<void> {
  await expect(ledger.checkTx(d(tx), time)).resolves.toBeUndefined()
}

describe('expiry', () => {
  it('TX_EXPIRED: expiresAt at or before the block time', async () => {
    const t = now + 1000
    await expectRejected(issueTx(chain, 'kr.mois', 1, { expiresAt: t }), 'TX_EXPIRED', t)
    await expectRejected(issueTx(chain, 'kr.mois', 1, { expiresAt: t - 1 }), 'TX_EXPIRED', t)
    await expectAccepted(issueTx(chain, 'kr.mois', 1, { expiresAt: t + 1 }), t)
  })

  it('TX_EXPIRED for every kind', async () => {
    const [id] = await issued('kr.mois')
    const t = now + 1000
    await expectRejected(revokeTx(chain, 'kr.mois', [id!], { expiresAt: t }), 'TX_EXPIRED', t)
    await expectRejected(suspendTx(chain, 'kr.mois', id!, { expiresAt: t }), 'TX_EXPIRED', t)
    await expectRejected(reinstateTx(chain, 'kr.mois', id!, { expiresAt: t }), 'TX_EXPIRED', t)
  })

  it('TX_EXPIRY_TOO_FAR: expiresAt more than txMaxTtlMs after the block time', async () => {
    const t = now + 1000
    await expectRejected(issueTx(chain, 'kr.mois', 1, { expiresAt: t + TTL + 1 }), 'TX_EXPIRY_TOO_FAR', t)
    await expectAccepted(issueTx(chain, 'kr.mois', 1, { expiresAt: t + TTL }), t)
  })
})

describe('replay', () => {
  it('DUPLICATE_TX: replay of a committed transaction', async () => {
    const tx = issueTx(chain, 'kr.mois', 2)
    await commit(tx)
    // decoded afresh from the same bytes, as a peer would submit it
    await expectRejected(decode(chain, tx.bytes), 'DUPLICATE_TX')
    const [id] = d(tx).certificateIds
    const revoke = revokeTx(chain, 'kr.mois', [id!])
    await commit(revoke)
    await expectRejected(decode(chain, revoke.bytes), 'DUPLICATE_TX')
  })

  it('DUPLICATE_TX: the same transaction twice in one block', async () => {
    const tx = issueTx(chain, 'kr.mois', 1)
    const p = await ledger.proposeBlock([decode(chain, tx), decode(chain, tx)], now + 1000, chain.proposer)
    expect(p.included).toHaveLength(1)
    expect(p.rejected.map((r) => r.error.code)).toEqual(['DUPLICATE_TX'])
    expect(p.writes.block.txs).toHaveLength(1)
  })

  it('DUPLICATE_TX wins over the certificate being on chain already', async () => {
    const tx = issueTx(chain, 'kr.mois', 1)
    await commit(tx)
    await expect(ledger.checkTx(decode(chain, tx), now + 1000)).rejects.toMatchObject({ code: 'DUPLICATE_TX' })
  })
})

describe('issuer and signature', () => {
  it('UNKNOWN_ISSUER', async () => {
    await expectRejected(issueTx(chain, 'kr.nobody', 1, { signWith: generateKeyPair(), type: 'kr.residence' }), 'UNKNOWN_ISSUER')
    await expectRejected(revokeTx(chain, 'kr.nobody', [new Uint8Array(32)], { signWith: generateKeyPair() }), 'UNKNOWN_ISSUER')
  })

  it('ISSUER_INACTIVE: a registered issuer with active: false', async () => {
    await expectRejected(issueTx(chain, 'kr.retired', 1), 'ISSUER_INACTIVE')
  })

  it('ISSUER_KEY_MISMATCH: a valid signature by a key that is not the registered key', async () => {
    const tx = issueTx(chain, 'kr.mois', 1, { signWith: generateKeyPair() })
    await expectRejected(tx, 'ISSUER_KEY_MISMATCH')
    // the key of another registered issuer
    await expectRejected(issueTx(chain, 'kr.mois', 1, { signWith: chain.keys['kr.seoul.jongno'] }), 'ISSUER_KEY_MISMATCH')
  })

  it('BAD_SIGNATURE: the registered key, but signed by another key', async () => {
    const tx = issueTx(chain, 'kr.mois', 1, { signWith: generateKeyPair(), key: chain.keys['kr.mois'].publicKey })
    await expectRejected(tx, 'BAD_SIGNATURE')
  })

  it('BAD_SIGNATURE: signed for another chain id', async () => {
    await expectRejected(issueTx(chain, 'kr.mois', 1, { chainId: 'certchain-other' }), 'BAD_SIGNATURE')
  })

  it('BAD_SIGNATURE: a corrupted signature', async () => {
    const tx = suspendTx(chain, 'kr.mois', new Uint8Array(32))
    const sig = Uint8Array.from(tx.tx.sig)
    sig[5]! ^= 0x40
    const { encodeTx } = await import('../../../src/core/tx.js')
    await expectRejected(decode(chain, encodeTx({ ...tx.tx, sig })), 'BAD_SIGNATURE')
  })
})

describe('issuance rules', () => {
  it('UNKNOWN_CERT_TYPE', async () => {
    await expectRejected(issueTx(chain, 'kr.mois', [{}, { type: 'kr.passport' }]), 'UNKNOWN_CERT_TYPE')
  })

  it('ISSUER_NOT_AUTHORIZED_FOR_TYPE: a type the issuer is not registered for', async () => {
    await expectRejected(issueTx(chain, 'kr.mois', [{ type: 'kr.land' }]), 'ISSUER_NOT_AUTHORIZED_FOR_TYPE')
    await expectRejected(issueTx(chain, 'kr.land.seoul', [{ type: 'kr.building' }]), 'ISSUER_NOT_AUTHORIZED_FOR_TYPE')
    // being an authority for a type (revocation) is not a licence to issue it
    await expectRejected(issueTx(chain, 'kr.court.seoul', [{ type: 'kr.residence' }]), 'ISSUER_NOT_AUTHORIZED_FOR_TYPE')
  })

  it('RECORD_ISSUER_MISMATCH: a record naming another issuer than the signer', async () => {
    await expectRejected(issueTx(chain, 'kr.mois', [{}, { issuer: 'kr.seoul.jongno' }]), 'RECORD_ISSUER_MISMATCH')
  })

  it('DUPLICATE_CERTIFICATE: the certificate is already on chain', async () => {
    const first = issueTx(chain, 'kr.mois', 2)
    await commit(first)
    // same record, new transaction (another expiry, so another tx id), together with a fresh record
    const again = issueTx(chain, 'kr.mois', [{}, first.records[1]!], { expiresAt: now + 20 * MINUTE })
    await expectRejected(again, 'DUPLICATE_CERTIFICATE')
    // and the fresh record of the refused batch was not issued
    expect(await entry(d(again).certificateIds[0]!)).toBeUndefined()
  })

  it('DUPLICATE_CERTIFICATE: the same record twice in one transaction', async () => {
    const one = issueTx(chain, 'kr.mois', 1)
    await expectRejected(issueTx(chain, 'kr.mois', [one.records[0]!, {}, one.records[0]!]), 'DUPLICATE_CERTIFICATE')
  })

  it('DUPLICATE_CERTIFICATE: the same record in two transactions of one block', async () => {
    const a = issueTx(chain, 'kr.mois', 1)
    const b = issueTx(chain, 'kr.mois', [a.records[0]!], { expiresAt: now + 11 * MINUTE })
    const p = await ledger.proposeBlock([d(a), d(b)], now + 1000, chain.proposer)
    expect(p.included.map((t) => toHex(t.id))).toEqual([toHex(d(a).id)])
    expect(p.rejected.map((r) => r.error.code)).toEqual(['DUPLICATE_CERTIFICATE'])
  })

  it('issues every record of a batch, active, with the signing key and block coordinates', async () => {
    const tx = issueTx(chain, 'kr.court.seoul', 3)
    await commit(tx)
    const ids = d(tx).certificateIds
    for (const [i, id] of ids.entries()) {
      const e = await entry(id)
      expect(e).toMatchObject({ record: tx.records[i], seq: i, height: 1, time: now, state: 'active' })
      expect(toHex(e!.txId)).toBe(toHex(d(tx).id))
      expect(toHex(e!.key)).toBe(toHex(chain.keys['kr.court.seoul'].publicKey))
      expect(e!.change).toBeUndefined()
    }
    expect(ledger.head.certificateCount).toBe(3)
  })
})

describe('status change rules', () => {
  it('UNKNOWN_CERTIFICATE for revoke, suspend and reinstate', async () => {
    const unknown = new Uint8Array(32).fill(9)
    await expectRejected(revokeTx(chain, 'kr.mois', [unknown]), 'UNKNOWN_CERTIFICATE')
    await expectRejected(suspendTx(chain, 'kr.mois', unknown), 'UNKNOWN_CERTIFICATE')
    await expectRejected(reinstateTx(chain, 'kr.mois', unknown), 'UNKNOWN_CERTIFICATE')
  })

  it('NOT_AUTHORIZED: another issuer may not revoke, suspend or reinstate', async () => {
    const [id] = await issued('kr.mois')
    // an issuer of another type
    await expectRejected(revokeTx(chain, 'kr.court.seoul', [id!]), 'NOT_AUTHORIZED')
    // an issuer of the same type that is not an authority for it
    await expectRejected(revokeTx(chain, 'kr.seoul.jongno', [id!]), 'NOT_AUTHORIZED')
    await expectRejected(suspendTx(chain, 'kr.seoul.jongno', id!), 'NOT_AUTHORIZED')
    await commit(suspendTx(chain, 'kr.mois', id!))
    await expectRejected(reinstateTx(chain, 'kr.land.seoul', id!), 'NOT_AUTHORIZED')
  })

  it('NOT_AUTHORIZED: an authority for one type has no say over another type', async () => {
    const [id] = await issued('kr.court.seoul')
    await expectRejected(revokeTx(chain, 'kr.mois', [id!]), 'NOT_AUTHORIZED')
  })

  it('NOT_AUTHORIZED: one foreign certificate in a revocation refuses the whole transaction', async () => {
    const own = await issued('kr.seoul.jongno', 2)
    const [foreign] = await issued('kr.land.seoul')
    await expectRejected(revokeTx(chain, 'kr.seoul.jongno', [own[0]!, foreign!, own[1]!]), 'NOT_AUTHORIZED')
  })

  it('the authority named in genesis (kr.mois) may revoke a kr.seoul.jongno residence certificate', async () => {
    const [id] = await issued('kr.seoul.jongno')
    await commit(revokeTx(chain, 'kr.mois', [id!], { reason: 'court_order', note: '행정 처분' }))
    const e = await entry(id!)
    expect(e).toMatchObject({ state: 'revoked', change: { height: 2, time: now, by: 'kr.mois', key: chain.keys['kr.mois'].publicKey, reason: 'court_order', note: '행정 처분' } })
    // the record and issuance facts are untouched
    expect(e).toMatchObject({ height: 1, record: { issuer: 'kr.seoul.jongno' } })
  })

  it('the authority may also suspend and reinstate another issuer’s certificate', async () => {
    const [id] = await issued('kr.seoul.jongno')
    await commit(suspendTx(chain, 'kr.mois', id!))
    expect((await entry(id!))?.state).toBe('suspended')
    await commit(reinstateTx(chain, 'kr.mois', id!))
    expect((await entry(id!))?.state).toBe('active')
  })

  it('the issuer itself may revoke its certificate', async () => {
    const ids = await issued('kr.land.seoul', 3)
    await commit(revokeTx(chain, 'kr.land.seoul', ids, { reason: 'superseded' }))
    for (const id of ids) expect((await entry(id))?.state).toBe('revoked')
  })

  it('ALREADY_REVOKED: revoke, suspend or reinstate a revoked certificate', async () => {
    const [id] = await issued('kr.mois')
    await commit(revokeTx(chain, 'kr.mois', [id!]))
    await expectRejected(revokeTx(chain, 'kr.mois', [id!], { reason: 'other' }), 'ALREADY_REVOKED')
    await expectRejected(suspendTx(chain, 'kr.mois', id!), 'ALREADY_REVOKED')
    await expectRejected(reinstateTx(chain, 'kr.mois', id!), 'ALREADY_REVOKED')
  })

  it('ALREADY_REVOKED: two revocations of one certificate in one block', async () => {
    const [id] = await issued('kr.mois')
    const a = revokeTx(chain, 'kr.mois', [id!], { reason: 'fraud' })
    const b = revokeTx(chain, 'kr.seoul.jongno', [id!], { reason: 'fraud' })
    const c = revokeTx(chain, 'kr.mois', [id!], { reason: 'other' })
    const p = await ledger.proposeBlock([d(a), d(b), d(c)], now + 1000, chain.proposer)
    expect(p.included.map((t) => toHex(t.id))).toEqual([toHex(d(a).id)])
    expect(p.rejected.map((r) => r.error.code)).toEqual(['NOT_AUTHORIZED', 'ALREADY_REVOKED'])
  })

  it('a certificate may be issued and revoked in the same block', async () => {
    const issue = issueTx(chain, 'kr.mois', 1)
    const [id] = d(issue).certificateIds
    await commit(issue, revokeTx(chain, 'kr.mois', [id!]))
    expect(await entry(id!)).toMatchObject({ state: 'revoked', height: 1, change: { height: 1 } })
  })

  it('a suspended certificate may be revoked', async () => {
    const [id] = await issued('kr.mois')
    await commit(suspendTx(chain, 'kr.mois', id!))
    await commit(revokeTx(chain, 'kr.mois', [id!]))
    expect((await entry(id!))?.state).toBe('revoked')
  })

  it('ALREADY_SUSPENDED', async () => {
    const [id] = await issued('kr.mois')
    await commit(suspendTx(chain, 'kr.mois', id!, { reason: 'under_investigation' }))
    await expectRejected(suspendTx(chain, 'kr.mois', id!, { reason: 'court_order' }), 'ALREADY_SUSPENDED')
  })

  it('NOT_SUSPENDED: reinstate an active certificate', async () => {
    const [id] = await issued('kr.mois')
    await expectRejected(reinstateTx(chain, 'kr.mois', id!), 'NOT_SUSPENDED')
  })

  it('suspend → reinstate → suspend (with a different expiresAt) works', async () => {
    const [id] = await issued('kr.mois')
    const expiresAt = now + 30 * MINUTE
    await commit(suspendTx(chain, 'kr.mois', id!, { expiresAt }))
    expect(await entry(id!)).toMatchObject({ state: 'suspended', change: { height: 2, reason: 'under_investigation', by: 'kr.mois' } })
    await commit(reinstateTx(chain, 'kr.mois', id!, { note: '조사 종료' }))
    const reinstated = await entry(id!)
    expect(reinstated).toMatchObject({ state: 'active', change: { height: 3, by: 'kr.mois', note: '조사 종료' } })
    expect(reinstated?.change?.reason).toBeUndefined()
    // the identical suspension again is a replay
    await expectRejected(suspendTx(chain, 'kr.mois', id!, { expiresAt }), 'DUPLICATE_TX')
    await commit(suspendTx(chain, 'kr.mois', id!, { expiresAt: expiresAt + 1 }))
    expect(await entry(id!)).toMatchObject({ state: 'suspended', change: { height: 4 } })
  })

  it('a revocation listing the same id twice is refused (MALFORMED_TX)', async () => {
    const [id] = await issued('kr.mois')
    await expectRejected(revokeTx(chain, 'kr.mois', [id!, id!]), 'MALFORMED_TX')
  })
})

describe('a rejected transaction changes nothing', () => {
  it('checkTx of refused transactions leaves head and entries as they were', async () => {
    const ids = await issued('kr.mois', 3)
    await commit(suspendTx(chain, 'kr.mois', ids[2]!))
    const head = ledger.head
    const before = await ledger.getCertificates(ids)
    for (const tx of refused(ids)) await expect(ledger.checkTx(d(tx), now + 1000)).rejects.toBeDefined()
    expect(ledger.head).toEqual(head)
    expect(await ledger.getCertificates(ids)).toEqual(before)
  })

  it('refused transactions in a block do not change the state root: same block as without them', async () => {
    const ids = await issued('kr.mois', 3)
    await commit(suspendTx(chain, 'kr.mois', ids[2]!))
    const good = issueTx(chain, 'kr.land.seoul', 1)
    const bad = refused(ids)
    const withBad = await ledger.proposeBlock([...bad.map(d), d(good)], now + 1000, chain.proposer)
    expect(withBad.rejected.map((r) => r.error.code)).toEqual(REFUSED_CODES)
    const without = await ledger.proposeBlock([d(good)], now + 1000, chain.proposer)
    expect(toHex(withBad.writes.head.stateRoot)).toBe(toHex(without.writes.head.stateRoot))
    expect(withBad.writes.block.header).toEqual(without.writes.block.header)
    expect([...withBad.writes.certificates.keys()]).toEqual([...without.writes.certificates.keys()])
  })

  it('a block of refused transactions only: entries, counts and tx index unchanged', async () => {
    const ids = await issued('kr.mois', 3)
    await commit(suspendTx(chain, 'kr.mois', ids[2]!))
    const head = ledger.head
    const before = await ledger.getCertificates(ids)
    const bad = refused(ids)
    now += 1000
    const p = await commitTxs(ledger, chain, bad.map(d), now)
    expect(p.rejected.map((r) => r.error.code)).toEqual(REFUSED_CODES)
    expect(p.included).toEqual([])
    expect(p.writes.certificates.size).toBe(0)
    expect(ledger.head.height).toBe(head.height + 1)
    expect(ledger.head.certificateCount).toBe(head.certificateCount)
    expect(ledger.head.txCount).toBe(head.txCount)
    expect(await ledger.getCertificates(ids)).toEqual(before)
    for (const tx of bad) expect(await ledger.getTxLocation(d(tx).id)).toBeUndefined()
  })

  // Regression: a block that changes no certificate (empty, or every transaction refused) once got
  // the empty tree's root instead of the current status tree root.
  it('a block of refused transactions keeps the state root', async () => {
    const ids = await issued('kr.mois', 3)
    now += 1000
    // Suspended first, so that every transaction of refused() fails.
    await commitTxs(ledger, chain, [d(suspendTx(chain, 'kr.mois', ids[2]!, { reason: 'under_investigation' }))], now)
    now += 1000
    // The height history moves on with every block, so the reference is an empty block at the same height and time.
    const empty = await ledger.proposeBlock([], now, chain.proposer)
    const block = await commitTxs(ledger, chain, refused(ids).map(d), now)
    expect(block.included).toHaveLength(0)
    expect(toHex(ledger.head.stateRoot)).toBe(toHex(empty.writes.block.header.stateRoot))
  })

  it('a revocation listing one unknown id among valid ones changes nothing', async () => {
    const ids = await issued('kr.mois', 2)
    const before = await ledger.getCertificates(ids)
    const revoke = revokeTx(chain, 'kr.mois', [ids[0]!, new Uint8Array(32).fill(1), ids[1]!])
    await expectRejected(revoke, 'UNKNOWN_CERTIFICATE')
    const other = issueTx(chain, 'kr.court.seoul', 1)
    const withRevoke = await ledger.proposeBlock([d(revoke), d(other)], now + 1000, chain.proposer)
    const without = await ledger.proposeBlock([d(other)], now + 1000, chain.proposer)
    expect(withRevoke.rejected.map((r) => r.error.code)).toEqual(['UNKNOWN_CERTIFICATE'])
    expect(toHex(withRevoke.writes.head.stateRoot)).toBe(toHex(without.writes.head.stateRoot))
    now += 1000
    await commitWrites(ledger, chain, withRevoke.writes)
    expect(await ledger.getCertificates(ids)).toEqual(before)
    for (const id of ids) expect((await entry(id))?.state).toBe('active')
  })

  it('a rejected transaction earlier in a block does not disturb the valid ones after it', async () => {
    const [id] = await issued('kr.mois')
    const good = revokeTx(chain, 'kr.mois', [id!])
    const bad = suspendTx(chain, 'kr.court.seoul', id!)
    now += 1000
    const p = await commitTxs(ledger, chain, [d(bad), d(good)], now)
    expect(p.rejected.map((r) => r.error.code)).toEqual(['NOT_AUTHORIZED'])
    expect((await entry(id!))?.state).toBe('revoked')
  })

  it('a status change moves the state root', async () => {
    const [id] = await issued('kr.mois')
    const root = toHex(ledger.head.stateRoot)
    await commit(suspendTx(chain, 'kr.mois', id!))
    const suspended = toHex(ledger.head.stateRoot)
    expect(suspended).not.toBe(root)
    await commit(reinstateTx(chain, 'kr.mois', id!))
    // back to active, but "since" moved: the leaf differs from the original one
    expect(toHex(ledger.head.stateRoot)).not.toBe(suspended)
    expect(toHex(ledger.head.stateRoot)).not.toBe(root)
  })
})
