import { bytesEqual, isBytes, type Bytes } from './bytes.js'
import { merkleRoot } from './merkle.js'
import { decodeCanonical, encode } from './encoding.js'
import { CertchainError } from './errors.js'
import { sha256 } from './hash.js'
import type { Block, BlockHeader, Commit, FinalizedBlock } from './types.js'

/** The block hash: SHA-256 of the header's canonical encoding (the header commits to the txs). */
export function blockHash(header: BlockHeader): Bytes {
  return sha256(encode(header))
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

function malformed(message: string): never {
  throw new CertchainError('MALFORMED_BLOCK', message)
}

type Obj = Record<string, unknown>

function exactMap(value: unknown, what: string, fields: readonly string[]): Obj {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) malformed(`${what} must be a map`)
  const keys = Object.keys(value)
  if (keys.length !== fields.length || !fields.every((k) => k in value)) malformed(`${what} must have exactly the fields ${fields.join(', ')}`)
  return value as Obj
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0

function parseHeader(value: unknown): BlockHeader {
  const h = exactMap(value, 'header', ['chainId', 'height', 'time', 'prevHash', 'txRoot', 'txCount', 'stateRoot', 'proposer'])
  if (![h.height, h.time, h.txCount].every(isCount)) malformed('height, time and txCount must be non-negative integers')
  if (!isBytes(h.prevHash, 32) || !isBytes(h.txRoot, 32) || !isBytes(h.stateRoot, 32)) {
    malformed('prevHash, txRoot and stateRoot must be 32 bytes')
  }
  if (typeof h.chainId !== 'string' || typeof h.proposer !== 'string') malformed('chainId and proposer must be strings')
  return h as unknown as BlockHeader
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

export function parseCommit(value: unknown): Commit {
  const c = exactMap(value, 'commit', ['height', 'round', 'blockHash', 'signatures'])
  if (!isCount(c.height) || !isCount(c.round)) malformed('commit height and round must be non-negative integers')
  if (!isBytes(c.blockHash, 32)) malformed('commit blockHash must be 32 bytes')
  if (!Array.isArray(c.signatures)) malformed('commit signatures must be a list')
  for (const sig of c.signatures) {
    const s = exactMap(sig, 'commit signature', ['validator', 'sig'])
    if (typeof s.validator !== 'string' || !isBytes(s.sig, 64)) malformed('a commit signature is {validator, sig (64 bytes)}')
  }
  return c as unknown as Commit
}

/** Decodes a block with its commit (storage, sync): canonical encoding and exact shape. */
export function decodeFinalizedBlock(bytes: Bytes, maxBytes: number): FinalizedBlock {
  const value = exactMap(decodeCanonical(bytes, maxBytes, 'MALFORMED_BLOCK'), 'finalized block', ['block', 'commit'])
  return { block: parseBlock(value.block), commit: parseCommit(value.commit) }
}
