import type { Bytes } from '../core/bytes.js'
import { ErrorCodes, isCertchainError, type CertchainError } from '../core/errors.js'
import type { GossipVerdict, Millis } from '../core/types.js'
import type { Ledger } from '../ledger/index.js'
import { admitBatch, admitTx, INVALID_EVERYWHERE } from './admission.js'
import { bundleLimits, decodeTxBundle } from './bundle.js'
import type { Mempool } from './mempool.js'

/**
 * What a refused transaction costs its relay. Malformed or badly signed is REJECT. Rule failures
 * that depend on state (duplicate, expired, already revoked, mempool full) are IGNORE, and they
 * still cost the work of checking them while an honest relay would have refused them too (its
 * state is ours give or take a block), so they are charged to the sender; except conflicts (409:
 * duplicate, already revoked, already voted…) and a full mempool, which honest relays do hit when
 * two transactions race into one block.
 */
function refusal(err: CertchainError): { result: 'reject' | 'ignore'; charge: boolean } {
  if (INVALID_EVERYWHERE.has(err.code)) return { result: 'reject', charge: true }
  return { result: 'ignore', charge: ErrorCodes[err.code] !== 409 && err.code !== 'MEMPOOL_FULL' }
}

/**
 * Gossip validation of a relayed transaction (topic `txs`, one transaction per message), which
 * is also its admission: accepted (and forwarded) only when it entered this node's mempool now.
 */
export async function validateTxGossip(ledger: Ledger, mempool: Mempool, data: Uint8Array, now: Millis): Promise<GossipVerdict> {
  try {
    const admitted = await admitTx(ledger, mempool, data, now)
    return admitted.added ? { result: 'accept' } : { result: 'ignore', reason: 'already pending' }
  } catch (err) {
    if (!isCertchainError(err)) throw err
    const { result, charge } = refusal(err)
    const reason = `${err.code}: ${err.message}`
    if (result === 'reject') return { result, code: err.code, reason }
    return { result, code: err.code, reason, ...(charge ? { charge } : {}) }
  }
}

/**
 * Charged failures after which the rest of a bundle is not looked at: the sender has paid for
 * this many already (each as much as a single failing transaction), and an honest relay's bundle
 * fails this often only when it is a block or more out of step with us.
 */
export const MAX_BUNDLE_FAILURES = 32

export interface BundleOutcome {
  readonly verdict: GossipVerdict
  /**
   * Transactions this validation admitted when the bundle is not accepted (so gossipsub does not
   * forward it): the node relays them itself, in a bundle of its own, so no valid transaction is
   * held back because of the company it came in, and no relay forwards what it would charge for.
   */
  readonly relay: readonly Bytes[]
  /** Transactions the bundle holds (0 when it did not decode). */
  readonly txs: number
}

/**
 * Transactions admitted together (their signatures verified in one batch, on worker threads in a
 * node), with a yield to the event loop between chunks: admission awaits mostly settled promises,
 * so without a yield a large bundle would hold votes and proposals back until its end. A chunk is
 * also what a hostile bundle can cost beyond its first transaction invalid everywhere.
 */
export const ADMIT_CHUNK = 32
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * Gossip validation of a transaction bundle (topic `txbundle`): every transaction goes through
 * the same admission as a single one, and gossipsub gets one verdict for the bundle.
 * - a malformed bundle (too large, too many, not an array of byte strings, non-canonical, a
 *   repeated entry) or a transaction invalid everywhere: REJECT, as a single such message;
 * - state-dependent failures that are charged for a single transaction: IGNORE, charged to the
 *   sender once per failure (`units`), and the bundle is not forwarded; after
 *   {@link MAX_BUNDLE_FAILURES} the rest is not checked;
 * - otherwise ACCEPT (forwarded as received) when at least one transaction entered the mempool
 *   now, IGNORE (free) when every one was pending already or refused as a conflict.
 * Work is bounded by the chain's block limits (bundleLimits) and charged to the sender.
 */
export async function validateTxBundleGossip(ledger: Ledger, mempool: Mempool, data: Uint8Array, now: Millis): Promise<BundleOutcome> {
  let txs: Bytes[]
  try {
    txs = decodeTxBundle(data, bundleLimits(ledger.registry.params))
  } catch (err) {
    if (!isCertchainError(err)) throw err
    return { verdict: { result: 'reject', code: err.code, reason: `${err.code}: ${err.message}` }, relay: [], txs: 0 }
  }
  const added: Bytes[] = []
  let charged: { first: CertchainError; index: number; count: number } | undefined
  let free: CertchainError | undefined
  admitting: for (let start = 0; start < txs.length; start += ADMIT_CHUNK) {
    if (start > 0) await yieldToEventLoop()
    const chunk = txs.slice(start, start + ADMIT_CHUNK)
    const results = await admitBatch(ledger, mempool, chunk, now)
    // Everything the chunk admitted is relayed by this node, whatever the bundle's verdict.
    for (const [offset, outcome] of results.entries()) if (!isCertchainError(outcome) && outcome.added) added.push(chunk[offset]!)
    for (const [offset, outcome] of results.entries()) {
      if (!isCertchainError(outcome)) continue
      const index = start + offset
      const { result, charge } = refusal(outcome)
      if (result === 'reject') {
        return { verdict: { result, code: outcome.code, reason: `transaction ${index} of ${txs.length}: ${outcome.code}: ${outcome.message}` }, relay: added, txs: txs.length }
      }
      if (!charge) {
        free ??= outcome
        continue
      }
      charged ??= { first: outcome, index, count: 0 }
      if (++charged.count >= MAX_BUNDLE_FAILURES) break admitting
    }
  }
  if (charged) {
    const { first, index, count } = charged
    const reason = `${count} transaction(s) refused, the first (${index} of ${txs.length}) ${first.code}: ${first.message}`
    return { verdict: { result: 'ignore', code: first.code, reason, charge: true, units: count }, relay: added, txs: txs.length }
  }
  if (added.length > 0) return { verdict: { result: 'accept' }, relay: [], txs: txs.length }
  return {
    verdict: { result: 'ignore', reason: free ? `no transaction new here; ${free.code}: ${free.message}` : 'every transaction already pending', ...(free ? { code: free.code } : {}) },
    relay: [],
    txs: txs.length,
  }
}
