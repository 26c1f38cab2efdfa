import { isBytes, type Bytes } from '../core/bytes.js'
import { verify } from '../core/crypto.js'
import type { ValidatorInfo } from '../core/genesis.js'
import { blockHash, parseBlockShape } from '../core/block.js'
import { commitProblem } from '../core/header.js'
import { decodeCanonical, encode } from '../core/encoding.js'
import { CertchainError } from '../core/errors.js'
import type { Block, Commit } from '../core/types.js'

import { voteShapeProblem, voteSignBytes, type Vote } from '../core/vote.js'

export { VOTE_DOMAIN, hashKey, voteSignBytes, type Vote, type VoteType } from '../core/vote.js'

/** Steps in signing order: a validator never signs at a lower (height, round, step) than before. */
export const STEP_ORDER = { proposal: 1, prevote: 2, precommit: 3 } as const
export type SignStep = keyof typeof STEP_ORDER

export interface Proposal {
  readonly type: 'proposal'
  readonly height: number
  readonly round: number
  /** The round in which this block got 2f+1 prevotes (Tendermint's "valid round"), or -1. */
  readonly polRound: number
  readonly block: Block
  readonly validator: string
  readonly sig: Bytes
}

export type ConsensusMessage = Proposal | Vote


export const PROPOSAL_DOMAIN = 'certchain/proposal@1'

export function proposalSignBytes(chainId: string, height: number, round: number, polRound: number, hash: Bytes): Bytes {
  return encode([PROPOSAL_DOMAIN, chainId, height, round, polRound, hash])
}

export function signBytesOf(chainId: string, message: ConsensusMessage): Bytes {
  return message.type === 'proposal'
    ? proposalSignBytes(chainId, message.height, message.round, message.polRound, blockHash(message.block.header))
    : voteSignBytes(chainId, message.type, message.height, message.round, message.blockHash)
}

export function encodeMessage(message: ConsensusMessage): Bytes {
  return encode(message)
}

function malformed(message: string): never {
  throw new CertchainError('MALFORMED_ENCODING', `consensus message: ${message}`)
}

const isRound = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
const isHeight = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 1

/** Decodes a gossiped consensus message: canonical bytes and exact shape; signatures and a proposal's txRoot are checked later. */
export function decodeMessage(bytes: Bytes, maxBytes: number): ConsensusMessage {
  const value = decodeCanonical(bytes, maxBytes, 'MALFORMED_ENCODING') as Record<string, unknown>
  if (value === null || typeof value !== 'object' || Array.isArray(value)) malformed('not a map')
  if (value.type === 'prevote' || value.type === 'precommit') {
    const problem = voteShapeProblem(value)
    if (problem) malformed(problem)
    return value as unknown as Vote
  }
  if (value.type === 'proposal') {
    if (!isHeight(value.height) || !isRound(value.round)) malformed('height and round must be integers')
    if (typeof value.validator !== 'string' || !isBytes(value.sig, 64)) malformed('validator and sig are required')
    if (Object.keys(value).length !== 7) malformed('a proposal has exactly type, height, round, polRound, block, validator, sig')
    if (typeof value.polRound !== 'number' || !Number.isSafeInteger(value.polRound) || value.polRound < -1) malformed('bad polRound')
    // The body is hashed (txRoot) only after the signature over the header checked out.
    return { ...(value as unknown as Proposal), block: parseBlockShape(value.block) }
  }
  return malformed(`unknown type ${String(value.type)}`)
}


/**
 * Checks that a commit proves `block` final for the given validator set: the hash matches and
 * more than two thirds of the validators of that height signed precommits for it. Every commit is
 * checked against the set of its own height (sync and catch-up included).
 */
export function verifyCommit(chainId: string, validators: readonly ValidatorInfo[], block: Block, commit: Commit): string | undefined {
  return commitProblem(chainId, validators, blockHash(block.header), block.header.height, commit, verify)
}
