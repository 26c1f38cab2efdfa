import { isCertchainError } from '../core/errors.js'
import type { GossipVerdict, Millis } from '../core/types.js'
import type { Ledger } from '../ledger/index.js'
import { admitTx, INVALID_EVERYWHERE } from './admission.js'
import type { Mempool } from './mempool.js'

/**
 * Gossip validation of a relayed transaction, which is also its admission: accepted (and
 * forwarded) only when it entered this node's mempool now. Rule failures that depend on state
 * (duplicate, expired, already revoked, mempool full) are IGNORE; malformed or badly signed is REJECT.
 */
export async function validateTxGossip(ledger: Ledger, mempool: Mempool, data: Uint8Array, now: Millis): Promise<GossipVerdict> {
  try {
    const admitted = await admitTx(ledger, mempool, data, now)
    return admitted.added ? { result: 'accept' } : { result: 'ignore', reason: 'already pending' }
  } catch (err) {
    if (!isCertchainError(err)) throw err
    return { result: INVALID_EVERYWHERE.has(err.code) ? 'reject' : 'ignore', reason: `${err.code}: ${err.message}` }
  }
}
