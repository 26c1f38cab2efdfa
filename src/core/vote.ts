import type { Bytes } from './bytes.js'
import { encode } from './encoding.js'

export type VoteType = 'prevote' | 'precommit'

/**
 * A signed consensus vote. It lives in core, not consensus, because the ledger checks votes too:
 * equivocation evidence (two conflicting votes) is a transaction.
 */
export interface Vote {
  readonly type: VoteType
  readonly height: number
  readonly round: number
  /** Hash of the block voted for; null is a vote for nothing ("nil"). */
  readonly blockHash: Bytes | null
  readonly validator: string
  readonly sig: Bytes
}

export const VOTE_DOMAIN = 'certchain/vote@1'

export function voteSignBytes(chainId: string, type: VoteType, height: number, round: number, hash: Bytes | null): Bytes {
  return encode([VOTE_DOMAIN, chainId, type, height, round, hash])
}
