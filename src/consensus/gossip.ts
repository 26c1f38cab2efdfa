import { parseBlock, txRootMatches } from '../core/block.js'
import { parseCommit } from '../core/header.js'
import type { ChainParams } from '../core/genesis.js'
import { decodeCanonical } from '../core/encoding.js'
import { isCertchainError } from '../core/errors.js'
import type { BlockHeader, FinalizedBlock, GossipVerdict } from '../core/types.js'
import type { Ledger } from '../ledger/index.js'
import type { ConsensusEngine } from './engine.js'
import { decodeMessage, verifyCommit, type ConsensusMessage } from './messages.js'

/** Room for a block's header and its commit (one signature per validator) beyond the transactions. */
const BLOCK_ENVELOPE_BYTES = 256 * 1024

/** The block limits gossip checks before any per-transaction work. */
export type BlockLimits = Pick<ChainParams, 'maxBlockTxs' | 'maxBlockBytes'>

/** Largest gossiped message that can carry a valid block under `limits`. */
export function maxBlockMessageBytes(limits: BlockLimits, maxMessageBytes: number): number {
  return Math.min(maxMessageBytes, limits.maxBlockBytes + BLOCK_ENVELOPE_BYTES)
}

/**
 * Counts the data items of one CBOR value without decoding it (no allocation: a walk over heads
 * and lengths), stopping once `max` is passed. Decoding a million one-byte transactions, and
 * re-encoding them for the canonical check, takes seconds; this walk, milliseconds. Undefined:
 * not a single well-formed definite-length CBOR value.
 */
export function cborItemCount(bytes: Uint8Array, max: number): number | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let offset = 0
  let remaining = 1
  let items = 0
  while (remaining > 0) {
    if (offset >= bytes.length) return undefined
    const initial = bytes[offset++]!
    const major = initial >> 5
    const info = initial & 0x1f
    let argument: number
    if (info < 24) argument = info
    else if (info === 24 && offset + 1 <= bytes.length) argument = view.getUint8(offset)
    else if (info === 25 && offset + 2 <= bytes.length) argument = view.getUint16(offset)
    else if (info === 26 && offset + 4 <= bytes.length) argument = view.getUint32(offset)
    else if (info === 27 && offset + 8 <= bytes.length) argument = Number(view.getBigUint64(offset))
    else return undefined // indefinite length or reserved: never canonical
    offset += info < 24 ? 0 : 2 ** (info - 24)
    remaining--
    if (++items > max) return items
    if (major === 2 || major === 3) {
      if (argument > bytes.length - offset) return undefined
      offset += argument
    } else if (major === 4) remaining += argument
    else if (major === 5) remaining += 2 * argument
    else if (major === 6) remaining += 1
    if (remaining > bytes.length) return undefined // more items announced than bytes left
  }
  return offset === bytes.length ? items : undefined
}

/** Items of a block message beside its transactions: header, commit (a few per signature), envelope. */
const ENVELOPE_ITEMS = 64
const ITEMS_PER_SIGNATURE = 5

function reject(code: string, reason: string): { verdict: GossipVerdict } {
  return { verdict: { result: 'reject', code, reason } }
}

/**
 * Gossip validation of consensus messages (proposals, votes), cheapest check first: size and
 * decoding, then height, sender and signature (engine.check), and only then, for a proposal, the
 * transaction count bound and one hash per transaction (txRoot). Malformed, badly signed, from a
 * non-validator or over the block limits is REJECT; stale or far-future is IGNORE (it depends on
 * where this node is).
 */
