import { toHex, type Bytes } from '../core/bytes.js'
import { CertchainError } from '../core/errors.js'
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

/**
 * Admission: decode, run every ledger rule once against committed state, then queue. A refused
 * transaction leaves nothing behind except the remembered rejection code (when it decoded).
 */
export async function admitTx(ledger: Ledger, mempool: Mempool, bytes: Bytes, now: Millis): Promise<Admitted> {
  const tx = ledger.decodeTx(bytes)
  const id = toHex(tx.id)
  if (mempool.has(id)) return { tx, id, added: false }
  try {
    await ledger.checkTx(tx, now)
    return { tx, id, added: mempool.add(tx) === 'added' }
  } catch (err) {
    // A bad signature says nothing about the transaction with this id (anyone can attach a broken
    // signature to a copy of someone else's), and a full mempool is not a verdict: remember neither.
    if (err instanceof CertchainError && err.code !== 'MEMPOOL_FULL' && err.code !== 'BAD_SIGNATURE') mempool.recordRejection(id, err)
    throw err
  }
}
