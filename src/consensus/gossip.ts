import { decodeFinalizedBlock } from '../core/block.js'
import { isCertchainError } from '../core/errors.js'
import type { FinalizedBlock, GossipVerdict } from '../core/types.js'
import type { Ledger } from '../ledger/index.js'
import type { ConsensusEngine } from './engine.js'
import { decodeMessage, verifyCommit, type ConsensusMessage } from './messages.js'

/**
 * Gossip validation of consensus messages (proposals, votes): malformed or badly signed or from a
 * non-validator is REJECT; stale or far-future is IGNORE (it depends on where this node is).
 */
export function validateConsensusGossip(engine: ConsensusEngine, data: Uint8Array, maxBytes: number): { verdict: GossipVerdict; message?: ConsensusMessage } {
  let message: ConsensusMessage
  try {
    message = decodeMessage(data, maxBytes)
  } catch (err) {
    if (isCertchainError(err)) return { verdict: { result: 'reject', reason: err.message } }
    throw err
  }
  const check = engine.check(message)
  if (check.ok) return { verdict: { result: 'accept' }, message }
  return { verdict: { result: check.reject ? 'reject' : 'ignore', reason: check.reason } }
}

/**
 * Gossip validation of a finalized block (a block with its commit, re-sent for peers that missed
 * the last votes): the commit must verify against the validator set of the block's height.
 * Blocks at or below our height are IGNORE; a bad commit for the next height is REJECT.
 */
export function validateBlockGossip(ledger: Ledger, data: Uint8Array, maxBytes: number): { verdict: GossipVerdict; finalized?: FinalizedBlock } {
  let finalized: FinalizedBlock
  try {
    finalized = decodeFinalizedBlock(data, maxBytes)
  } catch (err) {
    if (isCertchainError(err)) return { verdict: { result: 'reject', reason: err.message } }
    throw err
  }
  const height = finalized.block.header.height
  const head = ledger.head.height
  if (height <= head) return { verdict: { result: 'ignore', reason: 'already have this height' } }
  // Only the next block can be checked now (the validator set of later heights is not known yet).
  if (height > head + 1) return { verdict: { result: 'ignore', reason: 'ahead of this node; sync fetches it' }, finalized }
  const problem = verifyCommit(ledger.chainId, ledger.validators(height), finalized.block, finalized.commit)
  if (problem) return { verdict: { result: 'reject', reason: problem } }
  return { verdict: { result: 'accept' }, finalized }
}
