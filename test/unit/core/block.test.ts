import { describe, expect, it } from 'vitest'
import { BLOCK_DOMAIN, blockHash, blockSignBytes, decodeBlock, encodeBlock, verifyBlockSignature } from '../../../src/core/block.js'
import { toHex } from '../../../src/core/bytes.js'
import { generateKeyPair } from '../../../src/core/crypto.js'
import { decodeCanonical, encode } from '../../../src/core/encoding.js'
import { sha256 } from '../../../src/core/hash.js'
import type { Block, BlockHeader } from '../../../src/core/types.js'
import { issueTx, makeTestChain, thrownCode } from '../../helpers/fixtures.js'

const chain = makeTestChain()
const MAX = 1 << 20

function sample(): Block {
  const txs = [issueTx(chain, 'kr.mois', 1).bytes, issueTx(chain, 'kr.land.seoul', 2).bytes]
  const header: BlockHeader = {
    chainId: chain.genesis.chainId,
    height: 3,
    time: 1_750_000_000_000,
    prevHash: new Uint8Array(32).fill(1),
    txRoot: new Uint8Array(32).fill(2),
    txCount: 2,
    stateRoot: new Uint8Array(32).fill(3),
    proposer: chain.proposer.id,
  }
  return { header, txs, signature: chain.proposer.sign(blockSignBytes(header)) }
}

const code = (value: unknown): string | undefined => thrownCode(() => decodeBlock(encode(value), MAX))

describe('block encoding', () => {
  it('round trips through encodeBlock / decodeBlock', () => {
    const block = sample()
    expect(decodeBlock(encodeBlock(block), MAX)).toEqual(block)
  })

  it('blockHash is SHA-256 of the encoded header; sign bytes are [domain, chainId, hash]', () => {
    const { header } = sample()
    expect(toHex(blockHash(header))).toBe(toHex(sha256(encode(header))))
    expect(BLOCK_DOMAIN).toBe('certchain/block@1')
    expect(decodeCanonical(blockSignBytes(header), MAX)).toEqual([BLOCK_DOMAIN, header.chainId, blockHash(header)])
  })

  it('verifyBlockSignature: the proposer key only, and the header as signed', () => {
    const block = sample()
    expect(verifyBlockSignature(block, chain.validatorKey.publicKey)).toBe(true)
    expect(verifyBlockSignature(block, generateKeyPair().publicKey)).toBe(false)
    expect(verifyBlockSignature({ ...block, header: { ...block.header, height: 4 } }, chain.validatorKey.publicKey)).toBe(false)
  })

  it('MALFORMED_BLOCK: oversize input (before decoding)', () => {
    const bytes = encodeBlock(sample())
    expect(thrownCode(() => decodeBlock(bytes, bytes.length - 1))).toBe('MALFORMED_BLOCK')
    expect(thrownCode(() => decodeBlock(new Uint8Array(100).fill(0xff), 10))).toBe('MALFORMED_BLOCK')
  })

  it('MALFORMED_BLOCK: wrong shapes', () => {
    const b = sample()
    expect(code([b.header, b.txs, b.signature])).toBe('MALFORMED_BLOCK')
    expect(code({ ...b, extra: 1 })).toBe('MALFORMED_BLOCK')
    expect(code({ header: b.header, txs: b.txs })).toBe('MALFORMED_BLOCK')
    expect(code({ ...b, header: { ...b.header, extra: 1 } })).toBe('MALFORMED_BLOCK')
    const { proposer: _p, ...noProposer } = b.header
    expect(code({ ...b, header: noProposer })).toBe('MALFORMED_BLOCK')
    expect(code({ ...b, header: { ...b.header, height: -1 } })).toBe('MALFORMED_BLOCK')
    expect(code({ ...b, header: { ...b.header, time: 1.5 } })).toBe('MALFORMED_BLOCK')
    expect(code({ ...b, header: { ...b.header, prevHash: new Uint8Array(31) } })).toBe('MALFORMED_BLOCK')
    expect(code({ ...b, header: { ...b.header, chainId: 7 } })).toBe('MALFORMED_BLOCK')
    expect(code({ ...b, txs: ['not bytes', ...b.txs.slice(1)] })).toBe('MALFORMED_BLOCK')
    expect(code({ ...b, header: { ...b.header, txCount: 3 } })).toBe('MALFORMED_BLOCK')
    expect(code({ ...b, signature: new Uint8Array(63) })).toBe('MALFORMED_BLOCK')
  })

  it('non-canonical block bytes are refused', () => {
    const bytes = encodeBlock(sample())
    expect(thrownCode(() => decodeBlock(Uint8Array.of(...bytes, 0), MAX))).toBe('MALFORMED_ENCODING')
  })
})
