/**
 * Issue 11 item 2: batch admission (`admitBatch`, behind `POST /v1/txs/batch`) verifies every
 * signature in one call to the ledger's verifier (worker threads in a node), each exactly once,
 * before anything is read from storage, and answers each entry as admitting them one after the
 * other would.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type * as CryptoModule from '../../../src/core/crypto.js'
import { INLINE_VERIFIER, type SignatureBatchVerifier, type SignatureCheck } from '../../../src/core/crypto.js'
import { toHex, type Bytes } from '../../../src/core/bytes.js'
import { sha256 } from '../../../src/core/hash.js'
import { CertchainError } from '../../../src/core/errors.js'
import { encodeTx } from '../../../src/core/tx.js'
import type { Ledger } from '../../../src/ledger/index.js'
import { admitBatch, admitTx, DEFAULT_MEMPOOL_OPTIONS, Mempool, type Admitted } from '../../../src/mempool/index.js'
import { commitTxs, decode, issueTx, makeTestChain, openLedger, revokeTx, type BuiltTx, type OpenedLedger } from '../../helpers/fixtures.js'

const verifying = vi.hoisted(() => ({ calls: 0 }))
vi.mock('../../../src/core/crypto.js', async (importOriginal) => {
  const original = await importOriginal<typeof CryptoModule>()
  return {
    ...original,
    verify: (...args: Parameters<typeof original.verify>) => {
      verifying.calls++
      return original.verify(...args)
    },
  }
})

const chain = makeTestChain()

/** The test's verifier: the inline one, with every batch it was handed recorded. */
class RecordingVerifier implements SignatureBatchVerifier {
  readonly batches: (readonly SignatureCheck[])[] = []
  verifyBatch(checks: readonly SignatureCheck[]): Promise<boolean[]> {
    this.batches.push(checks)
    return INLINE_VERIFIER.verifyBatch(checks)
  }
}

const opened: OpenedLedger[] = []
afterEach(async () => {
  for (const o of opened.splice(0)) await o.cleanup()
})

let verifier: RecordingVerifier
let ledger: Ledger
/** Every transaction id and certificate id admission read from storage. */
let lookedUp: Set<string>

beforeEach(async () => {
  verifier = new RecordingVerifier()
  ledger = await open(verifier)
  lookedUp = new Set()
  const store = (ledger as unknown as { store: { lookup: (txs: Bytes[], certs: Bytes[]) => Promise<unknown> } }).store
  const lookup = store.lookup.bind(store)
  store.lookup = (txs, certs) => {
    for (const id of [...txs, ...certs]) lookedUp.add(toHex(id))
    return lookup(txs, certs)
  }
})

async function open(with_?: SignatureBatchVerifier): Promise<Ledger> {
  const o = await openLedger(chain, with_ ? { verifier: with_ } : {})
  opened.push(o)
  return o.ledger
}

/** A copy of a genuine transaction with one signature bit flipped: same id, bytes that do not verify. */
function forge(genuine: BuiltTx): Bytes {
  const sig = Uint8Array.from(genuine.tx.sig)
  sig[10]! ^= 0x01
  return encodeTx({ ...genuine.tx, sig })
}

const codeOf = (r: Admitted | CertchainError): string => (r instanceof CertchainError ? r.code : `added=${r.added}`)