export function validateConsensusGossip(
  engine: ConsensusEngine,
  data: Uint8Array,
  maxBytes: number,
  limits: BlockLimits,
): { verdict: GossipVerdict; message?: ConsensusMessage } {
  const max = maxBlockMessageBytes(limits, maxBytes)
  if (data.length > max) return reject('oversize', `consensus message of ${data.length} bytes, more than ${max}`)
  const items = cborItemCount(data, limits.maxBlockTxs + ENVELOPE_ITEMS)
  if (items === undefined) return reject('malformed', 'not one well-formed CBOR value')
  if (items > limits.maxBlockTxs + ENVELOPE_ITEMS) return reject('too_many_txs', `more than ${limits.maxBlockTxs} transactions`)
  let message: ConsensusMessage
  try {
    message = decodeMessage(data, max)
  } catch (err) {
    if (isCertchainError(err)) return reject('malformed', err.message)
    throw err
  }
  if (message.type === 'proposal' && message.block.txs.length > limits.maxBlockTxs) {
    return reject('too_many_txs', `proposal carries ${message.block.txs.length} transactions, more than ${limits.maxBlockTxs}`)
  }
  const check = engine.check(message)
  if (!check.ok) return { verdict: check.reject ? { result: 'reject', code: check.code, reason: check.reason } : { result: 'ignore', code: check.code, reason: check.reason } }
  if (message.type === 'proposal' && !txRootMatches(message.block)) return reject('bad_tx_root', 'txCount or txRoot does not match the transactions')
  return { verdict: { result: 'accept' }, message }
}

export interface BlockGossipResult {
  readonly verdict: GossipVerdict
  /** The block with its commit, when accepted. */
  readonly finalized?: FinalizedBlock
  /** A height beyond the next one was announced: sync should look (nothing in it was checked). */
  readonly ahead?: number
}

/**
 * Gossip validation of a finalized block (a block with its commit, re-sent for peers that missed
 * the last votes). Order of the checks, cheapest first, so a forged block costs a decode and a
 * few field reads: message size against the block limit; the number of CBOR items (a walk, no
 * decoding) against what `maxBlockTxs` allows; after decoding, the transaction count against
 * `maxBlockTxs` (REJECT); the header's height (at or below ours, or beyond the next: IGNORE);
 * then the commit's signatures against the validators of the height (REJECT if bad); only then
 * one hash per transaction (txRoot) and the exact shape.
 */
export function validateBlockGossip(ledger: Ledger, data: Uint8Array, maxBytes: number): BlockGossipResult {
  const params = ledger.registry.params
  const max = maxBlockMessageBytes(params, maxBytes)
  if (data.length > max) return reject('oversize', `block message of ${data.length} bytes, more than ${max}`)
  const maxItems = params.maxBlockTxs + ENVELOPE_ITEMS + ITEMS_PER_SIGNATURE * ledger.validators(ledger.head.height + 1).length
  const items = cborItemCount(data, maxItems)
  if (items === undefined) return reject('malformed', 'not one well-formed CBOR value')
  if (items > maxItems) return reject('too_many_txs', `more than ${params.maxBlockTxs} transactions`)
  let value: { block?: { header?: Partial<BlockHeader>; txs?: unknown }; commit?: unknown }
  try {
    value = decodeCanonical(data, max, 'MALFORMED_BLOCK') as typeof value
  } catch (err) {
    if (isCertchainError(err)) return reject('malformed', err.message)
    throw err
  }
  const header = value?.block?.header
  const height = header?.height
  if (typeof height !== 'number' || !Number.isSafeInteger(height)) return reject('malformed', 'finalized block without a header height')
  // Before the height: a block over the limit is invalid at any height.
  const txs = value.block?.txs
  if (!Array.isArray(txs) || txs.length > params.maxBlockTxs || header?.txCount !== txs.length) {
    return reject('too_many_txs', `a block has at most ${params.maxBlockTxs} transactions, exactly txCount`)
  }
  const head = ledger.head.height
  if (height <= head) return { verdict: { result: 'ignore', code: 'stale', reason: 'already have this height' } }
  // Only the next block can be checked now (the validator set of later heights is not known
  // yet). Not charged: every honest peer sends its newest block to a node that lags behind (and
  // re-sends it), and it cost this node a bounded decode, no hash.
  if (height > head + 1) return { verdict: { result: 'ignore', code: 'ahead', reason: 'ahead of this node; sync fetches it' }, ahead: height }
  try {
    if (Object.keys(value).length !== 2) return reject('malformed', 'a finalized block has exactly block and commit')
    const commit = parseCommit(value.commit)
    // The commit signs the header hash: checking it needs no transaction.
    const problem = verifyCommit(ledger.chainId, ledger.validators(height), { header: header as BlockHeader, txs: [] }, commit)
    if (problem) return reject('bad_commit', problem)
    return { verdict: { result: 'accept' }, finalized: { block: parseBlock(value.block), commit } }
  } catch (err) {
    if (isCertchainError(err)) return reject('malformed', err.message)
    throw err
  }
}
