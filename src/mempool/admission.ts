import { toHex, type Bytes } from '../core/bytes.js'
import { CertchainError, type ErrorCode } from '../core/errors.js'
import { sha256 } from '../core/hash.js'
import type { DecodedTx } from '../core/tx.js'
import type { Millis } from '../core/types.js'
import type { Ledger } from '../ledger/index.js'
import type { Mempool } from './mempool.js'

export interface Admitted {
  readonly tx: DecodedTx
  readonly id: string
  /** False when the same transaction was already pending (resubmission is harmless). */
  readonly added: boolean
}

/** Refusals that hold on every node whatever its state: the bytes themselves are bad. */
export const INVALID_EVERYWHERE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'TX_TOO_LARGE',
  'MALFORMED_ENCODING',
  'NON_CANONICAL_ENCODING',
  'MALFORMED_TX',
  'BAD_SIGNATURE',
  'EMPTY_BATCH',
  'TOO_MANY_RECORDS',
  'INVALID_VALIDITY',
  'INVALID_REASON',
  'NOTE_TOO_LONG',
])

/** Not verdicts on the bytes: a full mempool empties, an expiry too far ahead comes into range as time passes. */
const NOT_REMEMBERED: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['MEMPOOL_FULL', 'TX_EXPIRY_TOO_FAR'])

/**
 * Admission: decode, run every ledger rule once against committed state, then queue. The order
 * keeps a forgery cheap: the exact bytes are looked up among recent refusals first, expiry and the
 * signer's key are checked before an issuance's records are hashed, and the signature before
 * anything is read from storage. A refused transaction leaves nothing behind except the
 * remembered refusal (by its bytes; by its id too when it decoded).
 */
export async function admitTx(ledger: Ledger, mempool: Mempool, bytes: Bytes, now: Millis): Promise<Admitted> {
  const digest = toHex(sha256(bytes))
  const known = mempool.knownFailure(digest)
  if (known) throw known
  const pending = mempool.pendingByDigest(digest)
  if (pending) return { tx: pending, id: toHex(pending.id), added: false }
  let tx: DecodedTx | undefined
  try {
    tx = ledger.decodeTx(bytes, now)
    const id = toHex(tx.id)
    if (mempool.has(id)) return { tx, id, added: false }
    // A second report of an offence is refused before its votes' signatures are verified.
    mempool.checkReport(tx)
    await ledger.checkTx(tx, now)
    return { tx, id, added: mempool.add(tx) === 'added' }
  } catch (err) {
    if (!(err instanceof CertchainError)) throw err
    if (!NOT_REMEMBERED.has(err.code)) mempool.rememberFailure(digest, err, !INVALID_EVERYWHERE.has(err.code))
    // A bad signature says nothing about the transaction with this id (anyone can attach a broken
    // signature to a copy of someone else's), and a full mempool is not a verdict: neither marks the id.
    if (tx && err.code !== 'BAD_SIGNATURE' && err.code !== 'MEMPOOL_FULL') mempool.recordRejection(toHex(tx.id), err)
    throw err
  }
}
