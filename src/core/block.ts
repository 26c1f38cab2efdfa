import { isBytes, type Bytes } from './bytes.js'
import { verify } from './crypto.js'
import { decodeCanonical, encode } from './encoding.js'
import { CertchainError } from './errors.js'
import { sha256 } from './hash.js'
import type { Block, BlockHeader } from './types.js'

export const BLOCK_DOMAIN = 'certchain/block@1'

export function blockHash(header: BlockHeader): Bytes {
  return sha256(encode(header))
}

/** What the proposer signs: domain tag, chain id and the header hash. */
export function blockSignBytes(header: BlockHeader): Bytes {
  return encode([BLOCK_DOMAIN, header.chainId, blockHash(header)])
}

export function encodeBlock(block: Block): Bytes {
  return encode(block)
}

function malformed(message: string): CertchainError {
  return new CertchainError('MALFORMED_BLOCK', message)
}

const HEADER_FIELDS = ['chainId', 'height', 'time', 'prevHash', 'txRoot', 'txCount', 'stateRoot', 'proposer'] as const

function parseHeader(value: unknown): BlockHeader {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw malformed('header must be a map')
  const h = value as Record<string, unknown>
  const keys = Object.keys(h)
  if (keys.length !== HEADER_FIELDS.length || !HEADER_FIELDS.every((k) => k in h)) {
    throw malformed(`header must have exactly the fields ${HEADER_FIELDS.join(', ')}`)
  }
  const ints = [h.height, h.time, h.txCount]
  if (!ints.every((n) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0)) {
    throw malformed('height, time and txCount must be non-negative integers')
  }
  if (!isBytes(h.prevHash, 32) || !isBytes(h.txRoot, 32) || !isBytes(h.stateRoot, 32)) {
    throw malformed('prevHash, txRoot and stateRoot must be 32 bytes')
  }
  if (typeof h.chainId !== 'string' || typeof h.proposer !== 'string') throw malformed('chainId and proposer must be strings')
  return h as unknown as BlockHeader
}

/** Decodes a block (canonical encoding, exact shape). Transactions stay encoded. */
export function decodeBlock(bytes: Bytes, maxBytes: number): Block {
  const value = decodeCanonical(bytes, maxBytes, 'MALFORMED_BLOCK')
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw malformed('block must be a map')
  const b = value as Record<string, unknown>
  if (Object.keys(b).length !== 3 || !('header' in b) || !('txs' in b) || !('signature' in b)) {
    throw malformed('block must have exactly header, txs and signature')
  }
  const header = parseHeader(b.header)
  if (!Array.isArray(b.txs) || !b.txs.every((t) => isBytes(t))) throw malformed('txs must be a list of byte strings')
  if (b.txs.length !== header.txCount) throw malformed('txCount does not match the transactions')
  if (!isBytes(b.signature, 64)) throw malformed('signature must be 64 bytes')
  return { header, txs: b.txs, signature: b.signature }
}

export function verifyBlockSignature(block: Block, proposerKey: Bytes): boolean {
  return verify(proposerKey, blockSignBytes(block.header), block.signature)
}
