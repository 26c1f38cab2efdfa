import { isBytes, toHex, type Bytes } from './bytes.js'
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

const VOTE_FIELDS = ['type', 'height', 'round', 'blockHash', 'validator', 'sig']

/**
 * What is wrong with the shape of a decoded vote, or undefined: one rule for votes gossiped by
 * consensus and votes quoted as equivocation evidence. Signatures are checked elsewhere.
 */
export function voteShapeProblem(value: Readonly<Record<string, unknown>>): string | undefined {
  const keys = Object.keys(value)
  if (keys.length !== VOTE_FIELDS.length || !VOTE_FIELDS.every((k) => keys.includes(k))) return `a vote has exactly ${VOTE_FIELDS.join(', ')}`
  if (value.type !== 'prevote' && value.type !== 'precommit') return 'type must be prevote or precommit'
  const { height, round } = value
  if (typeof height !== 'number' || !Number.isSafeInteger(height) || height < 1) return 'height must be an integer from 1'
  if (typeof round !== 'number' || !Number.isSafeInteger(round) || round < 0) return 'round must be a non-negative integer'
  if (typeof value.validator !== 'string' || value.validator.length === 0) return 'validator must be a non-empty string'
  if (value.blockHash !== null && !isBytes(value.blockHash, 32)) return 'blockHash must be 32 bytes or null'
  if (!isBytes(value.sig, 64)) return 'sig must be 64 bytes'
  return undefined
}

/** A block hash as a map key; "nil" for a vote for nothing. */
export function hashKey(hash: Bytes | null): string {
  return hash === null ? 'nil' : toHex(hash)
}
