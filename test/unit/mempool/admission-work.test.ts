/**
 * Issue 10 item 6: a forged transaction costs bounded work before it is refused, and the same
 * bytes sent again cost one hash. Work is counted (SHA-256 calls, storage reads), not timed.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type * as HashModule from '../../../src/core/hash.js'
import { encodeTx } from '../../../src/core/tx.js'
import { generateKeyPair } from '../../../src/core/crypto.js'
import type { Ledger } from '../../../src/ledger/index.js'
import { admitTx, DEFAULT_MEMPOOL_OPTIONS, Mempool } from '../../../src/mempool/index.js'
import { commitTxs, issueTx, makeTestChain, openLedger, revokeTx, type OpenedLedger } from '../../helpers/fixtures.js'

const hashing = vi.hoisted(() => ({ calls: 0 }))
vi.mock('../../../src/core/hash.js', async (importOriginal) => {
  const original = await importOriginal<typeof HashModule>()
  return {
    ...original,
    sha256: (...parts: Uint8Array[]) => {
      hashing.calls++
      return original.sha256(...parts)
    },
  }
})

const chain = makeTestChain()
const RECORDS = 5000

let opened: OpenedLedger
let ledger: Ledger
let storageReads: number

beforeEach(async () => {
  opened = await openLedger(chain)
  ledger = opened.ledger
  storageReads = 0
  // Count what admission reads from storage for a transaction's records.
  const store = (ledger as unknown as { store: { lookup: (txs: unknown[], certs: unknown[]) => Promise<unknown> } }).store
  const lookup = store.lookup.bind(store)
  store.lookup = (txs, certs) => {
    storageReads += txs.length + certs.length
    return lookup(txs, certs)
  }
})
afterEach(() => opened.cleanup())

function forged(issuer = 'kr.mois', key?: Uint8Array): Uint8Array {
  const genuine = issueTx(chain, issuer, RECORDS, key ? { signWith: generateKeyPair(), key } : {})
  return encodeTx({ ...genuine.tx, sig: new Uint8Array(randomBytes(64)) })
}

async function admitCounting(pool: Mempool, bytes: Uint8Array): Promise<{ code: string | undefined; hashes: number; reads: number }> {
  hashing.calls = 0
  storageReads = 0
  const code = await admitTx(ledger, pool, bytes, Date.now()).then(
    () => undefined,
    (err: { code?: string }) => err.code,
  )
  return { code, hashes: hashing.calls, reads: storageReads }
}

describe('admission of forged transactions', () => {
  it(`BAD_SIGNATURE: a forged ${RECORDS}-record issuance under a registered issuer and key reads nothing from storage`, async () => {
    const pool = new Mempool(DEFAULT_MEMPOOL_OPTIONS)
    const first = await admitCounting(pool, forged())
    expect(first.code).toBe('BAD_SIGNATURE')
    // The signature covers the records' Merkle root, so verifying it hashes every record once...
    expect(first.hashes).toBeGreaterThanOrEqual(RECORDS)
    // ...but it is verified before any record is looked up in storage.
    expect(first.reads).toBe(0)
    expect(pool.size).toBe(0)
  })

  it('the same forged bytes sent again cost one hash: no decoding, no signature check', async () => {
    const pool = new Mempool(DEFAULT_MEMPOOL_OPTIONS)
    const bytes = forged()
    await admitCounting(pool, bytes)
    for (let i = 0; i < 20; i++) expect(await admitCounting(pool, bytes)).toEqual({ code: 'BAD_SIGNATURE', hashes: 1, reads: 0 })
  })

  it('UNKNOWN_ISSUER and ISSUER_KEY_MISMATCH: a signer or key the chain does not know is refused before any record is hashed', async () => {
    const pool = new Mempool(DEFAULT_MEMPOOL_OPTIONS)
    const stranger = issueTx(chain, 'kr.nobody', RECORDS, { signWith: generateKeyPair(), type: 'kr.residence' })
    // One hash: the digest of the bytes for the refusal memory.
    expect(await admitCounting(pool, stranger.bytes)).toEqual({ code: 'UNKNOWN_ISSUER', hashes: 1, reads: 0 })
    expect(await admitCounting(pool, forged('kr.mois', generateKeyPair().publicKey))).toEqual({ code: 'ISSUER_KEY_MISMATCH', hashes: 1, reads: 0 })
  })

  it('TX_EXPIRED is refused before hashing the records', async () => {
    const pool = new Mempool(DEFAULT_MEMPOOL_OPTIONS)
    const expired = issueTx(chain, 'kr.mois', RECORDS, { expiresAt: Date.now() - 1 })
    expect(await admitCounting(pool, expired.bytes)).toEqual({ code: 'TX_EXPIRED', hashes: 1, reads: 0 })
  })

  it('refusal memory is bounded, and state-dependent refusals are forgotten after a block', async () => {
    const pool = new Mempool({ ...DEFAULT_MEMPOOL_OPTIONS, failureMemory: 2 })
    const issued = issueTx(chain, 'kr.mois', 1)
    const revokeEarly = revokeTx(chain, 'kr.mois', [(await admitTx(ledger, new Mempool(), issued.bytes, Date.now())).tx.certificateIds[0]!])
    // The certificate is not committed yet: UNKNOWN_CERTIFICATE, remembered until the next block.
    expect((await admitCounting(pool, revokeEarly.bytes)).code).toBe('UNKNOWN_CERTIFICATE')
    expect((await admitCounting(pool, revokeEarly.bytes)).hashes).toBe(1)
    await commitTxs(ledger, chain, [issued])
    pool.forgetFailures(false)
    expect((await admitCounting(pool, revokeEarly.bytes)).code).toBeUndefined()
    expect(pool.size).toBe(1)

    // Three forgeries with room for two: the oldest is decoded again.
    const [a, b, c] = [forged(), forged(), forged()]
    for (const bytes of [a, b, c]) await admitCounting(pool, bytes)
    expect((await admitCounting(pool, c)).hashes).toBe(1)
    expect((await admitCounting(pool, a)).hashes).toBeGreaterThan(RECORDS)
  })
})
