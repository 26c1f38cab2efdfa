import { bytesEqual, isBytes, type Bytes } from './bytes.js'
import { merkleRoot } from './merkle.js'
import { decodeCanonical, encode } from './encoding.js'
import { sha256 } from './hash.js'
import type { Block, BlockHeader, FinalizedBlock } from './types.js'
import { exactMap, headerBytes, malformed, parseCommit, parseHeader } from './header.js'

/** The block hash: SHA-256 of the header's canonical encoding (the header commits to the txs). */
export function blockHash(header: BlockHeader): Bytes {
  return sha256(headerBytes(header))
}

/**
 * Does the body fit the header? `txRoot` is the Merkle root of the transactions' exact bytes
 * (signatures included), so a header, and so a block hash, stands for one body only: a copy with
 * any transaction byte changed is a different block, never "the same block, but invalid".
 */
export function txRootMatches(block: Block): boolean {
  return block.txs.length === block.header.txCount && bytesEqual(merkleRoot(block.txs), block.header.txRoot)
}

export function encodeFinalizedBlock(finalized: FinalizedBlock): Bytes {
  return encode(finalized)
}

/**
 * Shape of a block value without hashing its body: for gossip, which checks the signature over
 * the header before spending a hash per transaction (then calls {@link txRootMatches}).
 */
export function parseBlockShape(value: unknown): Block {
  const b = exactMap(value, 'block', ['header', 'txs'])
  const header = parseHeader(b.header)
  if (!Array.isArray(b.txs) || !b.txs.every((t) => isBytes(t))) malformed('txs must be a list of byte strings')
  return { header, txs: b.txs }
}

/** Shape of a block value (already decoded): exact fields; transactions stay encoded. */
export function parseBlock(value: unknown): Block {
  const block = parseBlockShape(value)
  if (!txRootMatches(block)) malformed('txCount or txRoot does not match the transactions')
  return block
}

/** Decodes a block with its commit (storage, sync): canonical encoding and exact shape. */
export function decodeFinalizedBlock(bytes: Bytes, maxBytes: number): FinalizedBlock {
  const value = exactMap(decodeCanonical(bytes, maxBytes, 'MALFORMED_BLOCK'), 'finalized block', ['block', 'commit'])
  return { block: parseBlock(value.block), commit: parseCommit(value.commit) }
}