describe('admitBatch', () => {
  it('a forged signature is refused BAD_SIGNATURE, the others are admitted; all signatures are verified once, in one batch; nothing is read or stored for the forgery', async () => {
    const mempool = new Mempool(DEFAULT_MEMPOOL_OPTIONS)
    const genuine = Array.from({ length: 6 }, () => issueTx(chain, 'kr.mois', 1))
    const victim = genuine[2]!
    const forged = forge(victim)
    const entries = genuine.map((g) => (g === victim ? forged : g.bytes))
    verifying.calls = 0
    const admittedAt: number[] = []
    const results = await admitBatch(ledger, mempool, entries, Date.now(), (index) => admittedAt.push(index))
    expect(results.map(codeOf)).toEqual(['added=true', 'added=true', 'BAD_SIGNATURE', 'added=true', 'added=true', 'added=true'])
    expect(admittedAt).toEqual([0, 1, 3, 4, 5])
    // One batch of six, and no signature verified a second time: checkTx, which verifies through
    // core/crypto's verify (counted), skips the verified ones.
    expect(verifier.batches.map((b) => b.length)).toEqual([6])
    expect(verifying.calls).toBe(0)
    expect(mempool.size).toBe(5)
    const victimId = decode(chain, victim)
    expect(mempool.has(toHex(victimId.id))).toBe(false)
    expect(lookedUp.has(toHex(victimId.id))).toBe(false)
    expect(lookedUp.has(toHex(victimId.certificateIds[0]!))).toBe(false)
    expect(lookedUp.has(toHex(decode(chain, genuine[0]!).certificateIds[0]!))).toBe(true)
    // The refusal is remembered by its bytes only: the forgery again costs a hash, the genuine copy (same id) is admitted.
    expect(mempool.knownFailure(toHex(sha256(forged)))?.code).toBe('BAD_SIGNATURE')
    await expect(admitTx(ledger, mempool, forged, Date.now())).rejects.toMatchObject({ code: 'BAD_SIGNATURE' })
    await expect(admitTx(ledger, mempool, victim.bytes, Date.now())).resolves.toMatchObject({ added: true })
    // Single admission goes through the verifier too (a batch of one); the forgery sent again did not.
    expect(verifier.batches.map((b) => b.length)).toEqual([6, 1])
    expect(verifying.calls).toBe(0)
    // checkTx does verify a transaction nobody verified (and the counter counts it).
    await ledger.checkTx(decode(chain, issueTx(chain, 'kr.mois', 1)), Date.now())
    expect(verifying.calls).toBe(1)
  })

  it('answers every entry as admitting them one after the other does (same codes, same mempool)', async () => {
    const sequentialLedger = await open()
    const committed = issueTx(chain, 'kr.mois', 2)
    const t0 = Date.now() - 1000
    for (const l of [ledger, sequentialLedger]) await commitTxs(l, chain, [committed], t0)
    const [held] = decode(chain, committed).certificateIds
    const a = issueTx(chain, 'kr.mois', 1)
    const b = issueTx(chain, 'kr.seoul.jongno', 2)
    const entries: Bytes[] = [
      a.bytes,
      forge(b),
      b.bytes, // same id as the forgery: admitted, the bad signature did not mark the id
      a.bytes, // the same bytes again: already pending
      committed.bytes, // DUPLICATE_TX (read from storage)
      issueTx(chain, 'kr.mois', 1, { expiresAt: Date.now() - 1 }).bytes, // TX_EXPIRED
      issueTx(chain, 'kr.mois', 1, { signWith: chain.keys['kr.court.seoul'] }).bytes, // ISSUER_KEY_MISMATCH
      revokeTx(chain, 'kr.mois', [held!]).bytes,
      revokeTx(chain, 'kr.mois', [new Uint8Array(32).fill(9)]).bytes, // UNKNOWN_CERTIFICATE
      Uint8Array.of(0xa1, 0x61), // MALFORMED_ENCODING
      forge(issueTx(chain, 'kr.mois', 3)),
    ]
    const now = Date.now()
    const batchPool = new Mempool(DEFAULT_MEMPOOL_OPTIONS)
    const sequentialPool = new Mempool(DEFAULT_MEMPOOL_OPTIONS)
    const batch = (await admitBatch(ledger, batchPool, entries, now)).map(codeOf)
    const sequential: string[] = []
    for (const bytes of entries) {
      sequential.push(
        await admitTx(sequentialLedger, sequentialPool, bytes, now).then(codeOf, (err: unknown) => {
          if (!(err instanceof CertchainError)) throw err
          return err.code
        }),
      )
    }
    expect(batch).toEqual(sequential)
    expect(batch).toEqual([
      'added=true',
      'BAD_SIGNATURE',
      'added=true',
      'added=false',
      'DUPLICATE_TX',
      'TX_EXPIRED',
      'ISSUER_KEY_MISMATCH',
      'added=true',
      'UNKNOWN_CERTIFICATE',
      'MALFORMED_ENCODING',
      'BAD_SIGNATURE',
    ])
    expect(batchPool.size).toBe(sequentialPool.size)
    // Entries refused before their signature (bytes, expiry, signer) never reach the verifier.
    expect(verifier.batches.map((c) => c.length)).toEqual([8])
  })

  it('an entry whose signature was verified before (a pending copy) is not sent to the verifier again', async () => {
    const mempool = new Mempool(DEFAULT_MEMPOOL_OPTIONS)
    const a = issueTx(chain, 'kr.mois', 1)
    await admitTx(ledger, mempool, a.bytes, Date.now())
    const b = issueTx(chain, 'kr.mois', 1)
    const results = await admitBatch(ledger, mempool, [a.bytes, b.bytes], Date.now())
    expect(results.map(codeOf)).toEqual(['added=false', 'added=true'])
    // a alone (admitTx), then b alone: a is pending already.
    expect(verifier.batches.map((c) => c.length)).toEqual([1, 1])
  })
})
