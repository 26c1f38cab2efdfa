import type { SignedTransaction } from '../client/index.js'
import { RpcError, type RpcClient } from '../rpc/index.js'

/** What became of one transaction of a batch: in a block, maybe still coming, or refused by a rule. */
export type BatchOutcome = { readonly height: number } | { readonly pending: string } | { readonly rejected: { readonly code: string; readonly message: string } }

/** Transactions per request: well under the node's default cap (rpc.maxBatchTxs, 1,000). */
export const TXS_PER_REQUEST = 500
/** Transaction bytes per request: half the node's default body limit (rpc.bodyLimitBytes, 4 MiB). */
export const BYTES_PER_REQUEST = 2 * 1024 * 1024
/** A node's rate limit refills continuously: entries it answered RATE_LIMITED are sent again after this. */
const RATE_LIMIT_RETRY_MS = 1000

/** Consecutive runs of transactions, each within both request limits (a lone oversized one alone). */
export function requestGroups<T extends { readonly bytes: Uint8Array }>(txs: readonly T[]): T[][] {
  const groups: T[][] = []
  let current: T[] = []
  let bytes = 0
  for (const tx of txs) {
    if (current.length > 0 && (current.length >= TXS_PER_REQUEST || bytes + tx.bytes.length > BYTES_PER_REQUEST)) {
      groups.push(current)
      current = []
      bytes = 0
    }
    current.push(tx)
    bytes += tx.bytes.length
  }
  if (current.length > 0) groups.push(current)
  return groups
}

/**
 * Submits transactions through `POST /v1/txs/batch` with ?wait=commit, a request of up to
 * {@link TXS_PER_REQUEST} at a time, and reports each transaction's outcome as its request is
 * answered (in order within a request). A request that gets no answer leaves its transactions
 * pending (they may still be committed); entries past the node's rate budget are sent again.
 */
export async function submitInBatches<T extends SignedTransaction>(
  client: RpcClient,
  txs: readonly T[],
  onOutcome: (tx: T, outcome: BatchOutcome) => Promise<void>,
  onProgress: (answered: number, total: number) => void,
): Promise<void> {
  let answered = 0
  for (const group of requestGroups(txs)) {
    let unanswered = group
    while (unanswered.length > 0) {
      let results: Awaited<ReturnType<RpcClient['submitBatch']>>['results']
      try {
        results = (await client.submitBatch(unanswered.map((t) => t.bytes), { wait: 'commit' })).results
      } catch (err) {
        if (!(err instanceof RpcError && err.code === 'UNAVAILABLE')) throw err
        for (const tx of unanswered) await onOutcome(tx, { pending: `sent, but no answer came (${err.message})` })
        answered += unanswered.length
        break
      }
      const limited: T[] = []
      for (const [i, tx] of unanswered.entries()) {
        const result = results[i]
        if (result === undefined) throw new RpcError('INVALID_RESPONSE', `the node answered ${results.length} results for ${unanswered.length} transactions`, 200)
        if (result.status === 'rejected' && result.code === 'RATE_LIMITED') {
          limited.push(tx)
          continue
        }
        const outcome: BatchOutcome =
          result.status === 'committed'
            ? { height: result.height }
            : result.status === 'pending'
              ? { pending: 'accepted but not yet in a block' }
              : { rejected: { code: result.code, message: result.message } }
        await onOutcome(tx, outcome)
        answered++
      }
      onProgress(answered, txs.length)
      if (limited.length > 0) await new Promise((r) => setTimeout(r, RATE_LIMIT_RETRY_MS))
      unanswered = limited
    }
  }
}
