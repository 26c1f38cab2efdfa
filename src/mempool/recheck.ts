import { toHex } from '../core/bytes.js'
import { CertchainError } from '../core/errors.js'
import type { DecodedTx } from '../core/tx.js'
import type { Millis } from '../core/types.js'
import type { Ledger } from '../ledger/index.js'
import type { Mempool } from './mempool.js'

/** What a committed block changed, as far as pending transactions are concerned. */
export interface BlockChanges {
  readonly time: Millis
  /** Hex ids of the certificates the block issued or changed the status of. */
  readonly certificates: Iterable<string>
  /** The registry changed (issuers, keys, validators, parameters): any pending transaction may be affected. */
  readonly rulesChanged: boolean
}

export interface Evicted {
  readonly tx: DecodedTx
  readonly error: CertchainError
}

/**
 * Drops the pending transactions a committed block made impossible, so a member's mempool does not
 * keep what the validators refuse until it fills up: those that expired by the block's time (every
 * later block is later), and those that conflict with what the block committed (a certificate it
 * touched, or any when the rules changed), which are checked again against the new state. Work is
 * bounded by the mempool's size, and is only the per-transaction rules: signatures were verified
 * at admission and are not verified again.
 */
export async function recheckPending(ledger: Ledger, mempool: Mempool, changes: BlockChanges, now: Millis): Promise<Evicted[]> {
  const evicted: Evicted[] = []
  for (const tx of mempool.pending()) {
    if (tx.tx.body.expiresAt > changes.time) continue
    const error = new CertchainError('TX_EXPIRED', `transaction expired at ${new Date(tx.tx.body.expiresAt).toISOString()} before a block included it`)
    mempool.evict(tx, error)
    evicted.push({ tx, error })
  }
  const suspects = changes.rulesChanged ? mempool.pending() : mempool.touching(changes.certificates)
  for (const tx of suspects) {
    try {
      await ledger.checkTx(tx, Math.max(now, ledger.head.time + 1))
    } catch (err) {
      if (!(err instanceof CertchainError)) throw err
      // Another block may have taken it meanwhile.
      if (!mempool.has(toHex(tx.id))) continue
      mempool.evict(tx, err)
      evicted.push({ tx, error: err })
    }
  }
  return evicted
}
