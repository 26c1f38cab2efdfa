import { ErrorCodes, isCertchainError } from '../core/errors.js'
import type { GossipVerdict, Millis } from '../core/types.js'
import type { Ledger } from '../ledger/index.js'
import { admitTx, INVALID_EVERYWHERE } from './admission.js'
import type { Mempool } from './mempool.js'

/**
 * Gossip validation of a relayed transaction, which is also its admission: accepted (and
 * forwarded) only when it entered this node's mempool now. Rule failures that depend on state
 * (duplicate, expired, already revoked, mempool full) are IGNORE; malformed or badly signed is REJECT.
 * A state-dependent failure still cost the work of checking it, and an honest relay would have
 * refused it too (its state is ours give or take a block), so it is charged to the sender; except
 * conflicts (409: duplicate, already revoked, already voted…) and a full mempool, which honest
 * relays do hit when two transactions race into one block.
 */
export async function validateTxGossip(ledger: Ledger, mempool: Mempool, data: Uint8Array, now: Millis): Promise<GossipVerdict> {
  try {
    const admitted = await admitTx(ledger, mempool, data, now)
    return admitted.added ? { result: 'accept' } : { result: 'ignore', reason: 'already pending' }
  } catch (err) {
    if (!isCertchainError(err)) throw err
    if (INVALID_EVERYWHERE.has(err.code)) return { result: 'reject', code: err.code, reason: `${err.code}: ${err.message}` }
    const charge = ErrorCodes[err.code] !== 409 && err.code !== 'MEMPOOL_FULL'
    return { result: 'ignore', code: err.code, reason: `${err.code}: ${err.message}`, ...(charge ? { charge } : {}) }
  }
}
